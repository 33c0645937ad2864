//! Durability under `kill -9` (SPEC sections 5 and 6): a run of `tests/fixtures/kill/steps.yaml`
//! is killed with SIGKILL at pseudo-random moments, then continued with `runbook run --resume`.
//! Whatever the moment, the timeline must be whole lines of JSON (a torn last line tolerated),
//! its chain must verify, the resumed run must end `resolved`, no step that had finished before
//! the kill may run again, and every step must have run.
//!
//! `KILL_ITERATIONS=500 cargo test --release --test kill_resume -- --nocapture` runs the loop
//! longer; `scripts/kill-loop.sh` does the same from the shell.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runbook::timeline::sha256_hex;
use serde_json::Value;

/// The steps of the fixture: `s1` … `s12`.
const STEPS: usize = 12;
/// The kill comes 0 to this many milliseconds after the launch.
const MAX_DELAY_MS: u64 = 400;
const SEED: u64 = 0x6b69_6c6c_2d39_2121;
/// How long one `runbook` process may take before the test gives up on it.
const PROCESS_LIMIT: Duration = Duration::from_secs(30);

fn iterations() -> usize {
    std::env::var("KILL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kill/steps.yaml")
}

/// `runbook ARGS…` in `dir`, stdin closed, colour off.
fn runbook(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_CATALOG")
        .stdin(Stdio::null());
    command
}

/// A finished process: exit code (-1 when killed by a signal), stdout, stderr.
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {}\n── stdout ──\n{}\n── stderr ──\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs to the end, within [`PROCESS_LIMIT`]; output goes through files so that a full pipe
/// never blocks the child.
fn run(mut command: Command, dir: &Path, name: &str) -> Result<Output, String> {
    let out = dir.join(format!("{name}.out"));
    let err = dir.join(format!("{name}.err"));
    let mut child = command
        .stdout(std::fs::File::create(&out).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot start runbook: {e}"))?;
    let status = wait_within(&mut child, PROCESS_LIMIT)
        .ok_or_else(|| format!("`{name}` still running after {PROCESS_LIMIT:?}; killed"))?;
    Ok(Output {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    })
}

fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn verify(dir: &Path, timeline: &Path, name: &str) -> Result<Output, String> {
    let mut command = runbook(dir);
    command.args(["timeline", "verify"]).arg(timeline);
    run(command, dir, name)
}

fn resume(dir: &Path, timeline: &Path, name: &str) -> Result<Output, String> {
    let mut command = runbook(dir);
    command.args(["run", "--resume"]).arg(timeline).arg("--yes");
    run(command, dir, name)
}

// ───────────────────────────── reading a timeline ─────────────────────────────

/// The whole lines of a timeline, parsed, and the length of a torn last line.
struct Lines {
    events: Vec<Value>,
    /// The bytes of the whole lines, newlines included.
    whole: Vec<u8>,
    torn: Option<usize>,
}

impl Lines {
    fn read(path: &Path) -> Result<Lines, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Lines::parse(&bytes)
    }

    /// Every line that ends with a newline must be a JSON object; a last line without its
    /// newline may be torn (the writer died mid-line) and is then only measured.
    fn parse(bytes: &[u8]) -> Result<Lines, String> {
        let mut lines = Lines {
            events: Vec::new(),
            whole: Vec::new(),
            torn: None,
        };
        let mut rest = bytes;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (line, terminated) = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => (&rest[..end], true),
                None => (rest, false),
            };
            match serde_json::from_slice::<Value>(line) {
                Ok(value) if value.is_object() => {
                    lines.events.push(value);
                    let end = (line.len() + usize::from(terminated)).min(rest.len());
                    lines.whole.extend_from_slice(&rest[..end]);
                }
                _ if !terminated => lines.torn = Some(line.len()),
                _ => {
                    return Err(format!(
                        "line {number} is not a JSON object: {}",
                        String::from_utf8_lossy(line)
                    ));
                }
            }
            rest = &rest[(line.len() + usize::from(terminated)).min(rest.len())..];
        }
        Ok(lines)
    }

    fn name(&self, index: usize) -> &str {
        self.events[index]["event"].as_str().unwrap_or_default()
    }

    fn last_name(&self) -> &str {
        self.events
            .last()
            .and_then(|e| e["event"].as_str())
            .unwrap_or_default()
    }

    /// The steps of the events from `from` on that are `event`.
    fn steps_with(&self, event: &str, from: usize) -> Vec<String> {
        self.events[from.min(self.events.len())..]
            .iter()
            .filter(|e| e["event"] == event)
            .filter_map(|e| e["step"].as_str().map(String::from))
            .collect()
    }
}

