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
