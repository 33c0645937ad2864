//! The incident from the field, end to end against a real HAProxy: three backends (local HTTP
//! servers), two of them saturated and answering 500. `runbook run` walks
//! tests/fixtures/lb/drain.yaml without a terminal: it checks every backend, answers "Some of
//! them", drains web-2 and web-3 through HAProxy's admin socket (confirmed by `--yes`), waits
//! until every request through the frontend succeeds, then keeps them drained — or, in a second
//! run, puts them back.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::haproxy::{Haproxy, haproxy_or_skip};
use support::http::{Route, Server};

const SERVERS: [&str; 3] = ["web-1", "web-2", "web-3"];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lb/drain.yaml")
}

fn read_events(timeline: &Path) -> Vec<Value> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// web-1 healthy; web-2 and web-3 saturated: 500 on every path, after a short delay.
fn backends() -> Vec<Server> {
    SERVERS
        .iter()
        .map(|name| {
            let server = Server::start();
            if *name == "web-1" {
                server.route("/health", Route::new(200, "ok"));
                server.route("/", Route::new(200, "hello from web-1"));
            } else {
                let saturated = Route::new(500, "saturated").delay(Duration::from_millis(50));
                server.route("/health", saturated.clone());
                server.route("/", saturated);
            }
            server
        })
        .collect()
}

fn states(haproxy: &Haproxy) -> Vec<String> {
    SERVERS
        .iter()
        .map(|name| haproxy.server_state(name))
        .collect()
}

/// `runbook run drain.yaml --yes --answer how-bad=… --answer after=…` with stdin null.
fn run(haproxy: &Haproxy, backends: &[Server], after: &str, timeline: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .arg("run")
        .arg(fixture())
        .arg("--yes")
        .args(["--answer", "how-bad=Some of them"])
        .args(["--answer", &format!("after={after}")])
        .arg("--set")
        .arg(format!("socket={}", haproxy.socket().display()))
        .arg("--set")
        .arg(format!("frontend={}", haproxy.frontend_url()))
        .arg("--timeline")
        .arg(timeline)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (n, server) in backends.iter().enumerate() {
        command
            .arg("--set")
            .arg(format!("web_{}={}", n + 1, server.url("")));
    }
    command.output().unwrap()
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

/// The outcome of `step` in the timeline's `step_finished` events, in order.
fn outcomes<'a>(events: &'a [Value], step: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["event"] == "step_finished" && e["step"] == step)
        .map(|e| e["outcome"].as_str().unwrap())
        .collect()
}

#[test]
fn draining_the_saturated_backends_makes_every_request_succeed() {
    let backends = backends();
    let ports: Vec<u16> = backends.iter().map(Server::port).collect();
    let Some(haproxy) = haproxy_or_skip(&ports) else {
        return;
    };
    assert_eq!(states(&haproxy), ["ready", "ready", "ready"]);
    // The incident is real: round robin sends two requests of three to a saturated backend.
    let before: Vec<u16> = (0..6).map(|_| haproxy.get("/")).collect();
    assert!(before.contains(&500), "{before:?}");
    assert!(before.contains(&200), "{before:?}");

    let dir = tempfile::tempdir().unwrap();
    let timeline = dir.path().join("drain.jsonl");
    let output = run(&haproxy, &backends, "Keep them drained", &timeline);
    assert_success(&output, &haproxy);

    // HAProxy itself says so: web-2 and web-3 forced into maintenance, web-1 untouched.
    assert_eq!(states(&haproxy), ["ready", "maint", "maint"]);
    let after: Vec<u16> = (0..9).map(|_| haproxy.get("/")).collect();
    assert!(after.iter().all(|status| *status == 200), "{after:?}");

    let events = read_events(&timeline);
    assert_eq!(outcomes(&events, "health-web-1"), ["passed"]);
    assert_eq!(outcomes(&events, "health-web-2"), ["failed"]);
    assert_eq!(outcomes(&events, "health-web-3"), ["failed"]);
    let statuses: Vec<(&str, u64)> = events
        .iter()
        .filter(|e| e["event"] == "http")
        .map(|e| (e["step"].as_str().unwrap(), e["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("health-web-1", 200),
            ("health-web-2", 500),
            ("health-web-3", 500)
        ]
    );
    let answers: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "answer")
        .map(|e| (e["step"].as_str().unwrap(), e["choice"].as_str().unwrap()))
        .collect();
    assert_eq!(
        answers,
        [("how-bad", "Some of them"), ("after", "Keep them drained")]
    );

    // The drain was confirmed before it ran, ran once, locally, with both servers in it.
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
    assert_eq!(command["exit"], 0, "{command}");
    let text = command["command"].as_str().unwrap();
    assert!(text.contains("set server web/web-2 state maint"), "{text}");
    assert!(text.contains("set server web/web-3 state maint"), "{text}");
    assert!(!text.contains("web/web-1"), "{text}");
    assert!(
        text.contains(&haproxy.socket().display().to_string()),
        "{text}"
    );
    assert_eq!(outcomes(&events, "drain"), ["done"]);
    assert_eq!(outcomes(&events, "verify"), ["passed"]);
    // "Keep them drained" ends the run: put-back never runs.
    assert!(!events.iter().any(|e| e["step"] == "put-back"));
    assert!(!events.iter().any(|e| e["step"] == "escalate"));
    let last = events.last().unwrap();
    assert_eq!(last["event"], "run_finished", "{last}");
    assert_eq!(last["outcome"], "resolved", "{last}");

    let verify = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["timeline", "verify"])
        .arg(&timeline)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");

    // Second run, the other branch: drain again (idempotent), then put them back.
    let timeline = dir.path().join("put-back.jsonl");
    let output = run(&haproxy, &backends, "Put them back", &timeline);
    assert_success(&output, &haproxy);
    assert_eq!(states(&haproxy), ["ready", "ready", "ready"]);

    let events = read_events(&timeline);
    assert_eq!(outcomes(&events, "drain"), ["done"]);
    assert_eq!(outcomes(&events, "verify"), ["passed"]);
    assert_eq!(outcomes(&events, "put-back"), ["done"]);
    let put_back: Vec<&Value> = events.iter().filter(|e| e["step"] == "put-back").collect();
    let confirmed = put_back
        .iter()
        .position(|e| e["event"] == "confirmed")
        .unwrap_or_else(|| panic!("no `confirmed` for put-back: {put_back:#?}"));
    let command = put_back
        .iter()
        .position(|e| e["event"] == "command")
        .unwrap_or_else(|| panic!("no `command` for put-back: {put_back:#?}"));
    assert!(confirmed < command, "{put_back:#?}");
    let text = put_back[command]["command"].as_str().unwrap();
    assert!(text.contains("set server web/web-2 state ready"), "{text}");
    assert!(text.contains("set server web/web-3 state ready"), "{text}");
    assert!(!events.iter().any(|e| e["step"] == "escalate"));
    assert_eq!(events.last().unwrap()["outcome"], "resolved");

    // Back to the incident: the saturated backends get traffic again.
    let again: Vec<u16> = (0..6).map(|_| haproxy.get("/")).collect();
    assert!(again.contains(&500), "{again:?}");
}

#[test]
fn the_fixture_passes_lint_with_warnings_denied() {
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["lint", "--deny-warnings"])
        .arg(fixture())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