/// The step ids of the fixture, in order.
fn step_ids() -> Vec<String> {
    (1..=STEPS).map(|n| format!("s{n}")).collect()
}

/// Where the kill landed, judged by the last whole event it left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Case {
    /// No timeline, or an empty one: killed before `run_started` was written.
    BeforeRunStarted,
    /// Only `run_started`: killed before the first step began.
    AfterRunStarted,
    /// Last event `step_started`: killed while the step's command ran.
    InStepBeforeCommand,
    /// Last event `command`: killed between the command's end and `step_finished`.
    AfterCommand,
    /// Last event `step_finished`: killed between two steps.
    BetweenSteps,
    /// The run had ended (`run_finished`) before the kill came.
    Finished,
}

impl Case {
    fn of(lines: &Lines) -> Result<Case, String> {
        Ok(match lines.last_name() {
            "" => Case::BeforeRunStarted,
            "run_started" => Case::AfterRunStarted,
            "step_started" => Case::InStepBeforeCommand,
            "command" => Case::AfterCommand,
            "step_finished" => Case::BetweenSteps,
            "run_finished" => Case::Finished,
            other => return Err(format!("unexpected last event `{other}`")),
        })
    }
}

/// The outcome of one kill and resume.
#[derive(Debug, Clone, Copy)]
struct Hit {
    case: Case,
    torn: bool,
}

/// (a): every whole line is JSON (checked by [`Lines::read`]) and `timeline verify` exits 0;
/// a torn tail is reported by `verify` on stderr and ignored.
fn check_verifies(dir: &Path, timeline: &Path, lines: &Lines, name: &str) -> Result<(), String> {
    let verified = verify(dir, timeline, name)?;
    if verified.code != 0 {
        return Err(format!("`timeline verify` failed:\n{verified}"));
    }
    let events = lines.events.len();
    let noun = if events == 1 { "event" } else { "events" };
    if !verified
        .stdout
        .contains(&format!("{events} {noun}, chain intact"))
    {
        return Err(format!("`timeline verify` counted otherwise:\n{verified}"));
    }
    if lines.torn.is_some() != verified.stderr.contains("torn last line") {
        return Err(format!(
            "torn tail of {:?} bytes, but `timeline verify` said:\n{verified}",
            lines.torn
        ));
    }
    for (i, event) in lines.events.iter().enumerate() {
        if event["seq"] != i + 1 {
            return Err(format!("line {} has seq {}", i + 1, event["seq"]));
        }
    }
    Ok(())
}

