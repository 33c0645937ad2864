//! Notifications (SPEC 7.10, issue 14 item 7): real runs of `tests/fixtures/notify/page.yaml`
//! send their `notify:` requests to a real local HTTP server; a hook on a closed port is
//! recorded as failed and does not stop the run; rehearsals and dry runs send nothing.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::http::{Route, Server, closed_port};

const TOKEN: &str = "s3cr3t-t0ken";

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notify/page.yaml"),
        dir.path().join("page.yaml"),
    )
    .unwrap();
    dir
}

fn server() -> Server {
    let server = Server::start();
    server
        .route("/chat", Route::new(200, "ok"))
        .route("/status", Route::new(200, "{}"));
    server
}

/// `runbook run page.yaml` with the hooks set; exit code, stdout, stderr.
fn run(dir: &Path, server: &Server, dead: u16, args: &[&str]) -> (i32, String, String) {
    let hook = format!("hook={}", server.url(""));
    let dead = format!("dead=http://127.0.0.1:{dead}");
    let token = format!("token={TOKEN}");
    let out = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args([
            "run",
            "page.yaml",
            "--set",
            &hook,
            "--set",
            &dead,
            "--set",
            &token,
        ])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RUNBOOK_OPERATOR", "ana")
        .env_remove("RUNBOOK_CATALOG")
        .stdin(Stdio::null())
        .output()
        .expect("runbook starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn timeline(dir: &Path, incident: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(format!("timelines/{incident}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_event_reaches_the_hooks_and_a_closed_port_does_not_stop_the_run() {
    let dir = workspace();
    let server = server();
    let dead = closed_port();
    let (code, stdout, stderr) = run(dir.path(), &server, dead, &["--yes", "--incident", "q-1"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let received = server.received();
    let chat: Vec<Value> = received
        .iter()
        .filter(|r| r.path == "/chat")
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.header("content-type"), Some("application/json"));
            serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
        })
        .collect();
    let events: Vec<&str> = chat.iter().map(|b| b["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["started", "step_failed", "finished"], "{chat:?}");
    assert_eq!(
        chat[0]["text"],
        "Restart the queue: incident q-1 started by ana"
    );
    assert_eq!(chat[1]["step"], "look");
    assert!(
        chat[2]["text"].as_str().unwrap().contains("resolved"),
        "{chat:?}"
    );
    // The secret is masked where the template did not ask for it…
    assert_eq!(chat[0]["inputs"]["token"], "***");
    assert!(
        received
            .iter()
            .filter(|r| r.path == "/chat")
            .all(|r| !r.body.contains(TOKEN))
    );
    // … and sent where it did.
    let status: Vec<_> = received.iter().filter(|r| r.path == "/status").collect();
    assert_eq!(status.len(), 2, "{status:?}");
    assert!(status.iter().all(|r| r.method == "PUT"));
    assert_eq!(
        status[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let update: Value = serde_json::from_str(&status[1].body).unwrap();
    assert_eq!(update["incident"], "q-1");

    // The closed port: said on screen, recorded, and the run went on to its end.
    assert!(
        stdout.contains("notification `dead` (finished) not sent"),
        "{stdout}"
    );
    let events = timeline(dir.path(), "q-1");
    let failed = events
        .iter()
        .position(|e| e["event"] == "notify_failed")
        .expect("a notify_failed event");
    assert_eq!(events[failed]["name"], "dead");
    assert_eq!(events[failed]["on"], "finished");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    assert_eq!(events.last().unwrap()["outcome"], "resolved");
    // The timeline's chain holds, and no secret reached it.
    let raw = std::fs::read_to_string(dir.path().join("timelines/q-1.jsonl")).unwrap();
    assert!(!raw.contains(TOKEN));
}

#[test]
fn a_run_that_pauses_says_so() {
    let dir = workspace();
    let server = server();
    // No --yes and no terminal: the action's confirmation needs a person, the run pauses.
    let (code, stdout, stderr) = run(dir.path(), &server, closed_port(), &["--incident", "q-2"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let events: Vec<String> = server
        .received()
        .iter()
        .filter(|r| r.path == "/chat")
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["event"].to_string())
        .collect();
    assert_eq!(events, ["\"started\"", "\"step_failed\"", "\"paused\""]);

    // Another engineer resumes it: the hand-over and the end are sent.
    let out = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["run", "--resume", "timelines/q-2.jsonl", "--yes"])
        .args(["--set", &format!("token={TOKEN}")])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("RUNBOOK_OPERATOR", "bo")
        .env_remove("RUNBOOK_CATALOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let chat: Vec<Value> = server
        .received()
        .iter()
        .filter(|r| r.path == "/chat")
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .collect();
    let events: Vec<&str> = chat.iter().map(|b| b["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "started",
            "step_failed",
            "paused",
            "handed_over",
            "finished"
        ]
    );
    assert_eq!(
        chat[3]["text"],
        "Restart the queue: handed over from ana to bo (incident q-2)"
    );
}

#[test]
fn rehearsals_and_dry_runs_send_nothing() {
    let dir = workspace();
    let server = server();
    let (code, stdout, stderr) = run(
        dir.path(),
        &server,
        closed_port(),
        &["--yes", "--rehearse", "--incident", "q-3"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("rehearsal: notifications (`notify:`) are not sent"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(dir.path(), &server, closed_port(), &["--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("a dry run sends none"), "{stderr}");
    assert!(server.received().is_empty(), "{:?}", server.received());
}

#[test]
fn lint_checks_notifications() {
    let dir = workspace();
    let original = std::fs::read_to_string(dir.path().join("page.yaml")).unwrap();
    let lint = |text: String| {
        std::fs::write(dir.path().join("bad.yaml"), text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_runbook"))
            .args(["lint", "bad.yaml"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), said)
    };
    let (code, said) = lint(original.replace("on: [started, finished]", "on: [started, exploded]"));
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("bad.yaml:30:19") && said.contains("exploded"),
        "{said}"
    );
    let (code, said) = lint(
        original
            .replace("method: PUT", "method: BREW")
            .replace("timeout: 2s", "timeout: soon")
            .replace("{{ incident.id }}", "{{ vars.nope }}")
            .replace("{{ inputs.dead }}", "{{ inputs.deadd }}"),
    );
    assert_eq!(code, Some(1), "{said}");
    for expected in [
        "`method: BREW` is not a method a notification sends",
        "invalid-duration",
        "a notification cannot use `vars`",
        "`inputs.deadd` is not an input of this runbook",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
}
