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
    let command = json["alerts"][0]["matches"][0]["command"].as_str().unwrap();
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
    // A weak match is a suggestion, not an answer: exit 1, and stderr says why.
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.starts_with("no confident match: no runbook claims this alert"),
        "{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0], "Weak match (no alert pattern or service matched): orders/consumer-lag",
        "{stdout}"
    );
    assert!(
        stdout.contains("  weak match: shares words: backlog, consumer, lag, order\n"),
        "{stdout}"
    );
    // `worker` appears in the refunds runbook's summary: one shared word is chance, not a
    // match.
    assert_eq!(
        section(&stdout, "Other matches"),
        Vec::<&str>::new(),
        "{stdout}"
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
        json["alerts"][0]["alert"]["text"],
        "[payments-api] refund R1234 stuck in pending"
    );
    assert_eq!(json["alerts"][0]["alert"]["source"], "text");
    assert_eq!(json["alerts"][0]["service"], "payments-api");
    assert_eq!(json["skipped"], Value::Array(Vec::new()));
    assert_eq!(
        json["groups"],
        serde_json::json!([{ "runbook": "payments/refunds-stuck", "alerts": [0] }])
    );
    let matches = json["alerts"][0]["matches"].as_array().unwrap();
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
    assert_eq!(json["alerts"][0]["matches"], Value::Array(Vec::new()));
    assert_eq!(json["alerts"][0]["service"], "paymnts");
    assert_eq!(
        json["groups"],
        serde_json::json!([{ "runbook": null, "alerts": [0] }])
    );
}

