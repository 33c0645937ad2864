//! Reading a timeline back: the records of its whole lines, a torn last line reported and
//! ignored, and the check of the hash chain and of its head ([`super::anchor`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::anchor::{self, Anchoring};
use super::{Event, TimelineError, sha256_hex};

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds.
    pub at: String,
    pub incident: String,
    pub step: Option<String>,
    /// Hex sha256 of the previous line; `""` on the first.
    pub prev: String,
    pub event: Event,
    /// The line's bytes, without its newline.
    pub raw: String,
}

impl Record {
    /// `at` as a timestamp; `None` if the file holds something else there.
    pub fn timestamp(&self) -> Option<jiff::Timestamp> {
        self.at.parse().ok()
    }

    /// The line as JSON, keys as in the file.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.raw).expect("a record's line was parsed as JSON")
    }
}

/// The shape of a line, for serde.
#[derive(Deserialize)]
struct Line {
    seq: u64,
    at: String,
    incident: String,
    #[serde(default)]
    step: Option<String>,
    prev: String,
    #[serde(flatten)]
    event: Event,
}

/// A last line without its newline that is not a whole event: the writer stopped mid-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Its line number, from 1.
    pub line: usize,
    /// Its length in bytes.
    pub bytes: u64,
}

/// What a timeline file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub records: Vec<Record>,
    pub torn_tail: Option<TornTail>,
}

/// Where the chain of a timeline breaks first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The line number, from 1.
    pub line: usize,
    /// Why, in one sentence.
    pub reason: String,
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Whole lines that hold an event (all of them when the chain is intact).
    pub events: usize,
    pub torn_tail: Option<TornTail>,
    /// `None` when the chain is intact and the file ends where its head says.
    pub broken: Option<Broken>,
    /// What the head beside the file says of its end (when the chain is intact).
    pub head: HeadState,
}

/// The end of the file, as its head sidecar sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadState {
    /// No head beside the file: its end cannot be checked.
    Missing,
    /// The last line is the one the head recorded.
    Anchored,
    /// The run stopped while it wrote its last line, or before it committed it (a power cut).
    Interrupted,
    /// The file ends elsewhere (see [`Verification::broken`]), or the chain broke first.
    NotChecked,
}

impl Verification {
    /// The chain holds and the file ends where its head says; a timeline with no head is
    /// intact as far as the chain goes (see [`Verification::head`]).
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

impl Record {
    /// The record with every string that came from outside (the incident, the step, the
    /// event's fields) sanitised for a terminal, for the chronology and the postmortem.
    pub fn sanitized(&self) -> Record {
        let mut event = serde_json::to_value(&self.event).expect("an event serializes");
        crate::sanitize::sanitize_json(&mut event);
        let clean = |text: &str| crate::sanitize::sanitize(text).into_owned();
        Record {
            seq: self.seq,
            at: clean(&self.at),
            incident: clean(&self.incident),
            step: self.step.as_deref().map(clean),
            prev: clean(&self.prev),
            // The event name is a key of the enum, never sanitised away.
            event: serde_json::from_value(event).unwrap_or_else(|_| self.event.clone()),
            raw: self.raw.clone(),
        }
    }
}

/// One line of the file as bytes.
struct RawLine<'a> {
    number: usize,
    bytes: &'a [u8],
    /// False for a last line without its newline.
    terminated: bool,
}

fn raw_lines(bytes: &[u8]) -> Vec<RawLine<'_>> {
    let mut lines = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], true, &rest[end + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        lines.push(RawLine {
            number: lines.len() + 1,
            bytes: line,
            terminated,
        });
        rest = next;
    }
    lines
}

/// Why a timeline line is not the JSON expected, in words: serde_json ends its message with
/// ` at line 1 column N`; only the column helps in a one-line document.
pub(crate) fn line_error(error: serde_json::Error) -> String {
    let message = error.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head);
    format!("{message} (column {})", error.column())
}

/// Parses one line; the error is the reason, in words.
fn parse_line(bytes: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the line is not UTF-8".to_string())?;
    if text.trim().is_empty() {
        return Err("the line is empty".into());
    }
    let line: Line = serde_json::from_str(text).map_err(line_error)?;
    Ok(Record {
        seq: line.seq,
        at: line.at,
        incident: line.incident,
        step: line.step,
        prev: line.prev,
        event: line.event,
        raw: text.to_string(),
    })
}

