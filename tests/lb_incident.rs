//! The incident from the field, end to end: the example runbook
//! `runbooks/web-front/saturated-backends.yaml` itself, run against a real HAProxy in front of
//! three local HTTP backends, with its SSH steps going to a real sshd (the aliases `lb-1` and
//! `web-1` … `web-3` of the test's ssh config). `web-2` answers 500 and `web-3` hangs.
//!
//! Only what ties the runbook to a site is changed: its inputs `admin_socket` and `front_url`
//! are given with `--set`, and the backends' health URL `http://{{ host }}:8080/health` becomes
//! each test backend's port on 127.0.0.1. Everything else — the flow, the commands sent to
//! HAProxy's runtime API, the confirmations — is the runbook as shipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::haproxy::{Haproxy, haproxy_or_skip};
use support::http::{Route, Server};
use support::pty::{ENTER, Terminal};
use support::sshd::{Sshd, sshd_or_skip};

const SERVERS: [&str; 3] = ["web-1", "web-2", "web-3"];
const HEALTH_URL: &str = "http://{{ host }}:8080/health";

/// web-1 healthy; web-2 saturated (500 on every path); web-3 hangs on its health check and
/// answers 503 to visitors.
fn backends() -> Vec<Server> {
    let healthy = Server::start();
    healthy.route("/health", Route::new(200, "ok"));
    healthy.route("/", Route::new(200, "hello from web-1"));
    let failing = Server::start();
    let saturated = Route::new(500, "saturated").delay(Duration::from_millis(50));
    failing.route("/health", saturated.clone());
    failing.route("/", saturated);
    let hanging = Server::start();
    hanging.route(
        "/health",
        Route::new(200, "ok").delay(Duration::from_secs(30)),
    );
    hanging.route("/", Route::new(503, "overloaded"));
    vec![healthy, failing, hanging]
}

/// Three backends that all answer 200.
fn healthy_backends() -> Vec<Server> {
    SERVERS
        .iter()
        .map(|name| {
            let server = Server::start();
            server.route("/health", Route::new(200, "ok"));
            server.route("/", Route::new(200, &format!("hello from {name}")));
            server
        })
        .collect()
}

/// The example runbook, pointed at the test backends, written into `dir`.
fn example_runbook(dir: &Path, backends: &[Server]) -> PathBuf {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/web-front/saturated-backends.yaml");
    let text = std::fs::read_to_string(example).unwrap();
    assert!(
        text.contains(HEALTH_URL),
        "the example changed: {HEALTH_URL}"
    );
    let ports: Vec<String> = SERVERS
        .iter()
        .zip(backends)
        .map(|(name, server)| format!("'{name}': {}", server.port()))
        .collect();
    let local = format!(
        "http://127.0.0.1:{{{{ {{{}}}[host] }}}}/health",
        ports.join(", ")
    );
    let path = dir.join("saturated-backends.yaml");
    std::fs::write(&path, text.replace(HEALTH_URL, &local)).unwrap();
    path
}

fn states(haproxy: &Haproxy) -> Vec<String> {
    SERVERS
        .iter()
        .map(|name| haproxy.server_state(name))
        .collect()
}

fn read_events(timeline: &Path) -> Vec<Value> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The outcome of `step` in the timeline's `step_finished` events, in order.
fn outcomes<'a>(events: &'a [Value], step: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["event"] == "step_finished" && e["step"] == step)
        .map(|e| e["outcome"].as_str().unwrap())
        .collect()
}

/// `run RUNBOOK --ssh-config … --set admin_socket=… --set front_url=… --timeline … MORE`.
fn run_args(
    runbook: &Path,
    sshd: &Sshd,
    haproxy: &Haproxy,
    timeline: &Path,
    more: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        runbook.display().to_string(),
        "--ssh-config".into(),
        sshd.config().display().to_string(),
        "--set".into(),
        format!("admin_socket={}", haproxy.socket().display()),
        "--set".into(),
        format!("front_url={}", haproxy.frontend_url()),
        "--timeline".into(),
        timeline.display().to_string(),
    ];
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

