//! The shipped example runbooks, each run as shipped in a healthy and in a failing lab: a check
//! must fail when what it checks is false. The tools they call (`kubectl`, `df`) are fakes
//! first on PATH (tests/support/fakes.rs); the IAM API is a local HTTP server. The HAProxy
//! example runs against a real HAProxy in tests/lb_incident.rs.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::fakes::FakeTools;
use support::http::{Route, Server};

/// `runbooks/ID.yaml` of this repository.
fn example(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("runbooks/{id}.yaml"))
}

/// What a run left behind.
struct Run {
    code: Option<i32>,
    events: Vec<Value>,
    /// stdout and stderr, for failure messages.
    screen: String,
}

impl Run {
    /// The outcomes of `step` in the timeline's `step_finished` events, in order.
    fn outcomes(&self, step: &str) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| e["event"] == "step_finished" && e["step"] == step)
            .map(|e| e["outcome"].as_str().unwrap())
            .collect()
    }

    /// Whether `step` was started at all.
    fn started(&self, step: &str) -> bool {
        self.events
            .iter()
            .any(|e| e["event"] == "step_started" && e["step"] == step)
    }

    /// The `outcome` of `run_finished`.
    fn finished(&self) -> &str {
        let last = self.events.last().expect("a timeline");
        assert_eq!(last["event"], "run_finished", "{}", self.screen);
        last["outcome"].as_str().unwrap()
    }

    /// The stdout of the `command` events of `step`.
    fn stdout(&self, step: &str) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| e["event"] == "command" && e["step"] == step)
            .map(|e| e["stdout"].as_str().unwrap_or_default())
            .collect()
    }
}

