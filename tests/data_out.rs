//! Getting data out of outputs and deciding on it (SPEC 7.3), end to end through the binary:
//! named captures (JSONPath with its JSON type, regex, default) decided on by a later `if:`,
//! a capture that finds nothing failing its step by name, `expect.that` (false, and failing to
//! evaluate: the step fails, never the run), typed inputs (`number`, `list`), top-level
//! `data`, captured values surviving `--resume`, a fan-out capture over a real sshd, and the
//! lint findings for each new mistake.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::sshd::sshd_or_skip;

const HEADER: &str = r##"runbook: 1
title: Data out
owner: sre
reviewed: 2026-11-01
scope: { services: [api] }
contacts: [{ name: Ops, chat: "#ops" }]
links: [{ name: Docs, url: "https://example.com" }]
"##;

/// A deployment as `kubectl get deploy -o json` prints it (the parts used here).
const DEPLOY: &str = r#"{"spec": {"replicas": 3}, "status": {"availableReplicas": 2}, "items": [{"name": "api-1"}, {"name": "api-2"}]}"#;

fn write(dir: &Path, rest: &str) -> PathBuf {
    let path = dir.join("rb.yaml");
    std::fs::write(&path, format!("{HEADER}{rest}")).unwrap();
    path
}

/// `runbook ARGS` in `dir`; a run gets a timeline of its own (two runs in the same second
/// would otherwise pick the same name).
fn run(dir: &Path, args: &[&str]) -> Output {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let chosen = args
        .iter()
        .any(|a| a == "--timeline" || a == "--resume" || a == "--dry-run");
    if args[0] == "run" && !chosen {
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        args.push("--timeline".into());
        args.push(dir.join(format!("run-{n}.jsonl")).display().to_string());
    }
    Command::new(env!("CARGO_BIN_EXE_runbook"))
        .current_dir(dir)
        .args(&args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn events(timeline: &Path) -> Vec<Value> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The `step_finished`/`step_failed`/`step_skipped` event kinds, by step.
fn outcomes(timeline: &Path) -> Vec<(String, String)> {
    events(timeline)
        .iter()
        .filter_map(|e| {
            let step = e.get("step")?.as_str()?.to_string();
            let outcome = e.get("outcome")?.as_str()?.to_string();
            Some((step, outcome))
        })
        .collect()
}

fn check_json_step() -> String {
    format!(
        r#"  - id: get
    name: Read the deployment
    check:
      run: |
        echo '{DEPLOY}'
      capture:
        desired: {{ json: "$.spec.replicas" }}
        available: {{ json: "$.status.availableReplicas" }}
        ready: {{ json: "$.status.readyReplicas", default: 0 }}
        names: {{ json: "$.items[*].name" }}
        first: {{ regex: '"name": "(?P<value>[a-z0-9-]+)"' }}
        raw: stdout
"#
    )
}

#[test]
fn a_json_capture_keeps_its_type_and_a_later_if_decides_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let steps = format!(
        "steps:\n{}{}",
        check_json_step(),
        r#"  - id: short
    name: Replicas are missing
    if: vars.available < vars.desired and vars.ready == 0
    check:
      run: echo missing={{ vars.desired - vars.available }} names={{ vars.names | join('+') }} first={{ vars.first }}
  - id: full
    name: Every replica is there
    if: vars.available >= vars.desired
    check:
      run: echo all there
"#
    );
    let rb = write(dir.path(), &steps);
    let timeline = dir.path().join("t.jsonl");
    let out = run(
        dir.path(),
        &[
            "run",
            rb.to_str().unwrap(),
            "--yes",
            "--timeline",
            timeline.to_str().unwrap(),
        ],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    // Numbers stay numbers (3 - 2), a wildcard query a list, a regex its `value` group.
    assert!(
        shown.contains("missing=1 names=api-1+api-2 first=api-1"),
        "{shown}"
    );
    assert!(!shown.contains("all there"), "{shown}");
    let outcomes = outcomes(&timeline);
    assert!(
        outcomes.contains(&("short".into(), "passed".into())),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("full".into(), "skipped".into())),
        "{outcomes:?}"
    );
}

#[test]
fn a_capture_that_finds_nothing_fails_its_step_naming_the_capture_and_the_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let rb = write(
        dir.path(),
        &format!(
            r#"steps:
  - id: get
    name: Read the deployment
    check:
      run: |
        echo '{DEPLOY}'
      capture:
        desired: {{ json: "$.spec.replicas" }}
        unavailable: {{ json: "$.status.unavailableReplicas" }}
  - id: after
    name: After
    check:
      run: echo should not run
"#
        ),
    );
    let out = run(dir.path(), &["run", rb.to_str().unwrap(), "--yes"]);
    let shown = text(&out);
    assert_ne!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("capture `unavailable` finds `$.status.unavailableReplicas`"),
        "{shown}"
    );
    assert!(shown.contains("nothing matched"), "{shown}");
    assert!(!shown.contains("should not run"), "{shown}");

    // Output that is not JSON fails a `json:` capture the same way, unless it has a default.
    let rb = write(
        dir.path(),
        r#"steps:
  - id: get
    name: Not JSON
    check:
      run: echo plain text
      capture:
        n: { json: "$.n" }
"#,
    );
    let shown = text(&run(dir.path(), &["run", rb.to_str().unwrap(), "--yes"]));
    assert!(
        shown.contains("capture `n`: the output is not JSON"),
        "{shown}"
    );
    let rb = write(
        dir.path(),
        r#"steps:
  - id: get
    name: Not JSON
    check:
      run: echo plain text
      capture:
        n: { json: "$.n", default: 7 }
  - id: use
    name: Use
    check:
      run: echo n+1={{ vars.n + 1 }}
"#,
    );
    let out = run(dir.path(), &["run", rb.to_str().unwrap(), "--yes"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("n+1=8"), "{shown}");
}

