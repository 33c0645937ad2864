//! Work spread over the machine's cores, on rayon's pool, and the pretty JSON of long arrays
//! built that way: what the boards, the change trail, triage and `runbook test` share.

/// `f` over every item (files, rows, alerts), on every core; results in the order of
/// `items`. Rayon's pool balances the work: a share that runs long (a big file, a core the
/// host took away for a while) is taken over by the other cores.
pub(crate) fn par_map<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    use rayon::prelude::*;
    items.par_iter().map(&f).collect()
}

/// `f` over one share of `items` per core (for work that sets something up once per share);
/// the shares' results joined in the order of `items`.
pub(crate) fn par_shares<I: Sync, T: Send>(
    items: &[I],
    f: impl Fn(&[I]) -> Vec<T> + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let share = items.len().div_ceil(rayon::current_num_threads()).max(1);
    items.par_chunks(share).flat_map_iter(&f).collect()
}

/// The items of an array that is the value of a top-level field, as
/// `serde_json::to_string_pretty` writes them there (indented two levels, `,` between them,
/// no newline after the last), in pieces to write one after the other: a share of the items
/// per core, each pretty-printed as an array whose lines are indented one level more as they
/// are written, and whose brackets are then cut. JSON strings hold no raw newline, so every
/// line of a share is a line of the whole. Empty for no items (serde writes `[]` then).
pub(crate) fn pretty_array_items<T: serde::Serialize + Sync>(items: &[T]) -> Vec<String> {
    let shares = par_shares(items, |share| {
        let mut indented = Indented(Vec::with_capacity(share.len() * 512));
        serde_json::to_writer_pretty(&mut indented, share).expect("the items serialize");
        let mut bytes = indented.0;
        // `[\n  ` … `\n  ]` → `  ` … (the separator between shares is added below).
        bytes.truncate(bytes.len() - "\n  ]".len());
        bytes.drain(.."[\n".len());
        vec![String::from_utf8(bytes).expect("serde_json writes UTF-8")]
    });
    let mut pieces = Vec::with_capacity(shares.len() * 2);
    for (n, share) in shares.into_iter().enumerate() {
        if n > 0 {
            pieces.push(",\n".to_string());
        }
        pieces.push(share);
    }
    pieces
}

/// A writer that indents every line after the first by one more level (two spaces).
struct Indented(Vec<u8>);

impl std::io::Write for Indented {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut lines = buf.split(|&b| b == b'\n');
        if let Some(first) = lines.next() {
            self.0.extend_from_slice(first);
        }
        for line in lines {
            self.0.extend_from_slice(b"\n  ");
            self.0.extend_from_slice(line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
