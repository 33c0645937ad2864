//! The ported real runbooks (kube-prometheus KubeDeploymentReplicasMismatch, GitLab's
//! PatroniLongRunningTransactions, AWS-RestartEC2Instance, braintree's restart_nginx) and
//! what porting them found wrong in lint and in the engine: each test below failed before its
//! fix (see /work/notes/examples.md, "gaps").
//!
//! The deployment runbook also runs for real against a fake `kubectl` in tests/examples_lab.rs.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::sshd::sshd_or_skip;

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .env("NO_COLOR", "1")
        .env("RUNBOOK_TODAY", "2026-12-03")
        .env_remove("RUNBOOK_CATALOG");
    command
}

fn shipped(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("runbooks/{id}.yaml"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A runbook written into a catalog of its own, with `tests` beside it when given.
fn catalog(runbook: &str, tests: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("runbooks/ops");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("case.yaml");
    std::fs::write(&file, runbook).unwrap();
    if let Some(tests) = tests {
        std::fs::write(folder.join("case.test.yaml"), tests).unwrap();
    }
    (dir, file)
}

fn lint(file: &Path) -> Output {
    bin().arg("lint").arg(file).output().unwrap()
}

/// The head of a runbook that lint is happy with; steps follow.
const HEAD: &str = r##"runbook: 1
title: A case
owner: ops
reviewed: 2026-12-01
scope: { services: [api] }
contacts: [{ name: Ops, chat: "#ops" }]
links: [{ name: Dashboard, url: "https://grafana.example.com" }]
hosts:
  web: [web-1, web-2]
"##;

#[test]
fn each_ported_runbook_passes_its_tests_and_they_take_every_branch() {
    for (id, count) in [
        ("kubernetes/deployment-replicas-mismatch", 5),
        ("patroni/long-running-transactions", 8),
        ("aws/restart-ec2-instances", 5),
        ("nginx/restart", 4),
    ] {
        let output = bin().arg("test").arg(shipped(id)).output().unwrap();
        let out = text(&output);
        assert_eq!(output.status.code(), Some(0), "{id}: {out}");
        assert!(
            out.ends_with(&format!("{count} passed, 0 failed\n")),
            "{id}: {out}"
        );
        let output = bin()
            .args(["lint", "--require-tests", "--deny-warnings"])
            .arg(shipped(id))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{id}: {}", text(&output));
    }
}

/// A `json:` capture keeps what the query selects with its type: a list may be indexed. Before,
/// lint called `vars.pods[0]` a capture-shape error ("one value … has no fields").
#[test]
fn a_json_capture_on_one_destination_may_be_indexed_but_a_text_capture_may_not() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: pods
    name: Pods
    check:
      run: kubectl get pods -o json
      capture:
        pods: { json: "$.items[*].metadata.name" }
        raw: stdout
  - id: first
    name: The first pod
    check:
      run: kubectl describe pod {{ vars.pods[0] }}
  - id: wrong
    name: A field of a text
    instructions: "{{ vars.raw.items }}"
"#
    );
    let (_dir, file) = catalog(&runbook, None);
    let output = lint(&file);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert_eq!(out.matches("error[capture-shape]").count(), 1, "{out}");
    assert!(
        out.contains("case.yaml:24:"),
        "the text capture is still refused: {out}"
    );
}

/// The suggestion of capture-shape must work: minijinja maps have no `.values()` method, so the
/// run failed with "map has no method named values". `| items` exists.
#[test]
fn capture_shape_suggests_what_the_executor_has() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: load
    name: Load
    check:
      run: uptime
      on: web
      capture: load
  - id: show
    name: Show
    instructions: "{{ vars.load | lower }}"
