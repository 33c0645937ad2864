//! `runbook lint`: one fixture per mistake, each pinned to its `line:col` and rule.

use serde_json::Value;

use crate::common::{fixture, output, runbook};

/// `(line, col, severity, rule, message)`
type Finding = (u64, u64, String, String, String);

/// Lints one fixture (with the fixture catalog for `uses`) and returns the exit code and the
/// findings as `(line, col, severity, rule, message)`.
fn lint_fixture(name: &str) -> (i32, Vec<Finding>) {
    let path = fixture(&format!("lint/{name}.yaml"));
    let (code, stdout, stderr) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["lint", "--format", "json", "--catalog"])
            .arg(fixture("catalog"))
            .arg(&path),
    );
    assert!(stderr.is_empty(), "lint wrote to stderr: {stderr}");
    let json: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    let findings = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["col"].as_u64().unwrap(),
                d["severity"].as_str().unwrap().to_string(),
                d["rule"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, findings)
}

/// The fixture has exactly one finding, at `line:col`, of `rule`.
#[track_caller]
fn case(name: &str, line: u64, col: u64, rule: &str, severity: &str) {
    let (code, findings) = lint_fixture(name);
    assert_eq!(
        findings.len(),
        1,
        "{name}: expected one finding, got {findings:#?}"
    );
    let (l, c, s, r, message) = &findings[0];
    assert_eq!(
        (*l, *c, r.as_str(), s.as_str()),
        (line, col, rule, severity),
        "{name}: {message}"
    );
    assert!(
        !message.contains('\n'),
        "{name}: a finding is one sentence: {message:?}"
    );
    assert_eq!(
        code,
        if severity == "error" { 1 } else { 0 },
        "{name}: exit code"
    );
}

#[test]
fn every_mistake_is_found_where_it_is() {
    case("yaml-syntax", 8, 9, "yaml-syntax", "error");
    case("unknown-key", 26, 7, "unknown-key", "error");
    case("unknown-key-misplaced", 27, 7, "unknown-key", "error");
    case("missing-key", 20, 5, "missing-key", "error");
    case("duplicate-key", 5, 1, "duplicate-key", "error");
    case("wrong-type", 7, 13, "wrong-type", "error");
    case("unsupported-version", 2, 10, "unsupported-version", "error");
    case("invalid-date", 5, 11, "invalid-date", "error");
    case("invalid-name", 20, 9, "invalid-name", "error");
    case("empty-list", 7, 3, "empty-list", "error");
    case("duplicate-name", 23, 9, "duplicate-name", "error");
    case("two-kinds", 27, 5, "two-kinds", "error");
    case(
        "missing-instructions",
        20,
        5,
        "missing-instructions",
        "error",
    );
    case("misplaced-key", 27, 16, "misplaced-key", "error");
    case("misplaced-irreversible", 27, 21, "misplaced-key", "error");
    case(
        "irreversible-with-rollback",
        28,
        21,
        "command-shape",
        "error",
    );
    case("command-shape", 26, 7, "command-shape", "error");
    case("unknown-step", 23, 11, "unknown-step", "error");
    case("unreachable-step", 24, 9, "unreachable-step", "warning");
    case("template-syntax", 22, 19, "template-syntax", "error");
    case("undefined-name", 22, 19, "undefined-name", "error");
    case(
        "undefined-name-later-capture",
        22,
        19,
        "undefined-name",
        "error",
    );
    case("undefined-name-host", 26, 12, "undefined-name", "error");
    case("invalid-regex", 8, 12, "invalid-regex", "error");
    case("invalid-duration", 27, 14, "invalid-duration", "error");
    case("invalid-value", 17, 14, "invalid-value", "error");
    case("unknown-host-group", 27, 11, "unknown-host-group", "error");
    case("unknown-runbook", 25, 11, "unknown-runbook", "error");
    case("missing-input", 26, 11, "missing-input", "error");
    case("unsafe-template", 26, 12, "unsafe-template", "warning");
    case("stale-review", 5, 11, "stale-review", "warning");
    case("no-contacts", 1, 1, "no-contacts", "warning");
    case("no-links", 1, 1, "no-links", "warning");
    case("no-rollback", 26, 7, "no-rollback", "warning");
    case("yaml-tag", 23, 12, "yaml-tag", "error");
    case("unknown-filter", 22, 45, "unknown-filter", "error");
    case("unsupported-tag", 22, 23, "unsupported-tag", "error");
    case("capture-shape", 28, 32, "capture-shape", "error");
    case("capture-shape-value", 27, 32, "capture-shape", "error");
    case(
        "capture-shape-one-destination",
        28,
        32,
        "capture-shape",
        "error",
    );
    case("shell-context", 23, 25, "shell-context", "warning");
    case("confirm-template", 24, 16, "undefined-name", "error");
    case("invalid-regex-too-big", 18, 14, "invalid-regex", "error");
}

