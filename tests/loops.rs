//! Loops and people in the loop (SPEC 7.4, 7.5), end to end through the real binary: a
//! templated `on:` that gives a list fans out over a real sshd, `for_each` runs once per item
//! (over SSH and locally), a checklist, a pause and an interactive action at a real
//! pseudo-terminal, and lint's rules for each misuse.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::pty::{CTRL_C, DOWN, ENTER, Terminal};
use support::sshd::{Sshd, sshd_or_skip};

fn events(timeline: &Path) -> Vec<Value> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn of<'a>(events: &'a [Value], kind: &str, step: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == kind && e["step"] == step)
        .collect()
}

fn finished<'a>(events: &'a [Value], step: &str) -> &'a Value {
    of(events, "step_finished", step)
        .last()
        .copied()
        .unwrap_or_else(|| panic!("step `{step}` never finished: {events:#?}"))
}

/// `DIR/NAME.yaml`: a runbook header (title, contacts, links) with `rest` after it.
fn runbook_file(dir: &Path, name: &str, rest: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let header = r##"runbook: 1
title: Loops
owner: ops
reviewed: 2026-11-01
scope: { services: [fleet] }
contacts: [{ name: Ops, chat: "#ops" }]
links: [{ name: Docs, url: "https://example.com" }]
"##;
    std::fs::write(&path, format!("{header}{rest}")).unwrap();
    path
}

/// `runbook run RUNBOOK --timeline T [--ssh-config …] ARGS…` without a terminal.
fn run(
    dir: &Path,
    runbook: &Path,
    sshd: Option<&Sshd>,
    args: &[&str],
) -> (i32, String, Vec<Value>) {
    let timeline = dir.join("t.jsonl");
    let _ = std::fs::remove_file(&timeline);
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .arg("run")
        .arg(runbook)
        .arg("--timeline")
        .arg(&timeline)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    if let Some(sshd) = sshd {
        command.arg("--ssh-config").arg(sshd.config());
    }
    let output = command.output().unwrap();
    let screen = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let events = if timeline.exists() {
        events(&timeline)
    } else {
        Vec::new()
    };
    (output.status.code().unwrap_or(-1), screen, events)
}

fn hosts_of(events: &[Value], step: &str) -> Vec<String> {
    let mut hosts: Vec<String> = of(events, "command", step)
        .iter()
        .map(|e| e["host"].as_str().unwrap().to_string())
        .collect();
    hosts.sort();
    hosts
}

/// `on: "{{ vars.found | lines }}"` used to be one host named "web-1\nweb-2": now each line is
/// a destination, fanned out over as over a group, each with its own result and event.
#[test]
fn a_templated_on_that_gives_a_list_fans_out_over_real_ssh_hosts() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "discover",
        r#"hosts:
  web: [web-1, web-2, web-3]
steps:
  - id: discover
    name: Find the replicas
    check:
      run: printf 'web-1\nweb-3\n\nweb-2\n'
      capture: found
  - id: each
    name: Every replica answers
    check:
      run: echo "up as {{ host }}"
      on: "{{ vars.found | lines }}"
      capture: up
  - id: report
    name: Report
    instructions: "web-3 said {{ vars.up['web-3'] }}"
"#,
    );
    let (code, screen, events) = run(dir.path(), &runbook, Some(&sshd), &["--yes"]);
    assert_eq!(code, 0, "{screen}");
    assert_eq!(hosts_of(&events, "each"), ["web-1", "web-2", "web-3"]);
    assert_eq!(finished(&events, "each")["outcome"], "passed");
    assert!(screen.contains("3 of 3 hosts passed"), "{screen}");
    assert!(screen.contains("web-3 said up as web-3"), "{screen}");
}

/// An empty list has no hosts: the step fails, nothing runs anywhere. Text with a space is
/// neither one name nor a list: refused, never one host named "web-1 web-2".
#[test]
fn a_templated_on_that_gives_no_hosts_or_not_a_name_fails_the_step() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (printed, on, said) in [
        ("", "{{ vars.found | lines }}", "no hosts"),
        (
            "web-1 web-2",
            "{{ vars.found }}",
            "neither one name nor a list",
        ),
    ] {
        let runbook = runbook_file(
            dir.path(),
            "empty",
            &format!(
                r#"hosts:
  web: [web-1, web-2]
steps:
  - id: discover
    name: Find the replicas
    check:
      run: printf '{printed}'
      capture: found
  - id: each
    name: Every replica answers
    check:
      run: "true"
      on: "{on}"
    on_failure: stop
"#
            ),
        );
        let (code, screen, events) = run(dir.path(), &runbook, Some(&sshd), &["--yes"]);
        assert_eq!(code, 1, "{screen}");
        assert!(screen.contains(said), "{said:?} missing in\n{screen}");
        assert!(of(&events, "command", "each").is_empty(), "{events:#?}");
        assert_eq!(finished(&events, "each")["outcome"], "failed");
    }
}