"#
    );
    let (_dir, file) = catalog(&runbook, None);
    let out = text(&lint(&file));
    assert!(out.contains("error[capture-shape]"), "{out}");
    assert!(out.contains("`vars.load | items`"), "{out}");
    assert!(!out.contains(".values()"), "{out}");

    // And what it suggests renders: (host, text) pairs.
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: load
    name: Load
    check:
      run: echo busy
      capture: { load: stdout }
      for_each: '["web-1", "web-2"]'
  - id: show
    name: Show
    check:
      run: echo {% for host, text in vars.load | items %}{{ host }}={{ text }} {% endfor %}
"#
    );
    let (dir, file) = catalog(&runbook, None);
    assert_eq!(lint(&file).status.code(), Some(0), "{}", text(&lint(&file)));
    let timeline = dir.path().join("t.jsonl");
    let output = bin()
        .args(["run", "--yes", "--timeline"])
        .arg(&timeline)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let events = std::fs::read_to_string(&timeline).unwrap();
    assert!(
        events.contains(r#""stdout":"web-1=busy web-2=busy"#),
        "{events}"
    );
}

/// `not (a and b)` and `in (…)` are operators before a parenthesis, not calls of functions
/// named `not` and `in` (lint said "unknown function `not`"); a real unknown function still is.
#[test]
fn an_operator_before_a_parenthesis_is_not_a_function_call() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: a
    name: A
    check:
      run: "true"
  - id: b
    name: B
    if: not (steps.a.ok and steps.a.exit == 0)
    instructions: "{% for k, v in (steps.a.hosts | items) %}{{ k }}{% endfor %}"
  - id: c
    name: C
    instructions: "{{ nope(1) }}"
"#
    );
    let (_dir, file) = catalog(&runbook, None);
    let out = text(&lint(&file));
    assert_eq!(out.matches("error[unknown-filter]").count(), 1, "{out}");
    assert!(out.contains("unknown function `nope`"), "{out}");
}

/// Regression (engine gap found porting real runbooks): an `interactive: true` action stopped
/// a scripted run as "needs a person", whatever the test answered, so `runbook test` could not
/// take a path through one. It is scripted like any action: confirmed or declined by
/// `answers`, the session's exit from `commands` (what the person did), recorded as a session.
#[test]
fn runbook_test_scripts_an_interactive_action() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: psql
    name: A psql session
    action:
      run: psql
      interactive: true
      irreversible: a session
    on_failure: stuck
  - id: after
    name: After
    instructions: Done.
    next: end
  - id: stuck
    name: Stuck
    instructions: The session failed.
"#
    );
    let tests = r#"tests:
  - name: the session is held and the run goes on
    answers: { psql: "yes" }
    commands:
      - match: { step: psql }
        exit: 0
    expect:
      path: [psql, after]
      outcome: resolved
      commands_include: [psql]
  - name: a declined session is skipped
    answers: { psql: "no" }
    commands:
      - exit: 0
    expect:
      path: [psql, after]
      outcome: resolved
  - name: a session that ends with exit 1 fails its step
    commands:
      - match: { step: psql }
        exit: 1
    expect:
      path: [psql, stuck]
      outcome: resolved
"#;
    let (_dir, file) = catalog(&runbook, Some(tests));
    let output = bin().arg("test").arg(&file).output().unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.ends_with("3 passed, 0 failed\n"), "{out}");

    // A session no scripted command answers cannot start: the test fails naming it.
    let (_dir, file) = catalog(
        &runbook,
        Some("tests:\n  - name: unscripted\n    expect: { path: [psql, after] }\n"),
    );
    let output = bin().arg("test").arg(&file).output().unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("no scripted outcome matches the command of step `psql` on `local`: `psql`"),
        "{out}"
    );
    assert!(!out.contains("needs a person"), "{out}");
}

/// A real run is unchanged: without a terminal an interactive action still stops with exit 3
/// before asking anything, even with `--yes`.
#[test]
fn a_real_run_without_a_terminal_still_stops_at_an_interactive_action() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: psql
    name: A psql session
    action:
      run: echo ran
      interactive: true
      irreversible: a session