/// Lint used to stop at the first structural mistake: five mistakes took six runs.
#[test]
fn every_structural_mistake_is_reported_in_one_run() {
    let (code, findings) = lint_fixture("five-mistakes");
    assert_eq!(code, 1);
    let lines: Vec<String> = findings
        .iter()
        .map(|(line, col, severity, rule, message)| {
            format!("{line}:{col} {severity}[{rule}] {message}")
        })
        .collect();
    insta::assert_snapshot!("five_structural_mistakes", lines.join("\n"));
}

/// A non-breaking space, U+2028 or U+3000 made `lint` and `run --dry-run` panic (exit 101)
/// inside annotate-snippets: a column counted in characters was used as a byte offset.
#[test]
fn wide_spaces_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let valid = std::fs::read_to_string(fixture("lint/valid.yaml")).unwrap();
    for (n, space) in ["\u{a0}", "\u{2028}", "\u{3000}"].into_iter().enumerate() {
        let text = valid.replace("  services: [svc]", &format!("  services: [svc]{space}"));
        let path = dir.path().join(format!("space-{n}.yaml"));
        std::fs::write(&path, text).unwrap();
        for args in [vec!["lint"], vec!["run", "--dry-run"]] {
            let (code, stdout, stderr) = output(runbook().args(&args).arg(&path));
            assert!(
                code == 0 || code == 1 || code == 2,
                "{args:?} with U+{:04X}: exit {code}\n{stdout}{stderr}",
                space.chars().next().unwrap() as u32
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

/// One unreadable folder used to take the whole catalog down. Root reads every folder, so
/// as root the binary runs as `nobody` (setpriv), as another user on the machine would.
#[test]
fn an_unreadable_folder_is_a_warning_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(fixture("lint/valid.yaml"), dir.path().join("ok.yaml")).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::copy(fixture("lint/valid.yaml"), locked.join("hidden.yaml")).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let as_root = nix::unistd::Uid::effective().is_root();
    let mut command = if as_root {
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.arg(env!("CARGO_BIN_EXE_runbook"));
        command
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_runbook"))
    };
    let out = command
        .env("RUNBOOK_TODAY", "2026-11-21")
        .env("NO_COLOR", "1")
        .args(["lint", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("warning: cannot read") && stderr.contains("locked"),
        "{stderr}"
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["files"], 1);
}

#[test]
fn messages_say_what_would_be_right() {
    let message = |name| lint_fixture(name).1.remove(0).4;
    assert_eq!(
        message("unknown-key"),
        "unknown key `comand` in a check; did you mean `run`?"
    );
    assert_eq!(
        message("unknown-key-misplaced"),
        "unknown key `on_failure` in a check; it is a step key: put it beside `id` and `name`"
    );
    assert_eq!(
        message("undefined-name"),
        "`inputs.enviroment` is not defined: the runbook has no input `enviroment`; did you mean `env`?"
    );
    assert_eq!(
        message("unknown-step"),
        "`next` leads to `secnd`, which is not a step id; did you mean `second`?"
    );
    assert!(message("unknown-runbook").ends_with("did you mean `common/restart`?"));
    assert_eq!(
        message("missing-input"),
        "`common/restart` needs the input `deployment` in `with`"
    );
}

#[test]
fn a_valid_runbook_has_no_findings() {
    let (code, findings) = lint_fixture("valid");
    assert_eq!((code, findings.len()), (0, 0), "{findings:#?}");
}

#[test]
fn uses_cycles_are_reported_on_each_runbook_of_the_loop() {
    let (code, stdout, _) = output(
        runbook()
            .args(["lint", "--format", "json"])
            .arg(fixture("catalog")),
    );
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let cycles: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == "uses-cycle")
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        cycles,
        [
            "`uses` loops back to this runbook: loop/a → loop/b → loop/a",
            "`uses` loops back to this runbook: loop/b → loop/a → loop/b"
        ]
    );
}

#[test]
fn human_format_quotes_the_line_with_a_caret() {
    let (code, stdout, _) = output(
        runbook()
            .args(["lint"])
            .arg(fixture("lint/unknown-key.yaml")),
    );
    assert_eq!(code, 1);
    let path = fixture("lint/unknown-key.yaml").display().to_string();
    assert!(
        stdout.contains("error[unknown-key]: unknown key `comand` in a check; did you mean `run`?"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("--> {path}:26:7")), "{stdout}");
    assert!(
        stdout.contains("26 |       comand: \"true\"\n   |       ^^^^^^"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✘ 1 error and 0 warnings in 1 of 1 runbook checked"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "NO_COLOR is set: no escape codes");
}

#[test]
fn github_format_annotates_the_pull_request() {
    let path = fixture("lint/no-rollback.yaml");
    let (code, stdout, _) = output(runbook().args(["lint", "--format", "github"]).arg(&path));
    assert_eq!(code, 0, "warnings alone do not fail");
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "::warning file={},line=26,endLine=26,col=7,endColumn=9,title=no-rollback::action `second` has no `rollback`",
            path.display()
        )),
        "{first}"
    );
    assert!(
        first.contains("%0A"),
        "the help line is escaped onto the same line: {first}"
    );
}

