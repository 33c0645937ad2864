//! `runbook run` over remote targets, end to end: a check fanned out over SSH to a real sshd
//! (one host dead), an HTTP check per host against a real local server, captures as host → text
//! maps, and one timeline event per host.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::http::{Route, Server};
use support::pty::{ENTER, Terminal};
use support::sshd::{Sshd, sshd_or_skip};

fn events(timeline: &Path) -> Vec<Value> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `DIR/NAME.yaml`: a runbook of the fleet (title, contacts, links) with `rest` — its
/// `inputs`, `hosts` and `steps` — after the header.
fn fleet_runbook(dir: &Path, name: &str, rest: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let header = r##"runbook: 1
title: The fleet
owner: ops
reviewed: 2026-11-01
scope: { services: [fleet] }
contacts: [{ name: Ops, chat: "#ops" }]
links: [{ name: Docs, url: "https://example.com" }]
"##;
    std::fs::write(&path, format!("{header}{rest}")).unwrap();
    path
}

/// `runbook run RUNBOOK --ssh-config … --timeline TIMELINE` at a real terminal, in `dir`.
fn run_at_terminal(dir: &Path, runbook: &Path, sshd: &Sshd, timeline: &Path) -> Terminal {
    let args = [
        "run".to_string(),
        runbook.display().to_string(),
        "--ssh-config".into(),
        sshd.config().display().to_string(),
        "--timeline".into(),
        timeline.display().to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Terminal::spawn(dir, &args)
}

/// `runbook run RUNBOOK --ssh-config … --timeline TIMELINE --yes` without a terminal.
fn run_yes(
    runbook: &Path,
    sshd: &Sshd,
    timeline: &Path,
    envs: &[(&str, &str)],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("run")
        .arg(runbook)
        .arg("--ssh-config")
        .arg(sshd.config())
        .arg("--timeline")
        .arg(timeline)
        .arg("--yes")
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_check_fans_out_over_ssh_and_http_and_records_every_host() {
    let Some(sshd) = sshd_or_skip() else { return };
    let server = Server::start();
    server.route("/health/web-1", Route::new(200, "ok"));
    server.route("/health/web-2", Route::new(200, "ok"));
    let dir = tempfile::tempdir().unwrap();
    let runbook = fleet_runbook(
        dir.path(),
        "fleet",
        &format!(
            r#"hosts:
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
    );
    let timeline = dir.path().join("t.jsonl");
    let output = run_yes(&runbook, &sshd, &timeline, &[]);
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

/// An action over SSH, as a person at a terminal runs it: one confirmation that lists every
/// host, a canary of two hosts and a second confirmation, then the rest one at a time until the
/// first failure (`max_failures` defaults to 1 for actions): the hosts after the dead one are
/// never touched.
#[test]
fn an_action_fans_out_after_one_confirmation_with_a_canary_and_stops_at_the_first_failure() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("restarted.log");
    let runbook = fleet_runbook(
        dir.path(),
        "restart",
        &format!(
            r#"hosts:
  web: [web-1, web-2, dead, web-3, web-4]
steps:
  - id: restart
    name: Restart the app on every backend
    action:
      # The sshd is this machine: the log is the test's file.
      run: echo {{{{ host }}}} >> {log}
      on: web
      canary: 2
      parallel: 1
"#,
            log = log.display()
        ),
    );
    let timeline = dir.path().join("t.jsonl");
    let mut t = run_at_terminal(dir.path(), &runbook, &sshd, &timeline);
    t.expect("This action changes web (5 hosts: web-1, web-2, dead, web-3, web-4)");
    t.expect("(as rendered for web-1; each host gets its own)");
    // "No" comes first: the default.
    t.pick("Run it on web?", 1);
    t.expect("web-1 exit 0");
    t.expect("web-2 exit 0");
    t.pick("The canary passed on 2 hosts. Go on with the other 3?", 1);
    t.expect("dead connect to host 127.0.0.1 port");
    t.expect("0 of 3 hosts passed; failed: dead; not started: web-3, web-4");
    t.expect("too many failures: web-3, web-4");
    t.pick("The step failed. What now?", 5);
    t.expect("Runbook stopped at step `restart`: failed.");
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(!screen.contains("web-3 exit"), "{screen}");

    let restarted = std::fs::read_to_string(&log).unwrap();
    assert_eq!(restarted, "web-1\nweb-2\n");
    let events = events(&timeline);
    let hosts: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "command")
        .map(|e| e["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["web-1", "web-2", "dead"]);
    let confirmations = events.iter().filter(|e| e["event"] == "confirmed").count();
    assert_eq!(confirmations, 2, "the first question and the canary's");
    let finished = events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "restart")
        .unwrap();
    assert_eq!(finished["outcome"], "failed", "{finished}");
}

/// A secret that comes back in remote output — echoed by the command over SSH, and in an error
/// on stderr — is masked on screen and in the timeline, as it is for local commands.
#[test]
fn a_secret_in_remote_output_is_masked_on_screen_and_in_the_timeline() {
    const SECRET: &str = "s3cr3t-Tok3n-over-ssh";
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runbook = fleet_runbook(
        dir.path(),
        "secret",
        r#"inputs:
  token:
    description: An API token
    secret: true
    env: FLEET_TOKEN
hosts:
  web: [web-1, web-2]
steps:
  - id: leak
    name: A command that prints the token back
    check:
      run: echo "calling the API with {{ inputs.token }}"; echo "denied for {{ inputs.token }}" >&2
      on: web
"#,
    );
    let timeline = dir.path().join("t.jsonl");
    let output = run_yes(&runbook, &sshd, &timeline, &[("FLEET_TOKEN", SECRET)]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("2 of 2 hosts passed"), "{stdout}");
    assert!(stdout.contains("calling the API with ***"), "{stdout}");
    assert!(!stdout.contains(SECRET), "{stdout}");
    assert!(!stderr.contains(SECRET), "{stderr}");

    let recorded = std::fs::read_to_string(&timeline).unwrap();
    assert!(!recorded.contains(SECRET), "{recorded}");
    let events = events(&timeline);
    let commands: Vec<&Value> = events.iter().filter(|e| e["event"] == "command").collect();
    assert_eq!(commands.len(), 2);
    for command in commands {
        assert!(
            command["stdout"]
                .as_str()
                .unwrap()
                .contains("calling the API with ***"),
            "{command}"
        );
        assert!(
            command["stderr"]
                .as_str()
                .unwrap()
                .contains("denied for ***"),
            "{command}"
        );
    }
}

/// After a fan-out action failed on one host, "retry on the hosts that failed or did not
/// start" runs it there only — the hosts where it went through are not touched twice — and
/// the step then passes with every host in its result.
#[test]
fn a_retry_goes_only_to_the_hosts_that_failed_or_did_not_start() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("restarted.log");
    let fixed = dir.path().join("web-3-fixed");
    let runbook = fleet_runbook(
        dir.path(),
        "restart",
        &format!(
            r#"hosts:
  web: [web-1, web-2, web-3, web-4]
steps:
  - id: restart
    name: Restart the app on every backend
    action:
      run: |-
        if [ {{{{ host }}}} = web-3 ] && [ ! -e {fixed} ]; then echo "web-3: disk full" >&2; exit 1; fi
        echo {{{{ host }}}} >> {log} && echo restarted
      on: web
      parallel: 1
      capture: restarted
  - id: report
    name: Report
    instructions: "restarted on {{{{ steps.restart.hosts | length }}}} hosts; failed: [{{{{ steps.restart.failed_hosts | join(',') }}}}]; captured from {{{{ vars.restarted | length }}}}, web-1 said {{{{ vars.restarted['web-1'] }}}}"
"#,
            log = log.display(),
            fixed = fixed.display()
        ),
    );
    let timeline = dir.path().join("t.jsonl");
    let mut t = run_at_terminal(dir.path(), &runbook, &sshd, &timeline);
    t.pick("Run it on web?", 1);
    t.expect("web-3 exit 1");
    t.expect("2 of 4 hosts passed; failed: web-3; not started: web-4");
    t.expect("The step failed. What now?");
    t.expect("> Retry on the hosts that failed or did not start: web-3, web-4");
    // Someone repairs web-3, then the engineer retries where it did not go through.
    std::fs::write(&fixed, "").unwrap();
    t.send(ENTER);
    t.expect("done already: web-1, web-2");
    t.expect("This action changes web (2 hosts: web-3, web-4)");
    t.pick("Run it on web?", 1);
    t.expect("web-4 exit 0");
    t.expect("restarted on 4 hosts; failed: []; captured from 4, web-1 said restarted");
    t.pick("When you have done it", 0);
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");

    let restarted = std::fs::read_to_string(&log).unwrap();
    assert_eq!(restarted, "web-1\nweb-2\nweb-3\nweb-4\n", "each host once");
    let events = events(&timeline);
    let hosts: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "command")
        .map(|e| e["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["web-1", "web-2", "web-3", "web-3", "web-4"]);
    let outcomes: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "step_finished" && e["step"] == "restart")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failed", "done"]);
}
