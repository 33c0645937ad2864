//! `--resume` gives back the state the run had (SPEC 7.7): a run of
//! `tests/fixtures/kill/runbooks/lb/saturated-backends.yaml` — an HTTP fan-out whose capture
//! is a host map, failed hosts read later, a capture over 4 KiB, a decision, a sub-procedure
//! with captures of its own, a skipped step — is cut after every line of its timeline (and in
//! the middle of the next), and each cut is resumed. What the resumed run does from there must
//! be what the uninterrupted run did: the same step to continue at, the same rendered
//! commands, the same step results and vars in every `step_finished`. Also: secrets are never
//! restored as `***`, the first run's flags come back, `--set` works with `--resume`, and a
//! resume that cannot start leaves the timeline as it was.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use support::http::{Route, Server};

const ANSWER: &str = "how-bad=Some of them";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kill")
        .join(path)
}

/// `runbook ARGS…` in `dir`, stdin closed, colour off.
fn runbook(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runbook"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_CATALOG")
        .stdin(Stdio::null())
        .output()
        .expect("runbook starts")
}

fn shown(output: &Output) -> String {
    format!(
        "exit {:?}\n── stdout ──\n{}\n── stderr ──\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The backends (`/web-N/health`, web-2 sick) and the API of the fixture.
fn backends() -> Server {
    let server = Server::start();
    server
        .route("/web-1/health", Route::new(200, "ok web-1"))
        .route("/web-2/health", Route::new(500, "sick"))
        .route("/web-3/health", Route::new(200, "ok web-3"))
        .route("/api/drain", Route::new(200, "agreed"));
    server
}

fn events(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

/// An event without what differs from one run to another: the line's place and time, the
/// chain, durations.
fn normalized(event: &Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("duration_ms");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut event = event.clone();
    if let Value::Object(map) = &mut event {
        for key in ["seq", "at", "prev"] {
            map.remove(key);
        }
    }
    strip(&mut event);
    event
}

/// The events with each fan-out's per-host events (which come as the hosts answer) in the
/// order of their host names.
fn hosts_in_order(mut events: Vec<Value>) -> Vec<Value> {
    let per_host = |e: &Value| e["event"] == "http" || e["event"] == "command";
    let mut start = 0;
    while start < events.len() {
        let mut end = start;
        while end < events.len()
            && per_host(&events[end])
            && events[end]["step"] == events[start]["step"]
        {
            end += 1;
        }
        events[start..end].sort_by(|a, b| a["host"].to_string().cmp(&b["host"].to_string()));
        start = end.max(start + 1);
    }
    events
}

/// Where the uninterrupted run `full` went on after its first `kept` events: the index of the
/// first event a resumed run must repeat. A step that had started and not finished, with
/// nothing of its own steps since (a sub-procedure that had finished some of its steps goes
/// on after them), runs again from its `step_started`; else the run goes on with the next
/// event.
fn continues_at(full: &[Value], kept: usize) -> usize {
    let prefix = &full[..kept];
    for (index, event) in prefix.iter().enumerate().rev() {
        if event["event"] != "step_started" {
            continue;
        }
        let step = event["step"].as_str().unwrap_or_default();
        let inner = format!("{step}/");
        let finished = prefix[index + 1..].iter().any(|e| {
            e["step"] == step && e["event"] == "step_finished"
                || e["step"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(&inner) && e["event"] == "step_finished")
        });
        if !finished {
            return index;
        }
    }
    kept
}

/// The `at_step` a resumed run must announce when it repeats `full[from..]`.
fn expected_at_step(full: &[Value], kept: usize, from: usize) -> String {
    let event = &full[from];
    let step = event["step"].as_str().unwrap_or_default();
    match event["event"].as_str() {
        Some("run_finished") => "end".into(),
        // The sub-procedure had run its last step: it ends at once.
        Some("step_finished")
            if full[..kept]
                .iter()
                .any(|e| e["event"] == "step_started" && e["step"] == step) =>
        {
            format!("{step}/end")
        }
        _ => step.to_string(),
    }
}

/// Resumes the first `kept` lines (and half of the next when `torn`) of `lines` in `dir`,
/// then checks that what follows `run_resumed` is what the uninterrupted run did.
fn resume_a_cut(
    dir: &Path,
    lines: &[&[u8]],
    full: &[Value],
    kept: usize,
    torn: bool,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let timeline = dir.join("t.jsonl");
    let mut cut = lines[..kept].concat();
    if torn {
        cut.extend_from_slice(&lines[kept][..lines[kept].len() / 2]);
    }
    std::fs::write(&timeline, &cut).map_err(|e| e.to_string())?;
    let timeline_arg = timeline.display().to_string();
    // From another folder, with nothing but the timeline and the answers.
    let resumed = runbook(
        Path::new("/"),
        &[
            "run",
            "--resume",
            &timeline_arg,
            "--yes",
            "--answer",
            ANSWER,
        ],
    );
    if resumed.status.code() != Some(0) {
        return Err(format!("`run --resume` failed:\n{}", shown(&resumed)));
    }
    let after = events(&std::fs::read(&timeline).map_err(|e| e.to_string())?);
    let resumed_at = after
        .iter()
        .position(|e| e["event"] == "run_resumed")
        .ok_or("no `run_resumed`")?;
    if resumed_at != kept {
        return Err(format!("`run_resumed` is event {}", resumed_at + 1));
    }
    let from = continues_at(full, kept);
    let at_step = &after[resumed_at]["at_step"];
    let expected = expected_at_step(full, kept, from);
    if *at_step != expected {
        return Err(format!(
            "resumed at {at_step}, where the run went on with `{expected}`"
        ));
    }
    let did: Vec<Value> = after[resumed_at + 1..].iter().map(normalized).collect();
    // Going on inside a sub-procedure enters its step again first.
    let enclosing: Vec<&str> = {
        let parts: Vec<&str> = expected.split('/').collect();
        (1..parts.len())
            .map(|n| &expected[..parts[..n].iter().map(|p| p.len() + 1).sum::<usize>() - 1])
            .collect()
    };
    let should: Vec<Value> = enclosing
        .iter()
        .map(|step| {
            full.iter()
                .rfind(|e| e["event"] == "step_started" && e["step"] == *step)
                .expect("the enclosing step started")
        })
        .chain(&full[from..])
        .map(normalized)
        .collect();
    let (did, should) = (hosts_in_order(did), hosts_in_order(should));
    if did != should {
        let first = did
            .iter()
            .zip(&should)
            .position(|(a, b)| a != b)
            .unwrap_or(did.len().min(should.len()));
        return Err(format!(
            "the resumed run differs from the uninterrupted one at its event {}:\n  resumed: {}\n  whole:   {}",
            first + 1,
            did.get(first).map(Value::to_string).unwrap_or_default(),
            should.get(first).map(Value::to_string).unwrap_or_default(),
        ));
    }
    if expected.contains('/') {
        resume_again(dir, &timeline, resumed_at, full)?;
    }
    Ok(())
}

/// A run resumed inside a sub-procedure, killed again after its next step: the second resume
/// still has the sub-procedure's state (the step that was entered again is not a fresh start).
fn resume_again(
    dir: &Path,
    timeline: &Path,
    resumed_at: usize,
    full: &[Value],
) -> Result<(), String> {
    let bytes = std::fs::read(timeline).map_err(|e| e.to_string())?;
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let after = events(&bytes);
    let Some(cut) = (resumed_at..after.len()).find(|&i| after[i]["event"] == "step_finished")
    else {
        return Ok(());
    };
    let again = dir.join("again.jsonl");
    std::fs::write(&again, lines[..=cut].concat()).map_err(|e| e.to_string())?;
    let resumed = runbook(
        Path::new("/"),
        &[
            "run",
            "--resume",
            again.to_str().unwrap(),
            "--yes",
            "--answer",
            ANSWER,
        ],
    );
    if resumed.status.code() != Some(0) {
        return Err(format!(
            "the second `run --resume` failed:\n{}",
            shown(&resumed)
        ));
    }
    let commands = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["event"] == "command" && e["step"] == "verify")
            .map(|e| e["command"].clone())
            .collect()
    };
    let twice = events(&std::fs::read(&again).map_err(|e| e.to_string())?);
    if commands(&twice) != commands(full) {
        return Err(format!(
            "after a second resume, `verify` ran {:?}, not {:?}",
            commands(&twice),
            commands(full)
        ));
    }
    Ok(())
}

/// The property: for every cut point of a realistic run's timeline — every line boundary,
/// and every line torn in half — the resumed run continues where the run was and with the
/// state it had: same step, same rendered commands, same results and vars.
#[test]
fn a_resumed_run_continues_with_the_state_the_run_had_at_every_cut() {
    let server = backends();
    let root = tempfile::tempdir().unwrap();
    let full_path = root.path().join("full.jsonl");
    let runbook_file = fixture("runbooks/lb/saturated-backends.yaml");
    let port = format!("port={}", server.port());
    let whole = runbook(
        root.path(),
        &[
            "run",
            runbook_file.to_str().unwrap(),
            "--yes",
            "--answer",
            ANSWER,
            "--timeline",
            full_path.to_str().unwrap(),
            "--set",
            &port,
            "--set",
            "log=/dev/null",
        ],
    );
    assert_eq!(whole.status.code(), Some(0), "{}", shown(&whole));
    let bytes = std::fs::read(&full_path).unwrap();
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let full = events(&bytes);
    assert_eq!(full.len(), lines.len());
    // The run holds what the property is about.
    let text = String::from_utf8_lossy(&bytes);
    for needle in [
        r#""health":{"web-1":"ok web-1","web-2":"sick","web-3":"ok web-3"}"#,
        r#""failed_hosts":["web-2"]"#,
        "line 1500",
        r#""step":"drain/mark""#,
        r#""step":"staging-only","outcome":"skipped""#,
    ] {
        assert!(text.contains(needle), "the run lacks {needle}");
    }
    assert!(
        full.iter().any(|e| e["state"]["vars"]["load"]
            .as_str()
            .is_some_and(|load| load.len() > 4096)),
        "a capture over 4 KiB is recorded whole"
    );

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
                    let Some(&(kept, torn)) = cuts.get(i) else {
                        break;
                    };
                    let dir = root.path().join(format!("cut-{i:02}"));
                    if let Err(error) = resume_a_cut(&dir, &lines, &full, kept, torn) {
                        failures.lock().unwrap().push((
                            i,
                            format!(
                                "cut after line {kept}{}: {error}",
                                if torn { " and half of the next" } else { "" }
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
        "{} of {} cuts resumed otherwise:\n{}",
        failures.len(),
        cuts.len(),
        failures
            .iter()
            .map(|(_, f)| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The text of a run's screen.
fn screen(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Regression: a capture holding a secret came back as the literal `***` and was used.
/// Now it is flagged masked, left out on resume, and the step that reads it fails naming
/// the step to run again; `***` never reaches a command.
#[test]
fn a_value_that_held_a_secret_is_not_restored_and_its_step_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let timeline = dir.join("t.jsonl");
    let timeline_arg = timeline.to_str().unwrap();
    let file = fixture("secret.yaml");
    let secret = "s3cr3t-Tok3n";
    let first = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .current_dir(dir)
        .args(["run", file.to_str().unwrap(), "--timeline", timeline_arg])
        .env("NO_COLOR", "1")
        .env("KILL_TOKEN", secret)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(3), "{}", shown(&first));
    let text = std::fs::read_to_string(&timeline).unwrap();
    assert!(!text.contains(secret), "{text}");
    let login = events(text.as_bytes())
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "login")
        .unwrap();
    let masked = &login["state"]["masked"];
    assert!(
        masked
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["vars", "auth"])),
        "{login}"
    );

    let resumed = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .current_dir(dir)
        .args(["run", "--resume", timeline_arg, "--yes"])
        .env("NO_COLOR", "1")
        .env("KILL_TOKEN", secret)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown_text = screen(&resumed);
    assert_eq!(resumed.status.code(), Some(1), "{shown_text}");
    assert!(
        shown_text.contains("`vars.auth` held a secret") && shown_text.contains("step `login`"),
        "{shown_text}"
    );
    let after = events(&std::fs::read(&timeline).unwrap());
    assert!(
        !after
            .iter()
            .any(|e| e["event"] == "command" && e["step"] == "use"),
        "nothing ran with a masked value"
    );
}

/// `--ssh-config` of the first run is recorded (absolute) and restored; when it cannot be
/// read any more the resume is refused and the timeline is left exactly as it was, still
/// resumable; the command printed on pause then works pasted as is, from another folder.
#[test]
fn resume_needs_nothing_but_the_timeline_and_a_refused_resume_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (first_dir, other_dir) = (root.path().join("first"), root.path().join("other"));
    std::fs::create_dir_all(&first_dir).unwrap();
    std::fs::create_dir_all(&other_dir).unwrap();
    std::fs::write(first_dir.join("ssh.conf"), "# no hosts\n").unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/resume.yaml");
    let first = runbook(
        &first_dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--set",
            "who=grace",
            "--ssh-config",
            "ssh.conf",
            "--timeline",
            "t.jsonl",
        ],
    );
    assert_eq!(first.status.code(), Some(3), "{}", shown(&first));
    let timeline = first_dir.join("t.jsonl");
    let started = events(&std::fs::read(&timeline).unwrap())[0].clone();
    assert_eq!(
        started["flags"]["ssh_config"],
        first_dir.join("ssh.conf").to_str().unwrap()
    );
    let printed = screen(&first);
    let command = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("runbook run --resume "))
        .unwrap_or_else(|| panic!("no resume command in:\n{printed}"))
        .to_string();
    assert_eq!(command, timeline.to_str().unwrap());

    std::fs::remove_file(first_dir.join("ssh.conf")).unwrap();
    let before = std::fs::read(&timeline).unwrap();
    let refused = runbook(&other_dir, &["run", "--resume", &command, "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", shown(&refused));
    assert!(screen(&refused).contains("ssh.conf"), "{}", shown(&refused));
    assert_eq!(std::fs::read(&timeline).unwrap(), before, "nothing written");

    std::fs::write(first_dir.join("ssh.conf"), "# no hosts\n").unwrap();
    let resumed = runbook(&other_dir, &["run", "--resume", &command, "--yes"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", shown(&resumed));
    assert_eq!(
        std::fs::read_to_string(other_dir.join("wrap-up.log")).unwrap(),
        "grace\n"
    );
}

/// `--set` is accepted with `--resume`: it replaces an input, and the replacement is recorded
/// so that a later resume keeps it.
#[test]
fn set_with_resume_replaces_an_input_for_this_and_later_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/resume.yaml");
    let first = runbook(
        dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--set",
            "who=grace",
            "--timeline",
            "t.jsonl",
        ],
    );
    assert_eq!(first.status.code(), Some(3), "{}", shown(&first));
    // Paused again at the next manual step: no --yes.
    let again = runbook(dir, &["run", "--resume", "t.jsonl", "--set", "who=bob"]);
    assert_eq!(again.status.code(), Some(3), "{}", shown(&again));
    let resumed = events(&std::fs::read(dir.join("t.jsonl")).unwrap())
        .into_iter()
        .find(|e| e["event"] == "run_resumed")
        .unwrap();
    assert_eq!(resumed["inputs"], serde_json::json!({"who": "bob"}));
    let last = runbook(dir, &["run", "--resume", "t.jsonl", "--yes"]);
    assert_eq!(last.status.code(), Some(0), "{}", shown(&last));
    assert_eq!(
        std::fs::read_to_string(dir.join("wrap-up.log")).unwrap(),
        "bob\n"
    );
}

/// A runbook that moved out of its catalog is not run from wherever the timeline points:
/// the resume is refused (nothing written) until `--resume-runbook FILE` says which file.
#[test]
fn a_runbook_moved_out_of_the_catalog_is_refused_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("runbooks/team")).unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/resume.yaml"),
        dir.join("runbooks/team/pause.yaml"),
    )
    .unwrap();
    let first = runbook(
        dir,
        &[
            "run",
            "team/pause",
            "--set",
            "who=grace",
            "--timeline",
            "t.jsonl",
        ],
    );
    assert_eq!(first.status.code(), Some(3), "{}", shown(&first));
    std::fs::rename(
        dir.join("runbooks/team/pause.yaml"),
        dir.join("elsewhere/pause.yaml"),
    )
    .unwrap();
    let before = std::fs::read(dir.join("t.jsonl")).unwrap();
    let refused = runbook(dir, &["run", "--resume", "t.jsonl", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", shown(&refused));
    assert!(
        screen(&refused).contains("--resume-runbook"),
        "{}",
        shown(&refused)
    );
    assert_eq!(std::fs::read(dir.join("t.jsonl")).unwrap(), before);

    let told = runbook(
        dir,
        &[
            "run",
            "--resume",
            "t.jsonl",
            "--resume-runbook",
            "elsewhere/pause.yaml",
            "--yes",
        ],
    );
    assert_eq!(told.status.code(), Some(0), "{}", shown(&told));
}
