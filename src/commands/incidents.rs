//! `runbook incidents [DIR]`: the board of every timeline under a folder — incident, runbook,
//! priority, operator, state, time to acknowledge, time left before the priority's deadline —
//! breached first. Also the reading machinery `changes` shares: the timeline files of a folder,
//! read in parallel, each line looked at only as far as needed ([`lines`], [`tag`]).
//!
//! "running" means a process holds the writer's lock on the file right now; the board only
//! looks (in `/proc/locks`), it never takes the lock, so a run starting or resuming meanwhile is
//! never turned away.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::parallel::par_map;
use super::write_stdout;
use crate::cli::BoardFormat;
use crate::sanitize::sanitize;
use crate::timeline::{Event, RunOutcome, human_duration, parse_record};
use crate::{Error, ExitStatus};

/// The deadlines of the priorities when the catalog's `.runbook/config.yaml` says nothing.
pub const DEFAULT_DEADLINES: [(&str, &str); 5] = [
    ("P1", "4h"),
    ("P2", "8h"),
    ("P3", "24h"),
    ("P4", "3d"),
    ("P5", "1w"),
];

/// What `runbook incidents` was asked to do.
#[derive(Debug)]
pub struct IncidentsSettings {
    pub dir: PathBuf,
    pub format: BoardFormat,
    pub catalog: Option<PathBuf>,
}

/// How an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A process holds the timeline's writer lock: someone is on it now.
    Running,
    /// The run paused (Ctrl-C, or a question without a terminal) and can be resumed.
    Paused,
    /// The run stopped without a word (killed, the machine died): nobody holds it, resume it.
    Interrupted,
    Failed,
    Aborted,
    Resolved,
    /// The file cannot be read as a timeline.
    Unreadable,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Paused => "paused",
            State::Interrupted => "interrupted",
            State::Failed => "failed",
            State::Aborted => "aborted",
            State::Resolved => "resolved",
            State::Unreadable => "unreadable",
        }
    }

    fn finished(self) -> bool {
        matches!(self, State::Failed | State::Aborted | State::Resolved)
    }
}

/// One row of the board: what `--format json` prints per timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub file: String,
    pub incident: String,
    pub runbook: String,
    /// From the runbook the timeline names (`priority:`); `None` when it has none or is gone.
    pub priority: Option<String>,
    /// Who has it now: the operator of the first run, or the last one it was handed over to.
    pub operator: String,
    pub state: State,
    pub rehearsal: bool,
    pub started_at: String,
    pub alerted_at: Option<String>,
    /// Alert → run started, in milliseconds.
    pub time_to_acknowledge_ms: Option<i64>,
    /// The step of the last event.
    pub step: Option<String>,
    pub last_event_at: Option<String>,
    /// When the priority's deadline passes (from the alert, else from the start).
    pub deadline: Option<String>,
    /// For unfinished incidents: milliseconds left before the deadline (negative: breached).
    pub time_left_ms: Option<i64>,
    pub breached: bool,
    /// Why the file is unreadable.
    pub error: Option<String>,
    /// The runbook file `run_started` names, for its priority.
    #[serde(skip)]
    runbook_path: Option<String>,
}

/// The board as JSON.
#[derive(Debug, Serialize)]
struct Board<'a> {
    dir: String,
    now: String,
    deadlines: BTreeMap<String, String>,
    incidents: &'a [Incident],
}

pub fn incidents(settings: IncidentsSettings) -> Result<ExitStatus, Error> {
    let deadlines = Deadlines::for_catalog(settings.catalog.as_deref())?;
    let files = timeline_files(&settings.dir)?;
    let now = jiff::Timestamp::now();
    let locked = LockedFiles::now();
    let priorities = Priorities::default();
    let mut board: Vec<Incident> = par_map(&files, |file| {
        read_incident(file, &locked, &priorities, &deadlines, now)
    });
    sort_board(&mut board);
    let unreadable = board
        .iter()
        .filter(|i| i.state == State::Unreadable)
        .count();
    let text = match settings.format {
        BoardFormat::Table => table(&board, &settings.dir),
        BoardFormat::Json => {
            let json = Board {
                dir: settings.dir.display().to_string(),
                now: format!("{now:.3}"),
                deadlines: deadlines.written.clone(),
                incidents: &board,
            };
            let mut text = serde_json::to_string_pretty(&json).expect("the board serializes");
            text.push('\n');
            text
        }
    };
    write_out(&text)?;
    if unreadable > 0 {
        super::warn(&format!(
            "{unreadable} timeline{} could not be read (listed as `unreadable`)",
            if unreadable == 1 { "" } else { "s" }
        ));
    }
    Ok(ExitStatus::Success)
}

