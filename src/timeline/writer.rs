//! The writer: whatever happens, every recorded event survives. Each line is appended in one
//! write and synced to disk before [`Timeline::record`] returns, the file is locked so two
//! runs cannot interleave their lines, and the chain's head is kept beside it ([`anchor`]).
//!
//! The durability rule: an event is on disk (`fdatasync`) before `record` returns, so before
//! the engine shows or asks anything after it and before the next command runs. Per event
//! that is two data syncs — the head announcing the line, then the line — and no rename: the
//! head is replaced once per run, then overwritten in place at a fixed length
//! ([`anchor::HEAD_BYTES`]), which needs no folder sync and, the file's size never changing,
//! no metadata commit. The head committing the line is written at once (a killed process
//! leaves it: the kernel has it) but synced only by the next announcement, which overwrites
//! it, or at the end or pause of the run, or when the timeline is closed. So only a power cut
//! in between can leave the announcement on disk instead: a whole line, announced, which
//! reads as a run stopped while writing it ([`anchor::Anchoring::Interrupted`]), and resume
//! continues after it. One sync in three less per event, and steps record three events
//! each.
//!
//! The file is private (0600), created new (never through a link, never over a file someone
//! put there), in a folder no other user can change ([`files`]).

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::anchor::{self, Head};
use super::reader::{self, Record};
use super::{Event, TimelineError, sha256_hex, stdout_tail};
use crate::files;
use crate::secrets::Masker;

/// An open timeline, appended to event by event.
#[derive(Debug)]
pub struct Timeline {
    file: File,
    path: PathBuf,
    incident: String,
    masker: Masker,
    /// The `seq` of the next line.
    seq: u64,
    /// The hash of the last line: the next line's `prev`.
    prev: String,
    /// The file's length after the last whole line, to cut a failed write back off.
    len: u64,
    /// What became of the last attempt to sign the head (at the end of a run, at a pause).
    signature: Option<Result<Option<PathBuf>, String>>,
    /// A timeline kept in memory (`runbook test`): events are kept here, nothing is written.
    memory: Option<Vec<(Option<String>, Event)>>,
    /// The head sidecar, once this run wrote it: overwritten in place from then on.
    head_file: Option<File>,
}