/// `runbook ARGS…` without a terminal.
fn run_without_terminal(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn assert_success(output: &Output, haproxy: &Haproxy) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}\nhaproxy log:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        haproxy.log()
    );
}

/// Everything the test needs, or `None` when a tool is missing (skipped loudly, or failed
/// under `CI=true`, by the support modules).
fn environment() -> Option<(Sshd, Vec<Server>, Haproxy)> {
    environment_with(backends)
}

/// [`environment`] with other backends.
fn environment_with(backends: fn() -> Vec<Server>) -> Option<(Sshd, Vec<Server>, Haproxy)> {
    let sshd = sshd_or_skip()?;
    let backends = backends();
    let ports: Vec<u16> = backends.iter().map(Server::port).collect();
    let haproxy = haproxy_or_skip(&ports)?;
    Some((sshd, backends, haproxy))
}

#[test]
fn a_person_drains_the_failing_backends_and_every_request_succeeds_again() {
    let Some((sshd, backends, haproxy)) = environment() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runbook = example_runbook(dir.path(), &backends);
    let lint = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["lint", "--deny-warnings"])
        .arg(&runbook)
        .output()
        .unwrap();
    assert!(lint.status.success(), "{lint:?}");

    assert_eq!(states(&haproxy), ["ready", "ready", "ready"]);
    // The incident is real: round robin sends two requests of three to a sick backend.
    let before: Vec<u16> = (0..6).map(|_| haproxy.get("/")).collect();
    assert!(before.contains(&500), "{before:?}");
    assert!(before.contains(&200), "{before:?}");

    let timeline = dir.path().join("drain.jsonl");
    let args = run_args(&runbook, &sshd, &haproxy, &timeline, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Terminal::spawn(dir.path(), &args);
    t.expect("Look at HAProxy and the dashboard");
    t.pick("When you have done it", 0);
    // The health check fans out over HTTP: one line per backend (each with its own URL),
    // then what was expected.
    t.expect("Every backend answers its health check");
    t.expect("web-2 $ GET http://127.0.0.1:");
    t.expect("/health → status 500");
    t.expect("Step failed — expected: status 200 on every host");
    // The load over SSH, from each backend.
    t.expect("CPU load of each backend");
    t.expect("web-3 exit 0");
    t.expect("Sessions and queue of each backend");
    t.expect("How bad is it?");
    t.expect("Failing their health check: web-2, web-3");
    t.pick("What now?", 0);
    // One confirmation that names the target host and shows the command for both servers.
    t.expect("Take the failing backends out of HAProxy");
    t.expect("This action changes lb (1 host: lb-1). It will run:");
    t.expect("set server web/web-2 state maint");
    t.expect("set server web/web-3 state maint");
    t.answer("To confirm, type: lb", "lb");
    t.expect("HAProxy shows them in maintenance");
    t.expect("Every request through HAProxy succeeds");
    t.pick("Put them back into HAProxy now?", 0);
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");

    // HAProxy itself says so: web-2 and web-3 in maintenance, web-1 untouched, and every
    // request through the front succeeds.
    assert_eq!(states(&haproxy), ["ready", "maint", "maint"]);
    let after: Vec<u16> = (0..9).map(|_| haproxy.get("/")).collect();
    assert!(after.iter().all(|status| *status == 200), "{after:?}");

    let events = read_events(&timeline);
    // One request per backend, each recorded with its host; web-3's timed out.
    let health: Vec<(&str, Option<u64>)> = events
        .iter()
        .filter(|e| e["event"] == "http" && e["step"] == "health")
        .map(|e| (e["host"].as_str().unwrap(), e["status"].as_u64()))
        .collect();
    for expected in [("web-1", Some(200)), ("web-2", Some(500)), ("web-3", None)] {
        assert!(health.contains(&expected), "{health:?}");
    }
    let hung = events
        .iter()
        .find(|e| e["event"] == "http" && e["host"] == "web-3")
        .unwrap();
    assert!(
        hung["error"].as_str().unwrap().contains("timed out"),
        "{hung}"
    );
    // The load ran over SSH on every backend.
    let load_hosts: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "command" && e["step"] == "load")
        .map(|e| e["host"].as_str().unwrap())
        .collect();
    assert_eq!(load_hosts.len(), 3, "{load_hosts:?}");
    // The drain was confirmed before it ran, ran once on lb-1, with both servers in it.
    let drain: Vec<&Value> = events.iter().filter(|e| e["step"] == "drain").collect();
    let confirmed = drain
        .iter()
        .position(|e| e["event"] == "confirmed")
        .unwrap_or_else(|| panic!("no `confirmed` for drain: {drain:#?}"));
    let commands: Vec<usize> = drain
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == "command")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(commands.len(), 1, "{drain:#?}");
    assert!(confirmed < commands[0], "{drain:#?}");
    let command = drain[commands[0]];
    assert_eq!(command["host"], "lb-1", "{command}");
    assert_eq!(command["exit"], 0, "{command}");
    let text = command["command"].as_str().unwrap();
    assert!(!text.contains("web/web-1"), "{text}");
    // After the drain, the runbook shows every server as HAProxy has it (it once printed only
    // a header: its filter looked at the wrong column).
    let shown = command["stdout"].as_str().unwrap();
    for line in ["web-1 no check", "web-2 MAINT", "web-3 MAINT"] {
        assert!(
            shown.lines().any(|l| l == line),
            "{line:?} not in:\n{shown}"
        );
    }
    assert_eq!(outcomes(&events, "drain"), ["done"]);
    assert_eq!(outcomes(&events, "drained"), ["passed"]);
    assert_eq!(outcomes(&events, "verify"), ["passed"]);
    assert!(!events.iter().any(|e| e["step"] == "put-back"));
    assert!(!events.iter().any(|e| e["step"] == "escalate"));
    assert_eq!(events.last().unwrap()["outcome"], "resolved");

    let verify = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["timeline", "verify"])
        .arg(&timeline)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
}

