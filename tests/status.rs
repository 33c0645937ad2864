//! `runbook status`, end to end: a catalog whose services are green, orange and red at once,
//! with HTTP health checks against real local servers and SSH checks against a real sshd;
//! timeouts; Ctrl-C; and the HTML page opened in a real (headless) Chromium.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::http::{Route, Server};
use support::sshd::sshd_or_skip;

/// Writes `runbooks/ID.yaml` under `dir` with a valid head and one manual step.
fn runbook(dir: &Path, id: &str, services: &str, body: &str) {
    let path = dir.join("runbooks").join(format!("{id}.yaml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        format!(
            "runbook: 1\ntitle: {id} is broken\nowner: ops\nreviewed: 2026-11-01\n\
             scope: {{ services: [{services}] }}\n\
             contacts: [{{ name: Ops, chat: \"#ops\" }}]\n\
             {body}\n\
             steps:\n  - id: look\n    name: Look\n    instructions: Look at it.\n"
        ),
    )
    .unwrap();
}

fn status(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("status")
        .arg(dir.join("runbooks"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUNBOOK_TODAY", "2026-11-22")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The health servers every catalog below uses: `/ok`, `/down` (500), `/lag` (503).
fn health_server() -> Server {
    let server = Server::start();
    server.route("/ok", Route::new(200, "status: ok\n"));
    server.route("/down", Route::new(500, "upstream down\n"));
    server.route("/lag", Route::new(503, "lag: 9000\n"));
    server
}

/// Green, orange, red and grey services, and an invalid runbook, over HTTP and SSH.
fn mixed_catalog(dir: &Path, server: &Server) {
    let url = |path: &str| server.url(path);
    runbook(
        dir,
        "payments/api",
        "payments",
        &format!(
            r#"links: [{{ name: Dashboard, url: "https://grafana.example.com/d/payments" }}]
hosts:
  web: [web-1, web-2]
health:
  - name: API answers
    http: {{ url: "{ok}", status: 200, body_contains: ok }}
  - name: Backends answer over SSH
    run: echo "ok from {{{{ host }}}}"
    on: web
    expect: {{ stdout_contains: ok from }}
  - name: Local disk is there
    run: test -d /
"#,
            ok = url("/ok")
        ),
    );
    runbook(
        dir,
        "search/index",
        "search",
        &format!(
            r#"hosts:
  web: [web-1, web-2]
health:
  - name: Search answers
    http: {{ url: "{ok}" }}
  - name: Indexing lag
    http: {{ url: "{lag}", status: 200 }}
    warn: true
  - name: Index files on every backend
    run: test -d /tmp
    on: web
"#,
            ok = url("/ok"),
            lag = url("/lag")
        ),
    );
    runbook(
        dir,
        "user-sync/push",
        "user-sync-service",
        &format!(
            r#"links:
  - name: Dashboard
    url: "https://grafana.example.com/d/user-sync?env={{{{ inputs.env }}}}"
inputs:
  env: {{ default: prod }}
hosts:
  all: [web-1, web-2, dead]
health:
  - name: The sync answers
    http: {{ url: "{down}", status: 200 }}
  - name: Every backend answers over SSH
    run: echo up
    on: all
  - name: Queue lag
    run: echo 12345
    expect: {{ stdout_matches: '^[0-9]{{1,3}}$' }}
    warn: true
"#,
            down = url("/down")
        ),
    );
    runbook(dir, "docs/handbook", "handbook", "");
    let broken = dir.join("runbooks/broken.yaml");
    std::fs::write(
        &broken,
        "runbook: 1\ntitle: Broken\nowner: ops\nreviewed: 2026-11-01\nscope: { services: [broken] }\nhealth:\n  - name: x\n    comand: 'true'\nsteps: [{ id: a, name: A, instructions: x }]\n",
    )
    .unwrap();
}

#[test]
fn green_orange_and_red_services_at_once_over_http_and_ssh() {
    let Some(sshd) = sshd_or_skip() else { return };
    let server = health_server();
    let dir = tempfile::tempdir().unwrap();
    mixed_catalog(dir.path(), &server);
    let config = sshd.config();
    let config = config.to_str().unwrap();

    let output = status(dir.path(), &["--ssh-config", config]);
    let table = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        !table.contains('\u{1b}'),
        "no colour off a terminal: {table}"
    );

    // Rows: red first (by id), then orange, green, grey.
    let rows: Vec<(&str, &str)> = table
        .lines()
        .filter(|line| !line.starts_with(' ') && !line.is_empty())
        .take(5)
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (
                words[1],
                *words
                    .iter()
                    .find(|w| w.contains('/') || **w == "broken")
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("red", "broken"),
            ("red", "user-sync/push"),
            ("orange", "search/index"),
            ("green", "payments/api"),
            ("grey", "docs/handbook"),
        ],
        "{table}"
    );
    let line = |needle: &str| {
        table
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with `{needle}` in:\n{table}"))
            .to_string()
    };
    assert!(
        line("broken.yaml:8:5").contains("unknown key `comand`"),
        "{table}"
    );
    assert_eq!(
        line("The sync answers").trim(),
        "✘ The sync answers: status 500 (expected status 200)"
    );
    let ssh = line("Every backend answers over SSH");
    assert!(
        ssh.trim()
            .starts_with("✘ Every backend answers over SSH: 1 of 3 hosts failed — dead: connect to host 127.0.0.1 port"),
        "{ssh}"
    );
    assert!(ssh.contains("Connection refused"), "{ssh}");
    assert!(
        !ssh.contains("web-1:") && !ssh.contains("web-2:"),
        "only the dead host is named: {ssh}"
    );
    assert!(
        line("Queue lag")
            .trim()
            .starts_with("! Queue lag: stdout does not match: 12345"),
        "{table}"
    );
    assert_eq!(
        line("Indexing lag").trim(),
        "! Indexing lag: status 503 (expected status 200)"
    );
    assert!(
        !table.contains("API answers") && !table.contains("Search answers"),
        "passed checks are not listed: {table}"
    );
    assert!(
        table.contains("5 runbooks: 2 red, 1 orange, 1 green, 1 without health checks"),
        "{table}"
    );
    // Three runbooks name web-1 and web-2: their checks share the master connections.
    assert!(
        sshd.connections() <= 2,
        "{} SSH connections for 6 commands to two aliases of one server",
        sshd.connections()
    );

    let output = status(
        dir.path(),
        &[
            "--ssh-config",
            config,
            "--format",
            "json",
            "--parallel",
            "8",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["checked_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert_eq!(report["parallel"], 8);
    assert_eq!(
        report["jobs"], 13,
        "one job per check, one per host of a fan-out"
    );
    assert_eq!(
        report["counts"],
        serde_json::json!({ "red": 2, "orange": 1, "green": 1, "grey": 1 })
    );
    let services = report["services"].as_array().unwrap();
    let states: Vec<(&str, &str)> = services
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("broken", "red"),
            ("user-sync/push", "red"),
            ("search/index", "orange"),
            ("payments/api", "green"),
            ("docs/handbook", "grey"),
        ]
    );
    let broken = &services[0];
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("broken.yaml:8:5: unknown key `comand`"),
        "{broken}"
    );
    let sync = &services[1];
    assert_eq!(sync["services"], serde_json::json!(["user-sync-service"]));
    assert_eq!(
        sync["links"],
        serde_json::json!([{ "name": "Dashboard", "url": "https://grafana.example.com/d/user-sync?env=prod" }]),
        "links rendered with the inputs' defaults"
    );
    let checks = sync["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "The sync answers",
            "Every backend answers over SSH",
            "Queue lag"
        ]
    );
    assert_eq!(checks[0]["ok"], false);
    assert_eq!(checks[0]["reason"], "status 500");
    assert_eq!(checks[0]["expected"], "status 200");
    assert!(checks[0].get("hosts").is_none(), "not a fan-out");
    let hosts: Vec<(&str, bool)> = checks[1]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["host"].as_str().unwrap(), h["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(hosts, [("web-1", true), ("web-2", true), ("dead", false)]);
    assert_eq!(checks[1]["target"], "all");
    assert_eq!(
        (&checks[2]["ok"], &checks[2]["warn"]),
        (&false.into(), &true.into())
    );
    let page = dir.path().join("status.html");
    let output = status(
        dir.path(),
        &[
            "--ssh-config",
            config,
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(r#"<li class="host failed" data-host="dead"><b>dead</b>: connect to host"#),
        "{html}"
    );
    assert!(!html.contains(r#"data-host="web-1""#), "{html}");
    assert!(
        html.contains(r#"<span class="reason">1 of 3 hosts failed</span>"#),
        "{html}"
    );

    let payments = &services[3];
    assert!(
        payments["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true && c["reason"].is_null())
    );
}

#[test]
fn only_orange_and_green_exits_0() {
    let server = health_server();
    let dir = tempfile::tempdir().unwrap();
    runbook(
        dir.path(),
        "a/green",
        "a",
        &format!(
            "health:\n  - name: Up\n    http: {{ url: \"{}\", body_contains: ok }}\n",
            server.url("/ok")
        ),
    );
    runbook(
        dir.path(),
        "b/orange",
        "b",
        &format!(
            "health:\n  - name: Up\n    http: {{ url: \"{}\" }}\n  - name: Lag\n    http: {{ url: \"{}\" }}\n    warn: true\n",
            server.url("/ok"),
            server.url("/lag")
        ),
    );
    let output = status(dir.path(), &[]);
    let table = text(&output);
    assert_eq!(output.status.code(), Some(0), "{table}");
    assert!(table.starts_with("! orange"), "{table}");
    assert!(
        table.contains("    ! Lag: status 503 (expected status 2xx)"),
        "{table}"
    );
    assert!(table.contains("2 runbooks: 1 orange, 1 green"), "{table}");
}

#[test]
fn checks_of_every_runbook_share_one_bound() {
    let server = health_server();
    server.route(
        "/slow",
        Route::new(200, "ok").delay(Duration::from_millis(300)),
    );
    let dir = tempfile::tempdir().unwrap();
    let check = format!(
        "  - name: Slow\n    http: {{ url: \"{}\" }}\n",
        server.url("/slow")
    );
    for n in 1..=4 {
        runbook(
            dir.path(),
            &format!("svc/{n}"),
            &format!("svc-{n}"),
            &format!("health:\n{}", check.repeat(5)),
        );
    }
    // 20 checks of 300 ms, 10 at once: two rounds, whatever runbook they belong to.
    let output = status(dir.path(), &["--format", "json", "--parallel", "10"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let took = report["duration_ms"].as_u64().unwrap();
    assert!(
        (600..3000).contains(&took),
        "20 checks of 300 ms, 10 at once, took {took} ms"
    );
    assert_eq!(report["jobs"], 20);
}

#[test]
fn a_check_that_hangs_fails_at_its_timeout_and_holds_up_nothing_longer() {
    let server = health_server();
    server.route(
        "/hang",
        Route::new(200, "too late").delay(Duration::from_secs(30)),
    );
    let dir = tempfile::tempdir().unwrap();
    runbook(
        dir.path(),
        "slow/api",
        "slow",
        &format!(
            "health:\n  - name: Hanging endpoint\n    http: {{ url: \"{}\" }}\n    timeout: 1s\n  - name: Hanging script\n    run: sleep 30\n    timeout: 1s\n  - name: Quick\n    http: {{ url: \"{}\" }}\n",
            server.url("/hang"),
            server.url("/ok")
        ),
    );
    let started = Instant::now();
    let output = status(dir.path(), &["--format", "json"]);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        elapsed < Duration::from_secs(8),
        "status waited {elapsed:?} for checks with a 1s timeout"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let checks = &report["services"][0]["checks"];
    assert_eq!(checks[0]["reason"], "timed out after 1s", "{checks}");
    assert_eq!(
        checks[1]["reason"], "timed out after 1s; killed",
        "{checks}"
    );
    assert_eq!(checks[2]["ok"], true, "{checks}");
}

#[test]
fn secrets_never_show_and_missing_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    runbook(
        dir.path(),
        "vault/tokens",
        "vault",
        r#"inputs:
  token: { secret: true, default: s3cr3t-t0ken }
  pod: { description: The pod }
links: [{ name: Console, url: "https://console.example.com/?t={{ inputs.token }}" }]
health:
  - name: Token works
    run: echo "refused {{ inputs.token }}" >&2; exit 1
  - name: Pod answers
    run: kubectl get pod {{ inputs.pod }}
"#,
    );
    for format in ["table", "json", "html"] {
        let output = status(dir.path(), &["--format", format]);
        let all = text(&output);
        assert_eq!(output.status.code(), Some(1), "{all}");
        assert!(!all.contains("s3cr3t-t0ken"), "{format}: {all}");
        assert!(all.contains("refused ***"), "{format}: {all}");
        assert!(
            all.contains("needs input `pod` without a default"),
            "{format}: {all}"
        );
    }
}

#[test]
fn invalid_invocations_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = status(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("does not exist"),
        "{}",
        text(&output)
    );

    runbook(dir.path(), "a/b", "a", "");
    let output = status(dir.path(), &["--ssh-config", "/no/such/ssh_config"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("invalid value `/no/such/ssh_config` for `--ssh-config`"),
        "{}",
        text(&output)
    );

    // Where the page cannot be written: refused before any check runs.
    let output = status(dir.path(), &["--output", "/no/such/folder/page.html"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("the folder `/no/such/folder` does not exist"),
        "{}",
        text(&output)
    );
}

#[test]
fn ctrl_c_stops_every_check_and_leaves_no_child() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sleep.pid");
    runbook(
        dir.path(),
        "slow/script",
        "slow",
        &format!(
            "health:\n  - name: Slow\n    run: sleep 30 & echo $! > {}; wait\n",
            pid_file.display()
        ),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("status")
        .arg(dir.path().join("runbooks"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&pid_file).map_or(true, |p| p.trim().is_empty()) {
        assert!(Instant::now() < until, "the check never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sleep_pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let interrupted = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "{:?}",
        interrupted.elapsed()
    );
    assert_eq!(output.status.code(), Some(130), "{}", text(&output));
    assert!(
        output.stdout.is_empty(),
        "no half report: {}",
        text(&output)
    );
    assert!(text(&output).contains("interrupted"), "{}", text(&output));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !is_running(sleep_pid),
        "the check's `sleep` ({sleep_pid}) survived"
    );
}

/// Whether a process runs: it exists and is not a zombie.
fn is_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            != Some("Z")
    })
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium, or `None` (after a loud note) when it is not installed; with `CI=true` a missing
/// Chromium fails the test instead.
fn chromium_or_skip() -> Option<PathBuf> {
    if Path::new(CHROMIUM).is_file() {
        return Some(PathBuf::from(CHROMIUM));
    }
    let message = "chromium not found — install Debian's `chromium` (.ci/run does)";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}; CI=true makes this a failure");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
    None
}

/// Runs headless Chromium with the flags that work on a closed network, killing it if it
/// hangs; returns its stdout.
fn chromium(chromium: &Path, profile: &Path, args: &[&str]) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let until = Instant::now() + Duration::from_secs(90);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("chromium did not finish within 90s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_html_page_renders_in_a_real_browser() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let server = health_server();
    let dir = tempfile::tempdir().unwrap();
    runbook(
        dir.path(),
        "payments/api",
        "payments",
        &format!(
            "links: [{{ name: Dashboard, url: \"https://grafana.example.com/d/payments\" }}]\nhealth:\n  - name: API answers\n    http: {{ url: \"{}\", status: 200 }}\n",
            server.url("/ok")
        ),
    );
    runbook(
        dir.path(),
        "search/index",
        "search",
        &format!(
            "health:\n  - name: Search answers\n    http: {{ url: \"{}\" }}\n  - name: Indexing lag\n    http: {{ url: \"{}\", status: 200 }}\n    warn: true\n",
            server.url("/ok"),
            server.url("/lag")
        ),
    );
    runbook(
        dir.path(),
        "user-sync/push",
        "user-sync-service",
        &format!(
            "links: [{{ name: Logs <all>, url: \"https://logs.example.com/?q=a&b\" }}]\nhealth:\n  - name: The sync answers\n    http: {{ url: \"{}\", status: 200 }}\n  - name: Queue <lag>\n    run: echo 12345\n    expect: {{ stdout_matches: '^[0-9]{{1,3}}$' }}\n",
            server.url("/down")
        ),
    );
    let page = dir.path().join("page.html");
    let output = status(
        dir.path(),
        &["--format", "html", "--output", page.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(output.stdout.is_empty(), "the page went to the file");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("3 runbooks: 1 red, 1 orange, 1 green"),
        "{}",
        text(&output)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["<script", "<link", "<img", "@import", "url("] {
        assert!(!html.contains(external), "the page loads `{external}`");
    }

    let url = format!("file://{}", page.display());
    let shot = dir.path().join("shot.png");
    chromium(
        &browser,
        &dir.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1300",
            &url,
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 20_000, "a blank page? only {} bytes", png.len());
    if let Ok(keep) = std::env::var("RUNBOOK_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    let dom = chromium(
        &browser,
        &dir.path().join("profile-dom"),
        &["--dump-dom", &url],
    );
    let states: Vec<&str> = dom
        .match_indices(r#"<section class="service "#)
        .map(|(at, _)| {
            let rest = &dom[at..];
            let start = rest.find(r#"data-state=""#).unwrap() + r#"data-state=""#.len();
            let end = start + rest[start..].find('"').unwrap();
            &rest[start..end]
        })
        .collect();
    assert_eq!(states, ["red", "orange", "green"], "{dom}");
    for expected in [
        r#"<header class="banner red" data-state="red">"#,
        r#"<h1>1 service is red</h1>"#,
        r#"<li class="check failed" data-check="The sync answers">"#,
        r#"<span class="reason">status 500</span>"#,
        r#"<span class="expected">expected status 200</span>"#,
        r#"<li class="check failed" data-check="Queue &lt;lag&gt;">"#,
        r#"<span class="reason">stdout does not match: 12345</span>"#,
        r#"<li class="check warned" data-check="Indexing lag">"#,
        r#"<span class="reason">status 503</span>"#,
        r#"<li class="check passed" data-check="API answers">"#,
        r#"<a href="https://grafana.example.com/d/payments">Dashboard</a>"#,
        r#"<a href="https://logs.example.com/?q=a&amp;b">Logs &lt;all&gt;</a>"#,
    ] {
        assert!(
            dom.contains(expected),
            "`{expected}` not in the DOM:\n{dom}"
        );
    }
    assert!(dom.contains("<time datetime=\""), "{dom}");
}