/// `max_failures` holds over a templated list as over a group: one at a time, the first
/// failure stops the hosts after it from starting.
#[test]
fn a_templated_on_list_stops_starting_hosts_after_max_failures() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "stop",
        r#"steps:
  - id: discover
    name: Find the replicas
    check:
      run: printf 'web-1\nweb-2\nweb-3\n'
      capture: found
  - id: drain
    name: Drain each replica
    action:
      run: test {{ host }} != web-2
      on: "{{ vars.found | lines }}"
      parallel: 1
      max_failures: 1
    irreversible: just a test
    on_failure: stop
"#,
    )
    .to_path_buf();
    // `irreversible` belongs inside the action: move it there.
    let text = std::fs::read_to_string(&runbook)
        .unwrap()
        .replace("    irreversible: just a test\n", "")
        .replace(
            "      max_failures: 1\n",
            "      max_failures: 1\n      irreversible: just a test\n",
        );
    std::fs::write(&runbook, text).unwrap();
    let (code, screen, events) = run(dir.path(), &runbook, Some(&sshd), &["--yes"]);
    assert_eq!(code, 1, "{screen}");
    assert_eq!(hosts_of(&events, "drain"), ["web-1", "web-2"]);
    let reason = finished(&events, "drain")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("not started after too many failures: web-3"),
        "{reason}"
    );
}

/// `for_each` on one SSH destination: a command per item, `{{ item }}` set, per-item events and
/// results; `max_failures` stops the items after the first failure.
#[test]
fn for_each_runs_once_per_item_over_ssh_and_stops_at_max_failures() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "each",
        r#"hosts:
  db: [web-1]
steps:
  - id: list
    name: The tables
    check:
      run: printf 'users\norders\nbroken\nlogs\n'
      capture: tables
  - id: vacuum
    name: Vacuum each table
    check:
      run: echo {{ item }} on {{ host }}; test {{ item }} != broken
      on: db
      for_each: vars.tables | lines
      parallel: 1
      max_failures: 1
      capture: vacuumed
    on_failure: stop
"#,
    );
    let (code, screen, events) = run(dir.path(), &runbook, Some(&sshd), &["--yes"]);
    assert_eq!(code, 1, "{screen}");
    let commands = of(&events, "command", "vacuum");
    let items: Vec<&str> = commands
        .iter()
        .map(|e| e["host"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["users", "orders", "broken"], "{screen}");
    assert_eq!(commands[0]["stdout"], "users on web-1\n");
    let reason = finished(&events, "vacuum")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("1 of 4 items failed — broken"), "{reason}");
    assert!(
        reason.contains("not started after too many failures: logs"),
        "{reason}"
    );
    assert!(
        screen.contains("2 of 4 items passed; failed: broken; not started: logs"),
        "{screen}"
    );
}

/// `for_each` on this machine: captures become item → value maps; an action confirms (and
/// records as confirmed) every command it runs; `--dry-run` shows the loop.
#[test]
fn for_each_locally_captures_an_item_map_and_confirms_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "local",
        r#"inputs:
  count: { description: how many, default: "3" }
steps:
  - id: count
    name: Count
    check:
      run: seq {{ inputs.count }}
      capture: numbers
  - id: sizes
    name: Size of each
    check:
      run: echo $(( {{ item }} * 10 ))
      for_each: vars.numbers | lines
      capture: size
  - id: touch
    name: Mark each
    action:
      run: touch marker-{{ item }}
      for_each: vars.size | list
      rollback: { run: rm -f marker-* }
  - id: report
    name: Report
    instructions: "two is {{ vars.size['2'] }}"
"#,
    );
    let (code, screen, events) = run(dir.path(), &runbook, None, &["--dry-run"]);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("for each item of `vars.numbers | lines`"),
        "{screen}"
    );
    assert!(events.is_empty());

    let (code, screen, events) = run(dir.path(), &runbook, None, &["--yes"]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("two is 20"), "{screen}");
    assert_eq!(hosts_of(&events, "sizes"), ["1", "2", "3"]);
    let confirmed = of(&events, "confirmed", "touch");
    let command = confirmed[0]["command"].as_str().unwrap();
    for n in 1..=3 {
        assert!(
            command.contains(&format!("[{n}] touch marker-{n}")),
            "{command}"
        );
        assert!(dir.path().join(format!("marker-{n}")).exists());
    }
    assert!(
        screen.contains("Run it for 3 items on local?") || screen.contains("confirmed by --yes"),
        "{screen}"
    );
}

