//! `runbook test`: the real binary over test files beside runbooks. Nothing runs for real — a
//! command that would destroy something proves it: it is only ever scripted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RUNBOOK: &str = r##"runbook: 1
title: Disk full
owner: ops
reviewed: 2026-11-01
scope: { services: [api] }
contacts: [{ name: Ops, chat: "#ops" }]
links: [{ name: Dashboard, url: "https://grafana.example.com" }]
inputs:
  volume: { description: the volume, default: /var }
hosts:
  api: [api-1, api-2]
steps:
  - id: usage
    name: How full is it
    check:
      run: df -P {{ inputs.volume }}
      on: api
      capture: usage
  - id: what
    name: What fills it
    ask:
      question: What fills the disk?
      choices:
        - { label: Logs, next: rotate }
        - { label: Something else, next: escalate }
  - id: rotate
    name: Delete old logs
    action:
      run: rm -rf {{ inputs.volume }}/log/old
      on: api
      irreversible: old logs are gone
    on_failure: escalate
  - id: health
    name: The API answers
    check:
      http: { url: "http://{{ host }}:8080/health", status: 200 }
      on: api
    next: end
  - id: escalate
    name: Escalate
    instructions: Call ops.
"##;

const TESTS: &str = r#"tests:
  - name: logs are rotated on every host
    answers: { what: Logs }
    commands:
      - match: { step: usage }
        stdout: "/dev/sda1 95%"
      - match: { run: '^rm -rf' }
        exit: 0
      - match: { step: health }
        status: 200
    expect:
      path: [usage, what, rotate, health]
      outcome: resolved
      commands_include: ['rm -rf /var/log/old']
"#;

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .env("NO_COLOR", "1")
        .env("RUNBOOK_TODAY", "2026-11-20");
    command
}

/// A catalog with the runbook `ops/disk.yaml` and, beside it, `ops/disk.test.yaml`.
fn catalog(tests: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("runbooks/ops");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("disk.yaml"), RUNBOOK).unwrap();
    std::fs::write(folder.join("disk.test.yaml"), tests).unwrap();
    let root = dir.path().join("runbooks");
    (dir, root)
}

fn test(paths: &[&Path], extra: &[&str]) -> Output {
    bin().arg("test").args(paths).args(extra).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_passing_test_is_one_line_and_the_summary_exit_0() {
    let (_dir, root) = catalog(TESTS);
    let output = test(&[&root], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("✔ ")
            && lines[0].ends_with("disk.test.yaml: logs are rotated on every host"),
        "{text}"
    );
    assert_eq!(lines[1], "1 passed, 0 failed");
}

/// The runbook's file, as given, finds its tests beside it; and nothing ran: the `rm -rf` of
/// the action would have failed here (no such hosts), and the test passed.
#[test]
fn a_runbook_file_runs_the_tests_beside_it() {
    let (_dir, root) = catalog(TESTS);
    let output = test(&[&root.join("ops/disk.yaml")], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).ends_with("1 passed, 0 failed\n"));
}