#[test]
fn deny_warnings_fails_on_warnings() {
    let path = fixture("lint/no-rollback.yaml");
    let (code, _, _) = output(runbook().args(["lint", "--deny-warnings"]).arg(&path));
    assert_eq!(code, 1);
}

#[test]
fn bad_invocations_exit_2_with_one_message() {
    let (code, _, stderr) = output(runbook().args(["lint", "no/such/dir"]));
    assert_eq!(code, 2);
    assert_eq!(stderr.trim(), "error: `no/such/dir` does not exist");
    let (code, _, stderr) = output(runbook().args(["lint", "--format", "xml"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("--format"), "{stderr}");
    let (code, _, stderr) = output(
        runbook()
            .env("RUNBOOK_TODAY", "tomorrow")
            .arg("lint")
            .arg(fixture("lint/valid.yaml")),
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "error: `RUNBOOK_TODAY=tomorrow` is not valid: write the date as YYYY-MM-DD"
    );
}

#[test]
fn unreadable_input_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8]); 6] = [
        ("empty.yaml", b""),
        ("binary.yaml", &[0xff, 0xfe, 0x00, 0x01]),
        ("list.yaml", b"- a\n- b\n"),
        ("scalar.yaml", b"just text\n"),
        ("anchors.yaml", b"a: &a [*a]\n"),
        ("deep.yaml", &[b'['; 10_000]),
    ];
    for (name, bytes) in cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let (code, stdout, stderr) =
        output(runbook().args(["lint", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["files"], 6);
    assert_eq!(json["errors"], 6, "one error per broken file: {stdout}");
}

/// `--format sarif` is SARIF 2.1.0: every finding of the lint fixtures (all rules, a file
/// that does not load, wide characters) validates against the standard's own JSON Schema
/// (OASIS, vendored in tests/fixtures/sarif), rules carry their metadata, and results point
/// at file, line and the columns of the word the text format underlines.
#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("sarif/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let (code, stdout, stderr) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["lint", "--format", "sarif", "--catalog"])
            .arg(fixture("catalog"))
            .arg("tests/fixtures/lint"),
    );
    assert_eq!(code, 1, "{stderr}");
    let log: Value = serde_json::from_str(&stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid SARIF 2.1.0: {errors:#?}");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.len() > 30, "every rule is described");
    for rule in rules {
        for key in [
            "id",
            "shortDescription",
            "help",
            "helpUri",
            "defaultConfiguration",
        ] {
            assert!(!rule[key].is_null(), "rule without `{key}`: {rule}");
        }
    }
    let results = run["results"].as_array().unwrap();
    let (json_code, json_out, _) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["lint", "--format", "json", "--catalog"])
            .arg(fixture("catalog"))
            .arg("tests/fixtures/lint"),
    );
    assert_eq!(json_code, 1);
    let json: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(results.len(), json["diagnostics"].as_array().unwrap().len());
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"], "{result}");
    }
    let no_rollback = results
        .iter()
        .find(|r| r["ruleId"] == "no-rollback")
        .unwrap();
    let location = &no_rollback["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "tests/fixtures/lint/no-rollback.yaml"
    );
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    let region = &location["region"];
    assert_eq!(
        (
            &region["startLine"],
            &region["startColumn"],
            &region["endColumn"]
        ),
        (&Value::from(26), &Value::from(7), &Value::from(10)),
        "`run` at 26:7 is columns 7 to 10 (exclusive): {region}"
    );
    assert_eq!(no_rollback["level"], "warning");
}