/// Breached first (most overdue first), then unfinished by time left, then unreadable, then
/// finished ones, newest first.
fn sort_board(board: &mut [Incident]) {
    let rank = |i: &Incident| match (i.breached, i.state) {
        (true, _) => 0,
        (false, State::Unreadable) => 2,
        (false, state) if !state.finished() => 1,
        _ => 3,
    };
    board.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| {
                a.time_left_ms
                    .unwrap_or(i64::MAX)
                    .cmp(&b.time_left_ms.unwrap_or(i64::MAX))
            })
            .then_with(|| b.started_at.cmp(&a.started_at))
            .then_with(|| a.file.cmp(&b.file))
    });
}

fn table(board: &[Incident], dir: &Path) -> String {
    if board.is_empty() {
        return format!("no timeline in `{}`\n", dir.display());
    }
    let headers = [
        "INCIDENT", "RUNBOOK", "PRIO", "OPERATOR", "STATE", "ACK", "LEFT", "STEP",
    ];
    let rows: Vec<[String; 8]> = board
        .iter()
        .map(|i| {
            let clean = |s: &str| sanitize(s).into_owned();
            let state = match (i.state, i.rehearsal) {
                (State::Unreadable, _) => "unreadable".to_string(),
                (state, true) => format!("{} (rehearsal)", state.word()),
                (state, false) => state.word().to_string(),
            };
            let left = match (i.time_left_ms, i.breached) {
                (Some(ms), true) => format!("BREACHED {} ago", human_duration(ms.unsigned_abs())),
                (Some(ms), false) => human_duration(ms as u64),
                (None, _) => "—".into(),
            };
            [
                clean(&i.incident),
                clean(&i.runbook),
                i.priority.clone().unwrap_or_else(|| "—".into()),
                clean(&i.operator),
                state,
                i.time_to_acknowledge_ms
                    .map_or("—".into(), |ms| human_duration(ms.max(0) as u64)),
                left,
                match (&i.error, &i.step) {
                    (Some(error), _) => clean(error),
                    (None, Some(step)) if !i.state.finished() => clean(step),
                    (None, _) => "—".into(),
                },
            ]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (n, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if n + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&headers.map(String::from));
    for row in &rows {
        line(row);
    }
    let count = |s: State| board.iter().filter(|i| i.state == s).count();
    let breached = board.iter().filter(|i| i.breached).count();
    let mut parts = vec![format!(
        "{} incident{}",
        board.len(),
        if board.len() == 1 { "" } else { "s" }
    )];
    if breached > 0 {
        parts.push(format!("{breached} breached"));
    }
    for state in [
        State::Running,
        State::Paused,
        State::Interrupted,
        State::Failed,
        State::Aborted,
        State::Resolved,
        State::Unreadable,
    ] {
        let n = count(state);
        if n > 0 {
            parts.push(format!("{n} {}", state.word()));
        }
    }
    out.push_str(&format!("\n{}\n", parts.join(", ")));
    out
}

/// Reads what the board needs of one timeline: line 1 (`run_started`), the hand-overs, the
/// pauses and the end, and the last line; other lines are only looked at for their tag.
fn read_incident(
    file: &Path,
    locked: &LockedFiles,
    priorities: &Priorities,
    deadlines: &Deadlines,
    now: jiff::Timestamp,
) -> Incident {
    let mut incident = Incident {
        file: file.display().to_string(),
        incident: file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        runbook: "—".into(),
        priority: None,
        operator: "—".into(),
        state: State::Unreadable,
        rehearsal: false,
        started_at: String::new(),
        alerted_at: None,
        time_to_acknowledge_ms: None,
        step: None,
        last_event_at: None,
        deadline: None,
        time_left_ms: None,
        breached: false,
        error: None,
        runbook_path: None,
    };
    match scan_incident(file, &mut incident) {
        Ok(ending) => {
            incident.state = match ending {
                Some(RunOutcome::Resolved) => State::Resolved,
                Some(RunOutcome::Failed) => State::Failed,
                Some(RunOutcome::Aborted) => State::Aborted,
                None if locked.holds(file) => State::Running,
                None if incident.state == State::Paused => State::Paused,
                None => State::Interrupted,
            };
        }
        Err(error) => {
            incident.state = State::Unreadable;
            incident.error = Some(error);
            return incident;
        }
    }
    incident.priority = priorities.of(&incident);
    let from = incident
        .alerted_at
        .as_deref()
        .or(Some(incident.started_at.as_str()))
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    if let (Some(priority), Some(from), false) = (&incident.priority, from, incident.rehearsal)
        && let Some(allowed) = deadlines.of(priority)
    {
        let deadline = from
            .checked_add(jiff::SignedDuration::from_millis(allowed))
            .unwrap_or(from);
        incident.deadline = Some(format!("{deadline:.3}"));
        if !incident.state.finished() {
            let left = deadline.duration_since(now).as_millis() as i64;
            incident.time_left_ms = Some(left);
            incident.breached = left < 0;
        }
    }
    incident
}

/// Fills `incident` from the file; `Ok(Some(outcome))` when `run_finished` was written.
/// `incident.state` is set to `Paused` when the last word was a pause.
fn scan_incident(file: &Path, incident: &mut Incident) -> Result<Option<RunOutcome>, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read it: {e}"))?;
    let mut ending = None;
    let mut last: Option<(&[u8], usize)> = None;
    let mut paused = false;
    let mut last_step: Option<&str> = None;
    for line in lines(&bytes) {
        if !line.terminated && parse_record(line.bytes).is_err() {
            // A torn last line: the writer stopped mid-line; `--resume` cuts it off.
            break;
        }
        let interesting = line.number == 1
            || matches!(
                tag(line.bytes),
                Some("handed_over" | "run_paused" | "run_resumed" | "run_finished")
            );
        last = Some((line.bytes, line.number));
        if tag(line.bytes) == Some("step_started")
            && let Some(step) = field(line.bytes, "step")
        {
            last_step = Some(step);
        }
        if !interesting {
            if tag(line.bytes).is_none() {
                return Err(format!("line {} is not a timeline event", line.number));
            }
            continue;
        }
        let record = parse_record(line.bytes).map_err(|e| format!("line {}: {e}", line.number))?;
        match record.event {
            Event::RunStarted {
                runbook,
                path,
                operator,
                alerted_at,
                rehearsal,
                ..
            } if line.number == 1 => {
                incident.incident = record.incident;
                incident.runbook = runbook;
                incident.operator = operator;
                incident.rehearsal = rehearsal;
                incident.started_at = record.at.clone();
                if let (Some(alerted), Ok(started)) =
                    (&alerted_at, record.at.parse::<jiff::Timestamp>())
                    && let Ok(alerted) = alerted.parse::<jiff::Timestamp>()
                {
                    incident.time_to_acknowledge_ms =
                        Some(started.duration_since(alerted).as_millis() as i64);
                }
                incident.alerted_at = alerted_at;
                incident.runbook_path = Some(path);
            }
            _ if line.number == 1 => return Err("line 1 is not `run_started`".into()),
            Event::HandedOver { to, .. } => incident.operator = to,
            Event::RunPaused { at_step } => {
                paused = true;
                incident.step = Some(at_step);
            }
            Event::RunResumed { .. } => paused = false,
            Event::RunFinished { outcome, .. } => ending = Some(outcome),
            _ => {}
        }
    }
    let Some((last, number)) = last else {
        return Err("no whole event".into());
    };
    let record = parse_record(last).map_err(|e| format!("line {number}: {e}"))?;
    if !paused {
        incident.step = record.step.or(last_step.map(String::from));
    }
    incident.last_event_at = Some(record.at);
    if paused {
        incident.state = State::Paused;
    }
    Ok(ending)
}

/// The priority of each runbook file, read once per file however many timelines name it.
#[derive(Default)]
struct Priorities {
    cache: Mutex<HashMap<String, Option<String>>>,
}

impl Priorities {
    fn of(&self, incident: &Incident) -> Option<String> {
        let path = incident.runbook_path.clone()?;
        if let Some(known) = self.cache.lock().expect("not poisoned").get(&path) {
            return known.clone();
        }
        let priority = crate::load::SourceFile::read(Path::new(&path))
            .ok()
            .and_then(|source| source.parsed.ok())
            .and_then(|runbook| runbook.priority)
            .map(|p| format!("{:?}", p.value));
        self.cache
            .lock()
            .expect("not poisoned")
            .insert(path, priority.clone());
        priority
    }
}

/// How long each priority may take before it breaches, in milliseconds.
#[derive(Debug, Clone)]
pub struct Deadlines {
    millis: HashMap<String, i64>,
    /// As written, for the JSON.
    written: BTreeMap<String, String>,
}

/// The catalog's `.runbook/config.yaml`, as far as this command reads it.
#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    deadlines: BTreeMap<String, String>,
}