#[test]
fn a_failing_test_shows_the_paths_side_by_side_and_exits_1() {
    let failing = format!(
        "{TESTS}{}",
        r#"  - name: something else is escalated
    answers: { what: Logs }
    commands:
      - match: { step: usage }
        stdout: "/dev/sda1 95%"
      - match: { run: '^rm -rf' }
        exit: 1
      - match: { step: health }
        status: 200
    expect:
      path: [usage, what, escalate]
      outcome: resolved
"#
    );
    let (_dir, root) = catalog(&failing);
    let output = test(&[&root], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("✘ ") && text.contains("disk.test.yaml: something else is escalated"),
        "{text}"
    );
    assert!(
        text.contains("the path differs from the expected one"),
        "{text}"
    );
    // Side by side: expected on the left, actual on the right, the first divergence marked.
    assert!(
        text.contains("expected") && text.contains("actual"),
        "{text}"
    );
    let divergence = text
        .lines()
        .find(|l| l.contains("first divergence"))
        .unwrap_or_else(|| panic!("no divergence marked:\n{text}"));
    let words: Vec<&str> = divergence.split_whitespace().collect();
    assert_eq!(
        &words[..4],
        ["✘", "3", "escalate", "rotate"],
        "{divergence}"
    );
    assert!(
        text.contains("at ") && text.contains("disk.test.yaml:15:11"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("1 passed, 1 failed"), "{text}");
    assert_eq!(text.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn an_unmatched_command_fails_the_test_naming_it() {
    let tests = TESTS.replace("      - match: { run: '^rm -rf' }\n        exit: 0\n", "");
    let (_dir, root) = catalog(&tests);
    let output = test(&[&root], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no scripted outcome matches the command of step `rotate` on `api-1`: `rm -rf /var/log/old`"),
        "{text}"
    );
}

#[test]
fn a_decision_the_test_does_not_answer_fails_it_naming_the_step() {
    let tests = TESTS.replace("    answers: { what: Logs }\n", "");
    let (_dir, root) = catalog(&tests);
    let output = test(&[&root], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("step `what` asks"), "{text}");
    assert!(text.contains("answers: {what: …}"), "{text}");
}

#[test]
fn a_declined_action_is_not_run() {
    let tests = TESTS
        .replace(
            "answers: { what: Logs }",
            "answers: { what: Logs, rotate: stop }",
        )
        .replace(
            "path: [usage, what, rotate, health]",
            "path: [usage, what, rotate]",
        )
        .replace("outcome: resolved", "outcome: aborted")
        .replace(
            "commands_include: ['rm -rf /var/log/old']",
            "commands_exclude: ['rm -rf']",
        );
    let (_dir, root) = catalog(&tests);
    let output = test(&[&root], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn a_malformed_test_file_is_exit_2_with_file_line_col() {
    let cases = [
        // An unknown key.
        (
            TESTS.replace("    answers:", "    answer:"),
            "disk.test.yaml:3:5",
            "unknown-key",
        ),
        // A choice the decision does not have.
        (
            TESTS.replace("what: Logs", "what: Disks"),
            "disk.test.yaml:3:22",
            "test-file",
        ),
        // A step the runbook does not have.
        (
            TESTS.replace("step: health", "step: healht"),
            "disk.test.yaml:9:24",
            "test-file",
        ),
        // A regex that does not compile.
        (
            TESTS.replace("'^rm -rf'", "'^rm ('"),
            "disk.test.yaml:7:23",
            "test-file",
        ),
        // Not YAML.
        (
            TESTS.replacen("\"/dev/sda1 95%\"", "\"/dev/sda1 95%", 1),
            "disk.test.yaml:7:7",
            "error[",
        ),
        // The wrong shape.
        (
            TESTS.replace("    expect:\n", "    expect: [\n"),
            "disk.test.yaml:11:13",
            "wrong-type",
        ),
    ];
    for (tests, at, rule) in cases {
        let (_dir, root) = catalog(&tests);
        let output = test(&[&root], &[]);
        let err = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{at}: {err}{}",
            stdout(&output)
        );
        assert!(err.contains(at), "expected {at} in:\n{err}");
        assert!(err.contains(rule), "expected {rule} in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn json_and_github_formats() {
    let failing = TESTS.replace(
        "path: [usage, what, rotate, health]",
        "path: [usage, what, escalate]",
    );
    let (_dir, root) = catalog(&failing);
    let output = test(&[&root], &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["passed"], 0);
    assert_eq!(json["failed"], 1);
    let first = &json["tests"][0];
    assert_eq!(first["passed"], false);
    assert_eq!(first["line"], 2);
    assert_eq!(
        first["expected_path"],
        serde_json::json!(["usage", "what", "escalate"])
    );
    assert_eq!(
        first["actual_path"],
        serde_json::json!(["usage", "what", "rotate", "health"])
    );
    assert_eq!(first["first_divergence"], 3);
    assert_eq!(first["outcome"], "resolved");

    let output = test(&[&root], &["--format", "github"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let annotation = text.lines().next().unwrap();
    assert!(annotation.starts_with("::error file="), "{text}");
    assert!(annotation.contains("disk.test.yaml,line=2,col="), "{text}");
    assert!(
        annotation.contains("title=runbook test%3A logs are rotated on every host::"),
        "{text}"
    );
    assert!(
        annotation.contains("expected path: usage → what → escalate"),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}

/// The shipped example runbooks pass their tests: CI runs `cargo test`, so this is
/// `runbook test runbooks` in CI.
#[test]
fn the_shipped_runbooks_pass_their_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let output = bin()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["test", "runbooks"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(
        text.lines().last().unwrap().ends_with(" passed, 0 failed"),
        "{text}"
    );
    // Every shipped runbook has tests.
    for runbook in walk(&root) {
        let name = runbook.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".test.yaml") || !name.ends_with(".yaml") {
            continue;
        }
        let tests = runbook.with_file_name(name.replace(".yaml", ".test.yaml"));
        assert!(
            tests.is_file(),
            "{} has no tests beside it",
            runbook.display()
        );
    }
    // And every decision choice of them is taken by a test.
    let output = bin()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lint", "--require-tests", "--deny-warnings", "runbooks"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn lint_require_tests_finds_an_untested_choice() {
    let (_dir, root) = catalog(TESTS);
    let output = bin()
        .args(["lint", "--require-tests"])
        .arg(&root)
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(
        text.contains(
            "warning[untested-branch]: no test takes the choice `Something else` of `what`"
        ),
        "{text}"
    );
    assert!(text.contains("disk.yaml:25:"), "{text}");
    assert!(
        text.contains("no test's path goes from a failed `rotate` to `escalate`"),
        "{text}"
    );
    assert!(!text.contains("choice `Logs`"), "{text}");
    // Off by default.
    let output = bin().arg("lint").arg(&root).output().unwrap();
    assert!(
        !stdout(&output).contains("untested-branch"),
        "{}",
        stdout(&output)
    );
    // And the test file is not taken for a runbook by lint.
    assert!(
        stdout(&output).contains("1 runbook checked"),
        "{}",
        stdout(&output)
    );
}