"#
    );
    let (_dir, file) = catalog(&runbook, None);
    let output = bin()
        .args(["run", "--yes"])
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(3), "{out}");
    assert!(out.contains("it needs a person at a terminal"), "{out}");
    assert!(!out.contains("\nran\n"), "{out}");
}

/// Regression (engine gap found porting real runbooks): `wait: {for: …}` slept its whole
/// length under `runbook test` (a 30 s pause was 30 s per test). A one-hour pause now ends at
/// once; the guard kills the run after 60 s (exit 124) if it ever sleeps again.
#[test]
fn runbook_test_does_not_sleep_through_a_pause() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: settle
    name: Let it settle
    wait: { for: 1h }
  - id: after
    name: After
    instructions: Done.
"#
    );
    let tests = r#"tests:
  - name: the pause is not waited
    expect:
      path: [settle, after]
      outcome: resolved
"#;
    let (_dir, file) = catalog(&runbook, Some(tests));
    let output = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_runbook"))
        .arg("test")
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "124 is killed: {}",
        text(&output)
    );
}

/// A wait's tries under `runbook test` consume the scripted outcomes in order (`times: N`
/// answers N commands, then the next entry that matches answers), without sleeping: a wait
/// polled every 10 minutes for an hour that passes at its third try passes, after exactly
/// three commands.
#[test]
fn runbook_test_consumes_the_scripted_outcomes_of_a_wait_in_order() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: up
    name: Wait until it is up
    wait:
      until:
        run: curl -fsS localhost:8080/health
      every: 10m
      timeout: 1h
    on_failure: down
  - id: after
    name: After
    instructions: Done.
    next: end
  - id: down
    name: Down
    instructions: It never came up.
"#
    );
    let tests = r#"tests:
  - name: up at the third try
    commands:
      - match: { step: up }
        exit: 7
        times: 2
      - match: { step: up }
        exit: 0
    expect:
      path: [up, after]
      outcome: resolved
  - name: never up
    commands:
      - match: { step: up }
        exit: 7
    expect:
      path: [up, down]
      outcome: resolved
"#;
    let (_dir, file) = catalog(&runbook, Some(tests));
    let output = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_runbook"))
        .args(["test", "--format", "json"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let tries: Vec<usize> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["commands"].as_array().unwrap().len())
        .collect();
    // Every 10 minutes for an hour: tries at 0, 10, … 50 minutes, then it gives up.
    assert_eq!(tries, [3, 6], "{report:#}");
}

/// A wait that never passes under `runbook test` gives up as a real one does: the same tries,
/// and the same reason on its failed step (a real run of the same wait, every 1 s for 2 s,
/// is the reference).
#[test]
fn a_scripted_wait_that_never_passes_gives_up_as_a_real_one_does() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: up
    name: Wait until it is up
    wait:
      until:
        run: echo not yet; exit 7
      every: 1s
      timeout: 2s
"#
    );
    // The test expects the wrong outcome on purpose: its report then says why the step failed.
    let tests = r#"tests:
  - name: never up
    commands:
      - match: { step: up }
        exit: 7
        stdout: "not yet\n"
    expect:
      outcome: resolved
