//! On-call beyond one run (SPEC 7.9, 7.10): the incident board, the change trail, hypercare,
//! the live view of a running incident and the hand-over — each against real timelines
//! written by real runs of `tests/fixtures/oncall/*.yaml` (at a real pseudo-terminal where a
//! person is needed).

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::pty::{ENTER, Terminal};

/// A throw-away workspace: `runbooks/` holds the fixtures, timelines go to `timelines/`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let catalog = dir.path().join("runbooks");
    std::fs::create_dir_all(&catalog).unwrap();
    for name in ["change", "health"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/fixtures/oncall/{name}.yaml")),
            catalog.join(format!("{name}.yaml")),
        )
        .unwrap();
    }
    dir
}

/// `runbook ARGS…` in `dir`, stdin closed, no colour, as `user`.
fn runbook(dir: &Path, user: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("USER", user)
        .env("WATCH_DIR", dir)
        .env_remove("RUNBOOK_CATALOG")
        .env_remove("RUNBOOK_OPERATOR")
        .stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("runbook starts");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `runbook run runbooks/change.yaml --incident ID ARGS…` as alice; the exit code.
fn change_run(dir: &Path, incident: &str, args: &[&str]) -> i32 {
    let (code, stdout, stderr) = run(runbook(dir, "alice")
        .args(["run", "runbooks/change.yaml", "--incident", incident])
        .args(args));
    assert!(
        !stderr.contains("panicked"),
        "{incident}: {stdout}\n{stderr}"
    );
    code
}

fn ago(minutes: i64) -> String {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes);
    at.to_string()
}

fn timeline_of(dir: &Path, incident: &str) -> PathBuf {
    dir.join("timelines").join(format!("{incident}.jsonl"))
}

fn events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn row<'a>(board: &'a Value, incident: &str) -> &'a Value {
    board["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["incident"] == incident)
        .unwrap_or_else(|| panic!("{incident} is not on the board: {board:#}"))
}

/// `run runbooks/change.yaml` at a pseudo-terminal, waiting at the restart's confirmation.
fn run_at_the_first_question(dir: &Path, incident: &str) -> Terminal {
    let mut t = Terminal::spawn(
        dir,
        &["run", "runbooks/change.yaml", "--incident", incident],
    );
    t.expect("Restart the worker");
    t.expect("Run it on local?");
    t
}

