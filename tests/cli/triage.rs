//! `runbook triage`: from an alert to the runbook, its contacts, links and run command. The
//! catalog is `tests/fixtures/triage/`; the commands run at the root of the repository, so
//! the printed `--catalog` is the fixture folder relative to it.

use serde_json::Value;

use crate::common::{fixture, output, repo, runbook, runbook_in};

const CATALOG: &str = "tests/fixtures/triage";

/// `runbook triage ALERT tests/fixtures/triage` and more arguments.
fn triage(alert: &str, more: &[&str]) -> (i32, String, String) {
    output(runbook().arg("triage").arg(alert).arg(CATALOG).args(more))
}

/// The lines of a section of the text output, up to the next blank line.
fn section<'a>(stdout: &'a str, heading: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|line| *line != heading)
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect()
}

#[test]
fn an_alert_pattern_finds_the_runbook_with_contacts_links_and_command() {
    let (code, stdout, stderr) = triage(
        "[payments-api] refund R1234 stuck in pending since 02:10",
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "Best match: payments/refunds-stuck", "{stdout}");
    assert_eq!(lines[1], "  Payments — refunds stuck in pending");
    assert!(
        stdout.contains(
            r"why: alert pattern `^\[payments-api\] refund (?P<refund>R[0-9]+) stuck in (pending|processing)` (scope.alerts[0]) matched (and 1 other pattern)"
        ),
        "{stdout}"
    );
    assert_eq!(
        section(&stdout, "Who to call, in escalation order"),
        [
            "  1. Payments on-call — owns payments-api and the refund worker",
            "     phone +33 1 00 00 00 10 · chat #payments-oncall",
            "     when: first",
            "  2. Finance operations — talks to the card processor",
            "     email finops@example.com",
            "     when: the processor confirms the refund failed on their side",
        ]
    );
    // The refund id comes from the alert (a named group), the environment from its default.
    assert_eq!(
        section(&stdout, "Links"),
        [
            "  Refund            https://admin.example.com/refunds/R1234",
            "  Dashboard         https://grafana.example.com/d/payments?var-env=prod",
            "  Processor status  https://status.processor.example.com",
        ]
    );
    assert_eq!(
        section(&stdout, "Start it"),
        ["  runbook run payments/refunds-stuck --catalog tests/fixtures/triage --set refund=R1234"]
    );
    // The other runbook of the service comes next, for the service only.
    assert_eq!(
        section(&stdout, "Other matches")[..2],
        [
            "  2. payments/charge-errors · Payments — charges fail at the gateway",
            "     why: service `payments-api` named in the alert",
        ]
    );
}

#[test]
fn the_printed_command_runs_as_pasted() {
    let (_, stdout, _) = triage(
        "[payments-api] refund R77 stuck in processing",
        &["--format", "json"],
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let command = json["matches"][0]["command"].as_str().unwrap();
    let words = shlex::split(command).unwrap();
    assert_eq!(words[..2], ["runbook", "run"]);
    let (code, stdout, stderr) = output(runbook().args(&words[1..]).arg("--dry-run"));
    assert_eq!(code, 0, "{command}\n{stdout}{stderr}");
    assert!(stdout.contains("refunds/R77/retry"), "{stdout}");
}

#[test]
fn a_service_prefix_alone_finds_the_runbook_of_that_service() {
    let (code, stdout, stderr) = triage("[Search-Indexer] heap usage above 90% on search-3", &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "Best match: search/indexer-memory", "{stdout}");
    assert!(
        stdout.contains("  why: service `search-indexer` named in the alert\n"),
        "{stdout}"
    );
    assert_eq!(
        section(&stdout, "Start it"),
        ["  runbook run search/indexer-memory --catalog tests/fixtures/triage"]
    );
    assert_eq!(
        section(&stdout, "Who to call, in escalation order")[0],
        "  1. Search team — owns the indexer"
    );
}

#[test]
fn shared_words_alone_are_a_weak_match() {
    let (code, stdout, stderr) = triage(
        "[billing-worker] consumers lag: backlog of 12000 orders",
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0], "Weak match (no alert pattern or service matched): orders/consumer-lag",
        "{stdout}"
    );
    assert!(
        stdout.contains("  weak match: shares words: backlog, consumer, lag, order\n"),
        "{stdout}"
    );
    // `worker` appears in the refunds runbook's summary: a weaker match, labelled so.
    assert_eq!(
        section(&stdout, "Other matches"),
        [
            "  2. payments/refunds-stuck · Payments — refunds stuck in pending",
            "     weak match: shares words: worker",
        ]
    );
}