"#;
    let (dir, file) = catalog(&runbook, Some(tests));
    let timeline = dir.path().join("real.jsonl");
    let output = bin()
        .args(["run", "--yes", "--timeline"])
        .arg(&timeline)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&timeline)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let real_tries = events.iter().filter(|e| e["event"] == "command").count();
    let real_reason = events
        .iter()
        .find(|e| e["event"] == "step_finished")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(real_reason.contains("(gave up after 2"), "{real_reason}");

    let output = bin()
        .args(["test", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let test = &report["tests"][0];
    assert_eq!(test["commands"].as_array().unwrap().len(), real_tries);
    let problems = test["problems"].to_string();
    assert!(
        problems.contains(&format!("step `up` failed: {real_reason}")),
        "scripted: {problems}\nreal: {real_reason}"
    );
}

/// The Patroni port looks again after a cancel as the original does — after a pause
/// (`wait: {for: 30s}`), which it could not have while `runbook test` slept through pauses —
/// and the path through its gitlab-psql session (a connection pgbouncer does not know) is
/// tested now that sessions are scripted. Its tests take both, at once.
#[test]
fn the_patroni_port_pauses_after_a_cancel_and_its_session_is_tested() {
    let runbook = std::fs::read_to_string(shipped("patroni/long-running-transactions")).unwrap();
    assert!(runbook.contains("    wait: { for: 30s }\n"));
    let output = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_runbook"))
        .args(["test", "--format", "json"])
        .arg(shipped("patroni/long-running-transactions"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let paths: Vec<String> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["actual_path"].to_string())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.contains(r#""cancel","settle","gone""#)),
        "{paths:#?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.contains(r#""bouncer","look","decide""#)),
        "{paths:#?}"
    );
}

/// Audit gap: `render` dropped a manual step's `checklist`, an action's `for_each`,
/// `interactive` and `irreversible`, and said "hosts" of a loop's items. The Markdown and HTML
/// pages and the Mermaid chart now show them.
#[test]
fn render_shows_checklists_loops_and_sessions() {
    let deployment = shipped("kubernetes/deployment-replicas-mismatch");
    let render = |format: &str, file: &Path| {
        let output = bin()
            .args(["render", "--format", format])
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let markdown = render("md", &deployment);
    for wanted in [
        "**Checklist**, each item ticked or left (the timeline records which):",
        "- Priority — the pods were not evicted by more important ones",
        "**For each** item of `vars.not_ready`: the command runs once per item, with `{{ item }}`",
        "**Parallel:** 4 items at once",
        "**Interactive:** the terminal is handed to the command",
    ] {
        assert!(markdown.contains(wanted), "{wanted}\n{markdown}");
    }
    assert!(!markdown.contains("4 hosts at once"), "{markdown}");
    let patroni = render("md", &shipped("patroni/long-running-transactions"));
    assert!(
        patroni.contains("**Cannot be undone:** the query is rolled back; the work it did is lost"),
        "{patroni}"
    );
    let html = render("html", &deployment);
    assert!(html.contains("<strong>Checklist</strong>"), "{html}");
    assert!(html.contains("<strong>Interactive:</strong>"), "{html}");
    // The Mermaid chart, in the Markdown page.
    let mermaid = &markdown[markdown.find("flowchart TD").unwrap()..];
    assert!(
        mermaid.contains(" · for each of vars.not_ready"),
        "{mermaid}"
    );
    assert!(mermaid.contains(" · interactive"), "{mermaid}");
    assert!(mermaid.contains(" · checklist of "), "{mermaid}");
}

/// `times: 0` answers nothing: a mistake in the test file, at its line and column (exit 2).
#[test]
fn times_zero_in_a_test_file_is_refused_at_its_position() {
    let runbook = format!(
        "{HEAD}{}",
        "steps:\n  - id: a\n    name: A\n    check: { run: \"true\" }\n"
    );
    let tests = "tests:\n  - name: t\n    commands:\n      - exit: 0\n        times: 0\n    expect: { path: [a] }\n";
    let (_dir, file) = catalog(&runbook, Some(tests));
    let output = bin().arg("test").arg(&file).output().unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(out.contains("case.test.yaml:5:16"), "{out}");
    assert!(out.contains("`times: 0` answers nothing"), "{out}");
}

/// Regression: `steps.X.ok` was true for a step skipped by its `if:`, though the docs say `ok`
/// means passed or done; a later `if: steps.X.ok` then read captures never made. A skipped
/// step is not ok, in `runbook test` and in a real run's recorded state alike.
#[test]
fn a_step_skipped_by_its_if_is_not_ok() {
    let runbook = format!(
        "{HEAD}{}",
        r#"inputs:
  look: { default: "no" }
steps:
  - id: probe
    name: Probe
    if: inputs.look == "yes"
    check:
      run: echo found
      capture: found
  - id: use
    name: Use what the probe found
    if: steps.probe.ok
    check:
      run: echo {{ vars.found }}
  - id: after
    name: After
    check:
      run: echo {{ steps.probe.ok }} {{ steps.probe.outcome }}
"#
    );
    let tests = r#"tests:
  - name: no probe, so nothing to use
    commands:
      - exit: 0
    expect:
      path: [after]
      outcome: resolved
      commands_include: ["echo False skipped"]
  - name: a probe, and what it found is used
    inputs: { look: "yes" }
    commands:
      - match: { step: probe }
        stdout: "db-7\n"
      - exit: 0
    expect:
      path: [probe, use, after]
      outcome: resolved
      commands_include: ["echo db-7", "echo True passed"]
"#;
    let (dir, file) = catalog(&runbook, Some(tests));
    let output = bin().arg("test").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let timeline = dir.path().join("t.jsonl");
    let output = bin()
        .args(["run", "--yes", "--timeline"])
        .arg(&timeline)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let events = std::fs::read_to_string(&timeline).unwrap();
    let probe: serde_json::Value = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "step_finished" && e["step"] == "probe")
        .unwrap();
    assert_eq!(probe["outcome"], "skipped", "{probe}");
    assert_eq!(probe["state"]["result"]["ok"], false, "{probe}");
    assert!(!events.contains("echo found"), "{events}");
}

/// Audit of issue 11, item 4 ("loops … with the fan-out's limits … canary"): nothing tested a
/// canary over `for_each` items. The first item runs alone; when it fails, the others are
/// never started, and the timeline has one command.
#[test]
fn a_canary_over_for_each_items_runs_the_first_alone_and_stops_when_it_fails() {
    let runbook = format!(
        "{HEAD}{}",
        r#"steps:
  - id: restart
    name: Restart each worker
    action:
      run: test {{ item }} != w1 && echo restarted {{ item }}
      for_each: '["w1", "w2", "w3"]'
      canary: 1
      irreversible: a restart
"#
    );
    let (dir, file) = catalog(&runbook, None);
    for (first, outcome, commands) in [("w1", "failed", 1), ("w0", "done", 3)] {
        let runbook = runbook.replace("!= w1", &format!("!= {first}"));
        std::fs::write(&file, &runbook).unwrap();
        let timeline = dir.path().join(format!("{first}.jsonl"));
        let output = bin()
            .args(["run", "--yes", "--timeline"])
            .arg(&timeline)
            .arg(&file)
            .output()
            .unwrap();
        let events: Vec<serde_json::Value> = std::fs::read_to_string(&timeline)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ran: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == "command")
            .map(|e| e["host"].as_str().unwrap())
            .collect();
        assert_eq!(ran.len(), commands, "{first}: {ran:?}\n{}", text(&output));
        assert_eq!(ran[0], "w1", "the canary is the first item: {ran:?}");
        let finished = events
            .iter()
            .find(|e| e["event"] == "step_finished")
            .unwrap();
        assert_eq!(finished["outcome"], outcome, "{first}: {}", text(&output));
    }
}

/// Audit of issue 11, item 1 ("lint rejects any filter, test or function the executor does
/// not have"): a method call passed lint and failed the step at run time ("map has no method
/// named values" — the very fix capture-shape used to suggest). Lint now names it, with the
/// filter that does it; `loop.cycle(…)` is a real method and stays allowed.
#[test]
fn a_method_call_is_refused_with_the_filter_that_does_it() {
    let runbook = format!(
        "{HEAD}{}",
        r#"inputs:
  name: { default: web }
steps:
  - id: load
    name: Load
    check:
      run: uptime
      on: web
      capture: load
  - id: show
    name: Show
    instructions: |
      {{ inputs.name.upper() }} {{ vars.load.values() }}
      {% for h in ["a", "b"] %}{{ loop.cycle("odd", "even") }}{% endfor %}
"#
    );
    let (_dir, file) = catalog(&runbook, None);
    let out = text(&lint(&file));
    assert_eq!(out.matches("error[unknown-filter]").count(), 2, "{out}");
    assert!(out.contains("`.upper()` is a method call"), "{out}");
    assert!(out.contains("use the filter `| upper`"), "{out}");
    assert!(out.contains("`.values()` is a method call"), "{out}");
    assert!(out.contains("`| items` gives (key, value) pairs"), "{out}");
    assert!(!out.contains("`.cycle()`"), "{out}");
}

/// Audit of issue 11, item 3 (`--set` validates typed inputs, exit 2 naming the input) for a
/// list, end to end on the AWS port: each item is checked; a good list is several words.
#[test]
fn a_list_input_is_checked_item_by_item_and_renders_as_several_words() {
    let aws = shipped("aws/restart-ec2-instances");
    let output = bin()
        .arg("run")
        .arg(&aws)
        .args(["--yes", "--set", "instance_ids=i-0a1b2c3d4e5f60718,bogus"])
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(
        out.contains("`instance_ids` item `bogus` must match `^i-[0-9a-f]{8,17}$`"),
        "{out}"
    );
    let output = bin()
        .arg("run")
        .arg(&aws)
        .args([
            "--dry-run",
            "--set",
            "instance_ids=i-0a1b2c3d4e5f60718, i-0f9e8d7c6b5a49382",
        ])
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("--instance-ids i-0a1b2c3d4e5f60718 i-0f9e8d7c6b5a49382\n"),
        "{out}"
    );
}