impl Timeline {
    /// Creates the file, private, and its missing parent folders, private too; refuses a
    /// folder another user can change, a link, and a file that exists and is not empty (an
    /// empty one of this user's is taken: a run that died before its first event).
    pub fn create(path: &Path, incident: &str, masker: Masker) -> Result<Timeline, TimelineError> {
        let create_error = |source| TimelineError::Create {
            path: path.to_path_buf(),
            source,
        };
        let folder = files::folder_of(path);
        files::create_private_folder(&folder).map_err(create_error)?;
        check_folder(&folder)?;
        let file = match files::create_new(path, files::PRIVATE) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => take_empty(path)?,
            Err(source) => return Err(create_error(source)),
        };
        lock(&file, path)?;
        if file.metadata().map_err(create_error)?.len() > 0 {
            return Err(TimelineError::Exists {
                path: path.to_path_buf(),
            });
        }
        files::sync_folder(&folder);
        Ok(Timeline {
            file,
            path: path.to_path_buf(),
            incident: incident.to_string(),
            masker,
            seq: 1,
            prev: String::new(),
            len: 0,
            signature: None,
            memory: None,
            head_file: None,
        })
    }

    /// A timeline that keeps its events in memory and writes nothing (`runbook test`: a
    /// scripted run leaves no file behind). Its file is `/dev/null`, never written to.
    pub fn in_memory(incident: &str, masker: Masker) -> Result<Timeline, TimelineError> {
        let path = PathBuf::from("/dev/null");
        let file = File::open(&path).map_err(|source| TimelineError::Create {
            path: path.clone(),
            source,
        })?;
        Ok(Timeline {
            file,
            path,
            incident: incident.to_string(),
            masker,
            seq: 1,
            prev: String::new(),
            len: 0,
            signature: None,
            memory: Some(Vec::new()),
            head_file: None,
        })
    }

    /// Whether it keeps its events in memory only ([`Timeline::in_memory`]).
    pub fn is_in_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// The events of an in-memory timeline, in order, each with its step (empty otherwise).
    pub fn recorded(&self) -> &[(Option<String>, Event)] {
        self.memory.as_deref().unwrap_or_default()
    }

    /// What [`Timeline::resume`] refuses, checked before anything is read: a timeline in a
    /// folder others can change, or one that is a symbolic link.
    pub fn check_resumable(path: &Path) -> Result<(), TimelineError> {
        check_folder(&files::folder_of(path))?;
        drop(
            files::open_existing(path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => TimelineError::NotFound {
                    path: path.to_path_buf(),
                },
                _ => TimelineError::Read {
                    path: path.to_path_buf(),
                    source,
                },
            })?,
        );
        Ok(())
    }

    /// Opens an existing timeline to append to it (`--resume`): cuts a torn last line off
    /// (returning how many bytes were dropped), and continues `seq` and the chain from the
    /// last whole line. Returns the records read, for the executor to restore its state.
    pub fn resume(
        path: &Path,
        masker: Masker,
    ) -> Result<(Timeline, Vec<Record>, Option<u64>), TimelineError> {
        check_folder(&files::folder_of(path))?;
        let mut file = files::open_existing(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => TimelineError::NotFound {
                path: path.to_path_buf(),
            },
            _ => TimelineError::Read {
                path: path.to_path_buf(),
                source,
            },
        })?;
        lock(&file, path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|source| TimelineError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let reading = reader::parse(path, &bytes)?;
        let Some(last) = reading.records.last() else {
            return Err(TimelineError::Empty {
                path: path.to_path_buf(),
            });
        };
        check_head_before_resuming(path, &reading.records)?;
        // Timelines written before they were private become private now.
        if file
            .metadata()
            .is_ok_and(|m| m.uid() == files::effective_uid())
        {
            let _ = file.set_permissions(std::fs::Permissions::from_mode(files::PRIVATE));
        }
        let write_error = |source| TimelineError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut len = bytes.len() as u64;
        let dropped = reading.torn_tail.map(|torn| torn.bytes);
        if let Some(dropped) = dropped {
            len -= dropped;
            file.set_len(len).map_err(write_error)?;
        } else if !bytes.ends_with(b"\n") {
            // The last event is whole but lost its newline; give it back before appending.
            file.write_all(b"\n").map_err(write_error)?;
            len += 1;
        }
        file.sync_all().map_err(write_error)?;
        let timeline = Timeline {
            file,
            path: path.to_path_buf(),
            incident: last.incident.clone(),
            masker,
            seq: last.seq + 1,
            prev: sha256_hex(last.raw.as_bytes()),
            len,
            signature: None,
            memory: None,
            head_file: None,
        };
        Ok((timeline, reading.records, dropped))
    }

    /// Appends one event, its strings masked, and syncs it to disk before returning.
    pub fn record(&mut self, step: Option<&str>, event: Event) -> Result<(), TimelineError> {
        if let Some(memory) = &mut self.memory {
            memory.push((step.map(str::to_string), event));
            self.seq += 1;
            return Ok(());
        }
        let mut line = self.line(step, &event).into_bytes();
        let hash = sha256_hex(&line);
        line.push(b'\n');
        // Announced first, committed after: a crash in between is told from a change.
        let committed = Head {
            seq: self.seq - 1,
            sha256: self.prev.clone(),
            pending: None,
        };
        self.write_head(
            &Head {
                pending: Some(anchor::Line {
                    seq: self.seq,
                    sha256: hash.clone(),
                }),
                ..committed
            },
            true,
        )?;
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Cut a partial line back off, so that the next event does not land after it.
            let _ = self.file.set_len(self.len);
            return Err(TimelineError::Write {
                path: self.path.clone(),
                source,
            });
        }
        self.len += line.len() as u64;
        self.prev = hash;
        let last = matches!(event, Event::RunFinished { .. } | Event::RunPaused { .. });
        self.write_head(
            &Head {
                seq: self.seq,
                sha256: self.prev.clone(),
                pending: None,
            },
            last,
        )?;
        self.seq += 1;
        if last {
            self.signature = Some(anchor::sign(&self.path));
        }
        Ok(())
    }

    /// Writes the head: the first time by replacement (synced), then in place, synced if
    /// `sync` says (see the module's docs).
    fn write_head(&mut self, head: &Head, sync: bool) -> Result<(), TimelineError> {
        let written = match &self.head_file {
            Some(file) => anchor::overwrite_head(file, head, sync),
            None => anchor::write_head(&self.path, head).map(|file| {
                self.head_file = Some(file);
            }),
        };
        written.map_err(|source| TimelineError::Write {
            path: anchor::head_path(&self.path),
            source,
        })
    }

    /// The hash of the last line written (the head kept beside the file).
    pub fn head(&self) -> &str {
        &self.prev
    }

    /// What became of signing the head at the last end or pause: the signature's path,
    /// `Ok(None)` when no SSH key or agent could sign, or why signing failed. `None` before.
    pub fn signature(&self) -> Option<&Result<Option<PathBuf>, String>> {
        self.signature.as_ref()
    }

    /// Masks these secrets from the next event on (e.g. once secrets are asked again).
    pub fn set_masker(&mut self, masker: Masker) {
        self.masker = masker;
    }

    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn incident(&self) -> &str {
        &self.incident
    }

    /// The `seq` the next event will have.
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    /// The JSON line, without its newline: `seq`, `at`, `event`, `incident`, `prev`, `step`,
    /// then the event's fields. Strings are masked value by value rather than in the JSON text,
    /// so that a secret's escaped form (`"` or `\` in it) is masked too, and the chain's
    /// hashes, the sequence and the time are never touched.
    fn line(&self, step: Option<&str>, event: &Event) -> String {
        let Ok(Value::Object(fields)) = serde_json::to_value(event) else {
            unreachable!("an event serializes to an object")
        };
        let has_output = matches!(event, Event::Command { .. } | Event::Http { .. });
        let mut line = String::from("{");
        let mut push = |key: &str, value: Value| {
            if line.len() > 1 {
                line.push(',');
            }
            line.push_str(&Value::String(key.to_string()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        };
        push("seq", Value::from(self.seq));
        push("at", Value::String(now()));
        push("event", Value::String(event.name().to_string()));
        push("incident", self.masked(&self.incident));
        push("prev", Value::String(self.prev.clone()));
        if let Some(step) = step {
            push("step", self.masked(step));
        }
        for (key, mut value) in fields {
            if key == "event" {
                continue;
            }
            mask_value(&self.masker, &mut value);
            // Outputs are cut after masking, so a secret cut in half can never show.
            if has_output
                && matches!(key.as_str(), "stdout" | "stderr" | "body")
                && let Value::String(text) = &value
            {
                value = Value::String(stdout_tail(text));
            }
            push(&key, value);
        }
        line.push('}');
        line
    }

    fn masked(&self, text: &str) -> Value {
        Value::String(self.masker.mask(text).into_owned())
    }
}

/// Replaces secrets in every string of a JSON value.
fn mask_value(masker: &Masker, value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(masked) = masker.mask(text) {
                *text = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask_value(masker, item)),
        Value::Object(map) => map.values_mut().for_each(|item| mask_value(masker, item)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Now, UTC, RFC 3339 with milliseconds: `2026-11-21T03:04:05.123Z`.
fn now() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}

/// Takes the exclusive advisory lock, so that a second run cannot write to the same file.
/// Where the file system has no locks, the run goes on without one rather than not at all.
fn lock(file: &File, path: &Path) -> Result<(), TimelineError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(TimelineError::Locked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source))
            if source.kind() == std::io::ErrorKind::Unsupported =>
        {
            Ok(())
        }
        Err(std::fs::TryLockError::Error(source)) => Err(TimelineError::Lock {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Syncs the folder that holds a new file, so that the file itself survives a crash.
/// Best effort: not every platform can open a folder for syncing.
/// Refuses a folder in which another user could plant, replace or read-by-link a timeline.
fn check_folder(folder: &Path) -> Result<(), TimelineError> {
    match files::check_private_folder(folder) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(TimelineError::UnsafeFolder {
            folder: folder.to_path_buf(),
            reason: why.to_string(),
        }),
        Err(source) => Err(TimelineError::Create {
            path: folder.to_path_buf(),
            source,
        }),
    }
}

/// An existing file where a new timeline goes: taken only when it is an empty regular file
/// of this user's, with no other name; never through a link.
fn take_empty(path: &Path) -> Result<File, TimelineError> {
    let file = files::open_existing(path).map_err(|source| TimelineError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let metadata = file.metadata().map_err(|source| TimelineError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let exists = || TimelineError::Exists {
        path: path.to_path_buf(),
    };
    if !metadata.is_file() || metadata.len() > 0 {
        return Err(exists());
    }
    if metadata.uid() != files::effective_uid() || metadata.nlink() != 1 {
        return Err(TimelineError::Create {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "an empty file of another user's (or with another name) is already there; \
                 it is not written to",
            ),
        });
    }
    let _ = file.set_permissions(std::fs::Permissions::from_mode(files::PRIVATE));
    Ok(file)
}

/// The head is synced when the timeline closes, so that a run that ends in any orderly way
/// leaves its last commit on disk (see the module's docs); a head already synced has nothing
/// left to write.
impl Drop for Timeline {
    fn drop(&mut self) {
        if let Some(file) = &self.head_file {
            let _ = file.sync_data();
        }
    }
}

/// Before appending, the file must end where its head says (or where a run killed while
/// writing left it); anything else means the file was changed since, and `runbook timeline
/// verify` says how.
fn check_head_before_resuming(path: &Path, records: &[Record]) -> Result<(), TimelineError> {
    let Some(head) = anchor::read_head(path)? else {
        return Ok(());
    };
    let lines: Vec<&[u8]> = records.iter().map(|r| r.raw.as_bytes()).collect();
    match anchor::compare(&head, &lines) {
        anchor::Anchoring::Anchored | anchor::Anchoring::Interrupted => Ok(()),
        anchor::Anchoring::Moved(..) => Err(TimelineError::HeadMismatch {
            path: path.to_path_buf(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::timeline::{Outcome, RunOutcome, read, verify};

    fn started() -> Event {
        Event::RunStarted {
            runbook: "demo/local".into(),
            path: "runbooks/demo/local.yaml".into(),
            sha256: "ab".repeat(32),
            git_commit: None,
            operator: "alice@host".into(),
            inputs: BTreeMap::from([
                ("env".to_string(), "prod".to_string()),
                ("token".to_string(), "***".to_string()),
            ]),
            alerted_at: Some("2026-11-21T03:00:00Z".into()),
            rehearsal: false,
            from: None,
            flags: Default::default(),
            anchored: false,
            alert: None,
        }
    }

    fn command(stdout: &str) -> Event {
        Event::Command {
            host: "local".into(),
            command: "echo hi".into(),
            exit: Some(0),
            duration_ms: 12,
            stdout: stdout.into(),
            stderr: String::new(),
            timed_out: false,
        }
    }

    /// A timeline of four events in a fresh folder.
    fn sample(dir: &Path) -> PathBuf {
        let path = dir.join("timelines/INC-1.jsonl");
        let mut timeline = Timeline::create(&path, "INC-1", Masker::default()).unwrap();
        timeline.record(None, started()).unwrap();
        timeline
            .record(
                Some("health"),
                Event::StepStarted {
                    kind: "check".into(),
                    name: "Health".into(),
                },
            )
            .unwrap();
        timeline.record(Some("health"), command("ok\n")).unwrap();
        timeline
            .record(
                Some("health"),
                Event::StepFinished {
                    outcome: Outcome::Passed,
                    reason: None,
                    state: None,
                },
            )
            .unwrap();
        path
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn lines_have_the_fields_in_order_and_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let lines = lines(&path);
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with(r#"{"seq":1,"at":""#), "{}", lines[0]);
        assert!(
            lines[0].contains(
                r#","event":"run_started","incident":"INC-1","prev":"","runbook":"demo/local","#
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains(r#","prev":""#)
                && lines[1].contains(r#","step":"health","kind":"check""#),
            "{}",
            lines[1]
        );
        let records = read(&path).unwrap().records;
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record.seq, i as u64 + 1);
            assert_eq!(record.raw, lines[i]);
            let expected = if i == 0 {
                String::new()
            } else {
                sha256_hex(lines[i - 1].as_bytes())
            };
            assert_eq!(record.prev, expected);
            assert_eq!(
                record.at.len(),
                "2026-11-21T03:04:05.123Z".len(),
                "{}",
                record.at
            );
            assert!(record.timestamp().is_some());
        }
        assert_eq!(records[0].event, started());
        assert_eq!(records[2].step.as_deref(), Some("health"));
        assert_eq!(records[0].step, None);
        assert!(verify(&path).unwrap().is_intact());
    }

    /// The head is replaced once, then overwritten in place: same file, same length, and
    /// after each event it names that event (a pending head longer than a committed one leaves
    /// nothing of itself behind).
    #[test]
    fn the_head_is_overwritten_in_place_at_a_fixed_length() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timelines/INC-1.jsonl");
        let head = anchor::head_path(&path);
        // A head left by an older run of the same name is replaced, not written into.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&head, "x".repeat(1000)).unwrap();
        let old_inode = std::fs::metadata(&head).unwrap().ino();
        let mut timeline = Timeline::create(&path, "INC-1", Masker::default()).unwrap();
        timeline.record(None, started()).unwrap();
        let inode = std::fs::metadata(&head).unwrap().ino();
        assert_ne!(inode, old_inode);
        for n in 2..=4u64 {
            timeline
                .record(
                    Some("s"),
                    Event::Note {
                        text: "n".repeat(n as usize * 300),
                    },
                )
                .unwrap();
            let metadata = std::fs::metadata(&head).unwrap();
            assert_eq!(metadata.ino(), inode, "overwritten in place");
            assert_eq!(metadata.len(), anchor::HEAD_BYTES as u64);
            assert_eq!(metadata.mode() & 0o777, 0o600);
            let read = anchor::read_head(&path).unwrap().unwrap();
            assert_eq!((read.seq, read.pending), (n, None));
            assert_eq!(read.sha256, timeline.head());
        }
        assert!(verify(&path).unwrap().is_intact());
        // A resumed run replaces it once more, then overwrites that one.
        drop(timeline);
        let (mut timeline, _, _) = Timeline::resume(&path, Masker::default()).unwrap();
        timeline
            .record(
                None,
                Event::Note {
                    text: "back".into(),
                },
            )
            .unwrap();
        assert_eq!(anchor::read_head(&path).unwrap().unwrap().seq, 5);
        assert!(verify(&path).unwrap().is_intact());
    }

    #[test]
    fn refuses_a_file_that_is_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let error = Timeline::create(&path, "INC-1", Masker::default()).unwrap_err();
        assert!(matches!(error, TimelineError::Exists { .. }), "{error}");
        assert_eq!(lines(&path).len(), 4, "the file is left alone");
        // An empty file is fine: a run that died before its first event.
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, "").unwrap();
        Timeline::create(&empty, "INC-2", Masker::default()).unwrap();
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut first = Timeline::create(&path, "INC-1", Masker::default()).unwrap();
        let error = Timeline::create(&path, "INC-1", Masker::default()).unwrap_err();
        assert!(matches!(error, TimelineError::Locked { .. }), "{error}");
        assert!(
            error.to_string().contains("in use by another run"),
            "{error}"
        );
        first.record(None, started()).unwrap();
        let error = Timeline::resume(&path, Masker::default()).unwrap_err();
        assert!(matches!(error, TimelineError::Locked { .. }), "{error}");
        drop(first);
        Timeline::resume(&path, Masker::default()).unwrap();
    }

    #[test]
    fn secrets_are_masked_in_every_string_but_the_chain_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        // `0` would also match the digits of the hashes and of `at`; they must stay intact.
        let masker = Masker::new([
            "hunter2".to_string(),
            "q\"uo\\te".to_string(),
            "0".to_string(),
        ]);
        let mut timeline = Timeline::create(&path, "INC-1", masker).unwrap();
        timeline.record(None, started()).unwrap();
        timeline
            .record(
                Some("login"),
                Event::Command {
                    host: "local".into(),
                    command: "login --token hunter2".into(),
                    exit: Some(0),
                    duration_ms: 1000,
                    stdout: "token=hunter2 q\"uo\\te\n".into(),
                    stderr: "hunter2".into(),
                    timed_out: false,
                },
            )
            .unwrap();
        timeline
            .record(
                Some("login"),
                Event::Note {
                    text: "used hunter2".into(),
                },
            )
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("uo\\\\te"), "{text}");
        let records = read(&path).unwrap().records;
        assert_eq!(
            records[1].event,
            Event::Command {
                host: "local".into(),
                command: "login --token ***".into(),
                exit: Some(0),
                duration_ms: 1000,
                stdout: "token=*** ***\n".into(),
                stderr: "***".into(),
                timed_out: false,
            }
        );
        assert!(verify(&path).unwrap().is_intact());
    }

    #[test]
    fn outputs_are_cut_to_their_tail_after_masking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let secret = "S".repeat(20);
        let mut timeline = Timeline::create(&path, "INC-1", Masker::new([secret.clone()])).unwrap();
        // The secret straddles the 4 KiB cut: cutting first would leave part of it.
        let stdout = format!("{secret}{}", "x".repeat(4090));
        timeline.record(None, command(&stdout)).unwrap();
        let records = read(&path).unwrap().records;
        let Event::Command { stdout, .. } = &records[0].event else {
            panic!()
        };
        assert_eq!(stdout, &format!("***{}", "x".repeat(4090)));
        assert!(!std::fs::read_to_string(&path).unwrap().contains('S'));
    }

    #[test]
    fn a_torn_last_line_is_reported_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let torn = r#"{"seq":5,"at":"2026-11-21T03:04:05.123Z","event":"no"#;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(torn.as_bytes())
            .unwrap();
        let reading = read(&path).unwrap();
        assert_eq!(reading.records.len(), 4);
        assert_eq!(
            reading.torn_tail,
            Some(crate::timeline::TornTail {
                line: 5,
                bytes: torn.len() as u64
            })
        );
        let verification = verify(&path).unwrap();
        assert!(verification.is_intact());
        assert_eq!(verification.events, 4);
        assert_eq!(verification.torn_tail, reading.torn_tail);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let mut lines = lines(&path);
        lines[1] = "{not json".into();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let error = read(&path).unwrap_err();
        assert!(
            matches!(error, TimelineError::Malformed { line: 2, .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("INC-1.jsonl:2` is not a timeline event"),
            "{error}"
        );
        // A bad last line that has its newline is not torn: it was written whole, then changed.
        let mut lines = self::lines(&path);
        lines[1] = lines[0].replace(r#""seq":1"#, r#""seq":2"#);
        lines[3] = "garbage".into();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        assert!(matches!(
            read(&path).unwrap_err(),
            TimelineError::Malformed { line: 4, .. }
        ));
    }

    #[test]
    fn a_whole_last_line_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end()).unwrap();
        let reading = read(&path).unwrap();
        assert_eq!((reading.records.len(), reading.torn_tail), (4, None));
        resume_with_a_note(&path);
        assert_eq!(lines(&path).len(), 5);
        assert!(verify(&path).unwrap().is_intact());
    }

    /// Resumes `path` (four whole events, nothing dropped) and records a note after them.
    fn resume_with_a_note(path: &Path) {
        let (mut timeline, records, dropped) = Timeline::resume(path, Masker::default()).unwrap();
        assert_eq!((records.len(), dropped), (4, None));
        timeline
            .record(
                None,
                Event::Note {
                    text: "back".into(),
                },
            )
            .unwrap();
    }

    /// A line's commit is synced lazily (see the module's docs): a power cut can leave the
    /// head that announced the last line instead of the one that committed it. That reads as
    /// a run stopped while writing a whole line: verified, resumed after it, never a tamper.
    #[test]
    fn a_lost_commit_leaves_an_announced_head_that_verifies_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let records = read(&path).unwrap().records;
        let (last, before) = (&records[3], &records[2]);
        let announced = Head {
            seq: before.seq,
            sha256: sha256_hex(before.raw.as_bytes()),
            pending: Some(anchor::Line {
                seq: last.seq,
                sha256: sha256_hex(last.raw.as_bytes()),
            }),
        };
        std::fs::write(anchor::head_path(&path), announced.to_bytes()).unwrap();
        let verification = verify(&path).unwrap();
        assert!(verification.is_intact());
        assert_eq!(verification.head, crate::timeline::HeadState::Interrupted);
        resume_with_a_note(&path);
        let verification = verify(&path).unwrap();
        assert!(verification.is_intact());
        assert_eq!(verification.head, crate::timeline::HeadState::Anchored);
        // Only the lines it announced: a line added after it is still told.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"{\"seq\":6}\n").unwrap();
        assert!(Timeline::resume(&path, Masker::default()).is_err());
    }

    #[test]
    fn resume_cuts_the_torn_tail_and_continues_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let torn = r#"{"seq":5,"at":"2026-11-21T03:04"#;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(torn.as_bytes())
            .unwrap();
        let (mut timeline, records, dropped) =
            Timeline::resume(&path, Masker::new(["s3cr3t".to_string()])).unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(dropped, Some(torn.len() as u64));
        assert_eq!(timeline.incident(), "INC-1");
        assert_eq!(timeline.next_seq(), 5);
        timeline
            .record(
                Some("health"),
                Event::RunResumed {
                    at_step: "health".into(),
                    dropped_bytes: dropped,
                    inputs: Default::default(),
                },
            )
            .unwrap();
        timeline
            .record(
                None,
                Event::Note {
                    text: "s3cr3t".into(),
                },
            )
            .unwrap();
        timeline
            .record(
                None,
                Event::RunFinished {
                    outcome: RunOutcome::Resolved,
                    duration_ms: 5,
                    skipped_failures: Vec::new(),
                },
            )
            .unwrap();
        let reading = read(&path).unwrap();
        assert_eq!(reading.torn_tail, None);
        assert_eq!(reading.records.len(), 7);
        assert_eq!(reading.records[4].seq, 5);
        assert_eq!(
            reading.records[4].event,
            Event::RunResumed {
                at_step: "health".into(),
                dropped_bytes: Some(torn.len() as u64),
                inputs: Default::default(),
            }
        );
        assert_eq!(reading.records[5].event, Event::Note { text: "***".into() });
        let verification = verify(&path).unwrap();
        assert!(verification.is_intact(), "{verification:?}");
        assert_eq!(verification.events, 7);
    }

    #[test]
    fn resume_needs_a_whole_event() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.jsonl");
        assert!(matches!(
            Timeline::resume(&missing, Masker::default()).unwrap_err(),
            TimelineError::NotFound { .. }
        ));
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, r#"{"seq":1,"#).unwrap();
        assert!(matches!(
            Timeline::resume(&empty, Masker::default()).unwrap_err(),
            TimelineError::Empty { .. }
        ));
    }

    #[track_caller]
    fn broken_at(path: &Path, line: usize, reason: &str) {
        let verification = verify(path).unwrap();
        let broken = verification.broken.expect("the chain is broken");
        assert_eq!(broken.line, line, "{}", broken.reason);
        assert!(broken.reason.contains(reason), "{}", broken.reason);
    }

    #[test]
    fn verify_finds_the_first_broken_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let original = lines(&path);
        let write = |lines: &[String]| std::fs::write(&path, lines.join("\n") + "\n").unwrap();

        // One changed byte in line 2: line 3 no longer follows it.
        let mut changed = original.clone();
        changed[1] = changed[1].replace("Health", "Hea1th");
        write(&changed);
        broken_at(&path, 3, "not the hash of line 2");

        // A changed byte that breaks the JSON is found on its own line.
        let mut changed = original.clone();
        changed[2] = changed[2].replacen('{', "[", 1);
        write(&changed);
        broken_at(&path, 3, "not a timeline event");

        // A removed line.
        let mut removed = original.clone();
        removed.remove(1);
        write(&removed);
        broken_at(&path, 2, "`seq` is 3 where 2 was expected");

        // Two lines swapped.
        let mut swapped = original.clone();
        swapped.swap(2, 3);
        write(&swapped);
        broken_at(&path, 3, "`seq` is 4 where 3 was expected");

        // The first line removed and the rest renumbered would still show on `prev`.
        let mut first = original.clone();
        first.remove(0);
        write(&first);
        broken_at(&path, 1, "`seq` is 2 where 1 was expected");

        write(&original);
        assert!(verify(&path).unwrap().is_intact());
    }
}
