//! A cache of parsed runbooks, for the commands that read a whole large catalog at once
//! (`triage`): parsing YAML was half of what triaging an alert group cost.
//!
//! It can never be stale: every file is still read, and a runbook is taken from the cache
//! only under the SHA-256 of its exact bytes, written by this very binary (its version, inode,
//! size and time). Everything else — a missing, foreign, damaged or older cache — means the
//! file is parsed as if there were no cache. Nothing that runs is read from it: `run`, `lint`
//! and `test` always parse the file itself.
//!
//! Where: `$XDG_CACHE_HOME/runbook` (else `~/.cache/runbook`), one file per catalog folder,
//! private (0700 folder, 0600 file). A folder another user could change, or a file another
//! user owns or may write, is not used. `RUNBOOK_CACHE=off` turns it off.

use std::collections::HashMap;
use std::io::{self, Read as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::SourceFile;
use crate::files;
use crate::model::{self, Runbook};

/// Below this many files the cache is not used: parsing them costs less than reading it.
pub const MIN_FILES: usize = 100;

/// First line of a cache file; the format after it may change with it.
const MAGIC: &[u8] = b"runbook parse cache 1\n";

type Key = [u8; 32];

/// Reads and parses every file (on every core), in order, through the cache of `catalog`
/// when there are enough of them; an unreadable file is an `Err` (the caller names it).
pub fn read_all(catalog: &Path, paths: &[&Path]) -> Vec<io::Result<SourceFile>> {
    let place = (paths.len() >= MIN_FILES)
        .then(|| cache_file(catalog))
        .flatten();
    let Some(place) = place else {
        return paths
            .par_iter()
            .map(|path| SourceFile::read(path))
            .collect();
    };
    let identity = binary_identity();
    let stored = read_cache(&place).unwrap_or_default();
    let stored = parse_records(&stored, &identity);

    let read: Vec<io::Result<Read>> = paths
        .par_iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)?;
            let key: Key = Sha256::digest(text.as_bytes()).into();
            let cached = stored.get(&key).and_then(|blob| decode(blob));
            let hit = cached.is_some();
            let file = match cached {
                Some(runbook) => SourceFile {
                    path: path.to_path_buf(),
                    text,
                    parsed: Ok(runbook),
                    mistakes: Vec::new(),
                },
                None => SourceFile::from_text(path.to_path_buf(), text),
            };
            // A runbook parsed now is kept for the next time (an entry that did not decode
            // is replaced); one that does not load is parsed again (its mistakes are what
            // the user must see, and it is rare).
            let fresh = match (&file.parsed, hit) {
                (Ok(runbook), false) => encode(runbook),
                _ => None,
            };
            Ok(Read {
                file,
                key,
                hit,
                fresh,
            })
        })
        .collect();

    // The cache is rewritten with exactly this catalog's runbooks when it misses one or holds
    // one the catalog no longer has, so it never grows past the catalog.
    let mut records: Vec<(Key, &[u8])> = Vec::new();
    let mut changed = false;
    for read in read.iter().flatten() {
        match (&read.fresh, read.hit) {
            (Some(blob), _) => {
                records.push((read.key, blob));
                changed = true;
            }
            (None, true) => records.push((read.key, stored[&read.key])),
            (None, false) => {}
        }
    }
    records.sort_unstable_by_key(|(key, _)| *key);
    records.dedup_by_key(|(key, _)| *key);
    if (changed || records.len() != stored.len()) && !identity.is_empty() {
        // Only a speed-up: a cache that cannot be written is parsed around next time too.
        let _ =
            files::write_atomically(&place, &write_records(&records, &identity), files::PRIVATE);
    }
    read.into_iter()
        .map(|read| read.map(|read| read.file))
        .collect()
}

/// A file read, the key of its text, whether the cache had its parse, and its parse to
/// store when not.
struct Read {
    file: SourceFile,
    key: Key,
    hit: bool,
    fresh: Option<Vec<u8>>,
}

/// The cache file of `catalog`, in a private cache folder; `None` when the cache is off or
/// its folder is not private.
fn cache_file(catalog: &Path) -> Option<PathBuf> {
    if std::env::var_os("RUNBOOK_CACHE").is_some_and(|v| v == "off" || v == "0") {
        return None;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".cache"))
        })?;
    let folder = base.join("runbook");
    files::create_private_folder(&folder).ok()?;
    // Whoever can change the folder (or its parent, to swap the folder) could plant entries.
    for checked in [&folder, &base] {
        if !matches!(files::check_private_folder(checked), Ok(Ok(()))) {
            return None;
        }
    }
    let absolute = std::path::absolute(catalog).unwrap_or_else(|_| catalog.to_path_buf());
    let digest = Sha256::digest(absolute.as_os_str().as_encoded_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Some(folder.join(format!("catalog-{name}.parsed")))
}