/// Audit of issue 11, item 4, over the real sshd: a canary over the hosts a templated `on:`
/// gives runs on the first of them alone; when it fails the others are never started.
#[test]
fn a_canary_over_a_templated_on_list_runs_the_first_host_alone_over_ssh() {
    let Some(sshd) = sshd_or_skip() else { return };
    for (order, ran) in [("web-2 web-1 web-3", 1), ("web-1 web-2 web-3", 3)] {
        let steps = format!(
            r#"steps:
  - id: discover
    name: Find the replicas
    check:
      run: printf '%s\n' {order}
      capture: found
  - id: restart
    name: Restart each replica
    action:
      run: test {{{{ host }}}} != web-2 && echo restarted {{{{ host }}}}
      on: "{{{{ vars.found | lines }}}}"
      canary: 1
      irreversible: a restart
"#
        );
        let runbook =
            format!("{HEAD}{steps}").replace("web: [web-1, web-2]", "web: [web-1, web-2, web-3]");
        let (dir, file) = catalog(&runbook, None);
        let timeline = dir.path().join("t.jsonl");
        let output = bin()
            .args(["run", "--yes", "--timeline"])
            .arg(&timeline)
            .arg("--ssh-config")
            .arg(sshd.config())
            .arg(&file)
            .output()
            .unwrap();
        let events: Vec<serde_json::Value> = std::fs::read_to_string(&timeline)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let hosts: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == "command" && e["step"] == "restart")
            .map(|e| e["host"].as_str().unwrap())
            .collect();
        let first = order.split(' ').next().unwrap();
        assert_eq!(
            hosts[0], first,
            "{order}: the canary is the first host: {hosts:?}"
        );
        // web-2 fails: as the canary, nothing else starts; after a passing canary the rest
        // start together (parallel 32), and the step fails.
        assert_eq!(hosts.len(), ran, "{order}: {hosts:?}\n{}", text(&output));
        assert_eq!(output.status.code(), Some(1), "{order}: {}", text(&output));
    }
}