/// One line of a timeline (without its newline) as a record; the error is the reason, in
/// words. For readers that pick the lines they need (`incidents`, `changes`, `--follow`).
pub fn parse_record(bytes: &[u8]) -> Result<Record, String> {
    parse_line(bytes)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, TimelineError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => TimelineError::NotFound {
            path: path.to_path_buf(),
        },
        _ => TimelineError::Read {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// Reads a timeline: every whole line must be an event; a torn last line is reported in
/// [`Reading::torn_tail`] and otherwise ignored.
pub fn read(path: &Path) -> Result<Reading, TimelineError> {
    parse(path, &read_bytes(path)?)
}

/// [`read`], on bytes already read.
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Reading, TimelineError> {
    let mut reading = Reading {
        records: Vec::new(),
        torn_tail: None,
    };
    for line in raw_lines(bytes) {
        match parse_line(line.bytes) {
            Ok(record) => reading.records.push(record),
            // A last line that is a whole event but lost its newline is kept: an object
            // cannot be complete before its closing brace, so nothing of it is missing.
            Err(_) if !line.terminated => {
                reading.torn_tail = Some(TornTail {
                    line: line.number,
                    bytes: line.bytes.len() as u64,
                });
            }
            Err(reason) => {
                return Err(TimelineError::Malformed {
                    path: PathBuf::from(path),
                    line: line.number,
                    reason,
                });
            }
        }
    }
    Ok(reading)
}

/// Checks the hash chain: `seq` is 1, 2, 3… and each `prev` is the hash of the line before
/// (`""` on the first). A line that is not an event breaks the chain too. Only a file that
/// cannot be read at all is an error.
pub fn verify(path: &Path) -> Result<Verification, TimelineError> {
    let bytes = read_bytes(path)?;
    let mut verification = Verification {
        events: 0,
        torn_tail: None,
        broken: None,
        head: HeadState::NotChecked,
    };
    let mut previous: Option<&[u8]> = None;
    let mut whole: Vec<&[u8]> = Vec::new();
    // Whether line 1 says a head was kept beside the file (then it must be there).
    let mut anchored = false;
    for line in raw_lines(&bytes) {
        let record = match parse_line(line.bytes) {
            Ok(record) => record,
            Err(_) if !line.terminated => {
                verification.torn_tail = Some(TornTail {
                    line: line.number,
                    bytes: line.bytes.len() as u64,
                });
                break;
            }
            Err(reason) => {
                verification.broken = Some(Broken {
                    line: line.number,
                    reason: format!("not a timeline event: {reason}"),
                });
                break;
            }
        };
        if line.number == 1 {
            anchored = matches!(record.event, Event::RunStarted { anchored: true, .. });
        }
        if let Some(reason) = chain_break(&record, line.number, previous) {
            verification.broken = Some(Broken {
                line: line.number,
                reason,
            });
            break;
        }
        verification.events += 1;
        previous = Some(line.bytes);
        whole.push(line.bytes);
    }
    if verification.broken.is_none() {
        verification.head = match anchor::read_head(path)? {
            None if anchored => {
                verification.broken = Some(Broken {
                    line: whole.len() + 1,
                    reason: format!(
                        "line 1 says this timeline keeps a head, but `{}` is gone: its end \
                         cannot be checked (a dropped tail or an added event would not show)",
                        anchor::head_path(path).display()
                    ),
                });
                HeadState::NotChecked
            }
            None => HeadState::Missing,
            Some(head) => match anchor::compare(&head, &whole) {
                Anchoring::Anchored => HeadState::Anchored,
                Anchoring::Interrupted => HeadState::Interrupted,
                Anchoring::Moved(line, reason) => {
                    verification.broken = Some(Broken { line, reason });
                    HeadState::NotChecked
                }
            },
        };
    }
    Ok(verification)
}

/// Why this record does not follow the line before it, if it does not.
fn chain_break(record: &Record, number: usize, previous: Option<&[u8]>) -> Option<String> {
    let expected_seq = number as u64;
    if record.seq != expected_seq {
        return Some(format!(
            "`seq` is {} where {expected_seq} was expected; a line was removed, added or moved",
            record.seq
        ));
    }
    match previous {
        None if !record.prev.is_empty() => Some(
            "`prev` should be empty on the first line; the lines before it were removed".into(),
        ),
        Some(previous) if record.prev != sha256_hex(previous) => Some(format!(
            "`prev` is not the hash of line {}; line {} was changed, or a line was removed or moved",
            number - 1,
            number - 1
        )),
        _ => None,
    }
}