#[test]
fn after_the_repair_the_runbook_puts_the_backends_back() {
    let Some((sshd, backends, haproxy)) = environment() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runbook = example_runbook(dir.path(), &backends);
    let timeline = dir.path().join("put-back.jsonl");
    let args = run_args(
        &runbook,
        &sshd,
        &haproxy,
        &timeline,
        &[
            "--yes",
            "--answer",
            "how-bad=Drain the failing backends",
            "--answer",
            "after=They are repaired — put them back",
        ],
    );
    let output = run_without_terminal(&args);
    assert_success(&output, &haproxy);
    assert_eq!(states(&haproxy), ["ready", "ready", "ready"]);

    let events = read_events(&timeline);
    assert_eq!(outcomes(&events, "drain"), ["done"]);
    assert_eq!(outcomes(&events, "verify"), ["passed"]);
    assert_eq!(outcomes(&events, "put-back"), ["done"]);
    let put_back = events
        .iter()
        .find(|e| e["event"] == "command" && e["step"] == "put-back")
        .unwrap();
    let text = put_back["command"].as_str().unwrap();
    assert!(text.contains("set server web/web-2 state ready"), "{text}");
    assert!(text.contains("set server web/web-3 state ready"), "{text}");
    assert_eq!(put_back["host"], "lb-1");
    let shown = put_back["stdout"].as_str().unwrap();
    for line in ["web-1 no check", "web-2 no check", "web-3 no check"] {
        assert!(
            shown.lines().any(|l| l == line),
            "{line:?} not in:\n{shown}"
        );
    }
    // Back to the incident: the sick backends get traffic again.
    let again: Vec<u16> = (0..6).map(|_| haproxy.get("/")).collect();
    assert!(again.contains(&500), "{again:?}");
}

