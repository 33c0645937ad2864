//! `runbook run` over remote targets, end to end: a check fanned out over SSH to a real sshd
//! (one host dead), an HTTP check per host against a real local server, captures as host → text
//! maps, and one timeline event per host.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::http::{Route, Server};
use support::sshd::sshd_or_skip;

fn events(timeline: &Path) -> Vec<Value> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn a_check_fans_out_over_ssh_and_http_and_records_every_host() {
    let Some(sshd) = sshd_or_skip() else { return };
    let server = Server::start();
    server.route("/health/web-1", Route::new(200, "ok"));
    server.route("/health/web-2", Route::new(200, "ok"));
    let dir = tempfile::tempdir().unwrap();
    let runbook = dir.path().join("fleet.yaml");
    std::fs::write(
        &runbook,
        format!(
            r#"runbook: 1
title: Fleet
owner: ops
reviewed: 2026-11-01
scope: {{ services: [fleet] }}
contacts: [{{ name: Ops }}]
links: [{{ name: Docs, url: "https://example.com" }}]
hosts:
  web: [web-1, web-2]
  all: [web-1, web-2, dead]
steps:
  - id: uptime
    name: Every backend answers over SSH
    check:
      run: echo "up on $(hostname) as {{{{ host }}}}"
      on: web
      capture: up
  - id: health
    name: Every backend's health endpoint
    check:
      http: {{ url: "http://127.0.0.1:{port}/health/{{{{ host }}}}", status: 200, body_contains: ok }}
      on: web
  - id: everyone
    name: Including the dead one
    check:
      run: "true"
      on: all
    on_failure: continue
  - id: report
    name: Report
    instructions: "web-2 said {{{{ vars.up['web-2'] }}}}; failed: {{{{ steps.everyone.failed_hosts | join(',') }}}}"
"#,
            port = server.port()
        ),
    )
    .unwrap();
    let timeline = dir.path().join("t.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("run")
        .arg(&runbook)
        .arg("--ssh-config")
        .arg(sshd.config())
        .arg("--timeline")
        .arg(&timeline)
        .arg("--yes")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let events = events(&timeline);
    let commands: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "command")
        .map(|e| (e["step"].as_str().unwrap(), e["host"].as_str().unwrap()))
        .collect();
    for host in ["web-1", "web-2"] {
        assert!(commands.contains(&("uptime", host)), "{commands:?}");
        assert!(commands.contains(&("everyone", host)), "{commands:?}");
    }
    assert!(commands.contains(&("everyone", "dead")), "{commands:?}");
    let dead = events
        .iter()
        .find(|e| e["event"] == "command" && e["host"] == "dead")
        .unwrap();
    assert!(
        dead["stderr"].as_str().unwrap().contains("refused"),
        "{dead}"
    );

    let http: Vec<&Value> = events.iter().filter(|e| e["event"] == "http").collect();
    assert_eq!(http.len(), 2, "one request per host");
    assert!(http.iter().all(|e| e["status"] == 200));
    let paths: Vec<String> = server.received().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/health/web-1".to_string()), "{paths:?}");
    assert!(paths.contains(&"/health/web-2".to_string()), "{paths:?}");

    assert!(stdout.contains("web-2 said up on"), "{stdout}");
    assert!(stdout.contains("as web-2; failed: dead"), "{stdout}");
    assert!(
        stdout.contains("2 of 3 hosts passed; failed: dead"),
        "{stdout}"
    );
}
