//! The run screen as a tired engineer sees it, in a real terminal (tmux) of 80×24 and 120×40:
//! the demo and the shipped HAProxy runbook (`runbooks/web-front/saturated-backends.yaml`)
//! against a real HAProxy, real backends and a real sshd. What is judged is the screen
//! itself, as tmux drew it: no line wider than the terminal, no raw Markdown, the contacts
//! brought back on request, a failing check's stderr, and how many lines come before the
//! first confirmation. Colour is judged on the raw bytes of a pseudo-terminal.
//!
//! Without tmux (or haproxy, socat, sshd) a test says so on stderr and passes; with `CI=true`
//! it fails.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::haproxy::{Haproxy, haproxy_or_skip};
use support::http::{Route, Server};
use support::pty::{ENTER, Terminal};
use support::sshd::{Sshd, sshd_or_skip};

const BIN: &str = env!("CARGO_BIN_EXE_runbook");
/// Generous: the tests run in parallel on small machines. A wait, not a timing assertion.
const WAIT: Duration = Duration::from_secs(40);

// ───────────────────────────── tmux ─────────────────────────────

/// `runbook` in a tmux window of a given size, on a tmux server of its own.
struct Tmux {
    socket: String,
    _dir: tempfile::TempDir,
}

fn tmux_found() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let message = "tmux not found — install tmux";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{message}; CI=true makes this a failure");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
    }
    found
}