/// Regression: with HAProxy down, `socat stdio PATH` created a plain file at the socket path
/// (and every later look at HAProxy read that file instead of failing).
#[test]
fn with_haproxy_down_the_runbook_fails_at_its_first_look_at_haproxy() {
    let Some((sshd, backends, mut haproxy)) = environment() else {
        return;
    };
    haproxy.stop();
    // Down for good: its run directory was cleaned, the socket is gone.
    std::fs::remove_file(haproxy.socket()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runbook = example_runbook(dir.path(), &backends);
    let timeline = dir.path().join("down.jsonl");
    let args = run_args(
        &runbook,
        &sshd,
        &haproxy,
        &timeline,
        &["--yes", "--answer", "how-bad=Drain the failing backends"],
    );
    let output = run_without_terminal(&args);
    assert_eq!(output.status.code(), Some(1), "{output:?}");

    let events = read_events(&timeline);
    assert_eq!(outcomes(&events, "haproxy-stat"), ["failed"]);
    assert!(!events.iter().any(|e| e["step"] == "drain"), "{events:#?}");
    assert_eq!(events.last().unwrap()["outcome"], "failed");
    assert!(
        !haproxy.socket().exists(),
        "the runbook left a file at the socket path"
    );
}

/// Regression: HAProxy gone between the assessment and the drain, the drain showed ✔ with
/// nothing drained (each `socat` failed, but only the last line's `awk` counted).
#[test]
fn when_haproxy_stops_before_the_drain_the_drain_fails() {
    let Some((sshd, backends, mut haproxy)) = environment() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runbook = example_runbook(dir.path(), &backends);
    let timeline = dir.path().join("stopped.jsonl");
    let args = run_args(&runbook, &sshd, &haproxy, &timeline, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Terminal::spawn(dir.path(), &args);
    t.pick("When you have done it", 0);
    t.expect("Failing their health check: web-2, web-3");
    t.expect("What now?");
    haproxy.stop();
    t.send(ENTER);
    t.expect("set server web/web-2 state maint");
    t.answer("To confirm, type: lb", "lb");
    // Retry, roll back, skip, go to, escalate, stop.
    t.pick("The step failed. What now?", 5);
    t.expect("Runbook stopped at step `drain`: failed.");
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen}");

    let events = read_events(&timeline);
    assert_eq!(outcomes(&events, "drain"), ["failed"], "{screen}");
    assert!(!events.iter().any(|e| e["step"] == "drained"), "{screen}");
    assert_eq!(events.last().unwrap()["outcome"], "failed");
    // A socket nobody listens on is not turned into a file either.
    assert!(!haproxy.socket().is_file());
}

/// With every backend healthy there is nothing to drain: choosing the drain anyway fails it,
/// where it used to pass with an empty list and leave HAProxy as it was.
#[test]
fn a_drain_with_no_failing_backend_fails_and_haproxy_is_untouched() {
    let Some((sshd, backends, haproxy)) = environment_with(healthy_backends) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runbook = example_runbook(dir.path(), &backends);
    let timeline = dir.path().join("nothing.jsonl");
    let args = run_args(
        &runbook,
        &sshd,
        &haproxy,
        &timeline,
        &["--yes", "--answer", "how-bad=Drain the failing backends"],
    );
    let output = run_without_terminal(&args);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(states(&haproxy), ["ready", "ready", "ready"]);

    let events = read_events(&timeline);
    assert_eq!(outcomes(&events, "health"), ["passed"]);
    assert_eq!(outcomes(&events, "haproxy-stat"), ["passed"]);
    assert_eq!(outcomes(&events, "drain"), ["failed"]);
    let drain = events
        .iter()
        .find(|e| e["event"] == "command" && e["step"] == "drain")
        .unwrap();
    assert!(
        drain["stderr"]
            .as_str()
            .unwrap()
            .contains("nothing to drain"),
        "{drain}"
    );
    assert!(!events.iter().any(|e| e["step"] == "drained"));
    assert_eq!(events.last().unwrap()["outcome"], "failed");
}