#[test]
fn the_board_shows_every_state_breached_first() {
    let dir = workspace();
    let dir = dir.path();
    assert_eq!(
        change_run(
            dir,
            "resolved",
            &["--yes", "--answer", "verify=Yes", "--alerted-at", &ago(10)]
        ),
        0
    );
    std::fs::write(dir.join("purge.fail"), "").unwrap();
    assert_eq!(change_run(dir, "failed", &["--yes"]), 1);
    std::fs::remove_file(dir.join("purge.fail")).unwrap();
    // No terminal and no --yes: the run pauses at the first action (exit 3).
    assert_eq!(change_run(dir, "paused", &[]), 3);
    // P1 is due 4 hours after the alert: 5 hours ago is a breach.
    assert_eq!(change_run(dir, "breached", &["--alerted-at", &ago(300)]), 3);
    assert_eq!(
        change_run(
            dir,
            "practice",
            &["--rehearse", "--yes", "--answer", "verify=Yes"]
        ),
        0
    );
    std::fs::write(
        dir.join("timelines/garbage.jsonl"),
        "this is not an event\n",
    )
    .unwrap();
    // A run someone is on right now: it holds the writer's lock, waiting at a question.
    let mut live = run_at_the_first_question(dir, "live");

    let (code, stdout, stderr) = run(runbook(dir, "carol").args(["incidents", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let board = json(&stdout);
    let states: Vec<(&str, &str)> = board["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["incident"].as_str().unwrap(),
                i["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states[0],
        ("breached", "paused"),
        "breached first: {states:?}"
    );
    for (incident, state) in [
        ("resolved", "resolved"),
        ("failed", "failed"),
        ("paused", "paused"),
        ("practice", "resolved"),
        ("live", "running"),
        ("garbage", "unreadable"),
    ] {
        assert_eq!(
            row(&board, incident)["state"],
            state,
            "{incident}: {board:#}"
        );
    }
    let breached = row(&board, "breached");
    assert_eq!(breached["breached"], true);
    assert_eq!(breached["priority"], "P1");
    assert!(
        breached["time_left_ms"].as_i64().unwrap() < -3_500_000,
        "{breached}"
    );
    let paused = row(&board, "paused");
    assert_eq!(paused["breached"], false);
    assert_eq!(paused["step"], "restart");
    let left = paused["time_left_ms"].as_i64().unwrap();
    assert!((3 * 3_600_000..=4 * 3_600_000).contains(&left), "{paused}");
    assert_eq!(
        paused["operator"].as_str().unwrap().split('@').next(),
        Some("alice")
    );
    // Time to acknowledge: alert → run started, about ten minutes.
    let ack = row(&board, "resolved")["time_to_acknowledge_ms"]
        .as_i64()
        .unwrap();
    assert!((600_000..660_000).contains(&ack), "{ack}");
    assert_eq!(row(&board, "resolved")["time_left_ms"], Value::Null);
    assert_eq!(row(&board, "practice")["rehearsal"], true);
    assert_eq!(row(&board, "practice")["deadline"], Value::Null);
    assert!(
        row(&board, "garbage")["error"]
            .as_str()
            .unwrap()
            .contains("line 1"),
        "{board:#}"
    );
    assert!(stderr.contains("1 timeline could not be read"), "{stderr}");

    let (code, table, _) = run(runbook(dir, "carol").arg("incidents"));
    assert_eq!(code, 0);
    let first = table.lines().nth(1).unwrap();
    assert!(
        first.starts_with("breached") && first.contains("BREACHED"),
        "{table}"
    );
    assert!(
        table.contains("running") && table.contains("unreadable"),
        "{table}"
    );

    // The catalog's deadlines replace the defaults: P1 in 10 hours is not breached yet.
    std::fs::create_dir_all(dir.join("runbooks/.runbook")).unwrap();
    std::fs::write(
        dir.join("runbooks/.runbook/config.yaml"),
        "deadlines:\n  P1: 10h\n",
    )
    .unwrap();
    let (_, stdout, _) = run(runbook(dir, "carol").args(["incidents", "--format", "json"]));
    let board = json(&stdout);
    assert_eq!(row(&board, "breached")["breached"], false, "{board:#}");
    assert_eq!(board["deadlines"]["P1"], "10h");
    std::fs::write(
        dir.join("runbooks/.runbook/config.yaml"),
        "deadlines:\n  P1: soon\n",
    )
    .unwrap();
    let (code, _, stderr) = run(runbook(dir, "carol").arg("incidents"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("config.yaml") && stderr.contains("deadlines.P1"),
        "{stderr}"
    );

    live.send(support::pty::CTRL_C);
    let (code, _) = live.finish();
    assert_ne!(code, 0);
}

#[test]
fn the_change_trail_has_what_ran_for_real_and_marks_rollbacks() {
    let dir = workspace();
    let dir = dir.path();
    assert_eq!(
        change_run(dir, "clean", &["--yes", "--answer", "verify=Yes"]),
        0
    );
    assert_eq!(
        change_run(
            dir,
            "practice",
            &["--rehearse", "--yes", "--answer", "verify=Yes"]
        ),
        0
    );
    // At a terminal: decline the restart (skip it), run the purge, which fails, roll it back,
    // stop.
    std::fs::write(dir.join("purge.fail"), "").unwrap();
    let mut t = run_at_the_first_question(dir, "night");
    t.send(ENTER);
    t.pick("Not run. What now?", 1);
    t.expect("Purge the cache");
    t.answer("Run it on local?", "y");
    // Retry, Roll back, Skip, Go to, Escalate, Stop.
    t.pick("The step failed. What now?", 1);
    t.answer("Run the rollback?", "y");
    t.expect("rollback done");
    t.pick("The step failed. What now?", 5);
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen}");

    let (code, stdout, stderr) = run(runbook(dir, "carol").args(["changes", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let trail = json(&stdout);
    let changes = trail["changes"].as_array().unwrap();
    let of = |incident: &str| -> Vec<&Value> {
        changes
            .iter()
            .filter(|c| c["incident"] == incident)
            .collect()
    };
    assert!(
        of("practice").is_empty(),
        "a rehearsal changes nothing: {trail:#}"
    );
    let clean: Vec<&str> = of("clean")
        .iter()
        .map(|c| c["step"].as_str().unwrap())
        .collect();
    assert_eq!(clean, ["purge", "restart"], "actions only, newest first");
    let night = of("night");
    assert_eq!(
        night.len(),
        2,
        "the declined restart is not a change: {trail:#}"
    );
    assert_eq!(night[0]["command"], "echo purge undone");
    assert_eq!(night[0]["rollback"], true);
    assert_eq!(night[0]["exit"], 0);
    assert_eq!(night[1]["step"], "purge");
    assert_eq!(night[1]["rollback"], false);
    assert_eq!(night[1]["exit"], 1);
    assert!(night[1]["operator"].as_str().unwrap().contains('@'));
    let times: Vec<&str> = changes.iter().map(|c| c["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    let (_, table, _) = run(runbook(dir, "carol").arg("changes"));
    assert!(
        table.contains("↩ rollback of purge: echo purge undone"),
        "{table}"
    );
    assert!(table.contains("4 changes since"), "{table}");

    let (_, stdout, _) = run(runbook(dir, "carol").args([
        "changes",
        "--since",
        "2099-01-01T00:00:00Z",
        "--format",
        "json",
    ]));
    assert_eq!(json(&stdout)["changes"], Value::Array(Vec::new()));
    let (code, _, stderr) = run(runbook(dir, "carol").args(["changes", "--since", "lately"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("--since"), "{stderr}");
}

/// Spawns `runbook ARGS…` with stdout piped; its lines arrive on the channel.
fn spawn_lines(command: &mut Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runbook starts");
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, receive)
}

/// Reads lines until one contains `text`; returns every line read.
#[track_caller]
fn wait_for(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, text: &str) {
    loop {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                let found = line.contains(text);
                seen.push(line);
                if found {
                    return;
                }
            }
            Err(_) => panic!("never saw {text:?}; saw:\n{}", seen.join("\n")),
        }
    }
}

fn rest(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>) {
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) {
        seen.push(line);
    }
}

#[test]
fn watch_rings_when_a_service_turns_worse_and_records_it() {
    let dir = workspace();
    let dir = dir.path();
    assert_eq!(
        change_run(dir, "fixed", &["--yes", "--answer", "verify=Yes"]),
        0
    );
    let timeline = timeline_of(dir, "fixed");
    let (mut child, lines) = spawn_lines(runbook(dir, "alice").args([
        "watch",
        "runbooks/health.yaml",
        "--every",
        "1s",
        "--for",
        "3s",
        "--timeline",
        timeline.to_str().unwrap(),
    ]));
    let mut seen = Vec::new();
    wait_for(&lines, &mut seen, "round 1/4: 1 green");
    // The check reads this file: from now on the worker is down.
    std::fs::write(dir.join("broken"), "").unwrap();
    rest(&lines, &mut seen);
    let status = child.wait().unwrap();
    let out = seen.join("\n");
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("round 4/4"), "{out}");
    assert!(
        out.contains("\x07⚠ worse than at the start: worker: green → red (1 of 2 checks failed)"),
        "bell and ⚠ line: {out}"
    );
    assert!(out.contains("4 of 4 rounds"), "{out}");
    // Said once, not every round it stays red.
    assert_eq!(
        out.matches('\x07').count(),
        2,
        "once, then the summary: {out}"
    );

    let recorded = events(&timeline);
    let worse: Vec<&Value> = recorded
        .iter()
        .filter(|e| e["event"] == "service_worse")
        .collect();
    assert_eq!(worse.len(), 1, "{recorded:#?}");
    assert_eq!(worse[0]["from"], "green");
    assert_eq!(worse[0]["to"], "red");
    assert!(
        worse[0]["detail"]
            .as_str()
            .unwrap()
            .contains("The worker answers")
    );
    let (code, stdout, _) = run(runbook(dir, "alice")
        .args(["timeline", "verify"])
        .arg(&timeline));
    assert_eq!(code, 0, "the chain still holds: {stdout}");
}

#[test]
fn watch_stops_cleanly_on_ctrl_c_and_refuses_bad_flags() {
    let dir = workspace();
    let dir = dir.path();
    let (mut child, lines) = spawn_lines(runbook(dir, "alice").args([
        "watch",
        "runbooks/health.yaml",
        "--every",
        "1s",
        "--for",
        "1h",
    ]));
    let mut seen = Vec::new();
    wait_for(&lines, &mut seen, "round 1/3601");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    rest(&lines, &mut seen);
    let status = child.wait().unwrap();
    let out = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(out.contains("stopped (Ctrl-C) after"), "{out}");
    assert!(out.contains("no service turned worse"), "{out}");

    for (flag, value) in [("--every", "0s"), ("--for", "a while")] {
        let (code, _, stderr) = run(runbook(dir, "alice").args(["watch", "runbooks", flag, value]));
        assert_eq!(code, 2, "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{stderr}");
    }
}

#[test]
fn follow_shows_a_run_as_it_writes_without_getting_in_its_way() {
    let dir = workspace();
    let dir = dir.path();
    let mut t = run_at_the_first_question(dir, "live");
    let timeline = timeline_of(dir, "live");
    let (mut follower, lines) = spawn_lines(
        runbook(dir, "carol")
            .args(["timeline", "--follow"])
            .arg(&timeline),
    );
    let mut seen = Vec::new();
    wait_for(&lines, &mut seen, "run started");
    wait_for(&lines, &mut seen, "Restart the worker");
    // The follower holds no lock: the run writes on, and the follower sees it land.
    t.send(&format!("y{ENTER}"));
    wait_for(&lines, &mut seen, "echo restarted");
    t.expect("Purge the cache");
    t.answer("Run it on local?", "y");
    t.pick("Is the worker back?", 0);
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    rest(&lines, &mut seen);
    let status = follower.wait().unwrap();
    let out = seen.join("\n");
    assert_eq!(status.code(), Some(0), "it ends at run_finished: {out}");
    assert!(out.contains("run resolved"), "{out}");
    // Every event once, in order: as many event lines as the file has events.
    let steps = out.matches("▸ ").count();
    assert_eq!(steps, 4, "{out}");
    let (code, stdout, _) = run(runbook(dir, "carol")
        .args(["timeline", "verify"])
        .arg(&timeline));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn a_resume_by_another_operator_is_a_hand_over() {
    let dir = workspace();
    let dir = dir.path();
    assert_eq!(
        change_run(dir, "night", &[]),
        3,
        "paused at the first action"
    );
    let timeline = timeline_of(dir, "night");
    let (code, stdout, stderr) = run(runbook(dir, "bob")
        .args(["run", "--yes", "--answer", "verify=Yes", "--resume"])
        .arg(&timeline));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let screen = format!("{stdout}{stderr}");
    assert!(
        screen.contains("handed over: alice@") && screen.contains("→ bob@"),
        "{screen}"
    );
    let recorded = events(&timeline);
    let handed: Vec<&Value> = recorded
        .iter()
        .filter(|e| e["event"] == "handed_over")
        .collect();
    assert_eq!(handed.len(), 1, "{recorded:#?}");
    assert!(handed[0]["from"].as_str().unwrap().starts_with("alice@"));
    assert!(handed[0]["to"].as_str().unwrap().starts_with("bob@"));

    let (_, postmortem, _) = run(runbook(dir, "carol")
        .args(["timeline", "--format", "md"])
        .arg(&timeline));
    assert!(
        postmortem.contains("handed over from alice@"),
        "{postmortem}"
    );
    let (_, chronology, _) = run(runbook(dir, "carol").arg("timeline").arg(&timeline));
    assert!(chronology.contains("⇄ handed over: alice@"), "{chronology}");

    // The board and the trail name who has it now.
    let (_, stdout, _) = run(runbook(dir, "carol").args(["incidents", "--format", "json"]));
    let operator = row(&json(&stdout), "night")["operator"].clone();
    assert!(operator.as_str().unwrap().starts_with("bob@"), "{operator}");

    // The same operator resuming is no hand-over; RUNBOOK_OPERATOR names a person on a shared
    // account.
    assert_eq!(change_run(dir, "again", &[]), 3);
    let again = timeline_of(dir, "again");
    let (code, _, _) = run(runbook(dir, "alice")
        .args(["run", "--yes", "--answer", "verify=Yes", "--resume"])
        .arg(&again));
    assert_eq!(code, 0);
    assert!(!events(&again).iter().any(|e| e["event"] == "handed_over"));
    assert_eq!(change_run(dir, "shared", &[]), 3);
    let shared = timeline_of(dir, "shared");
    let (code, _, _) = run(runbook(dir, "alice")
        .env("RUNBOOK_OPERATOR", "dave (on the bastion)")
        .args(["run", "--yes", "--answer", "verify=Yes", "--resume"])
        .arg(&shared));
    assert_eq!(code, 0);
    let handed: Vec<Value> = events(&shared)
        .into_iter()
        .filter(|e| e["event"] == "handed_over")
        .collect();
    assert_eq!(handed[0]["to"], "dave (on the bastion)");
}
