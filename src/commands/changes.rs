//! `runbook changes [DIR] [--since 24h]`: every action that ran for real across the timelines
//! of a folder — when, incident, operator, host, the command, its exit — newest first. The
//! trail of what was changed in production, for the first minutes of the next incident.
//!
//! What counts: the commands and HTTP requests of `action` steps of runs that are not
//! rehearsals. A declined or rehearsed action ran nothing, so it wrote no `command` event and
//! is not here; a rollback (a command of an action after the action's `step_finished`, from
//! the failure menu) is, marked as one.

use std::borrow::Cow;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeStruct as _;

use super::incidents::{field, lines, parse_long_duration, tag, timeline_files, write_out};
use super::parallel::{par_map, pretty_array_items};
use crate::cli::BoardFormat;
use crate::sanitize::sanitize;
use crate::timeline::{Event, parse_record};
use crate::{Error, ExitStatus};

/// What `runbook changes` was asked to do.
#[derive(Debug)]
pub struct ChangesSettings {
    pub dir: PathBuf,
    /// `24h`, `7d`…, or an RFC 3339 time.
    pub since: String,
    pub format: BoardFormat,
}

/// One command (or HTTP request) an action ran.
#[derive(Debug, Clone)]
pub struct Change {
    /// When it finished, RFC 3339 UTC.
    pub at: String,
    /// The incident, runbook, operator and file: one per run, shared by its changes.
    run: Arc<Run>,
    pub step: String,
    pub host: String,
    /// The rendered command, or `METHOD URL`.
    pub command: String,
    /// The exit code of a command; `None` when it could not start or timed out, and for a
    /// request.
    pub exit: Option<i32>,
    /// The HTTP status of a request; `None` when it got no answer, and for a command.
    pub status: Option<u16>,
    pub timed_out: bool,
    /// A rollback of the step's action, run from the failure menu.
    pub rollback: bool,
}

/// What the changes of one run (up to a hand-over) have in common.
#[derive(Debug)]
struct Run {
    incident: String,
    runbook: String,
    operator: String,
    file: String,
}

impl Change {
    pub fn incident(&self) -> &str {
        &self.run.incident
    }

    pub fn runbook(&self) -> &str {
        &self.run.runbook
    }

    pub fn operator(&self) -> &str {
        &self.run.operator
    }

    pub fn file(&self) -> &str {
        &self.run.file
    }
}

/// The JSON of a change: its fields in this order (`at`, `incident`, `runbook`, `operator`,
/// `step`, `host`, `command`, `exit`, `status`, `timed_out`, `rollback`, `file`).
impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut change = serializer.serialize_struct("Change", 12)?;
        change.serialize_field("at", &self.at)?;
        change.serialize_field("incident", &self.run.incident)?;
        change.serialize_field("runbook", &self.run.runbook)?;
        change.serialize_field("operator", &self.run.operator)?;
        change.serialize_field("step", &self.step)?;
        change.serialize_field("host", &self.host)?;
        change.serialize_field("command", &self.command)?;
        change.serialize_field("exit", &self.exit)?;
        change.serialize_field("status", &self.status)?;
        change.serialize_field("timed_out", &self.timed_out)?;
        change.serialize_field("rollback", &self.rollback)?;
        change.serialize_field("file", &self.run.file)?;
        change.end()
    }
}

#[derive(Serialize)]
struct Trail<'a> {
    dir: String,
    since: String,
    changes: &'a [&'a Change],
    /// Timelines that could not be read: `file: why`.
    unreadable: &'a [String],
}

pub fn changes(settings: ChangesSettings) -> Result<ExitStatus, Error> {
    let since = since(&settings.since, jiff::Timestamp::now())?;
    let since_text = format!("{since:.3}");
    let files = timeline_files(&settings.dir)?;
    let read = par_map(&files, |file| read_changes(file, &since_text));
    let mut changes = Vec::new();
    let mut unreadable = Vec::new();
    for (file, result) in files.iter().zip(read) {
        match result {
            Ok(found) => changes.extend(found),
            Err(error) => unreadable.push(format!("{}: {error}", file.display())),
        }
    }
    let changes = newest_first(&changes);
    let pieces = match settings.format {
        BoardFormat::Table => vec![table(&changes, &since_text)],
        BoardFormat::Json => trail_json(&Trail {
            dir: settings.dir.display().to_string(),
            since: since_text.clone(),
            changes: &changes,
            unreadable: &unreadable,
        }),
    };
    for piece in &pieces {
        write_out(piece)?;
    }
    for line in &unreadable {
        super::warn(&format!(
            "cannot read {}; its changes are not listed",
            sanitize(line)
        ));
    }
    Ok(ExitStatus::Success)
}

