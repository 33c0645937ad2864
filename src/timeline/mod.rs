//! The incident timeline (SPEC section 6): an append-only, fsynced, hash-chained JSON Lines
//! file that the executor writes event by event ([`Timeline`]), and its readers: [`read`],
//! [`verify`], the text chronology ([`chronology`]) and the postmortem draft ([`postmortem`]).

pub mod anchor;
mod event;
mod postmortem;
mod reader;
mod text;
mod writer;

use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub use event::{Event, Outcome, RunFlags, RunOutcome};
pub use postmortem::postmortem;
pub(crate) use reader::line_error;
pub use reader::parse_record;
pub use reader::{Broken, HeadState, Reading, Record, TornTail, Verification, read, verify};
pub use text::chronology;
pub use writer::Timeline;

/// How much of a command's stdout or stderr, or of a response body, the timeline keeps.
pub const TAIL_BYTES: usize = 4096;

/// What stops a timeline from being written or read.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error("the timeline `{}` does not exist", path.display())]
    NotFound { path: PathBuf },

    #[error("cannot read the timeline `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot create the timeline `{}`: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("the timeline `{}` already exists and is not empty; choose another `--timeline` or `--incident`, or continue it with `runbook run --resume {}`", path.display(), path.display())]
    Exists { path: PathBuf },

    #[error("the timeline `{}` is in use by another run (it is locked); wait for that run to end, or write to another file", path.display())]
    Locked { path: PathBuf },

    #[error("cannot lock the timeline `{}`: {source}", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write to the timeline `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{}:{line}` is not a timeline event: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("the timeline `{}` has no whole event to continue from", path.display())]
    Empty { path: PathBuf },

    #[error("refusing to keep a timeline in `{}`: {reason}", folder.display())]
    UnsafeFolder { folder: PathBuf, reason: String },

    #[error("the timeline `{}` does not end where its head (`.head` beside it) says: it was changed since it was written; `runbook timeline verify {}` says how", path.display(), path.display())]
    HeadMismatch { path: PathBuf },
}

impl TimelineError {
    /// True when the file was written to (or about to be) and the disk or the system said no:
    /// the run cannot go on safely, but nothing the user typed was wrong.
    pub fn is_write_failure(&self) -> bool {
        matches!(
            self,
            TimelineError::Write { .. } | TimelineError::Create { .. } | TimelineError::Lock { .. }
        )
    }
}

/// The last 4 KiB of an output (stdout, stderr, a response body), cut on a char boundary.
pub fn stdout_tail(text: &str) -> String {
    let mut start = text.len().saturating_sub(TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// Lowercase hex sha256: of a line (without its newline) for the next line's `prev`, and of
/// a runbook file for `run_started`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// `3m 20s`, `1.2s`, `850ms`, `2h 5m`: a duration as an on-call engineer reads it.
pub fn human_duration(ms: u64) -> String {
    let seconds = ms / 1000;
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..10_000 => format!("{}.{}s", seconds, (ms % 1000) / 100),
        10_000..60_000 => format!("{seconds}s"),
        60_000..3_600_000 => match seconds % 60 {
            0 => format!("{}m", seconds / 60),
            s => format!("{}m {s}s", seconds / 60),
        },
        _ => match (seconds / 60) % 60 {
            0 => format!("{}h", seconds / 3600),
            m => format!("{}h {m}m", seconds / 3600),
        },
    }
}

/// The JSON of the records, as an array of the lines' objects (keys as in the file).
pub fn to_json(records: &[Record]) -> String {
    let values: Vec<serde_json::Value> = records.iter().map(Record::to_json).collect();
    let mut json = serde_json::to_string_pretty(&values).expect("JSON values always serialize");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn tail_case(text: &str, expected_len: usize) {
        let tail = stdout_tail(text);
        assert_eq!(tail.len(), expected_len);
        assert!(text.ends_with(&tail));
    }

    #[test]
    fn tail_keeps_the_last_4_kib() {
        tail_case("", 0);
        tail_case("short", 5);
        tail_case(&"x".repeat(TAIL_BYTES), TAIL_BYTES);
        tail_case(&format!("head{}", "x".repeat(TAIL_BYTES)), TAIL_BYTES);
        assert_eq!(
            stdout_tail(&format!("HEAD{}", "y".repeat(TAIL_BYTES))),
            "y".repeat(TAIL_BYTES)
        );
    }

    #[test]
    fn tail_cuts_on_a_char_boundary() {
        // `é` is 2 bytes and `€` 3: the cut falls inside a character, which is dropped whole.
        tail_case(&format!("é{}", "x".repeat(TAIL_BYTES - 1)), TAIL_BYTES - 1);
        tail_case(&format!("€{}", "x".repeat(TAIL_BYTES - 1)), TAIL_BYTES - 1);
        tail_case(&format!("€{}", "x".repeat(TAIL_BYTES - 2)), TAIL_BYTES - 2);
        tail_case(&"€".repeat(2000), 1365 * 3);
        tail_case(&"🚨".repeat(1500), 1024 * 4);
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn durations_read_well() {
        for (ms, expected) in [
            (0, "0ms"),
            (850, "850ms"),
            (1_234, "1.2s"),
            (12_000, "12s"),
            (60_000, "1m"),
            (750_000, "12m 30s"),
            (3_600_000, "1h"),
            (7_500_000, "2h 5m"),
        ] {
            assert_eq!(human_duration(ms), expected, "{ms} ms");
        }
    }
}
