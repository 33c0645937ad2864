//! `-o/--output FILE` wherever a command writes a report: a format name is not a file name,
//! the extension picks the format, and the default format is called `text` everywhere.

use crate::common::{fixture, output, runbook};

/// `status --output json` used to write the text table into a file called `json`; it is
/// now refused before any check runs, with the flag that was meant.
#[test]
fn a_format_name_as_the_output_file_is_refused() {
    for (command, name) in [
        (vec!["status", "runbooks"], "json"),
        (vec!["status", "runbooks"], "html"),
        (vec!["render", "demo/local-demo"], "html"),
        (vec!["lint", "runbooks"], "sarif"),
        (vec!["triage", "[FIRING:1] disk full"], "json"),
        (vec!["status", "runbooks"], "table"),
    ] {
        let (code, stdout, stderr) = output(
            runbook()
                .args(["--catalog", "runbooks"])
                .args(&command)
                .args(["--output", name]),
        );
        assert_eq!(code, 2, "{command:?} --output {name}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("use `--format {name}`")),
            "{command:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
        assert!(
            !crate::common::repo().join(name).exists(),
            "no file `{name}` was written"
        );
    }
}

/// The extension picks the format: `.html` a page, `.sarif` SARIF, `.json` JSON; `--format`
/// wins over it; the file gets no colour and nothing goes to stdout.
#[test]
fn the_extension_picks_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.html");
    let (code, stdout, stderr) = output(
        runbook()
            .args(["render", "demo/local-demo", "-o"])
            .arg(&html),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );

    let md = dir.path().join("page.html.md");
    let (code, _, _) = output(
        runbook()
            .args(["render", "demo/local-demo", "--format", "md", "-o"])
            .arg(&md),
    );
    assert_eq!(code, 0);
    assert!(
        !std::fs::read_to_string(&md)
            .unwrap()
            .starts_with("<!DOCTYPE")
    );

    let sarif = dir.path().join("lint.sarif");
    let (code, stdout, _) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["lint", "--output"])
            .arg(&sarif)
            .arg(fixture("lint/no-rollback.yaml")),
    );
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");

    let json = dir.path().join("triage.json");
    let (code, _, stderr) = output(
        runbook()
            .args(["triage", "[FIRING:1] KubePodCrashLooping", "-o"])
            .arg(&json),
    );
    assert!(code == 0 || code == 1, "{stderr}");
    let _: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    let (code, _, stderr) = output(
        runbook()
            .args(["status", "runbooks", "-o"])
            .arg(dir.path().join("report.md")),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`.md` names a format this command does not write"),
        "{stderr}"
    );
}

/// A failed command writes no file.
#[test]
fn a_failed_command_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.html");
    let (code, _, _) = output(
        runbook()
            .args(["render", "no/such-runbook", "-o"])
            .arg(&html),
    );
    assert_eq!(code, 2);
    assert!(!html.exists());
}

/// `text` is the default format's name for every command; `table` and `human` still work.
#[test]
fn text_is_the_name_of_the_default_format() {
    for command in [
        &["list", "runbooks"][..],
        &["incidents", "tests/fixtures/oncall"],
    ] {
        let (code_text, text, _) = output(runbook().args(command).args(["--format", "text"]));
        let (code_table, table, _) = output(runbook().args(command).args(["--format", "table"]));
        assert_eq!((code_text, &text), (code_table, &table), "{command:?}");
    }
    for command in [
        "list",
        "status",
        "incidents",
        "changes",
        "lint",
        "triage",
        "test",
    ] {
        let (_, help, _) = output(runbook().args([command, "--help"]));
        assert!(
            help.contains("text"),
            "{command} --help names `text`: {help}"
        );
        assert!(
            !help.contains("[possible values: table") && !help.contains("human,"),
            "{command}: old names are hidden aliases: {help}"
        );
    }
}

/// `timeline FILE -o postmortem.md` writes the postmortem draft: the extension picks `md`.
#[test]
fn a_timeline_goes_to_a_postmortem_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "runbook: 1\ntitle: T\nowner: team\nreviewed: 2026-11-01\nscope: { services: [svc] }\n\
         contacts: [{name: Team}]\nlinks: [{name: Dash, url: \"https://example.com\"}]\n\
         steps:\n  - id: look\n    name: Look\n    instructions: look\n",
    )
    .unwrap();
    let (code, _, stderr) = output(
        crate::common::runbook_in(dir.path())
            .args(["run", "r.yaml", "--yes", "--timeline", "t.jsonl"])
            .write_stdin(""),
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) =
        output(crate::common::runbook_in(dir.path()).args(["timeline", "t.jsonl", "-o", "pm.md"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let draft = std::fs::read_to_string(dir.path().join("pm.md")).unwrap();
    assert!(draft.starts_with("# Postmortem"), "{draft}");
    let (code, _, stderr) = output(
        crate::common::runbook_in(dir.path()).args(["timeline", "t.jsonl", "--output", "json"]),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("use `--format json`"), "{stderr}");
}