impl Tmux {
    /// Starts `runbook ARGS…` in `dir` in a `width`×`height` window, with `env` set. `None`
    /// (after a loud note) without tmux.
    fn start(
        dir: &Path,
        args: &[String],
        width: usize,
        height: usize,
        env: &[(&str, &str)],
    ) -> Option<Tmux> {
        if !tmux_found() {
            return None;
        }
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "runbook-screen-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        );
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("tmux.conf");
        // The window keeps its content when runbook exits; the whole run stays in history.
        std::fs::write(
            &config,
            "set -g remain-on-exit on\nset -g history-limit 50000\nset -g status off\n",
        )
        .unwrap();
        let mut script = format!("cd {} && exec env", quote(&dir.display().to_string()));
        for (name, value) in env {
            script.push_str(&format!(" {name}={}", quote(value)));
        }
        script.push_str(&format!(" {}", quote(BIN)));
        for arg in args {
            script.push_str(&format!(" {}", quote(arg)));
        }
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f"])
            .arg(&config)
            .args([
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(script)
            .env_remove("TMUX")
            .env_remove("RUNBOOK_CATALOG")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        Some(Tmux { socket, _dir: home })
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The whole run so far, one logical line per line: a line the terminal had to wrap
    /// comes back joined, as long as it was written.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-E", "-"])
    }

    /// Waits until the screen shows `text`; returns the screen.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        let until = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if Instant::now() > until {
                panic!("the screen never showed {text:?}:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen shows `text` once more than `before` did.
    #[track_caller]
    fn wait_for_new(&self, before: &str, text: &str) -> String {
        self.wait_for_count(text, before.matches(text).count() + 1)
    }

    /// Waits until the screen shows `text` `times` times.
    #[track_caller]
    fn wait_for_count(&self, text: &str, times: usize) -> String {
        let seen = times - 1;
        let until = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if screen.matches(text).count() > seen {
                return screen;
            }
            if Instant::now() > until {
                panic!("the screen never showed {text:?} again:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types keys (tmux key names: `Enter`, `Down`, `Escape`, or text).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend(keys);
        self.tmux(&args);
    }

    /// Waits for the run to end; returns the whole screen.
    #[track_caller]
    fn finish(&self) -> String {
        let until = Instant::now() + WAIT;
        loop {
            if self
                .tmux(&["display-message", "-p", "-t", "0", "#{pane_dead}"])
                .trim()
                == "1"
            {
                return self.screen();
            }
            if Instant::now() > until {
                panic!("runbook did not end:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// How many columns `line` takes.
fn columns(line: &str) -> usize {
    line.chars()
        .map(|c| match c {
            // Wide characters (emoji, CJK) take two columns.
            '\u{1100}'..='\u{115F}'
            | '\u{2E80}'..='\u{A4CF}'
            | '\u{AC00}'..='\u{D7A3}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{1F300}'..='\u{1FAFF}' => 2,
            _ => 1,
        })
        .sum()
}

/// No line of `screen` is wider than the terminal.
#[track_caller]
fn assert_fits(screen: &str, width: usize) {
    let over: Vec<&str> = screen
        .lines()
        .filter(|line| columns(line.trim_end()) > width)
        .collect();
    assert!(
        over.is_empty(),
        "{} line(s) wider than {width} columns:\n{}\n── screen ──\n{screen}",
        over.len(),
        over.join("\n")
    );
}

/// No Markdown marker shows raw.
#[track_caller]
fn assert_no_raw_markdown(screen: &str) {
    for marker in ["**", "`", "]("] {
        let found: Vec<&str> = screen.lines().filter(|l| l.contains(marker)).collect();
        assert!(
            found.is_empty(),
            "raw Markdown `{marker}` on the screen:\n{}\n── screen ──\n{screen}",
            found.join("\n")
        );
    }
}

/// The lines from the top of the run to the line that asks `question` (included).
#[track_caller]
fn lines_until(screen: &str, question: &str) -> usize {
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(question))
        .unwrap_or_else(|| panic!("no {question:?} on the screen:\n{screen}"));
    // The shell's blank lines above the first output do not count.
    let first = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
    at + 1 - first
}

// ───────────────────────────── the demo ─────────────────────────────

fn demo_args(dir: &Path) -> Vec<String> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/demo/local-demo.yaml");
    vec![
        "run".into(),
        demo.display().to_string(),
        "--incident".into(),
        "INC-SCREEN".into(),
        "--timeline".into(),
        dir.join("demo.jsonl").display().to_string(),
    ]
}

/// The demo, walked through to the end at `width`×`height`; the whole screen (empty without
/// tmux).
fn walk_the_demo(width: usize, height: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(
        dir.path(),
        &demo_args(dir.path()),
        width,
        height,
        &[("TERM", "xterm-256color")],
    ) else {
        return String::new();
    };
    t.wait_for("What should the demo call you?");
    t.keys(&["Enter"]);
    let screen = t.wait_for("? When you have done it");
    // The contacts and links again, from the menu, then back at the same question (asked
    // a second time: the answered question stays on the screen).
    t.keys(&["Up", "Enter"]);
    let again = t.wait_for_new(&screen, "Runbook maintainers");
    assert!(
        again.contains("Format reference: docs/format.md"),
        "{again}"
    );
    t.wait_for_count("When you have done it", 2);
    t.keys(&["Enter"]);
    // Each menu as drawn (once answered, only its answer stays): the help line comes last.
    t.wait_for("What now?");
    let decision = t.wait_for("[↑↓ to move");
    t.keys(&["Enter"]);
    t.wait_for("Run it on local?");
    let confirmation = t.wait_for("[↑↓ to move");
    t.keys(&["Down", "Enter"]);
    t.wait_for("When you have done it");
    t.keys(&["Enter"]);
    let screen = t.finish();
    assert!(screen.contains("Runbook finished: resolved"), "{screen}");
    assert_fits(&screen, width);
    assert_no_raw_markdown(&screen);
    format!("{decision}\n{confirmation}\n{screen}")
}

/// The words the README's demo paragraph tells you to pick (its **bold** ones, and the menu
/// entries it names) are the ones on the screen.
#[track_caller]
fn assert_the_readme_tells_the_demo_as_it_is(screen: &str) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("The demo asks")
        .expect("the README's demo paragraph");
    let end = start + readme[start..].find("\n\n").unwrap();
    let paragraph = readme[start..end].replace('\n', " ");
    let mut named: Vec<String> = paragraph
        .split("**")
        .skip(1)
        .step_by(2)
        .flat_map(|bold| bold.split(" / ").map(str::to_string).collect::<Vec<_>>())
        .collect();
    named.push("on-call engineer".into());
    assert!(named.len() >= 8, "{named:?}");
    for name in named {
        assert!(
            screen.contains(&name),
            "the README says {name:?}, the screen does not:\n{screen}"
        );
    }
}

#[test]
fn the_demo_fits_80_columns_and_shows_no_raw_markdown() {
    let screen = walk_the_demo(80, 24);
    if !screen.is_empty() {
        assert_the_readme_tells_the_demo_as_it_is(&screen);
    }
}

#[test]
fn the_demo_fits_120_columns_and_shows_no_raw_markdown() {
    walk_the_demo(120, 40);
}

// ───────────────────────────── the HAProxy incident ─────────────────────────────

const SERVERS: [&str; 3] = ["web-1", "web-2", "web-3"];
const HEALTH_URL: &str = "http://{{ host }}:8080/health";

/// web-1 healthy; web-2 saturated (500); web-3 hangs on its health check.
fn backends() -> Vec<Server> {
    let healthy = Server::start();
    healthy.route("/health", Route::new(200, "ok"));
    healthy.route("/", Route::new(200, "hello from web-1"));
    let failing = Server::start();
    failing.route("/health", Route::new(500, "saturated"));
    failing.route("/", Route::new(500, "saturated"));
    let hanging = Server::start();
    hanging.route(
        "/health",
        Route::new(200, "ok").delay(Duration::from_secs(30)),
    );
    hanging.route("/", Route::new(503, "overloaded"));
    vec![healthy, failing, hanging]
}

/// The shipped runbook with the backends' health URL pointed at the test backends.
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

struct Lab {
    sshd: Sshd,
    _backends: Vec<Server>,
    haproxy: Haproxy,
    dir: tempfile::TempDir,
    runbook: PathBuf,
}

fn lab() -> Option<Lab> {
    if !tmux_found() {
        return None;
    }
    let sshd = sshd_or_skip()?;
    let backends = backends();
    let ports: Vec<u16> = backends.iter().map(Server::port).collect();
    let haproxy = haproxy_or_skip(&ports)?;
    let dir = tempfile::tempdir().unwrap();
    let runbook = example_runbook(dir.path(), &backends);
    Some(Lab {
        sshd,
        _backends: backends,
        haproxy,
        dir,
        runbook,
    })
}

impl Lab {
    fn args(&self) -> Vec<String> {
        vec![
            "run".into(),
            self.runbook.display().to_string(),
            "--ssh-config".into(),
            self.sshd.config().display().to_string(),
            "--set".into(),
            format!("admin_socket={}", self.haproxy.socket().display()),
            "--set".into(),
            format!("front_url={}", self.haproxy.frontend_url()),
            "--timeline".into(),
            self.dir.path().join("incident.jsonl").display().to_string(),
        ]
    }
}

/// The incident up to the drain's confirmation; returns the screen there.
fn to_the_drain(t: &Tmux) -> String {
    t.wait_for("When you have done it");
    t.keys(&["Enter"]);
    t.wait_for("How bad is it?");
    let screen = t.wait_for("What now?");
    t.keys(&["Enter"]);
    let _ = screen;
    t.wait_for("To confirm, type: lb")
}

/// The incident at `width`×`height`, asking for the contacts at the first prompt when
/// `contacts`; returns the screen and the lines before the drain's confirmation.
fn the_incident(width: usize, height: usize, contacts: bool) -> Option<(String, usize)> {
    let lab = lab()?;
    let t = Tmux::start(
        lab.dir.path(),
        &lab.args(),
        width,
        height,
        &[("TERM", "xterm-256color")],
    )?;
    let screen = t.wait_for("? When you have done it");
    // Contacts and links again, on request (the header shows only who to call first).
    assert!(!screen.contains("+33 1 00 00 00 03"), "{screen}");
    if contacts {
        t.keys(&["Up", "Enter"]);
        let again = t.wait_for_new(&screen, "+33 1 00 00 00 03");
        assert!(
            again.contains("Backend logs: https://logs.example.com"),
            "{again}"
        );
        t.wait_for_count("When you have done it", 2);
    }
    let screen = to_the_drain(&t);
    let count = lines_until(&screen, "To confirm, type: lb");
    // The failing backends' reasons are on the screen, not only in the timeline.
    assert!(screen.contains("status 500"), "{screen}");
    assert!(screen.contains("saturated"), "{screen}");
    t.keys(&["l", "b", "Enter"]);
    t.wait_for("Put them back into HAProxy now?");
    t.keys(&["Enter"]);
    let screen = t.finish();
    assert!(screen.contains("Runbook finished: resolved"), "{screen}");
    assert_fits(&screen, width);
    assert_no_raw_markdown(&screen);
    assert_eq!(lab.haproxy.server_state("web-2"), "maint");
    Some((screen, count))
}

#[test]
fn the_haproxy_incident_fits_80_columns() {
    the_incident(80, 24, true);
}

#[test]
fn the_haproxy_incident_at_120_columns_asks_within_40_lines() {
    let Some((screen, count)) = the_incident(120, 40, false) else {
        return;
    };
    let _ = writeln!(
        std::io::stderr(),
        "lines before the first confirmation at 120×40: {count}"
    );
    // The screen itself, for `-- --nocapture` (captured otherwise).
    let _ = writeln!(std::io::stderr(), "{screen}");
    assert!(
        count <= 40,
        "{count} lines before the first confirmation:\n{screen}"
    );
}

// ───────────────────────────── colour ─────────────────────────────

/// The SGR sequences (colours, bold, dim) in `raw`: `ESC [ … m`.
fn colour_codes(raw: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = raw;
    while let Some(at) = rest.find("\x1b[") {
        let after = &rest[at + 2..];
        let end = after
            .find(|c: char| ('\x40'..='\x7e').contains(&c))
            .unwrap_or(after.len());
        if after[end..].starts_with('m') {
            found.push(format!("ESC[{}m", &after[..end]));
        }
        rest = &after[end.min(after.len())..];
    }
    found
}

/// The demo at a terminal with `env` and `flags`: its first question answered by hand (a
/// prompt drawn by inquire), the rest by `--yes`. Returns every byte it wrote.
fn demo_at_a_terminal(env: &[(&str, &str)], flags: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    args.extend(demo_args(dir.path()));
    args.push("--answer".into());
    args.push("choose=Skip to the end".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Terminal::spawn_env(dir.path(), &args, env);
    t.expect("What should the demo call you?");
    t.send(ENTER);
    t.expect("When you have done it");
    t.send(ENTER);
    t.expect("When you have done it");
    t.send(ENTER);
    let (code, raw) = t.finish_raw();
    assert_eq!(code, 0, "{raw}");
    raw
}

#[test]
fn a_terminal_gets_colour_by_default() {
    let raw = demo_at_a_terminal(&[], &[]);
    assert!(!colour_codes(&raw).is_empty(), "no colour at all:\n{raw}");
}

#[test]
fn term_dumb_gets_no_colour_not_even_in_the_prompts() {
    let raw = demo_at_a_terminal(&[("TERM", "dumb")], &[]);
    assert_eq!(colour_codes(&raw), Vec::<String>::new(), "{raw}");
}

#[test]
fn color_never_and_no_color_get_no_colour_not_even_in_the_prompts() {
    let raw = demo_at_a_terminal(&[], &["--color", "never"]);
    assert_eq!(colour_codes(&raw), Vec::<String>::new(), "{raw}");
    let raw = demo_at_a_terminal(&[("NO_COLOR", "1")], &[]);
    assert_eq!(colour_codes(&raw), Vec::<String>::new(), "{raw}");
}

#[test]
fn color_always_and_clicolor_force_colour_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let run = |flags: &[&str], env: &[(&str, &str)]| {
        let each = tempfile::tempdir().unwrap();
        let mut command = Command::new(BIN);
        command
            .args(flags)
            .args(demo_args(each.path()))
            .args(["--yes", "--answer", "choose=Skip to the end"])
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env("TERM", "xterm");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(
        colour_codes(&run(&[], &[])).is_empty(),
        "a pipe gets no colour by default"
    );
    let always = run(&["--color", "always"], &[]);
    assert!(!colour_codes(&always).is_empty(), "{always}");
    let forced = run(&[], &[("CLICOLOR_FORCE", "1")]);
    assert!(!colour_codes(&forced).is_empty(), "{forced}");
    // The flag wins over the environment.
    let never = run(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]);
    assert!(colour_codes(&never).is_empty(), "{never}");
    // Lint colours its findings the same way.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "runbook: 1\ntitle: x\n").unwrap();
    let lint = Command::new(BIN)
        .args(["--color", "always", "lint"])
        .arg(&bad)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(!colour_codes(&text).is_empty(), "{text}");
}

// ───────────────────────────── what the screen shows of values and outputs ─────────────────

/// Writes `steps` as a runbook in `dir`; returns its path.
fn write_runbook(dir: &Path, extra: &str, steps: &str) -> PathBuf {
    let path = dir.join("screen.yaml");
    std::fs::write(
        &path,
        format!(
            "runbook: 1\ntitle: Screen\nowner: o\nreviewed: 2026-11-01\nscope: {{ services: [s] }}\n{extra}steps:\n{steps}"
        ),
    )
    .unwrap();
    path
}

fn run_args(dir: &Path, runbook: &Path, more: &[&str]) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        runbook.display().to_string(),
        "--timeline".into(),
        dir.join("t.jsonl").display().to_string(),
    ];
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

/// Issue 13: a capture taken on several hosts (here items) showed on the screen where the
/// engineer decides as minijinja's `{'web-1': 'web-1 queue=0\nweb-1 up', …}`; it is a table,
/// one row per host, a multi-line value's lines under each other. Commands still get the value
/// they got (the map's text).
#[test]
fn a_capture_taken_on_several_hosts_is_shown_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = write_runbook(
        dir.path(),
        "",
        r#"  - id: look
    name: Look at each backend
    check:
      run: "printf '%s queue=0\n%s up\n' {{ item }} {{ item }}"
      for_each: "['web-1', 'web-22']"
      capture: stat
  - id: decide
    name: Decide
    instructions: |
      HAProxy:

      ```
      {{ vars.stat }}
      ```
    ask:
      question: Go on?
      choices: [{ label: Go on, next: echo }]
  - id: echo
    name: Echo
    check: { run: "echo {{ vars.stat }}" }
"#,
    );
    let args = run_args(dir.path(), &runbook, &["--answer", "decide=Go on"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = support::pty::Terminal::spawn(dir.path(), &args);
    t.expect("Runbook finished");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    let decide = &screen
        [screen.find("Step 2/3").expect(&screen)..screen.find("answer: Go on").expect(&screen)];
    for row in [
        "│ web-1  │ web-1 queue=0",
        "│        │ web-1 up",
        "│ web-22 │ web-22 queue=0",
        "│        │ web-22 up",
    ] {
        assert!(decide.contains(row), "no {row:?} in:\n{decide}");
    }
    assert!(!decide.contains("{'web-1'"), "{decide}");
    // The command got the value as before: the map's text.
    assert!(
        screen.contains("{'web-1': 'web-1 queue=0\\nweb-1 up', 'web-22'"),
        "{screen}"
    );
}

/// Issue 11: a passing `expect.that` showed only `exit 0`; it shows the values it read, as a
/// failing one does. A `for_each` check showed only its first item's command; each item's
/// line shows its own.
#[test]
fn a_passing_that_shows_what_it_read_and_each_item_shows_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = write_runbook(
        dir.path(),
        "data: { limit: 3 }\n",
        r#"  - id: count
    name: Count
    check:
      run: echo 3
      expect: { that: "stdout | trim | int == data.limit" }
  - id: each
    name: Each table
    check:
      run: "echo checked {{ item }}"
      for_each: "['users', 'orders']"
      expect: { that: "'checked' in stdout" }
"#,
    );
    let args = run_args(dir.path(), &runbook, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = support::pty::Terminal::spawn(dir.path(), &args);
    t.expect("Runbook finished");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("exit 0, and that holds: data.limit = 3, stdout = \"3\\n\""),
        "{screen}"
    );
    for item in ["users", "orders"] {
        assert!(
            screen.contains(&format!("✔ {item} $ echo checked {item} → exit 0")),
            "{item}: {screen}"
        );
    }
}

/// Issue 13: the screen shows a failing command's last lines; the whole output is one entry
/// of the failure menu away (through `$PAGER`), and the menu is back after it.
#[test]
fn the_failure_menu_shows_the_whole_output_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = write_runbook(
        dir.path(),
        "",
        r#"  - id: noisy
    name: Noisy
    check:
      run: "for i in $(seq 1 20); do echo out-line-$i; done; echo the-real-reason >&2; exit 1"
"#,
    );
    let args = run_args(dir.path(), &runbook, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Terminal::spawn_env(dir.path(), &args, &[("NO_COLOR", "1"), ("PAGER", "cat")]);
    t.expect("The step failed. What now?");
    t.expect("Show the whole output");
    // The first lines were cut from the tail the screen shows; the pager shows them.
    t.send("\x1b[A");
    t.send(ENTER);
    t.expect("$ for i in $(seq 1 20)");
    t.expect("out-line-1\r\n");
    t.expect("out-line-20");
    t.expect("the-real-reason");
    t.pick("The step failed. What now?", 4);
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("── local · exit 1"), "{screen}");
}

/// Issue 13: a long local command showed nothing but its spinner until it ended; its last
/// lines show under the spinner while it runs (here: until the test, having seen them, lets
/// it end). A fan-out's live host lines show the time limit, as a single spinner does.
#[test]
fn a_running_command_shows_its_last_lines_and_host_lines_show_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = write_runbook(
        dir.path(),
        "",
        r#"  - id: long
    name: Long
    check:
      run: "echo live-line-A; echo live-line-B; while [ ! -e go ]; do sleep 0.05; done; echo finished-now"
    timeout: 50s
  - id: each
    name: Each
    check:
      run: "while [ ! -e go-{{ item }} ]; do sleep 0.05; done"
      for_each: "['x']"
    timeout: 45s
"#,
    );
    let args = run_args(dir.path(), &runbook, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Terminal::spawn(dir.path(), &args);
    t.expect("local$ echo live-line-A");
    // Still running (it waits for `go`): what it wrote is on the screen.
    t.expect("│ live-line-A");
    t.expect("│ live-line-B");
    std::fs::write(dir.path().join("go"), "").unwrap();
    t.expect("finished-now");
    t.expect("x running");
    t.expect("/ 45s");
    std::fs::write(dir.path().join("go-x"), "").unwrap();
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
}

/// Issue 13: every input was asked before anything was shown. An input with no value and no
/// default is asked just before the first step that uses it, under that step's header;
/// `run_started` holds the inputs known at the start, `input_given` the one asked later, and
/// `--resume` restores it (it is not asked again).
#[test]
fn an_input_is_asked_when_first_needed_and_resume_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = write_runbook(
        dir.path(),
        "inputs:\n  service: { description: Which service is sick }\n  region: { default: eu }\n",
        r#"  - id: look
    name: Look at the dashboard
    instructions: Open the dashboard of {{ inputs.region }}.
  - id: probe
    name: Probe the service
    check: { run: "echo probing {{ inputs.service }}" }
  - id: fix
    name: Fix it
    instructions: Restart {{ inputs.service }} by hand.
"#,
    );
    let timeline = dir.path().join("t.jsonl");
    let args = run_args(dir.path(), &runbook, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Terminal::spawn(dir.path(), &args);
    // The input with a default is asked first, as before; the other one waits.
    t.answer("? region:", "");
    t.expect("Step 1/3 · Look at the dashboard");
    t.pick("When you have done it", 0);
    t.expect("Step 2/3 · Probe the service");
    t.answer("Which service is sick (service):", "checkout");
    t.expect("probing checkout");
    // Quit at step 3: Done, Skip, note, quit.
    t.pick("When you have done it", 3);
    let (code, screen) = t.finish();
    assert_ne!(code, 0, "{screen}");
    let before_step_2 = &screen[..screen.find("Step 2/3").unwrap()];
    assert!(!before_step_2.contains("(service)"), "{screen}");

    let events: Vec<serde_json::Value> = std::fs::read_to_string(&timeline)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let started = events.iter().find(|e| e["event"] == "run_started").unwrap();
    assert_eq!(started["inputs"], serde_json::json!({ "region": "eu" }));
    let given = events.iter().find(|e| e["event"] == "input_given").unwrap();
    assert_eq!(given["name"], "service");
    assert_eq!(given["value"], "checkout");
    assert_eq!(given["step"], "probe");

    let resume = ["run", "--resume", timeline.to_str().unwrap()];
    let mut t = Terminal::spawn(dir.path(), &resume);
    t.expect("Restart checkout by hand.");
    t.pick("When you have done it", 0);
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("(service)"), "asked again:\n{screen}");
}
