//! The example runbooks in `runbooks/` are what new users copy: they must be lint-clean.

use crate::common::{output, repo, runbook};

#[test]
fn examples_pass_lint_without_warnings() {
    let (code, stdout, _) = output(runbook().env("RUNBOOK_TODAY", "2026-11-21").args([
        "lint",
        "--deny-warnings",
        "runbooks",
    ]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("checked: no problems"), "{stdout}");
}

#[test]
fn the_quick_start_demo_exists_and_needs_no_infrastructure() {
    let text = std::fs::read_to_string(repo().join("runbooks/demo/local-demo.yaml")).unwrap();
    assert!(!text.contains("hosts:"), "the demo must run locally only");
    assert!(!text.contains("http:"), "the demo must not need a network");
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout, _) = output(runbook().args(["completions", shell]));
        assert_eq!(code, 0);
        assert!(
            stdout.contains("lint") && stdout.contains("render"),
            "{shell}"
        );
    }
}
