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

#[test]
fn each_example_renders_with_its_steps_and_a_flow_chart() {
    for id in [
        "common/k8s-restart",
        "demo/local-demo",
        "user-sync/push-failures",
        "web-front/saturated-backends",
    ] {
        let path = repo().join(format!("runbooks/{id}.yaml"));
        let (code, stdout, stderr) = output(runbook().arg("render").arg(&path));
        assert_eq!(code, 0, "{id}: {stderr}");
        assert!(stdout.contains("```mermaid"), "{id}:\n{stdout}");
        assert!(stdout.contains("### 1. "), "{id}:\n{stdout}");
    }
}