#[test]
fn expect_that_passes_fails_with_what_it_read_and_an_error_fails_the_step_not_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let rb = write(
        dir.path(),
        &format!(
            r#"data:
  min_available: 3
steps:
  - id: enough
    name: Enough replicas
    on_failure: continue
    check:
      run: |
        echo '{DEPLOY}'
      expect:
        that: json.status.availableReplicas >= data.min_available
  - id: broken
    name: A that which cannot be evaluated
    on_failure: continue
    check:
      run: |
        echo '{DEPLOY}'
      expect:
        that: json.status.nothing.here > 1
  - id: fine
    name: Exit and stdout
    check:
      run: echo 42
      expect:
        that: exit == 0 and json == 42 and stdout | trim == "42"
"#
        ),
    );
    let timeline = dir.path().join("t.jsonl");
    let out = run(
        dir.path(),
        &[
            "run",
            rb.to_str().unwrap(),
            "--yes",
            "--timeline",
            timeline.to_str().unwrap(),
        ],
    );
    let shown = text(&out);
    assert!(
        shown.contains("that `json.status.availableReplicas >= data.min_available`"),
        "{shown}"
    );
    assert!(
        shown.contains("it is false: data.min_available = 3, json.status.availableReplicas = 2"),
        "{shown}"
    );
    assert!(shown.contains("it cannot be evaluated"), "{shown}");
    let outcomes = outcomes(&timeline);
    assert!(
        outcomes.contains(&("enough".into(), "failed".into())),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("broken".into(), "failed".into())),
        "{outcomes:?}"
    );
    // The run went on past both failures: an expression error fails its step only.
    assert!(
        outcomes.contains(&("fine".into(), "passed".into())),
        "{outcomes:?}"
    );
}

const TYPED_INPUTS: &str = r#"data:
  projects: { prod: gitlab-production, staging: gitlab-staging }
inputs:
  env: { default: prod, choices: [prod, staging] }
  replicas: { type: number, default: 2 }
  ids: { type: list, default: [i-1, i-2] }
