//! One module per subcommand; each is a function that returns the exit status.

pub mod approve;
pub mod changes;
pub mod incidents;
pub mod lint;
pub mod list;
pub mod man;
pub mod new;
pub mod output;
pub(crate) mod parallel;
pub mod render;
pub mod status;
pub mod test;
pub mod timeline;
pub mod triage;
pub mod watch;

use std::io::Write as _;

use crate::{Error, ExitStatus};

/// `runbook schema`: the JSON Schema of the format.
pub fn schema() -> Result<ExitStatus, Error> {
    write_stdout(&crate::schema::schema_json())?;
    Ok(ExitStatus::Success)
}

/// `runbook completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitStatus, Error> {
    use clap::CommandFactory as _;
    let mut command = crate::cli::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "runbook", &mut out);
    write_stdout(&String::from_utf8_lossy(&out))?;
    Ok(ExitStatus::Success)
}

/// Writes to stdout; a closed pipe (`runbook list | head`) is not an error worth a message.
pub(crate) fn write_stdout(text: &str) -> Result<(), Error> {
    if output::captured(text) {
        return Ok(());
    }
    // Text without an escape or control character is what anstream would write anyway:
    // passing it straight through spares `triage --format json` (megabytes that serde has
    // escaped already) a byte-by-byte strip.
    fn write_all(mut out: impl std::io::Write, text: &str) -> std::io::Result<()> {
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    }
    let written = if has_no_escapes(text) {
        write_all(std::io::stdout().lock(), text)
    } else {
        write_all(anstream::stdout().lock(), text)
    };
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Whether `text` has none of the bytes anstream strips or styles with: C0 controls other
/// than whitespace (ESC among them) and DEL. Checked 64 bytes at a time, which compiles to
/// vector instructions.
fn has_no_escapes(text: &str) -> bool {
    let plain = |b: u8| (b >= 0x20 && b != 0x7f) || matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r');
    text.as_bytes()
        .chunks(64)
        .all(|chunk| chunk.iter().fold(true, |all, &b| all & plain(b)))
}

/// Prints `warning: MESSAGE` on stderr, as every command does.
pub(crate) fn warn(message: &str) {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Yellow.into()));
    let _ = writeln!(anstream::stderr(), "{style}warning{style:#}: {message}");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::has_no_escapes;

    proptest! {
        // The fast path of `write_stdout` may skip anstream only where anstream's strip
        // would change nothing: any text it lets through is its own stripped form.
        #[test]
        fn text_written_straight_is_what_the_strip_would_write(
            text in "(\\PC|[\\x00-\\x20\\x7f\\u{80}-\\u{9f}]|\\x1b\\[[0-9;]*m){0,40}"
        ) {
            if has_no_escapes(&text) {
                prop_assert_eq!(anstream::adapter::strip_str(&text).to_string(), text);
            } else {
                prop_assert!(text.bytes().any(|b| b == 0x7f || (b < 0x20 && !b.is_ascii_whitespace())));
            }
        }
    }

    #[test]
    fn an_escape_anywhere_takes_the_strip() {
        let long = "x".repeat(200);
        for at in [0, 63, 64, 65, 199, 200] {
            let text = format!("{}\x1b[31m{}", &long[..at], &long[at..]);
            assert!(!has_no_escapes(&text), "escape at {at}");
        }
        assert!(has_no_escapes("{\n  \"a\": \"b\\u001b\"\t\r\n}"));
        assert!(!has_no_escapes("a\x7fb"));
        assert!(!has_no_escapes("a\x0bb"));
    }
}