/// The trail as `serde_json::to_string_pretty` writes it, and a newline, in pieces to write
/// one after the other, with the changes (a hundred thousand of them over a busy month)
/// serialised on every core. The pieces are not joined: the trail is tens of megabytes, and
/// every copy of it costs more than the write.
fn trail_json(trail: &Trail<'_>) -> Vec<String> {
    if trail.changes.is_empty() {
        let mut text = serde_json::to_string_pretty(trail).expect("the trail serializes");
        text.push('\n');
        return vec![text];
    }
    let items = pretty_array_items(trail.changes);
    let string = |text: &str| serde_json::to_string(text).expect("a string serializes");
    let unreadable = serde_json::to_string_pretty(trail.unreadable)
        .expect("the unreadable list serializes")
        .replace('\n', "\n  ");
    let mut pieces = Vec::with_capacity(items.len() + 2);
    pieces.push(format!(
        "{{\n  \"dir\": {},\n  \"since\": {},\n  \"changes\": [\n",
        string(&trail.dir),
        string(&trail.since)
    ));
    pieces.extend(items);
    pieces.push(format!("\n  ],\n  \"unreadable\": {unreadable}\n}}\n"));
    pieces
}

/// Newest first, then by file, then in the order read (the order of the files, then of their
/// lines). Sorts small keys rather than the changes themselves.
fn newest_first(changes: &[Change]) -> Vec<&Change> {
    let mut keys: Vec<(&str, &str, usize)> = changes
        .iter()
        .enumerate()
        .map(|(n, c)| (c.at.as_str(), c.file(), n))
        .collect();
    keys.sort_unstable_by(|a, b| b.0.cmp(a.0).then_with(|| a.1.cmp(b.1)).then(a.2.cmp(&b.2)));
    keys.into_iter().map(|(_, _, n)| &changes[n]).collect()
}

/// `--since`: a duration back from `now` (`24h`, `7d`), or a time (RFC 3339).
fn since(text: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, Error> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    let ms = parse_long_duration(text).map_err(|reason| Error::InvalidFlag {
        flag: "--since",
        value: text.to_string(),
        reason: format!("{reason}, or as a time such as 2026-11-21T03:00:00Z"),
    })?;
    Ok(now
        .checked_sub(jiff::SignedDuration::from_millis(ms as i64))
        .unwrap_or(jiff::Timestamp::MIN))
}

/// The changes of one timeline at or after `since` (RFC 3339 with milliseconds, as the writer
/// writes `at`, so that strings compare as times). Only `run_started`, `step_started`,
/// `step_finished` and the commands of actions are parsed; other lines are looked at for their
/// tag and time. A timeline whose last event is older than `since` is not read further: events
/// are appended in time order, so it has nothing to list.
fn read_changes(file: &Path, since: &str) -> Result<Vec<Change>, String> {
    let mut opened = std::fs::File::open(file).map_err(|e| format!("cannot read it: {e}"))?;
    if ends_before(&mut opened, since) {
        return Ok(Vec::new());
    }
    thread_local! {
        /// The file being read, a buffer per reading thread kept from file to file.
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        opened
            .rewind()
            .and_then(|()| opened.read_to_end(bytes))
            .map_err(|e| format!("cannot read it: {e}"))?;
        changes_in(bytes, file.display().to_string(), since)
    })
}