impl Deadlines {
    /// The defaults, replaced priority by priority by the `deadlines:` of the catalog's
    /// `.runbook/config.yaml` when it exists.
    pub fn for_catalog(catalog: Option<&Path>) -> Result<Deadlines, Error> {
        let catalog = catalog.unwrap_or(Path::new(crate::load::CATALOG_DIR_NAME));
        let config = catalog.join(".runbook").join("config.yaml");
        let mut written: BTreeMap<String, String> = DEFAULT_DEADLINES
            .iter()
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect();
        if config.is_file() {
            let text = std::fs::read_to_string(&config).map_err(|source| Error::ReadFile {
                path: config.clone(),
                source,
            })?;
            let invalid = |reason: String| Error::InvalidConfig {
                path: config.clone(),
                reason,
            };
            let read: Config = serde_saphyr::from_str(&text).map_err(|e| invalid(e.to_string()))?;
            for (priority, duration) in read.deadlines {
                if !written.contains_key(&priority) {
                    return Err(invalid(format!(
                        "`deadlines.{priority}`: priorities are P1 … P5"
                    )));
                }
                parse_long_duration(&duration)
                    .map_err(|reason| invalid(format!("`deadlines.{priority}`: {reason}")))?;
                written.insert(priority, duration);
            }
        }
        let millis = written
            .iter()
            .map(|(p, d)| {
                let ms = parse_long_duration(d).expect("checked above") as i64;
                (p.clone(), ms)
            })
            .collect();
        Ok(Deadlines { millis, written })
    }