steps:
  - id: show
    name: Show
    check:
      run: echo next={{ inputs.replicas + 1 }} count={{ inputs.ids | length }} ids {{ inputs.ids }} project={{ data.projects[inputs.env] }}
"#;

#[test]
fn a_number_input_is_checked_by_set_and_is_a_number_in_templates() {
    let dir = tempfile::tempdir().unwrap();
    let rb = write(dir.path(), TYPED_INPUTS);
    let out = run(
        dir.path(),
        &[
            "run",
            rb.to_str().unwrap(),
            "--yes",
            "--set",
            "replicas=abc",
        ],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("`replicas` must be a number"), "{shown}");
    assert!(!shown.contains("next="), "nothing ran: {shown}");
    let out = run(
        dir.path(),
        &["run", rb.to_str().unwrap(), "--yes", "--set", "replicas=4"],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("next=5 "), "{shown}");
}

#[test]
fn a_list_input_comes_from_set_or_a_yaml_default_and_data_tables_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let rb = write(dir.path(), TYPED_INPUTS);
    let out = run(dir.path(), &["run", rb.to_str().unwrap(), "--yes"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("next=3 count=2 ids i-1 i-2 project=gitlab-production"),
        "{shown}"
    );
    let out = run(
        dir.path(),
        &[
            "run",
            rb.to_str().unwrap(),
            "--yes",
            "--set",
            "ids=a, b,c",
            "--set",
            "env=staging",
        ],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    // Each item one shell word, blanks around items dropped.
    assert!(
        shown.contains("count=3 ids a b c project=gitlab-staging"),
        "{shown}"
    );
}

#[test]
fn captured_values_keep_their_type_across_resume() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let rb = write(
        dir.path(),
        &format!(
            r#"steps:
  - id: get
    name: Read the deployment
    check:
      run: |
        echo '{DEPLOY}'
      capture:
        desired: {{ json: "$.spec.replicas" }}
        names: {{ json: "$.items[*].name" }}
  - id: gate
    name: Gate
    check:
      run: test -f {} || kill -9 $PPID
  - id: use
    name: Use
    check:
      run: echo sum={{{{ vars.desired + 1 }}}} n={{{{ vars.names | length }}}}
"#,
            flag.display()
        ),
    );
    let timeline = dir.path().join("t.jsonl");
    let out = run(
        dir.path(),
        &[
            "run",
            rb.to_str().unwrap(),
            "--yes",
            "--timeline",
            timeline.to_str().unwrap(),
        ],
    );
    // Killed in the middle of `gate`, as a crash or a lost laptop would.
    assert_eq!(out.status.code(), None, "{}", text(&out));
    std::fs::write(&flag, "").unwrap();
    let out = run(
        dir.path(),
        &["run", "--resume", timeline.to_str().unwrap(), "--yes"],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("sum=4 n=2"), "{shown}");
}

#[test]
fn a_fan_out_capture_over_ssh_is_a_host_to_value_map_and_that_is_judged_per_host() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rb = write(
        dir.path(),
        r#"hosts:
  web: [web-1, web-2]
steps:
  - id: disk
    name: Disk use per host
    check:
      on: web
      run: |
        echo '{"used_pct": 40, "mount": "/"}'
      capture:
        used: { json: "$.used_pct" }
        mount: { regex: '"mount": "([^"]+)"' }
      expect:
        that: json.used_pct < 90
  - id: sum
    name: Sum
    check:
      run: echo total={{ vars.used['web-1'] + vars.used['web-2'] }} mounts={{ vars.mount['web-1'] }},{{ vars.mount['web-2'] }}
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .current_dir(dir.path())
        .args(["run", rb.to_str().unwrap(), "--yes", "--ssh-config"])
        .arg(sshd.config())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("total=80 mounts=/,/"), "{shown}");
}