/// An interactive action needs a person: without a terminal the run stops with exit 3, and
/// nothing ran.
#[test]
fn an_interactive_action_without_a_terminal_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "shell",
        r#"steps:
  - id: psql
    name: Look at the database
    action:
      run: touch ran.marker
      interactive: true
      irreversible: it only reads
"#,
    );
    let (code, screen, events) = run(dir.path(), &runbook, None, &["--yes"]);
    assert_eq!(code, 3, "{screen}");
    assert!(!dir.path().join("ran.marker").exists());
    assert!(of(&events, "session_started", "psql").is_empty());
}

/// The terminal is handed to the command: it reads a line the person types and exits 3; the
/// session's start, end and exit are recorded, its output is not.
#[test]
fn an_interactive_action_gets_the_terminal_and_its_exit_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "shell",
        r#"steps:
  - id: psql
    name: Look at the database
    action:
      run: read -r line; echo "you typed <$line>"; exit 3
      interactive: true
      irreversible: it only reads
    on_failure: stop
"#,
    );
    let timeline = dir.path().join("t.jsonl");
    let mut t = Terminal::spawn(
        dir.path(),
        &[
            "run",
            runbook.to_str().unwrap(),
            "--timeline",
            timeline.to_str().unwrap(),
        ],
    );
    t.pick("Run it on local?", 1);
    t.expect("the terminal is yours on local");
    t.send(&format!("hello there{ENTER}"));
    t.expect("you typed <hello there>");
    t.expect("the session ended with exit 3");
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen}");
    let events = events(&timeline);
    let started = of(&events, "session_started", "psql");
    assert_eq!(started.len(), 1, "{events:#?}");
    let ended = of(&events, "session_ended", "psql");
    assert_eq!(ended[0]["exit"], 3);
    let text = std::fs::read_to_string(&timeline).unwrap();
    assert!(
        !text.contains("hello there"),
        "the session's output was recorded"
    );
    assert_eq!(finished(&events, "psql")["outcome"], "failed");
}

/// A checklist is a multi-select: the person ticks the first and the third; the timeline
/// records which were ticked and which left, and the postmortem shows it.
#[test]
fn a_checklist_records_the_items_ticked_and_left() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "checklist",
        r#"steps:
  - id: before
    name: Before the failover
    instructions: Check each of these.
    checklist:
      - Tell the on-call channel
      - Freeze the deploys
      - Snapshot the primary
"#,
    );
    let timeline = dir.path().join("t.jsonl");
    let mut t = Terminal::spawn(
        dir.path(),
        &[
            "run",
            runbook.to_str().unwrap(),
            "--timeline",
            timeline.to_str().unwrap(),
        ],
    );
    t.expect("Tick what is done");
    t.send(" ");
    t.send(&DOWN.repeat(2));
    t.send(" ");
    t.send(ENTER);
    t.expect("2 of 3 ticked; left: Freeze the deploys");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    let events = events(&timeline);
    let checklist = of(&events, "checklist", "before");
    assert_eq!(
        checklist[0]["ticked"],
        serde_json::json!(["Tell the on-call channel", "Snapshot the primary"])
    );
    assert_eq!(
        checklist[0]["left"],
        serde_json::json!(["Freeze the deploys"])
    );

    let postmortem = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("timeline")
        .arg(&timeline)
        .args(["--format", "md"])
        .output()
        .unwrap();
    let postmortem = String::from_utf8_lossy(&postmortem.stdout);
    assert!(
        postmortem.contains("checklist: 2 of 3 ticked")
            && postmortem.contains("left: Freeze the deploys"),
        "{postmortem}"
    );
}

/// `--yes` says a step is done, never that a person ticked an item: every item is left.
#[test]
fn yes_ticks_no_checklist_item() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "checklist",
        r#"steps:
  - id: before
    name: Before the failover
    instructions: Check each of these.
    checklist: [Tell the channel, Freeze the deploys]
"#,
    );
    let (code, screen, events) = run(dir.path(), &runbook, None, &["--yes"]);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("no checklist item is ticked without a person"),
        "{screen}"
    );
    let checklist = of(&events, "checklist", "before");
    assert_eq!(checklist[0]["ticked"], serde_json::json!([]));
    assert_eq!(checklist[0]["left"].as_array().unwrap().len(), 2);
}

/// `wait: {for: …}` counts down at the terminal, and Ctrl-C pauses the run there.
#[test]
fn a_pause_counts_down_and_ctrl_c_pauses_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "pause",
        r#"steps:
  - id: settle
    name: Let the caches settle
    wait: { for: 1s }
  - id: long
    name: A long pause
    wait: { for: 1h }
  - id: after
    name: After
    instructions: never reached