/// (b) and (c): after a kill that left `before` behind, `--resume` exits 0, the timeline ends
/// `resolved`, verifies and starts with the bytes the killed run wrote; no step that had
/// finished before the kill starts again; and the log holds every step — exactly once, except
/// the step the kill interrupted, which may show twice.
fn check_resume(dir: &Path, timeline: &Path, log: &Path, before: &Lines) -> Result<(), String> {
    let resumed = resume(dir, timeline, "resume")?;
    if resumed.code != 0 {
        return Err(format!("`run --resume` failed:\n{resumed}"));
    }
    let after = Lines::read(timeline)?;
    if let Some(torn) = after.torn {
        return Err(format!("a torn tail of {torn} bytes after the resumed run"));
    }
    check_verifies(dir, timeline, &after, "verify-after")?;
    if !after.whole.starts_with(&before.whole) {
        return Err("the resumed run changed the lines written before the kill".into());
    }
    let last = after.events.last().cloned().unwrap_or_default();
    if last["event"] != "run_finished" || last["outcome"] != "resolved" {
        return Err(format!("the timeline ends with {last}, not a resolved run"));
    }
    let resumed_at: Vec<usize> = (0..after.events.len())
        .filter(|&i| after.name(i) == "run_resumed")
        .collect();
    let [resumed_at] = resumed_at[..] else {
        return Err(format!("{} `run_resumed` events", resumed_at.len()));
    };
    if resumed_at != before.events.len() {
        return Err(format!(
            "`run_resumed` is line {}, not the first after the kill",
            resumed_at + 1
        ));
    }
    let dropped = after.events[resumed_at]["dropped_bytes"].as_u64();
    if dropped != before.torn.map(|t| t as u64) {
        return Err(format!(
            "`run_resumed` says {dropped:?} bytes dropped; the torn tail had {:?}",
            before.torn
        ));
    }

    let finished: BTreeSet<String> = before.steps_with("step_finished", 0).into_iter().collect();
    let restarted: Vec<String> = after
        .steps_with("step_started", resumed_at)
        .into_iter()
        .filter(|s| finished.contains(s))
        .collect();
    if !restarted.is_empty() {
        return Err(format!(
            "steps that had finished before the kill started again: {restarted:?}"
        ));
    }
    // The step the kill interrupted: started, not finished.
    let interrupted: BTreeSet<String> = before
        .steps_with("step_started", 0)
        .into_iter()
        .filter(|s| !finished.contains(s))
        .collect();
    let expected_at = interrupted.iter().next().cloned().unwrap_or_else(|| {
        let next = before
            .steps_with("step_finished", 0)
            .last()
            .and_then(|s| s.strip_prefix('s').and_then(|n| n.parse::<usize>().ok()))
            .map_or(1, |n| n + 1);
        if next > STEPS {
            "end".into()
        } else {
            format!("s{next}")
        }
    });
    let at_step = &after.events[resumed_at]["at_step"];
    if *at_step != expected_at.as_str() {
        return Err(format!(
            "resumed at {at_step}, where `{expected_at}` was the first unfinished step"
        ));
    }

    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in text.lines() {
        *counts.entry(line.trim()).or_default() += 1;
    }
    for id in step_ids() {
        let count = counts.get(id.as_str()).copied().unwrap_or(0);
        let allowed = if interrupted.contains(&id) {
            1..=2
        } else {
            1..=1
        };
        if !allowed.contains(&count) {
            return Err(format!(
                "`{id}` ran {count} times (log: {:?})",
                text.lines().collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}

// ───────────────────────────── the loop ─────────────────────────────

/// xorshift64*: the same delays on every machine.
fn delays(count: usize) -> Vec<u64> {
    let mut state = SEED;
    (0..count)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d) % (MAX_DELAY_MS + 1)
        })
        .collect()
}

/// One iteration: launch, kill after `delay_ms`, then judge what is left and resume.
fn kill_and_resume(root: &Path, n: usize, delay_ms: u64) -> Result<Hit, String> {
    let dir = root.join(format!("{n:03}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let timeline = dir.join(format!("{n}.jsonl"));
    let log = dir.join(format!("{n}.log"));
    let mut command = runbook(&dir);
    command
        .arg("run")
        .arg(fixture())
        .arg("--yes")
        .arg("--timeline")
        .arg(&timeline)
        .arg("--set")
        .arg(format!("log={}", log.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start runbook: {e}"))?;
    std::thread::sleep(Duration::from_millis(delay_ms));
    // SIGKILL; harmless if the run already ended.
    let _ = child.kill();
    let status = wait_within(&mut child, PROCESS_LIMIT).ok_or("the killed run never ended")?;

    if std::fs::metadata(&timeline).map_or(0, |m| m.len()) == 0 {
        // Killed before `run_started`: nothing (or an empty file) may be left, nothing to resume.
        if status.success() {
            return Err("the run exited 0 and left no timeline".into());
        }
        return Ok(Hit {
            case: Case::BeforeRunStarted,
            torn: false,
        });
    }
    // Kept for the report, should a check fail.
    std::fs::copy(&timeline, dir.join("killed.jsonl")).map_err(|e| e.to_string())?;
    let before = Lines::read(&timeline)?;
    check_verifies(&dir, &timeline, &before, "verify-before")?;
    let case = Case::of(&before)?;
    let hit = Hit {
        case,
        torn: before.torn.is_some(),
    };
    if case == Case::BeforeRunStarted {
        // Only a torn first line: there is no whole event to continue from.
        return Ok(hit);
    }
    if before.events[0]["event"] != "run_started" {
        return Err(format!("the first event is {}", before.events[0]));
    }
    if case == Case::Finished {
        if before.last_name() != "run_finished"
            || before.events.last().unwrap()["outcome"] != "resolved"
        {
            return Err("the run ended, but not resolved".into());
        }
        // Nothing to resume: `--resume` refuses and leaves the file alone.
        let refused = resume(&dir, &timeline, "resume")?;
        let untouched = std::fs::read(&timeline).map_err(|e| e.to_string())? == before.whole;
        if refused.code != 2 || !untouched {
            return Err(format!(
                "resuming a finished run: untouched {untouched}:\n{refused}"
            ));
        }
        return Ok(hit);
    }
    check_resume(&dir, &timeline, &log, &before)?;
    Ok(hit)
}

/// The number of an iteration, its delay before the kill in ms, and how it went.
type Iteration = (usize, u64, Result<Hit, String>);

/// Prints the cases as a small table.
fn report(title: &str, hits: &[Hit]) {
    let mut by_case: BTreeMap<Case, usize> = BTreeMap::new();
    for hit in hits {
        *by_case.entry(hit.case).or_default() += 1;
    }
    let torn = hits.iter().filter(|h| h.torn).count();
    let mut text = format!("{title}: {} iterations\n", hits.len());
    for (case, count) in by_case {
        text.push_str(&format!("  {count:4}  {case:?}\n"));
    }
    text.push_str(&format!("  {torn:4}  with a torn last line\n"));
    let _ = std::io::stderr().write_all(text.as_bytes());
}

#[test]
fn kill_9_at_any_moment_then_resume_loses_and_repeats_nothing() {
    let root = tempfile::tempdir().unwrap();
    let delays = delays(iterations());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Iteration>> = Mutex::new(Vec::new());
    // Two at a time: the runs mostly wait on fsync and `sleep`, and the loop stays well under
    // a minute on two cores.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&delay) = delays.get(n) else { break };
                    let result = kill_and_resume(root.path(), n, delay);
                    results.lock().unwrap().push((n, delay, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(n, _, _)| *n);
    let hits: Vec<Hit> = results
        .iter()
        .filter_map(|(_, _, r)| r.as_ref().ok().copied())
        .collect();
    report("kill -9 then resume", &hits);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(n, delay, r)| {
            r.as_ref().err().map(|e| {
                let dir = root.path().join(format!("{n:03}"));
                let mut text = format!("iteration {n} (killed after {delay} ms): {e}");
                for (what, file) in [
                    ("timeline as the kill left it", "killed.jsonl".to_string()),
                    ("timeline now", format!("{n}.jsonl")),
                    ("log", format!("{n}.log")),
                    ("resume stdout", "resume.out".to_string()),
                    ("resume stderr", "resume.err".to_string()),
                ] {
                    if let Ok(content) = std::fs::read_to_string(dir.join(file)) {
                        text.push_str(&format!("\n── {what} ──\n{content}"));
                    }
                }
                text
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} iterations failed:\n\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );
}

/// The same judgement without timing luck: a whole run's timeline is cut after each of its
/// lines (a kill right after that event was written), and also in the middle of the line
/// after it (a torn tail), and each cut is resumed in a folder of its own. The log is given
/// as a relative path, so that each resume appends to its own folder's log.
#[test]
fn resume_after_a_cut_at_every_line_of_the_timeline() {
    let root = tempfile::tempdir().unwrap();
    let full = root.path().join("full.jsonl");
    let mut command = runbook(root.path());
    command
        .arg("run")
        .arg(fixture())
        .arg("--yes")
        .arg("--timeline")
        .arg(&full)
        .args(["--set", "log=steps.log"]);
    let whole = run(command, root.path(), "full").unwrap();
    assert_eq!(whole.code, 0, "{whole}");
    let bytes = std::fs::read(&full).unwrap();
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(
        lines.len(),
        1 + 3 * STEPS + 1,
        "run_started, 3 events per step, run_finished"
    );

    // Cut after line k, for every line but the last (after it there is nothing to resume).
    let cuts: Vec<(usize, bool)> = (1..lines.len() - 1)
        .flat_map(|k| [(k, false), (k, true)])
        .collect();
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(k, torn)) = cuts.get(i) else { break };
                    let dir = root.path().join(format!("cut-{i:02}"));
                    let result = resume_a_cut(&dir, &lines, k, torn);
                    if let Err(error) = result {
                        failures.lock().unwrap().push((
                            i,
                            format!(
                                "cut after line {k}{}: {error}",
                                if torn { " and half of the next" } else { "" },
                            ),
                        ));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} cuts failed:\n{}",
        failures.len(),
        cuts.len(),
        failures
            .iter()
            .map(|(_, f)| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The first `k` lines of a whole run (and half of the next when `torn`), the log as the run
/// would have left it (one line per command recorded), then the checks of the loop.
fn resume_a_cut(dir: &Path, lines: &[&[u8]], k: usize, torn: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let timeline = dir.join("t.jsonl");
    let mut cut = lines[..k].concat();
    if torn {
        cut.extend_from_slice(&lines[k][..lines[k].len() / 2]);
    }
    std::fs::write(&timeline, &cut).map_err(|e| e.to_string())?;
    // The head a run killed there leaves beside its timeline: the last whole line's.
    let last = lines[k - 1].strip_suffix(b"\n").unwrap_or(lines[k - 1]);
    let head = format!(r#"{{"seq":{k},"sha256":"{}"}}"#, sha256_hex(last));
    std::fs::write(dir.join("t.jsonl.head"), head).map_err(|e| e.to_string())?;
    let before = Lines::parse(&cut)?;
    let log = dir.join("steps.log");
    let ran: String = before
        .steps_with("command", 0)
        .iter()
        .map(|s| format!("{s}\n"))
        .collect();
    std::fs::write(&log, ran).map_err(|e| e.to_string())?;
    check_verifies(dir, &timeline, &before, "verify-before")?;
    check_resume(dir, &timeline, &log, &before)
}