/// `(line, col, rule)` of each finding of a lint fixture.
fn lint(name: &str) -> (i32, Vec<(u64, u64, String, String)>) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/lint/{name}.yaml"));
    let out = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .env("RUNBOOK_TODAY", "2026-11-21")
        .args(["lint", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["col"].as_u64().unwrap(),
                d["rule"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (out.status.code().unwrap_or(-1), findings)
}

#[test]
fn lint_finds_each_data_mistake_where_it_is() {
    let cases = [
        (
            "data-invalid-jsonpath",
            19,
            26,
            "invalid-jsonpath",
            "`desired`",
        ),
        (
            "data-invalid-capture-regex",
            19,
            23,
            "invalid-regex",
            "`pod`",
        ),
        (
            "data-capture-nothing-to-find",
            19,
            14,
            "command-shape",
            "`pod`",
        ),
        ("data-capture-wrong-word", 19, 9, "wrong-type", "`stdot`"),
        (
            "data-that-undefined",
            19,
            15,
            "undefined-name",
            "`stdout_lines`",
        ),
        (
            "data-that-syntax",
            19,
            15,
            "template-syntax",
            "`expect.that`",
        ),
        (
            "data-undefined-key",
            18,
            19,
            "undefined-name",
            "did you mean `projects`",
        ),
        (
            "data-number-default",
            16,
            14,
            "invalid-value",
            "not a number",
        ),
        ("data-input-type", 15, 11, "wrong-type", "`lists`"),
        ("data-list-default-comma", 16, 14, "wrong-type", "`i-2,i-3`"),
    ];
    for (name, line, col, rule, says) in cases {
        let (code, findings) = lint(name);
        assert_eq!(findings.len(), 1, "{name}: {findings:#?}");
        let (l, c, r, message) = &findings[0];
        assert_eq!((*l, *c, r.as_str()), (line, col, rule), "{name}: {message}");
        assert!(message.contains(says), "{name}: {message}");
        assert_eq!(code, 1, "{name}");
    }
}

#[test]
fn render_and_dry_run_show_captures_and_that() {
    let dir = tempfile::tempdir().unwrap();
    let rb = write(
        dir.path(),
        &format!(
            "steps:\n{}      expect:\n        that: json.spec.replicas >= 1\n",
            check_json_step()
        ),
    );
    let rendered = text(&run(dir.path(), &["render", rb.to_str().unwrap()]));
    assert!(
        rendered.contains("that `json.spec.replicas >= 1`"),
        "{rendered}"
    );
    assert!(
        rendered.contains("`vars.desired` ← JSONPath `$.spec.replicas`"),
        "{rendered}"
    );
    assert!(
        rendered.contains("`vars.ready` ← JSONPath `$.status.readyReplicas` (default `0`)"),
        "{rendered}"
    );
    let planned = text(&run(
        dir.path(),
        &["run", rb.to_str().unwrap(), "--dry-run"],
    ));
    assert!(
        planned.contains("passes only if: json.spec.replicas >= 1"),
        "{planned}"
    );
    assert!(planned.contains("keeps vars.first ← regex"), "{planned}");
}

#[test]
fn typed_inputs_asked_at_a_terminal_are_validated_and_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let rb = write(
        dir.path(),
        r#"inputs:
  replicas: { type: number, description: How many replicas }
  ids: { type: list, description: Instance ids }
steps:
  - id: show
    name: Show
    check:
      run: echo next={{ inputs.replicas + 1 }} count={{ inputs.ids | length }}
"#,
    );
    let timeline = dir.path().join("t.jsonl");
    let mut terminal = support::pty::Terminal::spawn(
        dir.path(),
        &[
            "run",
            rb.to_str().unwrap(),
            "--timeline",
            timeline.to_str().unwrap(),
        ],
    );
    terminal.answer("How many replicas (replicas):", "abc");
    terminal.expect("must be a number");
    // Erase `abc`, then give a number.
    terminal.send("\x7f\x7f\x7f4\r");
    terminal.answer("Instance ids (ids):", "i-1, i-2");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("next=5 count=2"), "{screen}");
}
