//! `runbook new`: a starter that passes lint, and never over an existing file.

use crate::common::{output, runbook_in};

#[test]
fn the_starter_passes_lint_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        output(runbook_in(dir.path()).args(["new", "payments/refunds-stuck"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("wrote runbooks/payments/refunds-stuck.yaml"),
        "{stdout}"
    );
    let text =
        std::fs::read_to_string(dir.path().join("runbooks/payments/refunds-stuck.yaml")).unwrap();
    assert!(text.contains("services: [payments]"));
    let (code, stdout, _) = output(runbook_in(dir.path()).args(["lint", "--deny-warnings"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("runbooks/web.yaml");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, "mine").unwrap();
    let (code, _, stderr) = output(runbook_in(dir.path()).args(["new", "web"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "error: `runbooks/web.yaml` already exists; choose another id or remove the file first"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine");
}

#[test]
fn a_bad_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(runbook_in(dir.path()).args(["new", "../escape"]));
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: invalid runbook id `../escape`"),
        "{stderr}"
    );
    assert!(!dir.path().join("escape.yaml").exists());
}

/// The first line points editors at the schema: the catalog's own `schemas/` relative to
/// the new file when the project has one (as the shipped runbooks do), else the schema in
/// the tool's repository.
#[test]
fn the_starter_points_editors_at_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(runbook_in(dir.path()).args(["new", "payments/refunds-stuck"]));
    assert_eq!(code, 0, "{stderr}");
    let text =
        std::fs::read_to_string(dir.path().join("runbooks/payments/refunds-stuck.yaml")).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/runbook-dev/runbook/main/schemas/runbook.schema.json"
    );

    std::fs::create_dir_all(dir.path().join("schemas")).unwrap();
    std::fs::write(dir.path().join("schemas/runbook.schema.json"), "{}").unwrap();
    let (code, _, stderr) = output(runbook_in(dir.path()).args(["new", "web/slow"]));
    assert_eq!(code, 0, "{stderr}");
    let file = dir.path().join("runbooks/web/slow.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "# yaml-language-server: $schema=../../schemas/runbook.schema.json"
    );
    let reference = first.rsplit('=').next().unwrap();
    assert!(
        file.parent().unwrap().join(reference).is_file(),
        "{reference} resolves"
    );
    let (code, stdout, _) = output(runbook_in(dir.path()).args(["lint", "--deny-warnings"]));
    assert_eq!(code, 0, "{stdout}");
}