/// `runbook run runbooks/ID.yaml --yes ARGS…` without a terminal, with `fakes` first on PATH,
/// in a folder of its own.
fn run(id: &str, fakes: &FakeTools, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let timeline = dir.path().join("timeline.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("run")
        .arg(example(id))
        .arg("--timeline")
        .arg(&timeline)
        .arg("--yes")
        .args(args)
        .current_dir(dir.path())
        .env("PATH", fakes.path())
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_CATALOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = format!(
        "── stdout ──\n{}\n── stderr ──\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let events = std::fs::read_to_string(&timeline)
        .unwrap_or_else(|error| panic!("no timeline ({error})\n{screen}"))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    Run {
        code: output.status.code(),
        events,
        screen,
    }
}

// ── demo/local-demo ─────────────────────────────────────────────────────────────────────────

/// `df -P /tmp` as it prints on Linux, with /tmp `used` full.
fn df(used: &str) -> String {
    format!(
        "Filesystem     1024-blocks    Used Available Capacity Mounted on\n\
         tmpfs              8000000 4000000   4000000      {used} /tmp\n"
    )
}

/// The demo's file, removed when the test ends.
struct DemoFile(PathBuf);

impl DemoFile {
    fn new(incident: &str) -> DemoFile {
        DemoFile(PathBuf::from(format!("/tmp/runbook-demo-{incident}.txt")))
    }
}

impl Drop for DemoFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn the_demo_walks_through_every_step_when_tmp_has_room() {
    let mut fakes = FakeTools::new();
    fakes.answer("df", "-P /tmp", &df("42%"), 0);
    let incident = format!("demo-healthy-{}", std::process::id());
    let file = DemoFile::new(&incident);
    let run = run(
        "demo/local-demo",
        &fakes,
        &[
            "--incident",
            &incident,
            "--set",
            "name=the lab",
            "--answer",
            "choose=Write a file under /tmp",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert_eq!(run.outcomes("welcome"), ["done"]);
    assert_eq!(run.outcomes("system"), ["passed"]);
    assert_eq!(run.outcomes("tmp-space"), ["passed"]);
    assert_eq!(run.stdout("tmp-space"), ["42%\n"]);
    assert_eq!(run.outcomes("write-file"), ["done"]);
    assert_eq!(run.outcomes("settle"), ["passed"]);
    assert_eq!(run.outcomes("goodbye"), ["done"]);
    assert_eq!(run.finished(), "resolved");
    let written = std::fs::read_to_string(&file.0).unwrap();
    assert!(written.contains("written for the lab"), "{written}");
}

#[test]
fn the_demo_stops_when_tmp_is_full_or_df_fails() {
    for (case, output, exit) in [
        ("full", df("97%"), 0),
        ("at the limit", df("90%"), 0),
        ("df fails", String::new(), 1),
    ] {
        let mut fakes = FakeTools::new();
        fakes.answer("df", "-P /tmp", &output, exit);
        let incident = format!("demo-full-{}", std::process::id());
        let file = DemoFile::new(&incident);
        let run = run(
            "demo/local-demo",
            &fakes,
            &[
                "--incident",
                &incident,
                "--answer",
                "choose=Write a file under /tmp",
            ],
        );
        assert_eq!(run.code, Some(1), "{case}: {}", run.screen);
        assert_eq!(run.outcomes("system"), ["passed"], "{case}");
        assert_eq!(run.outcomes("tmp-space"), ["failed"], "{case}");
        assert!(!run.started("write-file"), "{case}: {}", run.screen);
        assert_eq!(run.finished(), "failed", "{case}");
        assert!(!file.0.exists(), "{case}");
    }
}

// ── common/k8s-restart ──────────────────────────────────────────────────────────────────────

/// A `kubectl` for deployment `name` in `namespace`: it exists, restarts and rolls out; `ready`
/// is what `-o jsonpath='{.status.readyReplicas}/{.status.replicas}'` prints afterwards.
fn kubectl_deployment(fakes: &mut FakeTools, namespace: &str, name: &str, ready: &str) {
    fakes
        .answer(
            "kubectl",
            &format!("-n {namespace} get deployment {name} -o wide"),
            &format!(
                "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES\n\
                 {name}   3/3     3            3           12d   app          registry.example.com/{name}:1.4.2\n"
            ),
            0,
        )
        .answer(
            "kubectl",
            &format!("-n {namespace} rollout restart deployment {name}"),
            &format!("deployment.apps/{name} restarted\n"),
            0,
        )
        .answer(
            "kubectl",
            &format!("-n {namespace} rollout status deployment {name}"),
            &format!("deployment \"{name}\" successfully rolled out\n"),
            0,
        )
        .answer(
            "kubectl",
            &format!("-n {namespace} get deployment {name} -o jsonpath="),
            ready,
            0,
        );
}

#[test]
fn the_restart_passes_when_every_pod_is_ready_again() {
    let mut fakes = FakeTools::new();
    kubectl_deployment(&mut fakes, "default", "web", "3/3");
    let run = run("common/k8s-restart", &fakes, &["--set", "deployment=web"]);
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert_eq!(run.outcomes("before"), ["passed"]);
    assert_eq!(run.outcomes("restart"), ["done"]);
    assert_eq!(run.outcomes("rollout"), ["passed"]);
    assert_eq!(run.outcomes("pods"), ["passed"]);
    assert_eq!(run.outcomes("done"), ["done"]);
    assert_eq!(run.finished(), "resolved");
    let restarts: Vec<String> = fakes
        .calls("kubectl")
        .into_iter()
        .filter(|call| call.contains("rollout restart"))
        .collect();
    assert_eq!(restarts, ["-n default rollout restart deployment web"]);
}

#[test]
fn the_restart_fails_when_a_pod_is_not_ready() {
    // `/3`: kubectl leaves readyReplicas out when no pod is ready.
    for ready in ["2/3", "/3", "0/0", ""] {
        let mut fakes = FakeTools::new();
        kubectl_deployment(&mut fakes, "default", "web", ready);
        let run = run("common/k8s-restart", &fakes, &["--set", "deployment=web"]);
        assert_eq!(run.code, Some(1), "{ready}: {}", run.screen);
        assert_eq!(run.outcomes("restart"), ["done"], "{ready}");
        assert_eq!(run.outcomes("pods"), ["failed"], "{ready}: {}", run.screen);
        assert!(!run.started("done"), "{ready}");
        assert_eq!(run.finished(), "failed", "{ready}");
    }
}

#[test]
fn the_restart_stops_before_restarting_a_deployment_that_does_not_exist() {
    let mut fakes = FakeTools::new();
    fakes.answer(
        "kubectl",
        "get deployment",
        "",
        1, // kubectl: Error from server (NotFound), on stderr
    );
    let run = run("common/k8s-restart", &fakes, &["--set", "deployment=web"]);
    assert_eq!(run.code, Some(1), "{}", run.screen);
    assert_eq!(run.outcomes("before"), ["failed"]);
    assert!(!run.started("restart"));
    assert_eq!(run.finished(), "failed");
    assert_eq!(
        fakes.calls("kubectl").len(),
        1,
        "{:?}",
        fakes.calls("kubectl")
    );
}

// ── user-sync/push-failures ─────────────────────────────────────────────────────────────────

const POD: &str = "user-sync-7d4b9c-x2k9p";
const TOKEN: &str = "s3cret-readonly-token";

/// The last 15 minutes of the sync's log: two pushes refused among ordinary lines.
const REFUSED_LOG: &str = "\
2026-12-02T03:58:01Z sync started: 2 people changed\n\
2026-12-02T03:58:02Z creating user: POST /api/users: 403 Forbidden (hr_id=E012345)\n\
2026-12-02T03:58:02Z updating user: PUT /api/users/u-42: 403 Forbidden (hr_id=E000042)\n\
2026-12-02T03:58:03Z sync finished: pushed 0 users, 2 failed\n";

/// A healthy pod whose pushes are refused, and a deployment that restarts with `ready` pods.
fn user_sync_kubectl(fakes: &mut FakeTools, ready: &str) {
    fakes
        .answer(
            "kubectl",
            &format!("-n user-sync-prod get pod {POD}"),
            "Running restarts=0",
            0,
        )
        .answer(
            "kubectl",
            &format!("-n user-sync-prod logs {POD} --since=15m"),
            REFUSED_LOG,
            0,
        )
        .answer(
            "kubectl",
            "-n user-sync-prod logs deployment/user-sync --since=2m",
            "2026-12-02T04:10:00Z sync finished: pushed 2 users\n",
            0,
        );
    kubectl_deployment(fakes, "user-sync-prod", "user-sync", ready);
}

/// The IAM API: our service account as `account` (JSON).
fn iam(account: &str) -> Server {
    let server = Server::start();
    server.route(
        "/api/service-accounts/user-sync-prod",
        Route::new(200, account),
    );
    server.route("/api/health", Route::new(200, r#"{"status":"up"}"#));
    server
}

fn user_sync_args<'a>(iam_url: &'a str, which: &'a str) -> Vec<&'a str> {
    vec![
        "--set",
        "pod=user-sync-7d4b9c-x2k9p",
        "--set",
        iam_url,
        "--set",
        "token=s3cret-readonly-token",
        "--answer",
        which,
    ]
}

#[test]
fn refused_pushes_are_fixed_by_a_restart_and_the_run_ends_at_close_the_incident() {
    let mut fakes = FakeTools::new();
    user_sync_kubectl(&mut fakes, "2/2");
    let iam = iam(r#"{"name":"user-sync-prod","enabled": true}"#);
    let iam_url = format!("iam_url={}", iam.url(""));
    let run = run(
        "user-sync/push-failures",
        &fakes,
        &user_sync_args(&iam_url, "which-error=403: the IAM refuses us"),
    );
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert_eq!(run.outcomes("pod-status"), ["passed"]);
    assert_eq!(run.outcomes("recent-errors"), ["passed"]);
    let errors = run.stdout("recent-errors").concat();
    assert!(errors.contains("POST /api/users: 403"), "{errors}");
    assert!(!errors.contains("sync started"), "{errors}");
    assert_eq!(run.outcomes("service-account"), ["passed"]);
    assert_eq!(run.outcomes("restart/pods"), ["passed"]);
    assert_eq!(run.outcomes("restart"), ["done"]);
    assert_eq!(run.outcomes("verify"), ["passed"]);
    assert_eq!(run.outcomes("tell-hr"), ["done"]);
    assert_eq!(run.outcomes("resolved"), ["done"]);
    // "Close the incident" says `next: end`: the escalation below it is not part of this run.
    assert!(!run.started("escalate-iam"), "{}", run.screen);
    assert_eq!(run.finished(), "resolved");
    // The IAM was asked with the token, which the timeline never shows.
    let asked = iam.received();
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(!run.events.iter().any(|e| e.to_string().contains(TOKEN)));
}

#[test]
fn a_disabled_service_account_is_escalated_to_the_iam_team_without_a_restart() {
    let mut fakes = FakeTools::new();
    user_sync_kubectl(&mut fakes, "2/2");
    let iam = iam(r#"{"name":"user-sync-prod","enabled": false}"#);
    let iam_url = format!("iam_url={}", iam.url(""));
    let run = run(
        "user-sync/push-failures",
        &fakes,
        &user_sync_args(&iam_url, "which-error=403: the IAM refuses us"),
    );
    assert_eq!(
        run.outcomes("service-account"),
        ["failed"],
        "{}",
        run.screen
    );
    // The decision showed the refused pushes found in the pod's log.
    assert!(
        run.screen
            .contains("creating user: POST /api/users: 403 Forbidden (hr_id=E012345)"),
        "{}",
        run.screen
    );
    assert_eq!(run.outcomes("escalate-iam"), ["done"]);
    assert!(!run.started("restart"), "{}", run.screen);
    assert!(
        !fakes
            .calls("kubectl")
            .iter()
            .any(|call| call.contains("rollout restart")),
        "{:?}",
        fakes.calls("kubectl")
    );
    assert_eq!(iam.received().len(), 1);
    // The runbook's own policy (`on_failure: escalate-iam`) handled the failure and the
    // escalation ends the run (`next: end`): the run went where the runbook says (SPEC 7.1).
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert_eq!(run.finished(), "resolved");
}

#[test]
fn a_pod_that_is_gone_fails_its_checks_and_a_restart_with_pods_not_ready_fails_the_run() {
    let mut fakes = FakeTools::new();
    fakes
        .answer("kubectl", &format!("get pod {POD}"), "", 1)
        .answer("kubectl", &format!("logs {POD}"), "", 1);
    user_sync_kubectl(&mut fakes, "1/2");
    let run = run(
        "user-sync/push-failures",
        &fakes,
        &user_sync_args(
            "iam_url=http://127.0.0.1:9",
            "which-error=The pod is down or crash-looping",
        ),
    );
    assert_eq!(run.code, Some(1), "{}", run.screen);
    // Both checks fail (and the runbook goes on, `on_failure: continue`) instead of passing
    // with nothing to show.
    assert_eq!(run.outcomes("pod-status"), ["failed"]);
    assert_eq!(run.outcomes("recent-errors"), ["failed"], "{}", run.screen);
    assert_eq!(run.outcomes("restart/restart"), ["done"]);
    assert_eq!(run.outcomes("restart/pods"), ["failed"]);
    assert_eq!(run.outcomes("restart"), ["failed"]);
    assert!(!run.started("verify"));
    assert_eq!(run.finished(), "failed");
}

// ── kubernetes/deployment-replicas-mismatch ─────────────────────────────────────────────────

/// `kubectl get deployment cart -o json`, trimmed: `available` replicas of 3 (`None`: kubectl
/// leaves `availableReplicas` out when none is available).
fn deployment_json(available: Option<u32>) -> String {
    let available = available
        .map(|n| format!("\"availableReplicas\": {n}, \"readyReplicas\": {n}, "))
        .unwrap_or_default();
    format!(
        "{{\"kind\": \"Deployment\", \"metadata\": {{\"name\": \"cart\", \"namespace\": \"shop\"}},\n \
         \"spec\": {{\"replicas\": 3, \"selector\": {{\"matchLabels\": {{\"app.kubernetes.io/name\": \"cart\"}}}}}},\n \
         \"status\": {{{available}\"replicas\": 3, \"updatedReplicas\": 3}}}}\n"
    )
}

#[test]
fn a_deployment_with_every_replica_available_again_needs_nothing() {
    let mut fakes = FakeTools::new();
    fakes.answer(
        "kubectl",
        "-n shop get deployment cart -o json",
        &deployment_json(Some(3)),
        0,
    );
    let run = run(
        "kubernetes/deployment-replicas-mismatch",
        &fakes,
        &["--set", "namespace=shop", "--set", "deployment=cart"],
    );
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert_eq!(run.outcomes("deployment"), ["passed"]);
    assert_eq!(run.outcomes("recovered"), ["done"]);
    assert!(!run.started("pods"), "{}", run.screen);
    assert_eq!(fakes.calls("kubectl").len(), 1);
    assert_eq!(run.finished(), "resolved");
}

#[test]
fn a_deployment_without_replicas_is_an_outage_and_each_pending_pod_is_looked_at() {
    let mut fakes = FakeTools::new();
    fakes
        .answer(
            "kubectl",
            "-n shop get deployment cart -o json",
            &deployment_json(None),
            0,
        )
        .answer(
            "kubectl",
            "-n shop get pods -o json -l app.kubernetes.io/name=cart",
            r#"{"items": [
                {"metadata": {"name": "cart-7d9f8b6c5-4kz8p"},
                 "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}},
                {"metadata": {"name": "cart-7d9f8b6c5-q9wst"},
                 "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}},
                {"metadata": {"name": "cart-7d9f8b6c5-x2x8q"},
                 "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}]}"#,
            0,
        )
        .answer(
            "kubectl",
            "-n shop describe deployment cart",
            "Conditions:\n  Type           Status  Reason\n  Available      False   MinimumReplicasUnavailable\n",
            0,
        )
        .answer(
            "kubectl",
            "involvedObject.name=cart-7d9f8b6c5-x2x8q",
            "LAST SEEN   TYPE      REASON    OBJECT                     MESSAGE\n\
             30s         Warning   BackOff   pod/cart-7d9f8b6c5-x2x8q   Back-off restarting failed container\n",
            0,
        )
        .answer(
            "kubectl",
            "get events",
            "LAST SEEN   TYPE      REASON             OBJECT                     MESSAGE\n\
             2m          Warning   FailedScheduling   pod/cart-7d9f8b6c5-4kz8p   0/6 nodes are available: 6 Insufficient cpu.\n",
            0,
        );
    let run = run(
        "kubernetes/deployment-replicas-mismatch",
        &fakes,
        &[
            "--set",
            "namespace=shop",
            "--set",
            "deployment=cart",
            "--answer",
            "cause=I cannot tell",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.screen);
    // available (absent, so 0) = desired (3) is false: the check fails and leads to the pods.
    assert_eq!(run.outcomes("deployment"), ["failed"], "{}", run.screen);
    assert_eq!(run.outcomes("pods"), ["passed"]);
    assert_eq!(run.outcomes("outage"), ["done"], "{}", run.screen);
    assert_eq!(run.outcomes("pod-events"), ["passed"]);
    assert_eq!(run.outcomes("escalate"), ["done"]);
    assert!(!run.started("capacity") && !run.started("converge"));
    let calls = fakes.calls("kubectl");
    // The selector reaches kubectl as one argument, and one `get events` runs per pod that is
    // not ready — never for the one that is.
    assert!(
        calls.contains(&"-n shop get pods -o json -l app.kubernetes.io/name=cart".to_string()),
        "{calls:?}"
    );
    let events: Vec<&String> = calls.iter().filter(|c| c.contains("get events")).collect();
    assert_eq!(events.len(), 3, "{calls:?}");
    // The loop's capture is an item → value map, and the decision shows it.
    let finished = run
        .events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "pod-events")
        .unwrap();
    let reasons = &finished["state"]["vars"]["reason"];
    assert_eq!(reasons["cart-7d9f8b6c5-x2x8q"], "BackOff", "{finished}");
    assert_eq!(reasons["cart-7d9f8b6c5-4kz8p"], "FailedScheduling");
    assert!(
        run.screen.contains("0 of 3 replicas available"),
        "{}",
        run.screen
    );
    assert!(
        run.screen.contains("cart-7d9f8b6c5-x2x8q: BackOff"),
        "{}",
        run.screen
    );
    assert_eq!(run.finished(), "resolved");
}

// ── aws/restart-ec2-instances ───────────────────────────────────────────────────────────────

/// The issue's case: `--rehearse` skipped the stop and then polled the wait after it until its
/// timeout (an hour in AWS's document). With a fake `aws` whose instances never stop, each wait
/// after a rehearsed action runs its check once and is rehearsed; nothing is stopped or started.
#[test]
fn a_rehearsed_restart_of_ec2_instances_does_not_wait_for_what_it_never_started() {
    let mut fakes = FakeTools::new();
    fakes
        .answer(
            "aws",
            "{id: InstanceId",
            r#"[{"id": "i-0a1b2c3d4e5f60718", "state": "running"}, {"id": "i-0f9e8d7c6b5a49382", "state": "running"}]"#,
            0,
        )
        .answer("aws", "State.Name", r#"["running", "running"]"#, 0)
        .answer("aws", "stop-instances", "", 0)
        .answer("aws", "start-instances", "", 0);
    let run = run(
        "aws/restart-ec2-instances",
        &fakes,
        &[
            "--rehearse",
            "--set",
            "instance_ids=i-0a1b2c3d4e5f60718,i-0f9e8d7c6b5a49382",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert_eq!(run.outcomes("instances"), ["passed"]);
    assert_eq!(run.outcomes("stop"), ["rehearsed"]);
    assert_eq!(run.outcomes("stopped"), ["rehearsed"], "{}", run.screen);
    assert_eq!(run.outcomes("start"), ["rehearsed"]);
    assert_eq!(run.outcomes("running"), ["rehearsed"], "{}", run.screen);
    let calls = fakes.calls("aws");
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("stop-instances") || c.contains("start-instances")),
        "{calls:?}"
    );
    // The list input reaches aws as two arguments; each wait ran its check once.
    assert!(
        calls[0].contains("--instance-ids i-0a1b2c3d4e5f60718 i-0f9e8d7c6b5a49382 --query"),
        "{calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.ends_with("Instances[].State.Name"))
            .count(),
        2,
        "{calls:?}"
    );
    assert_eq!(run.finished(), "resolved");
}