#[test]
fn an_empty_alert_is_an_invalid_invocation() {
    for alert in ["", "  \n"] {
        let (code, stdout, stderr) = triage(alert, &[]);
        assert_eq!(code, 2, "{alert:?}");
        assert_eq!(stdout, "");
        assert!(
            stderr.contains("for `ALERT`: the alert is empty"),
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
    assert_eq!(code, 1, "{stdout}{stderr}");
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

// ---- Alerts as they arrive: payloads of each source, from a file or stdin, against the
// ---- shipped catalog (`runbooks/`).

/// `tests/fixtures/alerts/NAME`, relative to the repository (where the commands run).
fn payload(name: &str) -> String {
    format!("tests/fixtures/alerts/{name}")
}

/// `runbook triage ARGS…` at the root of the repository, `stdin` piped in.
fn triage_stdin(stdin: &str, args: &[&str]) -> (i32, String, String) {
    output(runbook().arg("triage").args(args).write_stdin(stdin))
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}\n{stdout}"))
}

#[test]
fn an_alertmanager_group_is_triaged_alert_by_alert_and_grouped_by_runbook() {
    let file = payload("alertmanager-mixed.json");
    let (code, stdout, stderr) = output(runbook().args(["triage", &file, "--format", "json"]));
    // The HPA alert has no runbook: the group exits 1, the others are still answered.
    assert_eq!(code, 1, "{stdout}{stderr}");
    let json = json_of(&stdout);
    assert_eq!(
        json["groups"],
        serde_json::json!([
            { "runbook": "kubernetes/pod-crash-looping", "alerts": [0, 2] },
            { "runbook": null, "alerts": [1] },
        ])
    );
    let first = &json["alerts"][0]["matches"][0];
    assert_eq!(first["tier"], "matcher");
    assert_eq!(
        first["matched_labels"],
        serde_json::json!({
            "alertname": "KubePodCrashLooping", "severity": "warning",
            "namespace": "shop", "pod": "cart-7d9f8b6c5-x2x8q", "container": "cart",
        })
    );
    // A group payload: each alert's own labels and start time, with --set/--alerted-at.
    assert_eq!(
        first["command"],
        "runbook run kubernetes/pod-crash-looping --alerted-at 2026-11-21T03:43:00Z \
         --set container=cart --set namespace=shop --set pod=cart-7d9f8b6c5-x2x8q"
    );
    assert_eq!(
        json["alerts"][2]["matches"][0]["command"],
        "runbook run kubernetes/pod-crash-looping --alerted-at 2026-11-21T03:45:30Z \
         --set container=checkout --set namespace=shop --set pod=checkout-5c6d7e8f9-q7w4r"
    );
    assert!(
        stderr.contains(
            "no match: none of the 10 runbooks in `runbooks` matches the alert KubeHpaMaxedOut"
        ),
        "{stderr}"
    );

    let (_, text, _) = output(runbook().args(["triage", &file]));
    assert!(
        text.starts_with(
            "Alert 1 of 3: KubePodCrashLooping (namespace=shop pod=cart-7d9f8b6c5-x2x8q container=cart) · Alertmanager webhook · firing since 2026-11-21T03:43:00Z\n\
             Alert 3 of 3: KubePodCrashLooping (namespace=shop pod=checkout-5c6d7e8f9-q7w4r container=checkout) · Alertmanager webhook · firing since 2026-11-21T03:45:30Z\n\n\
             Best match: kubernetes/pod-crash-looping\n"
        ),
        "{text}"
    );
    assert_eq!(
        section(&text, "Start it"),
        [
            "  # Alert 1 of 3",
            "  runbook run kubernetes/pod-crash-looping --alerted-at 2026-11-21T03:43:00Z --set container=cart --set namespace=shop --set pod=cart-7d9f8b6c5-x2x8q",
            "  # Alert 3 of 3",
            "  runbook run kubernetes/pod-crash-looping --alerted-at 2026-11-21T03:45:30Z --set container=checkout --set namespace=shop --set pod=checkout-5c6d7e8f9-q7w4r",
        ]
    );
    assert!(
        text.contains("Alert 2 of 3: KubeHpaMaxedOut (namespace=shop horizontalpodautoscaler=cart job=kube-state-metrics) · Alertmanager webhook · firing since 2026-11-21T03:40:00Z\n  no runbook answers it\n"),
        "{text}"
    );
}

#[test]
fn a_payload_on_stdin_is_read_with_a_dash_and_without_an_argument() {
    let body =
        std::fs::read_to_string(repo().join(payload("alertmanager-crashlooping.json"))).unwrap();
    for args in [&["-", "--format", "json"][..], &["--format", "json"][..]] {
        let (code, stdout, stderr) = triage_stdin(&body, args);
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
        let json = json_of(&stdout);
        assert_eq!(
            json["groups"],
            serde_json::json!([{ "runbook": "kubernetes/pod-crash-looping", "alerts": [0, 1] }]),
            "{args:?}"
        );
        assert_eq!(json["alerts"][1]["alert"]["source"], "alertmanager");
        assert_eq!(
            json["alerts"][1]["alert"]["labels"]["pod"],
            "checkout-5c6d7e8f9-q7w4r"
        );
    }
    // Plain text on stdin is a text alert.
    let (code, stdout, _) = triage_stdin(
        "[user-sync-service] creating user: POST /api/users: 500\n",
        &["-"],
    );
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("Best match: user-sync/push-failures\n"),
        "{stdout}"
    );
}

#[test]
fn a_payload_file_of_one_alert_prints_the_alert_flag() {
    let file = payload("prometheus-node-filesystem.json");
    let (code, stdout, stderr) = output(runbook().args(["triage", &file]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Alert: NodeFilesystemSpaceFillingUp (instance=10.0.3.21:9100 mountpoint=/var device=/dev/nvme0n1p1) · Prometheus alert · since 2026-11-21T02:10:00Z\n\nBest match: node/filesystem-filling\n"),
        "{stdout}"
    );
    assert_eq!(
        section(&stdout, "Start it"),
        [format!(
            "  runbook run node/filesystem-filling --alert {file}"
        )]
    );
    // The command runs as printed: the labels fill the inputs.
    let (code, dry, stderr) = output(runbook().args([
        "run",
        "node/filesystem-filling",
        "--alert",
        &file,
        "--dry-run",
    ]));
    assert_eq!(code, 0, "{dry}{stderr}");
    assert!(dry.contains("df -h /var"), "{dry}");
    assert!(dry.contains("`10.0.3.21:9100`"), "{dry}");
}

#[test]
fn grafana_pagerduty_and_opsgenie_payloads_find_their_runbooks() {
    for (file, runbook_id, tier, text) in [
        (
            "grafana-crashlooping.json",
            "kubernetes/pod-crash-looping",
            "matcher",
            "Pod is crash looping.",
        ),
        (
            "pagerduty-incident.json",
            "web-front/saturated-backends",
            "regex",
            "[web-front] HAProxy backend web/web-2 is DOWN",
        ),
        (
            "opsgenie-create.json",
            "kubernetes/pod-crash-looping",
            "matcher",
            "[FIRING:1] KubePodCrashLooping (cart shop warning)",
        ),
    ] {
        let path = payload(file);
        let (code, stdout, stderr) = output(runbook().args(["triage", &path, "--format", "json"]));
        assert_eq!(code, 0, "{file}: {stdout}{stderr}");
        let json = json_of(&stdout);
        let alert = &json["alerts"][0];
        assert_eq!(alert["alert"]["text"], text, "{file}");
        assert_eq!(alert["matches"][0]["id"], runbook_id, "{file}");
        assert_eq!(alert["matches"][0]["tier"], tier, "{file}");
        // One alert from a file: `--alert FILE` carries it.
        assert!(
            alert["matches"][0]["command"]
                .as_str()
                .unwrap()
                .contains(&format!("--alert {path}")),
            "{file}: {}",
            alert["matches"][0]["command"]
        );
    }
    let (_, stdout, _) = output(runbook().args([
        "triage",
        &payload("opsgenie-create.json"),
        "--format",
        "json",
    ]));
    let alert = &json_of(&stdout)["alerts"][0]["alert"];
    assert_eq!(alert["source"], "opsgenie");
    assert_eq!(alert["labels"]["severity"], "warning", "a `key:value` tag");
    assert_eq!(alert["labels"]["pod"], "cart-7d9f8b6c5-x2x8q", "a detail");
    assert_eq!(alert["starts_at"], "2026-11-21T03:43:00Z");
    let (_, stdout, _) = output(runbook().args([
        "triage",
        &payload("pagerduty-incident.json"),
        "--format",
        "json",
    ]));
    let alert = &json_of(&stdout)["alerts"][0]["alert"];
    assert_eq!(alert["source"], "pagerduty");
    assert_eq!(alert["labels"]["service"], "web-front");
    assert_eq!(alert["starts_at"], "2026-11-21T03:48:12Z");
    assert_eq!(
        alert["generator_url"],
        "https://acme.pagerduty.com/incidents/Q2K4HWCQ8A5L1T"
    );
}

#[test]
fn a_malformed_payload_names_its_format_and_what_is_wrong() {
    for (input, expected) in [
        (
            payload("alertmanager-bad-labels.json"),
            "error: invalid value `tests/fixtures/alerts/alertmanager-bad-labels.json` for `ALERT`: Alertmanager webhook: `alerts[0].labels` is a list, not an object of names and values\n",
        ),
        (
            payload("pagerduty-no-title.json"),
            "error: invalid value `tests/fixtures/alerts/pagerduty-no-title.json` for `ALERT`: PagerDuty V3 webhook: `event.data.title` is missing or empty: the incident has no title\n",
        ),
    ] {
        let (code, stdout, stderr) = output(runbook().args(["triage", &input]));
        assert_eq!((code, stdout.as_str()), (2, ""), "{input}");
        assert_eq!(stderr, expected);
    }
    for (stdin, expected) in [
        (
            r#"{"alerts": {"labels": {}}}"#,
            "Alertmanager webhook: `alerts` is an object, not a list",
        ),
        (
            r#"{"labels": {"alertname": "X"}, "startsAt": "yesterday"}"#,
            "Prometheus alert: `startsAt` is `yesterday`, not an RFC 3339 time",
        ),
        (
            r#"{"action": "Create", "alert": {"message": "m", "createdAt": "now"}}"#,
            "Opsgenie webhook: `alert.createdAt` is text, not a time in epoch milliseconds",
        ),
        (
            r#"{"status": "firing"#,
            "JSON: the alert starts with `{` but is not valid JSON",
        ),
        (
            r#"{"foo": 1}"#,
            "JSON: a JSON object with the keys `foo` is none of the payloads",
        ),
    ] {
        let (code, _, stderr) = triage_stdin(stdin, &["-"]);
        assert_eq!(code, 2, "{stdin}");
        assert!(
            stderr.starts_with(&format!("error: invalid value `-` for `ALERT`: {expected}")),
            "{stdin}: {stderr}"
        );
    }
}

#[test]
fn a_firing_subject_and_alert_boilerplate_do_not_mislead_triage() {
    let (code, stdout, stderr) = output(runbook().args([
        "triage",
        "[FIRING:1] KubePodCrashLooping (shop cart-7d9f8b6c5-x2x8q cart warning)",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Best match: kubernetes/pod-crash-looping\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("FIRING:1`"),
        "not taken as a service: {stdout}"
    );
    for alert in [
        "[FIRING:1] KubeJobFailed (batch nightly-report) Job batch/nightly-report failed to complete. Removing failed job after investigation should clear this alert.",
        "nothing-matches-this",
    ] {
        let (code, stdout, stderr) = output(runbook().args(["triage", alert]));
        assert_eq!((code, stdout.as_str()), (1, ""), "{alert}: {stderr}");
        assert!(stderr.starts_with("no match: "), "{stderr}");
    }
}

#[test]
fn a_runbook_url_pointing_at_a_step_ranks_that_runbook_first() {
    let body = r#"{"labels": {"alertname": "SomethingElse", "severity": "page"},
        "annotations": {"summary": "Queue consumers lag", "runbook_url": "https://runbooks.example.com/web-front/saturated-backends.html#step-drain"},
        "startsAt": "2026-11-21T03:00:00Z"}"#;
    let (code, stdout, stderr) = triage_stdin(body, &["-", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let best = &json_of(&stdout)["alerts"][0]["matches"][0];
    assert_eq!(best["id"], "web-front/saturated-backends");
    assert_eq!(best["tier"], "runbook_url");
    assert_eq!(best["step"], "drain");
    assert_eq!(
        best["command"],
        "runbook run web-front/saturated-backends --alerted-at 2026-11-21T03:00:00Z"
    );
}

#[test]
fn an_empty_stdin_is_an_invalid_invocation() {
    // An empty stdin is an empty alert: exit 2, not a hang.
    let (code, _, stderr) = output(runbook().arg("triage").write_stdin(""));
    assert_eq!(code, 2);
    assert!(stderr.contains("the alert is empty"), "{stderr}");
}

// ---- `runbook run --alert`: the alert's labels fill inputs, its start is the alert time,
// ---- templates see it, and the timeline and the postmortem keep it.

#[test]
fn run_with_an_alert_fills_inputs_templates_the_timeline_and_the_postmortem() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = dir.path().join("t.jsonl");
    let (code, stdout, stderr) = output(
        runbook_in(dir.path())
            .arg("run")
            .arg(fixture("alerts/runbooks/pod-echo.yaml"))
            .arg("--alert")
            .arg(fixture("alerts/alertmanager-crashlooping.json"))
            .arg("--timeline")
            .arg(&timeline)
            .arg("--yes"),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The dashboard's time range starts at the alert (`alert.starts_at_ms`).
    assert!(
        stdout.contains(
            "Pod dashboard: https://grafana.example.com/d/pod?var-pod=cart-7d9f8b6c5-x2x8q&from=1795232580000"
        ),
        "{stdout}"
    );
    // The header says which alert, from which source, since when; a group gives its first.
    for line in [
        "  KubePodCrashLooping (namespace=shop pod=cart-7d9f8b6c5-x2x8q container=cart) · Alertmanager webhook",
        "  Pod is crash looping.",
        "  firing since 2026-11-21T03:43:00Z",
        "  the payload holds 2 alerts: this run answers the first",
    ] {
        assert!(
            stdout.contains(&format!("{line}\n")),
            "{line:?} in\n{stdout}"
        );
    }
    // Labels became inputs; `alert.*` rendered, a missing label as empty text.
    assert!(
        stdout.contains("shop/cart-7d9f8b6c5-x2x8q at 1795232580000 in cart missing=."),
        "{stdout}"
    );
    assert!(
        stdout.contains("The alert says: Pod is crash looping."),
        "{stdout}"
    );

    let text = std::fs::read_to_string(&timeline).unwrap();
    let started: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(started["event"], "run_started");
    assert_eq!(started["alerted_at"], "2026-11-21T03:43:00Z");
    assert_eq!(started["inputs"]["pod"], "cart-7d9f8b6c5-x2x8q");
    assert_eq!(started["alert"]["labels"]["container"], "cart");
    assert_eq!(
        started["alert"]["annotations"]["summary"],
        "Pod is crash looping."
    );
    assert_eq!(started["alert"]["starts_at"], "2026-11-21T03:43:00Z");
    assert_eq!(started["alert"]["source"], "alertmanager");

    let (code, md, stderr) = output(
        runbook_in(dir.path())
            .args(["timeline", "--format", "md"])
            .arg(&timeline),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(md.contains("| Alerted | 2026-11-21 03:43:00 UTC |"), "{md}");
    let tta = md
        .lines()
        .find(|l| l.starts_with("| Time to acknowledge |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(tta.ends_with("(alert → run started) |"), "{tta}");
    assert!(md.contains("## Alert\n"), "{md}");
    assert!(
        md.contains("| Alert | KubePodCrashLooping (namespace=shop pod=cart-7d9f8b6c5-x2x8q container=cart) (Alertmanager webhook) |"),
        "{md}"
    );
    assert!(
        md.contains("| Firing since | 2026-11-21 03:43:00 UTC |"),
        "{md}"
    );
    assert!(md.contains("`pod=cart-7d9f8b6c5-x2x8q`"), "{md}");
}

#[test]
fn without_an_alert_the_alert_names_are_empty_and_set_wins_over_a_label() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        runbook_in(dir.path())
            .arg("run")
            .arg(fixture("alerts/runbooks/pod-echo.yaml"))
            .args(["--set", "namespace=ops", "--set", "pod=api-1", "--yes"])
            .arg("--timeline")
            .arg(dir.path().join("t.jsonl")),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ops/api-1 at  in  missing=."), "{stdout}");

    // With an alert from stdin, `--set` still has the last word.
    let body = std::fs::read_to_string(fixture("alerts/prometheus-node-filesystem.json")).unwrap();
    let (code, stdout, stderr) = output(
        runbook_in(dir.path())
            .args([
                "run",
                "--dry-run",
                "--alert",
                "-",
                "--set",
                "mountpoint=/srv",
            ])
            .arg(repo().join("runbooks/node/filesystem-filling.yaml"))
            .write_stdin(body),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("df -h /srv"), "{stdout}");
    assert!(stdout.contains("10.0.3.21:9100"), "{stdout}");
}

#[test]
fn lint_knows_the_alert_names() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("alerts/runbooks/pod-echo.yaml"))
        .unwrap()
        .replace("{{ alert.text }}", "{{ alert.txt }}")
        .replace("{{ alert.labels.nope }}", "{{ alert.starts_at.day }}");
    std::fs::write(dir.path().join("pod-echo.yaml"), text).unwrap();
    let (code, stdout, _) = output(runbook_in(dir.path()).args(["lint", "."]));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("`alert.txt` is not defined; use one of `alert.text`, `alert.labels`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`alert.starts_at` is text: it has no `day`"),
        "{stdout}"
    );
    let (code, stdout, stderr) = output(
        runbook_in(&repo())
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["lint", "--deny-warnings", "tests/fixtures/alerts/runbooks"]),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn an_empty_matcher_and_a_bad_label_name_are_lint_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("alerts/runbooks/pod-echo.yaml"))
        .unwrap()
        .replace(
            "    - alertname: KubePodCrashLooping\n",
            "    - labels: {}\n",
        )
        .replace("label: pod }", "label: pod-name }");
    std::fs::write(dir.path().join("pod-echo.yaml"), text).unwrap();
    let (code, stdout, _) = output(runbook_in(dir.path()).args(["lint", "."]));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("this alert matcher has no condition"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`pod-name` is not an alert label name"),
        "{stdout}"
    );
}

#[test]
fn resume_brings_the_alert_back() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = dir.path().join("t.jsonl");
    // No terminal and no `--yes`: the manual step pauses the run (exit 3).
    let (code, stdout, stderr) = output(
        runbook_in(dir.path())
            .arg("run")
            .arg(fixture("alerts/runbooks/pod-echo.yaml"))
            .arg("--alert")
            .arg(fixture("alerts/alertmanager-crashlooping.json"))
            .arg("--timeline")
            .arg(&timeline),
    );
    assert_eq!(code, 3, "{stdout}{stderr}");
    let (code, stdout, stderr) = output(
        runbook_in(dir.path())
            .args(["run", "--yes", "--resume"])
            .arg(&timeline),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("  KubePodCrashLooping (namespace=shop pod=cart-7d9f8b6c5-x2x8q container=cart) · Alertmanager webhook\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Tell the owners of shop that cart-7d9f8b6c5-x2x8q crashes."),
        "{stdout}"
    );
}

// ---- The parse cache (catalogs of 100 runbooks and more) ----

/// A catalog of `n` runbooks under `dir/runbooks`, one per service `svc-NNN`, each answering
/// the alert `[svc-NNN] error rate above N%`.
fn large_catalog(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let catalog = dir.join("runbooks");
    for i in 0..n {
        let folder = catalog.join(format!("team-{:02}", i % 10));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(format!("svc-{i:03}.yaml")),
            service_runbook(i, ""),
        )
        .unwrap();
    }
    catalog
}

fn service_runbook(i: usize, title_suffix: &str) -> String {
    format!(
        "runbook: 1\ntitle: Service svc-{i:03} error rate high{title_suffix}\nowner: team-{t}\n\
         reviewed: 2026-11-20\nscope:\n  services: [svc-{i:03}]\n  alerts:\n    - '^\\[svc-{i:03}\\] error rate above'\n\
         contacts:\n  - name: Team {t}\n    chat: \"#team-{t}\"\n\
         steps:\n  - id: look\n    name: Look at the errors\n    instructions: Open the dashboard.\n",
        t = i % 10
    )
}

/// A folder with a catalog of `n` runbooks, and an empty cache folder.
fn with_cache(n: usize) -> (tempfile::TempDir, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let catalog = large_catalog(dir.path(), n);
    (dir, cache, catalog)
}

/// `runbook triage ALERT runbooks` in `dir`, with its cache under `cache`.
fn triage_cached(dir: &std::path::Path, cache: &std::path::Path, alert: &str) -> (i32, String) {
    let (code, stdout, stderr) = output(
        runbook_in(dir)
            .env("XDG_CACHE_HOME", cache)
            .env_remove("RUNBOOK_CACHE")
            .args(["triage", alert, "runbooks"]),
    );
    (code, format!("{stdout}{stderr}"))
}

/// The one cache file under `cache`.
fn cache_file(cache: &std::path::Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(cache.join("runbook"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn the_parse_cache_changes_no_answer_and_is_never_stale() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, cache, catalog) = with_cache(120);
    let alert = "[svc-007] error rate above 5%";
    let (code, uncached, _) = output(
        runbook_in(dir.path())
            .env("RUNBOOK_CACHE", "off")
            .env("XDG_CACHE_HOME", cache.path())
            .args(["triage", alert, "runbooks"]),
    );
    assert_eq!(code, 0, "{uncached}");
    assert!(
        uncached.contains("Service svc-007 error rate high"),
        "{uncached}"
    );
    assert!(
        !cache.path().join("runbook").exists(),
        "RUNBOOK_CACHE=off writes nothing"
    );

    // Written on the first run, read on the second: the same answer both times.
    let first = triage_cached(dir.path(), cache.path(), alert);
    let file = cache_file(cache.path());
    let written = std::fs::metadata(&file).unwrap();
    assert_eq!(written.permissions().mode() & 0o777, 0o600);
    let folder = std::fs::metadata(cache.path().join("runbook")).unwrap();
    assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    let second = triage_cached(dir.path(), cache.path(), alert);
    assert_eq!(first, (0, uncached.clone()));
    assert_eq!(second, first);
    // Every runbook came from the cache: it was not rewritten.
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        written.modified().unwrap()
    );

    // An edit is seen at once, whatever the file's size or time says.
    let edited = catalog.join("team-07/svc-007.yaml");
    std::fs::write(&edited, service_runbook(7, " (edited)")).unwrap();
    let (code, out) = triage_cached(dir.path(), cache.path(), alert);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Service svc-007 error rate high (edited)"),
        "{out}"
    );

    // A runbook that stops loading is skipped with its mistake, cache or not.
    std::fs::write(
        catalog.join("team-03/svc-013.yaml"),
        "runbook: 1\ntitle: [broken\n",
    )
    .unwrap();
    let (code, out) = triage_cached(dir.path(), cache.path(), "[svc-013] error rate above 5%");
    let (_, fresh, fresh_err) = output(runbook_in(dir.path()).env("RUNBOOK_CACHE", "off").args([
        "triage",
        "[svc-013] error rate above 5%",
        "runbooks",
    ]));
    assert_eq!(out, format!("{fresh}{fresh_err}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("svc-013.yaml"), "{out}");

    // A damaged cache is parsed around, and replaced.
    std::fs::write(&edited, service_runbook(7, "")).unwrap();
    std::fs::write(
        catalog.join("team-03/svc-013.yaml"),
        service_runbook(13, ""),
    )
    .unwrap();
    std::fs::write(&file, b"runbook parse cache 1\ngarbage").unwrap();
    assert_eq!(triage_cached(dir.path(), cache.path(), alert), first);
    assert!(
        std::fs::read(&file).unwrap().len() > 1000,
        "rewritten whole"
    );
}

#[test]
fn a_small_catalog_is_parsed_without_a_cache() {
    let (dir, cache, _) = with_cache(99);
    let (code, out) = triage_cached(dir.path(), cache.path(), "[svc-007] error rate above 5%");
    assert_eq!(code, 0, "{out}");
    assert!(!cache.path().join("runbook").exists());
}

/// An attack on the cache: an entry that says a runbook's exact text parses to something
/// else. Trusted when only this user could have written it (the forgery below is real);
/// ignored when the folder or the file is one another user could have written.
#[test]
fn a_cache_another_user_could_have_written_is_not_read() {
    use sha2::{Digest as _, Sha256};
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, cache, catalog) = with_cache(110);
    let alert = "[svc-042] error rate above 5%";
    let target = catalog.join("team-02/svc-042.yaml");
    let real = service_runbook(42, "");
    let forged = service_runbook(42, " FORGED");
    std::fs::write(&target, &forged).unwrap();
    triage_cached(dir.path(), cache.path(), alert);
    std::fs::write(&target, &real).unwrap();
    // The forged parse, filed under the real text's key.
    let file = cache_file(cache.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let forged_key: [u8; 32] = Sha256::digest(forged.as_bytes()).into();
    let real_key: [u8; 32] = Sha256::digest(real.as_bytes()).into();
    let at = bytes
        .windows(32)
        .position(|w| w == forged_key)
        .expect("the forged entry is in the cache");
    bytes[at..at + 32].copy_from_slice(&real_key);
    let plant = |bytes: &[u8]| {
        std::fs::write(&file, bytes).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };

    plant(&bytes);
    let (_, out) = triage_cached(dir.path(), cache.path(), alert);
    assert!(
        out.contains("FORGED"),
        "the forgery works on a trusted cache: {out}"
    );

    plant(&bytes);
    let folder = cache.path().join("runbook");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (_, out) = triage_cached(dir.path(), cache.path(), alert);
    assert!(!out.contains("FORGED"), "a folder anyone may write: {out}");
    assert!(out.contains("Service svc-042 error rate high"), "{out}");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();

    plant(&bytes);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (_, out) = triage_cached(dir.path(), cache.path(), alert);
    assert!(!out.contains("FORGED"), "a file anyone may write: {out}");

    plant(&bytes);
    let base = cache.path();
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (_, out) = triage_cached(dir.path(), cache.path(), alert);
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(
        !out.contains("FORGED"),
        "a parent anyone may write (to swap the folder): {out}"
    );
}

#[test]
fn an_entry_that_does_not_decode_is_parsed_again_and_replaced() {
    use sha2::{Digest as _, Sha256};
    let (dir, cache, _) = with_cache(100);
    let alert = "[svc-042] error rate above 5%";
    let (_, before) = triage_cached(dir.path(), cache.path(), alert);
    let file = cache_file(cache.path());
    let good = std::fs::read(&file).unwrap();
    let key: [u8; 32] = Sha256::digest(service_runbook(42, "").as_bytes()).into();
    let at = good
        .windows(32)
        .position(|w| w == key)
        .expect("svc-042 is cached")
        + 36;
    let mut damaged = good.clone();
    damaged[at..at + 8].copy_from_slice(b"\xc1\xc1\xc1\xc1\xc1\xc1\xc1\xc1");
    std::fs::write(&file, &damaged).unwrap();
    let (_, after) = triage_cached(dir.path(), cache.path(), alert);
    assert_eq!(after, before);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        good,
        "the entry is written again"
    );
}