    fn of(&self, priority: &str) -> Option<i64> {
        self.millis.get(priority).copied()
    }
}

/// A duration as on-call people write deadlines and windows: `30m`, `4h`, `3d`, `1w`,
/// `1d 12h`; in milliseconds.
pub fn parse_long_duration(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let invalid =
        || format!("`{trimmed}` is not a duration; write it like `30m`, `4h`, `3d` or `1w`");
    if trimmed.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let millis: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(invalid()),
        };
        total = total.saturating_add(number.saturating_mul(millis));
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

/// The files whose writer lock some process holds now, from `/proc/locks` (looked at, never
/// taken). Where `/proc/locks` cannot be read, a shared lock is tried for an instant instead.
pub(crate) struct LockedFiles {
    /// (device major, device minor, inode) of every `FLOCK` lock.
    held: Option<HashSet<(u64, u64, u64)>>,
}

impl LockedFiles {
    pub(crate) fn now() -> LockedFiles {
        let held = std::fs::read_to_string("/proc/locks").ok().map(|text| {
            text.lines()
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // `1: FLOCK  ADVISORY  WRITE 1234 08:01:131 0 EOF`; a blocked waiter has
                    // `->` after the number.
                    let at = fields.iter().position(|f| *f == "FLOCK")?;
                    let id = fields.get(at + 4)?;
                    let mut parts = id.split(':');
                    let major = u64::from_str_radix(parts.next()?, 16).ok()?;
                    let minor = u64::from_str_radix(parts.next()?, 16).ok()?;
                    let inode = parts.next()?.parse().ok()?;
                    Some((major, minor, inode))
                })
                .collect()
        });
        LockedFiles { held }
    }

    pub(crate) fn holds(&self, file: &Path) -> bool {
        use std::os::unix::fs::MetadataExt as _;
        match &self.held {
            Some(held) => std::fs::metadata(file).is_ok_and(|m| {
                let dev = m.dev();
                let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
                let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
                held.contains(&(major, minor, m.ino()))
            }),
            None => std::fs::File::open(file).is_ok_and(|f| {
                matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
            }),
        }
    }
}