#[test]
fn no_match_exits_1_and_names_the_closest_services() {
    let (code, stdout, stderr) = triage("[paymnts] ledger sync timed out", &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with(
            "no match: none of the 4 runbooks in `tests/fixtures/triage` matches this alert"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("the alert names the service `paymnts`, which no runbook lists"),
        "{stderr}"
    );
    assert!(
        stderr.contains("closest services in the catalog: payments-api, "),
        "{stderr}"
    );
    assert!(
        stderr.contains("`runbook list tests/fixtures/triage`"),
        "{stderr}"
    );
}

#[test]
fn json_lists_every_match_with_its_tier_and_command() {
    let (code, stdout, stderr) = triage(
        "[payments-api] refund R1234 stuck in pending\n",
        &["--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["alert"],
        "[payments-api] refund R1234 stuck in pending"
    );
    assert_eq!(json["service"], "payments-api");
    assert_eq!(json["skipped"], Value::Array(Vec::new()));
    let matches = json["matches"].as_array().unwrap();
    let ranked: Vec<(&str, &str)> = matches
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["tier"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ranked[..2],
        [
            ("payments/refunds-stuck", "regex"),
            ("payments/charge-errors", "service"),
        ]
    );
    let best = &matches[0];
    assert_eq!(best["title"], "Payments — refunds stuck in pending");
    assert!(
        best["file"]
            .as_str()
            .unwrap()
            .ends_with("payments/refunds-stuck.yaml")
    );
    assert!(
        best["reason"]
            .as_str()
            .unwrap()
            .starts_with(r"alert pattern `^\[payments-api\] refund (?P<refund>")
    );
    assert_eq!(best.get("score"), None, "only words have a score");
    assert_eq!(best["contacts"][0]["name"], "Payments on-call");
    assert_eq!(best["contacts"][0]["phone"], "+33 1 00 00 00 10");
    assert_eq!(best["contacts"][1]["email"], "finops@example.com");
    assert_eq!(
        best["links"][0],
        serde_json::json!({ "name": "Refund", "url": "https://admin.example.com/refunds/R1234" })
    );
    assert_eq!(
        best["command"],
        "runbook run payments/refunds-stuck --catalog tests/fixtures/triage --set refund=R1234"
    );
    assert_eq!(best["lint_errors"], 0);
    let weak = matches.iter().find(|m| m["tier"] == "words");
    if let Some(weak) = weak {
        assert!(weak["score"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn json_without_a_match_has_no_matches_and_exits_1() {
    let (code, stdout, _) = triage("[paymnts] ledger sync timed out", &["--format", "json"]);
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["matches"], Value::Array(Vec::new()));
    assert_eq!(json["service"], "paymnts");
}

#[test]
fn an_empty_alert_is_an_invalid_invocation() {
    for alert in ["", "  \n"] {
        let (code, stdout, stderr) = triage(alert, &[]);
        assert_eq!(code, 2, "{alert:?}");
        assert_eq!(stdout, "");
        assert!(
            stderr.contains("for `ALERT TEXT`: the alert text is empty"),
            "{stderr}"
        );
    }
}

#[test]
fn a_missing_catalog_is_an_invalid_invocation() {
    let (code, _, stderr) = output(runbook().args(["triage", "[x] y", "no/such/folder"]));
    assert_eq!(code, 2);
    assert_eq!(stderr, "error: `no/such/folder` does not exist\n");
}

#[test]
fn a_broken_runbook_is_skipped_and_the_others_still_match() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("runbooks");
    std::fs::create_dir_all(catalog.join("payments")).unwrap();
    std::fs::copy(
        fixture("triage/payments/refunds-stuck.yaml"),
        catalog.join("payments/refunds-stuck.yaml"),
    )
    .unwrap();
    std::fs::write(
        catalog.join("payments/broken.yaml"),
        "runbook: 1\ntitle: Half written\nowner: x\nreviewed: 2026-11-01\nscope:\n  services: [payments-api]\n  alert: ['^\\[payments-api\\] refund']\nsteps: []\n",
    )
    .unwrap();
    // Run where `runbooks/` is the default catalog: the command needs no `--catalog`.
    let (code, stdout, stderr) = output(
        runbook_in(dir.path()).args(["triage", "[payments-api] refund R9 stuck in pending"]),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Best match: payments/refunds-stuck\n"),
        "{stdout}"
    );
    assert_eq!(
        section(&stdout, "Start it"),
        ["  runbook run payments/refunds-stuck --set refund=R9"]
    );
    assert_eq!(
        stderr,
        "warning: skipped runbooks/payments/broken.yaml:7:3: unknown key `alert` in `scope`; did you mean `alerts`?\n"
    );
}

#[test]
fn the_spec_alert_finds_user_sync_push_failures_in_the_examples() {
    let (code, stdout, stderr) = output(runbook().args([
        "triage",
        "[user-sync-service] creating user: POST /api/users: 500",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Best match: user-sync/push-failures\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r"why: alert pattern `^\[user-sync-service\] creating user: POST /api/users: (403|500)` (scope.alerts[0]) matched"),
        "{stdout}"
    );
    assert_eq!(
        section(&stdout, "Start it")[0],
        "  runbook run user-sync/push-failures"
    );
    assert!(
        stdout.contains("  1. SI team — owns user-sync-service\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("https://grafana.example.com/d/user-sync?var-env=prod"),
        "{stdout}"
    );
}

#[test]
fn triage_fixtures_pass_lint_without_warnings() {
    let (code, stdout, stderr) = output(
        runbook_in(&repo())
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["lint", "--deny-warnings", CATALOG]),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_misspelt_service_gets_a_weak_match_and_a_suggestion() {
    let (code, stdout, stderr) = triage("[payments-apii] refund R1 stuck in pending", &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with(
            "Weak match (no alert pattern or service matched): payments/refunds-stuck\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  note: no runbook lists the service `payments-apii` that the alert names; did you mean payments-api?\n"
        ),
        "{stdout}"
    );
}

#[test]
fn a_regex_that_does_not_compile_is_skipped_and_lint_errors_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("triage/payments/refunds-stuck.yaml")).unwrap();
    let text = text.replace(
        "    - '^\\[payments-api\\] refund'\n",
        "    - '^\\[payments-api\\] refund (unclosed'\n",
    );
    assert!(text.contains("(unclosed"), "the fixture changed");
    std::fs::write(dir.path().join("refunds-stuck.yaml"), text).unwrap();
    let (code, stdout, stderr) = output(runbook_in(dir.path()).args([
        "triage",
        "[payments-api] refund R5 stuck in pending",
        ".",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("(scope.alerts[0]) matched\n"),
        "the valid pattern still matches alone: {stdout}"
    );
    assert!(
        stdout.contains(
            "  ⚠ `runbook lint` finds 1 error in it: `runbook run` refuses it until it is fixed"
        ),
        "{stdout}"
    );
}