/// The changes in the bytes of a timeline (see [`read_changes`]).
fn changes_in(bytes: &[u8], shown_file: String, since: &str) -> Result<Vec<Change>, String> {
    let mut changes = Vec::new();
    let mut run: Option<Arc<Run>> = None;
    let mut rehearsal = false;
    // The step being walked: its id, whether it is an action, whether it finished.
    let mut step: Option<(String, bool, bool)> = None;
    for line in lines(bytes) {
        let Some(tag) = tag(line.bytes) else {
            if !line.terminated {
                break; // a torn last line
            }
            return Err(format!("line {} is not a timeline event", line.number));
        };
        let wanted = match tag {
            "run_started" | "step_started" | "step_finished" | "handed_over" => true,
            "command" | "http" => {
                step.as_ref().is_some_and(|(_, action, _)| *action)
                    && !rehearsal
                    && field(line.bytes, "at").is_none_or(|at| at >= since)
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        // Step boundaries and commands are most of the lines, and their outputs (4 KiB
        // each) need not be copied: they are read into a light shape that skips them.
        let (at, step_id, host, command, exit, status, timed_out) =
            if matches!(tag, "step_started" | "step_finished" | "command" | "http") {
                let light = match light_record(line.bytes, tag) {
                    Ok(light) => light,
                    Err(_) if !line.terminated => break,
                    Err(error) => return Err(format!("line {}: {error}", line.number)),
                };
                let step_id = light.step.unwrap_or_default();
                match light.event {
                    LightEvent::StepStarted { action } => {
                        step = Some((step_id, action, false));
                        continue;
                    }
                    LightEvent::StepFinished => {
                        if let Some(step) = &mut step
                            && step.0 == step_id
                        {
                            step.2 = true;
                        }
                        continue;
                    }
                    LightEvent::Command {
                        host,
                        command,
                        exit,
                        timed_out,
                    } => (light.at, step_id, host, command, exit, None, timed_out),
                    LightEvent::Http {
                        host,
                        method,
                        url,
                        status,
                    } => (
                        light.at,
                        step_id,
                        host,
                        format!("{method} {url}"),
                        None,
                        status,
                        false,
                    ),
                }
            } else {
                let record = match parse_record(line.bytes) {
                    Ok(record) => record,
                    Err(_) if !line.terminated => break,
                    Err(error) => return Err(format!("line {}: {error}", line.number)),
                };
                match record.event {
                    Event::RunStarted {
                        runbook,
                        operator,
                        rehearsal: rehearsed,
                        ..
                    } => {
                        run = Some(Arc::new(Run {
                            incident: record.incident,
                            runbook,
                            operator,
                            file: shown_file.clone(),
                        }));
                        rehearsal = rehearsed;
                    }
                    Event::HandedOver { to, .. } => {
                        if let Some(was) = &run {
                            run = Some(Arc::new(Run {
                                incident: was.incident.clone(),
                                runbook: was.runbook.clone(),
                                operator: to,
                                file: was.file.clone(),
                            }));
                        }
                    }
                    _ => {}
                }
                continue;
            };
        let Some(run) = &run else {
            return Err("line 1 is not `run_started`".into());
        };
        let rollback = step
            .as_ref()
            .is_some_and(|(id, _, finished)| *id == step_id && *finished);
        changes.push(Change {
            at,
            run: Arc::clone(run),
            step: step_id,
            host,
            command,
            exit,
            status,
            timed_out,
            rollback,
        });
    }
    Ok(changes)
}

/// How much of a timeline's end is read to find its last event's time.
const TAIL: u64 = 16 * 1024;

/// True when the last line of the file (whole, or torn) holds an `at` before `since`. False
/// when that cannot be told from the file's last [`TAIL`] bytes (then the file is read whole).
fn ends_before(file: &mut std::fs::File, since: &str) -> bool {
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    let from = len.saturating_sub(TAIL);
    let mut tail = Vec::new();
    if file.seek(std::io::SeekFrom::Start(from)).is_err()
        || file.take(TAIL).read_to_end(&mut tail).is_err()
    {
        return false;
    }
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let last = match memchr::memrchr(b'\n', body) {
        Some(newline) => &body[newline + 1..],
        // The whole last line is in the tail only when the tail is the whole file.
        None if from == 0 => body,
        None => return false,
    };
    field(last, "at").is_some_and(|at| at < since)
}

/// What `changes` needs of a step boundary, a command or a request: the fields it shows,
/// without the outputs (serde skips the fields a shape does not name).
struct LightRecord {
    at: String,
    step: Option<String>,
    event: LightEvent,
}

enum LightEvent {
    StepStarted {
        /// The step is an `action`.
        action: bool,
    },
    StepFinished,
    Command {
        host: String,
        command: String,
        exit: Option<i32>,
        timed_out: bool,
    },
    Http {
        host: String,
        method: String,
        url: String,
        status: Option<u16>,
    },
}

/// One `step_started`, `step_finished`, `command` or `http` line, read light. The tag is
/// known already (from [`tag`]); a field the event needs and the line lacks is an error.
fn light_record(bytes: &[u8], tag: &str) -> Result<LightRecord, String> {
    #[derive(serde::Deserialize)]
    struct Fields<'a> {
        at: String,
        #[serde(default)]
        step: Option<String>,
        #[serde(default, borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
        #[serde(default)]
        host: Option<String>,
        #[serde(default)]
        command: Option<String>,
        #[serde(default)]
        exit: Option<i32>,
        #[serde(default)]
        timed_out: bool,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        status: Option<u16>,
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "the line is not UTF-8".to_string())?;
    let fields: Fields = serde_json::from_str(text).map_err(crate::timeline::line_error)?;
    let missing = |name: &str| format!("missing field `{name}`");
    let event = match tag {
        "step_started" => LightEvent::StepStarted {
            action: fields.kind.ok_or_else(|| missing("kind"))? == "action",
        },
        "step_finished" => LightEvent::StepFinished,
        "command" => LightEvent::Command {
            host: fields.host.ok_or_else(|| missing("host"))?,
            command: fields.command.ok_or_else(|| missing("command"))?,
            exit: fields.exit,
            timed_out: fields.timed_out,
        },
        _ => LightEvent::Http {
            host: fields.host.ok_or_else(|| missing("host"))?,
            method: fields.method.ok_or_else(|| missing("method"))?,
            url: fields.url.ok_or_else(|| missing("url"))?,
            status: fields.status,
        },
    };
    Ok(LightRecord {
        at: fields.at,
        step: fields.step,
        event,
    })
}

fn table(changes: &[&Change], since: &str) -> String {
    if changes.is_empty() {
        return format!("no action ran since {}\n", shown_time(since));
    }
    let headers = [
        "WHEN (UTC)",
        "INCIDENT",
        "OPERATOR",
        "HOST",
        "EXIT",
        "COMMAND",
    ];
    // Each cell with its width in characters.
    let rows: Vec<[(Cow<'_, str>, usize); 6]> = par_map(changes, |c| {
        let mut command = one_line(&sanitize(&c.command));
        if c.rollback {
            command = format!("↩ rollback of {}: {command}", sanitize(&c.step));
        }
        let cells: [Cow<'_, str>; 6] = [
            Cow::Owned(shown_time(&c.at)),
            sanitize(c.incident()),
            sanitize(c.operator()),
            sanitize(&c.host),
            match (c.exit, c.status, c.timed_out) {
                (_, _, true) => "timeout".into(),
                (Some(exit), _, _) => exit.to_string().into(),
                (_, Some(status), _) => format!("HTTP {status}").into(),
                (None, None, _) => "—".into(),
            },
            Cow::Owned(command),
        ];
        cells.map(|cell| {
            let width = cell.chars().count();
            (cell, width)
        })
    });
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (width, (_, cell)) in widths.iter_mut().zip(row) {
            *width = (*width).max(*cell);
        }
    }
    let mut out = String::new();
    let mut text = String::new();
    let mut line = |cells: &[(Cow<'_, str>, usize)]| {
        text.clear();
        for (n, ((cell, chars), width)) in cells.iter().zip(widths).enumerate() {
            text.push_str(cell);
            if n + 1 < cells.len() {
                for _ in 0..width - chars + 2 {
                    text.push(' ');
                }
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&headers.map(|h| (Cow::Borrowed(h), h.chars().count())));
    for row in &rows {
        line(row);
    }
    let failed = changes
        .iter()
        .filter(|c| match (c.exit, c.status) {
            (Some(exit), _) => exit != 0,
            (None, Some(status)) => !(200..400).contains(&status),
            (None, None) => true,
        })
        .count();
    let rollbacks = changes.iter().filter(|c| c.rollback).count();
    let mut summary = format!(
        "\n{} change{} since {}",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        shown_time(since)
    );
    if rollbacks > 0 {
        summary.push_str(&format!(", {rollbacks} rollback{}", plural(rollbacks)));
    }
    if failed > 0 {
        summary.push_str(&format!(", {failed} failed"));
    }
    out.push_str(&summary);
    out.push('\n');
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `2026-11-21 03:58:00`.
fn shown_time(at: &str) -> String {
    // The writer's own shape, `2026-11-21T03:58:00.123Z`, is cut rather than parsed when every
    // part is plainly in range (what a parse and `strftime` would print); anything else is
    // parsed.
    let b = at.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() == 24
        && (b[4], b[7], b[10], b[13], b[16], b[19], b[23])
            == (b'-', b'-', b'T', b':', b':', b'.', b'Z')
        && number(0..4).is_some_and(|year| (1970..3000).contains(&year))
        && number(5..7).is_some_and(|month| (1..=12).contains(&month))
        && number(8..10).is_some_and(|day| (1..=28).contains(&day))
        && number(11..13).is_some_and(|hour| hour < 24)
        && number(14..16).is_some_and(|minute| minute < 60)
        && number(17..19).is_some_and(|second| second < 60)
        && number(20..23).is_some()
    {
        return format!("{} {}", &at[..10], &at[11..19]);
    }
    at.parse::<jiff::Timestamp>().map_or_else(
        |_| at.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// The first line of a command, `…` when there is more.
fn one_line(command: &str) -> String {
    let trimmed = command.trim();
    match trimmed.split_once('\n') {
        Some((first, _)) => format!("{} …", first.trim_end()),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trail's JSON, built on every core, is byte for byte what serde_json's pretty
    /// printer writes: with and without changes, with unreadable files, with strings that
    /// need escaping (quotes, newlines, non-ASCII).
    #[test]
    fn the_trail_json_is_serde_jsons_pretty_print() {
        let run = Arc::new(Run {
            incident: "INC-\"1\"".into(),
            runbook: "web/restart".into(),
            operator: "alice é".into(),
            file: "timelines/INC-1.jsonl".into(),
        });
        let change = |n: usize| Change {
            at: format!("2026-11-21T03:{n:02}:00.000Z"),
            run: Arc::clone(&run),
            step: "drain".into(),
            host: format!("web-{n}"),
            command: "printf 'a\\nb'\nsecond line\t{tab}".into(),
            exit: n.is_multiple_of(2).then_some(n as i32),
            status: n.is_multiple_of(3).then_some(503),
            timed_out: n.is_multiple_of(5),
            rollback: n.is_multiple_of(7),
        };
        let many: Vec<Change> = (0..40).map(change).collect();
        let many: Vec<&Change> = many.iter().collect();
        for changes in [&many[..0], &many[..1], &many[..]] {
            for unreadable in [
                vec![],
                vec!["a.jsonl: line 1 is \"odd\"".to_string(), "b".into()],
            ] {
                let trail = Trail {
                    dir: "/srv/time\"lines".into(),
                    since: "2026-11-20T00:00:00.000Z".into(),
                    changes,
                    unreadable: &unreadable,
                };
                let expected = serde_json::to_string_pretty(&trail).unwrap() + "\n";
                assert_eq!(trail_json(&trail).concat(), expected);
            }
        }
    }

    #[test]
    fn since_takes_a_duration_or_a_time() {
        let now: jiff::Timestamp = "2026-11-22T04:00:00Z".parse().unwrap();
        assert_eq!(
            since("24h", now).unwrap(),
            "2026-11-21T04:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert_eq!(
            since("2026-11-20T00:00:00Z", now).unwrap(),
            "2026-11-20T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert!(since("yesterday", now).is_err());
    }

    /// The fast path prints what a parse and `strftime` print, and leaves anything unusual
    /// to them.
    #[test]
    fn shown_times_are_what_the_parse_shows() {
        let parsed = |at: &str| {
            at.parse::<jiff::Timestamp>().map_or_else(
                |_| at.to_string(),
                |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            )
        };
        for at in [
            "2026-11-21T03:58:00.123Z",
            "2026-02-28T23:59:59.999Z",
            "2026-02-30T00:00:00.000Z",
            "2024-02-29T12:00:00.000Z",
            "2026-12-31T23:59:60.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-11-21T24:00:00.000Z",
            "2026-11-21t03:58:00.123z",
            "2026-11-21T03:58:00Z",
            "2026-11-21T03:58:00.123+01:00",
            "1969-12-31T23:59:59.000Z",
            "not a time",
            "",
        ] {
            assert_eq!(shown_time(at), parsed(at), "{at}");
        }
    }

    #[test]
    fn a_timeline_that_ends_before_since_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let line = |at: &str| format!(r#"{{"seq":1,"at":"{at}","event":"note","text":"x"}}"#);
        let ends = |text: &str, since: &str| {
            std::fs::write(&path, text).unwrap();
            ends_before(&mut std::fs::File::open(&path).unwrap(), since)
        };
        let old = line("2026-11-20T00:00:00.000Z");
        let new = line("2026-11-22T00:00:00.000Z");
        let since = "2026-11-21T00:00:00.000Z";
        assert!(ends(&format!("{new}\n{old}\n"), since));
        assert!(ends(&old, since), "a last line without its newline");
        assert!(!ends(&format!("{old}\n{new}\n"), since));
        assert!(
            !ends(&format!("{old}\n{{\"seq\":2,\"at\":\"2026-"), since),
            "torn"
        );
        assert!(!ends("", since));
        // A last line longer than the tail read: read whole.
        let long = format!(
            r#"{{"seq":1,"at":"2026-11-20T00:00:00.000Z","event":"note","text":"{}"}}"#,
            "x".repeat(TAIL as usize)
        );
        assert!(!ends(&format!("{long}\n"), since));
    }
}