"#,
    );
    let timeline = dir.path().join("t.jsonl");
    let mut t = Terminal::spawn(
        dir.path(),
        &[
            "run",
            runbook.to_str().unwrap(),
            "--timeline",
            timeline.to_str().unwrap(),
        ],
    );
    t.expect("pausing for 1");
    t.expect("paused for 1");
    t.expect("left (Ctrl-C pauses the run)");
    t.send(CTRL_C);
    let (code, screen) = t.finish();
    assert_eq!(code, 130, "{screen}");
    let events = events(&timeline);
    assert_eq!(finished(&events, "settle")["outcome"], "passed");
    assert!(of(&events, "step_finished", "long").is_empty());
    let paused: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "run_paused")
        .collect();
    assert_eq!(paused[0]["at_step"], "long");
}

/// In a rehearsal, a pause right after a rehearsed action is shown, not waited (an hour here).
#[test]
fn a_rehearsal_does_not_wait_out_a_pause_after_a_rehearsed_action() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "rehearse",
        r#"steps:
  - id: restart
    name: Restart
    action:
      run: touch restarted.marker
      rollback: { run: rm -f restarted.marker }
  - id: settle
    name: Let it come up
    wait: { for: 1h }
"#,
    );
    let (code, screen, events) = run(dir.path(), &runbook, None, &["--rehearse", "--yes"]);
    assert_eq!(code, 0, "{screen}");
    assert!(!dir.path().join("restarted.marker").exists());
    assert_eq!(finished(&events, "settle")["outcome"], "rehearsed");
}

/// Lints `tests/fixtures/lint/NAME.yaml`; it has exactly one finding, of `rule` at `line`.
#[track_caller]
fn lint_case(name: &str, rule: &str, line: u64) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/lint/{name}.yaml"));
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["lint", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{name}: lint should fail");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings: Vec<(String, u64, String)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(findings.len(), 1, "{name}: {findings:#?}");
    assert_eq!(
        (findings[0].0.as_str(), findings[0].1),
        (rule, line),
        "{name}: {findings:#?}"
    );
}

#[test]
fn lint_rules_for_each_misuse_of_loops_and_people_in_the_loop() {
    lint_case("loops-interactive-fan-out", "misplaced-key", 16);
    lint_case("loops-interactive-for-each", "misplaced-key", 16);
    lint_case("loops-interactive-capture", "misplaced-key", 16);
    lint_case("loops-interactive-check", "misplaced-key", 15);
    lint_case("loops-for-each-group", "misplaced-key", 16);
    lint_case("loops-for-each-braces", "template-syntax", 15);
    lint_case("loops-item-outside", "undefined-name", 14);
    lint_case("loops-checklist-misplaced", "misplaced-key", 15);
    lint_case("loops-wait-both", "command-shape", 15);
    lint_case("loops-wait-for-duration", "invalid-duration", 14);
    lint_case("loops-wait-for-every", "misplaced-key", 15);
}

/// Remotely the terminal goes through `ssh -t` with the run's ssh config: the command reads
/// what the person types on the host and exits 3; the script's temporary file is gone after.
#[test]
fn an_interactive_action_on_a_host_gets_the_terminal_through_ssh() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runbook = runbook_file(
        dir.path(),
        "remote",
        r#"hosts:
  db: [web-1]
steps:
  - id: psql
    name: A session on the database host
    action:
      run: read -r line; echo "remote <$line> on a tty:" $(test -t 0 && echo yes); exit 3
      on: db
      interactive: true
      irreversible: it only reads
    on_failure: stop
"#,
    );
    let timeline = dir.path().join("t.jsonl");
    let config = sshd.config();
    let mut t = Terminal::spawn(
        dir.path(),
        &[
            "run",
            runbook.to_str().unwrap(),
            "--timeline",
            timeline.to_str().unwrap(),
            "--ssh-config",
            config.to_str().unwrap(),
        ],
    );
    t.pick("Run it on db?", 1);
    t.expect("the terminal is yours on web-1");
    t.send(&format!("over ssh{ENTER}"));
    t.expect("remote <over ssh> on a tty: yes");
    t.expect("the session ended with exit 3");
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen}");
    let events = events(&timeline);
    let ended = of(&events, "session_ended", "psql");
    assert_eq!(ended[0]["host"], "web-1");
    assert_eq!(ended[0]["exit"], 3);
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with("runbook.")
                && std::fs::read_to_string(e.path()).is_ok_and(|s| s.contains("remote <$line>"))
        })
        .collect();
    assert!(left.is_empty(), "the session's script was left behind");
}
