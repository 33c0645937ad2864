//! Triage accuracy against the shipped catalog (`runbooks/`): realistic alerts — texts and
//! payloads of the kube-prometheus, node-exporter and GitLab alerts, and alerts that no
//! runbook answers — each with the runbook that must rank first, or none. An answered alert
//! must exit 0 with that runbook first, claimed by a strong tier (runbook_url, matcher,
//! regex, service); an unanswered one must exit 1 (no match, or only weak matches).
//!
//! `cargo test --test triage_accuracy -- --nocapture` prints the table.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An alert as it is given to triage: the argument (text or a payload file), or stdin.
enum Input {
    Text(&'static str),
    File(&'static str),
    Stdin(&'static str),
}

/// One alert of the table: where it comes from, its input, which alert of a group it is,
/// and the runbook that must come first (None: no runbook answers it).
struct Case {
    family: &'static str,
    input: Input,
    index: usize,
    expected: Option<&'static str>,
}

const fn case(
    family: &'static str,
    input: Input,
    index: usize,
    expected: Option<&'static str>,
) -> Case {
    Case {
        family,
        input,
        index,
        expected,
    }
}

const CRASH: Option<&str> = Some("kubernetes/pod-crash-looping");
const DISK: Option<&str> = Some("node/filesystem-filling");
const REPLICAS: Option<&str> = Some("kubernetes/deployment-replicas-mismatch");

fn cases() -> Vec<Case> {
    use Input::*;
    vec![
        case(
            "kube-prometheus",
            File("alertmanager-crashlooping.json"),
            0,
            CRASH,
        ),
        case(
            "kube-prometheus",
            File("alertmanager-crashlooping.json"),
            1,
            CRASH,
        ),
        case("kube-prometheus", File("alertmanager-mixed.json"), 0, CRASH),
        case("kube-prometheus", File("alertmanager-mixed.json"), 1, None),
        case("kube-prometheus", File("alertmanager-mixed.json"), 2, CRASH),
        case(
            "kube-prometheus",
            File("grafana-crashlooping.json"),
            0,
            CRASH,
        ),
        case("kube-prometheus", File("opsgenie-create.json"), 0, CRASH),
        case(
            "kube-prometheus",
            Text("[FIRING:1] KubePodCrashLooping (shop cart-7d9f8b6c5-x2x8q cart warning)"),
            0,
            CRASH,
        ),
        case(
            "kube-prometheus",
            Text(
                r#"Pod shop/cart-7d9f8b6c5-x2x8q (cart) is in waiting state (reason: "CrashLoopBackOff")."#,
            ),
            0,
            CRASH,
        ),
        case(
            "kube-prometheus",
            Text(
                "[FIRING:1] KubePodNotReady (shop cart-7d9f8b6c5-x2x8q) Pod shop/cart-7d9f8b6c5-x2x8q has been in a non-ready state for longer than 15 minutes.",
            ),
            0,
            None,
        ),
        case(
            "kube-prometheus",
            Text(
                "[FIRING:1] KubeJobFailed (batch nightly-report) Job batch/nightly-report failed to complete. Removing failed job after investigation should clear this alert.",
            ),
            0,
            None,
        ),
        case(
            "kube-prometheus",
            Stdin(
                r#"{"labels": {"alertname": "Watchdog", "prometheus": "monitoring/k8s", "severity": "none"}, "annotations": {"description": "This is an alert meant to ensure that the entire alerting pipeline is functional. This alert is always firing.", "summary": "An alert that should always be firing to certify that Alertmanager is working properly."}, "startsAt": "2026-11-20T00:00:00Z"}"#,
            ),
            0,
            None,
        ),
        case(
            "kube-prometheus",
            Stdin(
                r#"{"labels": {"alertname": "KubeDeploymentReplicasMismatch", "container": "kube-rbac-proxy-main", "deployment": "cart", "job": "kube-state-metrics", "namespace": "shop", "prometheus": "monitoring/k8s", "severity": "warning"}, "annotations": {"description": "Deployment shop/cart has not matched the expected number of replicas for longer than 15 minutes.", "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubedeploymentreplicasmismatch", "summary": "Deployment has not matched the expected number of replicas."}, "startsAt": "2026-11-21T03:40:00Z"}"#,
            ),
            0,
            REPLICAS,
        ),
        case(
            "kube-prometheus",
            Text(
                "Deployment shop/cart has not matched the expected number of replicas for longer than 15 minutes.",
            ),
            0,
            REPLICAS,
        ),
        case(
            "GitLab",
            Stdin(
                r#"{"labels": {"alertname": "PatroniLongRunningTransactionDetected", "env": "gprd", "environment": "gprd", "fqdn": "patroni-main-v14-102-db-gprd.c.gitlab-production.internal", "severity": "s4", "stage": "main", "tier": "db", "type": "patroni"}, "annotations": {"title": "Transactions detected that have been running on `patroni-main-v14-102-db-gprd` for more than 9m", "description": "Long-running transactions hold back the xmin horizon and block vacuum.", "runbook": "docs/patroni/alerts/PatroniLongRunningTransactionDetected.md"}, "startsAt": "2026-11-21T04:12:00Z"}"#,
            ),
            0,
            Some("patroni/long-running-transactions"),
        ),
        case(
            "node-exporter",
            File("prometheus-node-filesystem.json"),
            0,
            DISK,
        ),
        case(
            "node-exporter",
            Stdin(
                r#"{"labels": {"alertname": "NodeFilesystemAlmostOutOfSpace", "device": "/dev/sda1", "fstype": "ext4", "instance": "10.0.3.22:9100", "job": "node-exporter", "mountpoint": "/", "severity": "critical"}, "annotations": {"description": "Filesystem on /dev/sda1, mounted on /, at 10.0.3.22:9100 has only 2.91% available space left.", "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemalmostoutofspace", "summary": "Filesystem has less than 3% space left."}, "startsAt": "2026-11-21T04:01:00Z"}"#,
            ),
            0,
            DISK,
        ),
        case(
            "node-exporter",
            Text("[FIRING:2] NodeFilesystemAlmostOutOfSpace (10.0.3.21:9100 /var)"),
            0,
            DISK,
        ),
        case(
            "node-exporter",
            Text(
                "Filesystem on /dev/sda1, mounted on /var, at 10.0.3.21:9100 has only 3.20% available space left.",
            ),
            0,
            DISK,
        ),
        case(
            "node-exporter",
            Text(
                "Filesystem on /dev/sdb1, mounted on /data, at 10.0.3.22:9100 has only 2.10% available inodes left.",
            ),
            0,
            DISK,
        ),
        case(
            "node-exporter",
            Stdin(
                r#"{"version": "4", "groupKey": "{}:{alertname=\"NodeClockNotSynchronising\"}", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "NodeClockNotSynchronising", "instance": "10.0.3.21:9100", "job": "node-exporter", "severity": "warning"}, "annotations": {"description": "Clock at 10.0.3.21:9100 is not synchronising. Ensure NTP is configured on this host.", "summary": "Clock not synchronising."}, "startsAt": "2026-11-21T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}"#,
            ),
            0,
            None,
        ),
        case(
            "node-exporter",
            Text(
                "[FIRING:1] NodeHighNumberConntrackEntriesUsed (10.0.3.21:9100) 91% of conntrack entries are used.",
            ),
            0,
            None,
        ),
        case(
            "catalog",
            File("pagerduty-incident.json"),
            0,
            Some("web-front/saturated-backends"),
        ),
        case(
            "catalog",
            Text("[web-front] p99 latency above 900 ms"),
            0,
            Some("web-front/saturated-backends"),
        ),
        case(
            "catalog",
            Text("[user-sync-service] creating user: POST /api/users: 500"),
            0,
            Some("user-sync/push-failures"),
        ),
        case(
            "catalog",
            Stdin(
                r#"{"action": "Create", "alert": {"alertId": "c1", "message": "[user-sync-service] creating user: POST /api/users: 403", "tags": ["team:si"], "createdAt": 1795232580000, "priority": "P3", "details": {}}, "source": {"name": "", "type": "API"}}"#,
            ),
            0,
            Some("user-sync/push-failures"),
        ),
        case(
            "GitLab",
            Stdin(
                r#"{"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "GitLab webservice not available", "namespace": "gitlab", "severity": "critical"}, "annotations": {"message": "GitLab webservice in namespace gitlab has not been available for the last 5 minutes.", "summary": "GitLab webservice down (no ready pod)"}, "startsAt": "2026-11-21T03:30:00Z"}]}"#,
            ),
            0,
            None,
        ),
        case(
            "GitLab",
            Text("[FIRING:1] RedisDown (gitlab 10.0.4.2:9121) Redis is down"),
            0,
            None,
        ),
        case("GitLab", Text("Runners cache is down"), 0, None),
        case("GitLab", Text("PostgreSQL is down"), 0, None),
        case(
            "GitLab",
            Text("Runners cache free disk space is less than 20%"),
            0,
            None,
        ),
        case("none", Text("nothing-matches-this"), 0, None),
    ]
}

/// Runs triage on one input: (exit code, the JSON of its alerts).
fn triage(input: &Input) -> (i32, Vec<Value>) {
    let mut command = Command::cargo_bin("runbook").expect("the binary is built");
    command
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_CATALOG")
        .arg("triage");
    match input {
        Input::Text(text) => command.arg(text),
        Input::File(name) => command.arg(format!("tests/fixtures/alerts/{name}")),
        Input::Stdin(body) => command.arg("-").write_stdin(*body),
    };
    let output = command
        .args(["runbooks", "--format", "json"])
        .output()
        .expect("runbook runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code().unwrap_or(-1),
        json["alerts"].as_array().cloned().unwrap_or_default(),
    )
}

#[test]
fn triage_ranks_the_right_runbook_first_and_exits_1_when_none_answers() {
    let cases = cases();
    let mut rows = Vec::new();
    let mut wrong = Vec::new();
    let (mut answered, mut answered_right, mut unanswered, mut unanswered_right) = (0, 0, 0, 0);
    for case in &cases {
        let (code, alerts) = triage(&case.input);
        let alert = &alerts[case.index];
        let best = alert["matches"].get(0);
        let got = best.and_then(|m| m["id"].as_str());
        let tier = best.and_then(|m| m["tier"].as_str()).unwrap_or("—");
        let strong = best.is_some_and(|m| m["tier"] != "words");
        // Exit 1 means some alert of the input has no confident runbook; per alert, that is
        // no match or a words match only.
        let right = match case.expected {
            Some(expected) => {
                answered += 1;
                got == Some(expected) && strong
            }
            None => {
                unanswered += 1;
                code == 1 && !strong
            }
        };
        if right {
            if case.expected.is_some() {
                answered_right += 1;
            } else {
                unanswered_right += 1;
            }
        }
        let source = alert["alert"]["source"].as_str().unwrap_or("?");
        let name = alert["alert"]["labels"]["alertname"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                let text = alert["alert"]["text"].as_str().unwrap_or_default();
                text.chars().take(48).collect()
            });
        let row = format!(
            "| {} | {source} | {name} | {} | {} ({tier}) | {code} | {} |",
            case.family,
            case.expected.unwrap_or("none (exit 1)"),
            got.unwrap_or("—"),
            if right { "✔" } else { "✘" }
        );
        if !right {
            wrong.push(row.clone());
        }
        rows.push(row);
    }
    println!("| family | source | alert | expected | first (tier) | exit | ok |");
    println!("|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }
    println!(
        "\n{answered_right}/{answered} answered alerts rank the right runbook first; \
         {unanswered_right}/{unanswered} alerts no runbook answers exit 1"
    );
    assert!(cases.len() >= 20);
    assert!(wrong.is_empty(), "wrong:\n{}", wrong.join("\n"));
}