/// `runbook test --format sarif` is refused with one message: SARIF is lint's.
#[test]
fn sarif_is_for_lint_only() {
    let (code, stdout, stderr) = output(runbook().args(["test", "--format", "sarif", "runbooks"]));
    assert_eq!(code, 2, "{stdout}");
    assert!(stderr.contains("SARIF is for `runbook lint`"), "{stderr}");
}

/// With `$GITHUB_STEP_SUMMARY` set, `--format github` appends a Markdown summary: a table of
/// findings per file and every finding (GitHub shows only ten annotations of a kind).
#[test]
fn github_format_writes_a_job_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let (code, stdout, _) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(["lint", "--format", "github", "--catalog"])
            .arg(fixture("catalog"))
            .arg("tests/fixtures/lint"),
    );
    assert_eq!(code, 1);
    let annotations = stdout.lines().filter(|l| l.starts_with("::")).count();
    assert!(annotations > 10, "{annotations} annotations");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("earlier step\n### runbook lint\n"),
        "appended: {text}"
    );
    assert!(text.contains("| File | Errors | Warnings |"), "{text}");
    assert!(
        text.contains("| `tests/fixtures/lint/no-rollback.yaml` | 0 | 1 |"),
        "{text}"
    );
    let rows = text
        .lines()
        .filter(|l| l.starts_with("| `tests/fixtures/lint/") && l.contains(".yaml:"))
        .count();
    assert_eq!(rows, annotations, "every finding is in the summary");
    // Without the variable nothing is written anywhere.
    let (_, stdout_again, _) = output(
        runbook()
            .env_remove("GITHUB_STEP_SUMMARY")
            .args(["lint", "--format", "github"])
            .arg(fixture("lint/no-rollback.yaml")),
    );
    assert!(stdout_again.starts_with("::warning"));
}

/// The default format is `text` everywhere; `human` still works.
#[test]
fn text_is_the_default_format_and_human_its_old_name() {
    let path = fixture("lint/no-rollback.yaml");
    let (_, text, _) = output(runbook().args(["lint", "--format", "text"]).arg(&path));
    let (_, human, _) = output(runbook().args(["lint", "--format", "human"]).arg(&path));
    let (_, default, _) = output(runbook().arg("lint").arg(&path));
    assert_eq!(text, human);
    assert_eq!(text, default);
    assert!(text.contains("no-rollback"), "{text}");
}

/// `runbook test --format github` appends a table of every test to `$GITHUB_STEP_SUMMARY`.
#[test]
fn test_github_format_writes_a_job_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let (code, stdout, stderr) = output(runbook().env("GITHUB_STEP_SUMMARY", &summary).args([
        "test",
        "--format",
        "github",
        "runbooks/demo",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("### runbook test\n"), "{text}");
    assert!(text.contains("| Test | Where | Result |"), "{text}");
    assert!(
        text.contains("| `runbooks/demo/local-demo.test.yaml:"),
        "{text}"
    );
    assert!(text.contains("✔ passed"), "{text}");
}