/// What this binary is: a cache written by any other build (whose model or parser may
/// differ) is not read.
fn binary_identity() -> Vec<u8> {
    let exe = std::env::current_exe().and_then(std::fs::metadata);
    let identity = match exe {
        Ok(m) => format!(
            "{} {} {} {} {}.{}",
            env!("CARGO_PKG_VERSION"),
            m.dev(),
            m.ino(),
            m.len(),
            m.mtime(),
            m.mtime_nsec()
        ),
        // Unknown: never matches a stored identity, which is never empty.
        Err(_) => String::new(),
    };
    identity.into_bytes()
}

fn read_cache(place: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    files::open_own_to_read(place)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `MAGIC`, the identity and a newline, then records: a 32-byte key, a 4-byte length (little
/// endian) and that many bytes of MessagePack.
fn write_records(records: &[(Key, &[u8])], identity: &[u8]) -> Vec<u8> {
    let size = records
        .iter()
        .map(|(_, blob)| 36 + blob.len())
        .sum::<usize>();
    let mut bytes = Vec::with_capacity(MAGIC.len() + identity.len() + 1 + size);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(identity);
    bytes.push(b'\n');
    for (key, blob) in records {
        bytes.extend_from_slice(key);
        let length = u32::try_from(blob.len()).expect("a runbook is smaller than 4 GiB");
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(blob);
    }
    bytes
}

/// The records of a cache written by this binary; nothing when it is another's, or damaged
/// (a cut-off record ends the reading).
fn parse_records<'a>(bytes: &'a [u8], identity: &[u8]) -> HashMap<Key, &'a [u8]> {
    let mut records = HashMap::new();
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return records;
    };
    let Some(rest) = rest.strip_prefix(identity) else {
        return records;
    };
    let Some(mut rest) = rest.strip_prefix(b"\n").filter(|_| !identity.is_empty()) else {
        return records;
    };
    while rest.len() >= 36 {
        let (key, after) = rest.split_at(32);
        let (length, after) = after.split_at(4);
        let length = u32::from_le_bytes(length.try_into().expect("4 bytes")) as usize;
        if after.len() < length {
            break;
        }
        let (blob, after) = after.split_at(length);
        records.insert(key.try_into().expect("32 bytes"), blob);
        rest = after;
    }
    records
}

/// A parsed runbook as MessagePack, every value with its line and column.
fn encode(runbook: &Runbook) -> Option<Vec<u8>> {
    model::keeping_positions(|| rmp_serde::to_vec_named(runbook).ok())
}

/// The runbook [`encode`] wrote; `None` for anything else.
fn decode(blob: &[u8]) -> Option<Runbook> {
    model::keeping_positions(|| rmp_serde::from_slice(blob).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every runbook this repository has (examples and test fixtures) that loads.
    fn every_runbook() -> Vec<(PathBuf, Runbook)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        ["runbooks", "tests"]
            .iter()
            .flat_map(|folder| super::super::find_runbooks(&root.join(folder)).expect("readable"))
            .filter_map(|path| {
                let text = std::fs::read_to_string(&path).expect("readable");
                let runbook = super::super::parse(&text).ok()?;
                Some((path, runbook))
            })
            .collect()
    }

    #[test]
    fn a_cached_runbook_is_exactly_the_parsed_one_positions_included() {
        let runbooks = every_runbook();
        assert!(
            runbooks.len() >= 20,
            "only {} runbooks found",
            runbooks.len()
        );
        for (path, runbook) in runbooks {
            let blob = encode(&runbook).expect("encodes");
            let back = decode(&blob).unwrap_or_else(|| panic!("{} decodes", path.display()));
            // `Debug` shows every field and every position.
            assert_eq!(
                format!("{back:?}"),
                format!("{runbook:?}"),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn positions_are_kept_only_inside_keeping_positions() {
        let runbook = super::super::parse(
            "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-01-01\nscope: {services: [a]}\n\
             steps:\n  - id: s\n    name: S\n    instructions: Look.\n",
        )
        .expect("parses");
        let plain = serde_json::to_value(&runbook).expect("serializes");
        assert_eq!(plain["title"], "T");
        let kept = model::keeping_positions(|| serde_json::to_value(&runbook).expect("ok"));
        assert_eq!(kept["title"], serde_json::json!(["T", 2, 8]));
        // And it is off again afterwards.
        assert_eq!(serde_json::to_value(&runbook).expect("ok")["title"], "T");
    }

    #[test]
    fn a_cache_of_another_binary_or_cut_off_is_not_read() {
        let blob_a = b"aaaa".as_slice();
        let blob_b = b"bbbbbb".as_slice();
        let bytes = write_records(&[([1; 32], blob_a), ([2; 32], blob_b)], b"me");
        let read = parse_records(&bytes, b"me");
        assert_eq!(read.len(), 2);
        assert_eq!(read[&[2; 32]], blob_b);
        assert!(parse_records(&bytes, b"another").is_empty());
        assert!(parse_records(&bytes, b"").is_empty());
        let cut = parse_records(&bytes[..bytes.len() - 1], b"me");
        assert_eq!(
            cut.len(),
            1,
            "the cut-off record is dropped, the whole one kept"
        );
        assert!(decode(b"not messagepack").is_none());
    }
}