/// Every `*.jsonl` file under `dir`, sorted; a missing folder is an error naming it.
pub(crate) fn timeline_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    if !dir.exists() {
        return Err(Error::NoSuchPath {
            path: dir.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|source| Error::ReadDir {
            path: folder.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::ReadDir {
                path: folder.clone(),
                source,
            })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| Error::ReadDir {
                path: folder.clone(),
                source,
            })?;
            if kind.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Writes a board or trail to stdout. Text of printable ASCII and newlines only (the usual
/// case: every value is sanitised, the table's few symbols aside) goes straight out: there
/// is nothing in it for the colour-stripping stream to take out, and checking that costs far
/// less than having it look at every byte. Anything else goes through [`write_stdout`].
pub(crate) fn write_out(text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    // Printable ASCII and newlines only; checked a block at a time without an early exit,
    // which the compiler vectorises (the trail's JSON is tens of megabytes).
    let plain = !text.as_bytes().chunks(4096).any(|block| {
        block.iter().fold(false, |odd, &b| {
            odd | ((b < b' ' && b != b'\n') | (b > b'~'))
        })
    });
    if !plain {
        return write_stdout(text);
    }
    if super::output::captured(text) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// One line of a file.
pub(crate) struct Line<'a> {
    /// From 1.
    pub number: usize,
    /// Without its newline.
    pub bytes: &'a [u8],
    /// False for a last line without its newline.
    pub terminated: bool,
}

/// The lines of a file, found with `memchr`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut rest = bytes;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let line = match memchr::memchr(b'\n', rest) {
            Some(end) => {
                let line = Line {
                    number,
                    bytes: &rest[..end],
                    terminated: true,
                };
                rest = &rest[end + 1..];
                line
            }
            None => {
                let line = Line {
                    number,
                    bytes: rest,
                    terminated: false,
                };
                rest = &rest[rest.len()..];
                line
            }
        };
        Some(line)
    })
}

/// The string value of the first `"KEY":"` of a line, without parsing the rest: the writer
/// puts `seq`, `at`, `event`, `incident`, `prev`, `step` first, so the first occurrence is the
/// line's own. `None` when absent, escaped or not UTF-8.
pub(crate) fn field<'a>(line: &'a [u8], key: &str) -> Option<&'a str> {
    // The first `"` followed by `KEY":"`: the keys looked for come early in the line, so
    // walking its quotes finds them sooner than building a searcher for each call.
    let key = key.as_bytes();
    let start = memchr::memchr_iter(b'"', line).find_map(|quote| {
        let after = &line[quote + 1..];
        (after.starts_with(key) && after[key.len()..].starts_with(b"\":\""))
            .then_some(quote + 1 + key.len() + 3)
    })?;
    let len = memchr::memchr(b'"', &line[start..])?;
    let value = &line[start..start + len];
    if value.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// The `event` tag of a line.
pub(crate) fn tag(line: &[u8]) -> Option<&str> {
    field(line, "event")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_durations() {
        assert_eq!(parse_long_duration("4h"), Ok(4 * 3_600_000));
        assert_eq!(parse_long_duration("3d"), Ok(3 * 86_400_000));
        assert_eq!(parse_long_duration("1w"), Ok(604_800_000));
        assert_eq!(parse_long_duration("1d 12h"), Ok(36 * 3_600_000));
        assert!(parse_long_duration("soon").is_err());
        assert!(parse_long_duration("").is_err());
        assert!(parse_long_duration("4y").is_err());
    }

    #[test]
    fn fields_are_read_without_parsing_the_line() {
        let line = br#"{"seq":2,"at":"2026-11-21T03:58:00.000Z","event":"command","incident":"i","prev":"ab","step":"drain","host":"web-1","stdout":"\"event\":\"run_finished\""}"#;
        assert_eq!(tag(line), Some("command"));
        assert_eq!(field(line, "at"), Some("2026-11-21T03:58:00.000Z"));
        assert_eq!(field(line, "step"), Some("drain"));
        assert_eq!(tag(b"{\"seq\":1}"), None);
    }

    #[test]
    fn lines_keep_a_torn_tail_apart() {
        let all: Vec<_> = lines(b"a\nb\nc")
            .map(|l| (l.number, l.terminated))
            .collect();
        assert_eq!(all, [(1, true), (2, true), (3, false)]);
    }
}
