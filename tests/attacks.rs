//! Attacks on `runbook` by hostile values and by another local user (issue 10). Each test runs
//! the attacker's steps for real — as `nobody`, through `setpriv`, where the attack needs a
//! second user — then checks that the attack no longer works. The second-user tests skip
//! loudly when not run as root (or without `setpriv`), and fail then when `CI=true`.

mod support;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::pty::Terminal;

/// A local runbook whose action echoes an input; `key` is a secret taken from `TEST_PEM_KEY`.
const RUNBOOK: &str = r##"runbook: 1
title: Attacks — a value and a secret in a command
summary: The attack tests give hostile values and look at the screen and the files.
owner: runbook-tests
reviewed: 2026-11-01
scope:
  services: [attacks]
contacts:
  - name: Attack team
    chat: "#attacks"
links:
  - name: Dashboard
    url: https://example.com/attacks
inputs:
  note:
    description: A note to echo
    default: fine
  key:
    description: A private key
    secret: true
    allow_dash: true             # a PEM key starts with dashes
    env: TEST_PEM_KEY
health:
  - name: Answers
    run: "true"
steps:
  - id: wipe
    name: Wipe the cache
    action:
      run: echo {{ inputs.note }} && rm -rf ./cache
      rollback:
        run: echo nothing to undo
  - id: show-key
    name: Use the key
    check:
      run: printf '%s\n' {{ inputs.key }}
"##;

const PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n\
MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n\
NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ\n\
q4s=\n\
-----END PRIVATE KEY-----";

/// The lines of the key that are secret (its base64 body).
fn pem_body() -> impl Iterator<Item = &'static str> {
    PEM.lines().filter(|l| !l.starts_with("-----"))
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // Others may look in (as they may in a home or a checkout), not write.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    std::fs::write(dir.path().join("runbooks/attacks.yaml"), RUNBOOK).unwrap();
    dir
}

fn runbook(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TEST_PEM_KEY", PEM)
        .env_remove("RUNBOOK_CATALOG")
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", dir)
        .stdin(std::process::Stdio::null());
    command
}

fn run(dir: &Path, incident: &str, more: &[&str]) -> Output {
    runbook(dir)
        .args([
            "run",
            "runbooks/attacks.yaml",
            "--yes",
            "--incident",
            incident,
        ])
        .args(more)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether a second, unprivileged user can act here; says loudly why not, and fails under CI.
fn second_user() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if root && setpriv {
        return true;
    }
    let why = if root {
        "`setpriv` is not installed"
    } else {
        "the tests do not run as root"
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the second-user attack tests need root and setpriv under CI: {why}");
    }
    eprintln!("SKIPPED: the second-user attack test needs root and setpriv: {why}");
    false
}

/// Runs `script` with `sh` as `nobody` (uid and gid 65534, no groups) in `dir`.
fn as_nobody(dir: &Path, script: &str) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A root-owned file the attacker wants overwritten.
fn victim(dir: &Path) -> PathBuf {
    let victim = dir.join("victim");
    std::fs::write(&victim, "root's precious file\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    victim
}

/// A folder every user may write in, as /tmp (sticky) or a careless share (not sticky).
fn shared_folder(dir: &Path, name: &str, sticky: bool) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir(&folder).unwrap();
    let mode = if sticky { 0o1777 } else { 0o777 };
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode)).unwrap();
    folder
}

/// `status --output` wrote `.NAME.PID.tmp` with `File::create`: links planted there for the
/// next PIDs made root overwrite any file the links named.
#[test]
fn status_output_never_writes_through_a_planted_link() {
    if !second_user() {
        return;
    }
    let dir = workspace();
    let victim = victim(dir.path());
    // Not sticky: in a sticky folder the kernel's `protected_symlinks` would stop root
    // following the links anyway; a careless share has no such guard.
    let out = shared_folder(dir.path(), "public", false);
    let next = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .unwrap_or(1);
    // One process plants them all, so that planting does not use up the PIDs it aims at.
    let planted = as_nobody(
        &out,
        &format!(
            "python3 -c 'import os\nfor pid in range({next}, {}):\n    os.symlink(\"{victim}\", \".status.html.%d.tmp\" % pid)\nos.symlink(\"{victim}\", \"status.html\")'",
            next + 3000,
            victim = victim.display(),
        ),
    );
    assert!(planted.status.success(), "{}", text(&planted.stderr));
    let status = runbook(dir.path())
        .args(["status", "runbooks", "--format", "html", "--output"])
        .arg(out.join("status.html"))
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root's precious file\n",
        "the report was written through a planted link"
    );
    let page = std::fs::symlink_metadata(out.join("status.html")).unwrap();
    assert!(
        page.is_file() && page.uid() == 0,
        "the report replaced the link"
    );
}

/// A `timelines/` folder that another user made: they chose where root's timeline went (a
/// link to root's files) and could read it.
#[test]
fn a_timelines_folder_of_another_user_is_refused() {
    if !second_user() {
        return;
    }
    let dir = workspace();
    let victim = victim(dir.path());
    // The attacker owns `timelines/` (made in a folder they may write in) and plants a link.
    let public = shared_folder(dir.path(), "public", true);
    std::fs::create_dir(public.join("runbooks")).unwrap();
    std::fs::write(public.join("runbooks/attacks.yaml"), RUNBOOK).unwrap();
    let planted = as_nobody(
        &public,
        &format!(
            "mkdir timelines && ln -s {} timelines/INC-1.jsonl",
            victim.display()
        ),
    );
    assert!(planted.status.success(), "{}", text(&planted.stderr));
    let output = run(&public, "INC-1", &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to keep a timeline in `")
            && stderr.contains("public/timelines`")
            && stderr.contains("belongs to another user (uid 65534)"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root's precious file\n"
    );
}

/// A file planted where the timeline goes, in a folder everyone may write: root wrote the
/// incident into the attacker's file, which the attacker then read.
#[test]
fn a_planted_timeline_file_is_never_written_to() {
    if !second_user() {
        return;
    }
    for sticky in [false, true] {
        let dir = workspace();
        let timelines = shared_folder(dir.path(), "timelines", sticky);
        let planted = as_nobody(&timelines, "touch INC-2.jsonl && chmod 666 INC-2.jsonl");
        assert!(planted.status.success(), "{}", text(&planted.stderr));
        let output = run(dir.path(), "INC-2", &[]);
        let stderr = text(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "sticky {sticky}: {stderr}");
        let why = if sticky {
            "an empty file of another user's"
        } else {
            "writable by every user"
        };
        assert!(stderr.contains(why), "sticky {sticky}: {stderr}");
        let stolen = as_nobody(&timelines, "cat INC-2.jsonl");
        assert_eq!(text(&stolen.stdout), "", "the attacker read the incident");
    }
}

/// Timelines were 0644 in a 0755 folder: every local user read the recorded outputs.
#[test]
fn another_user_cannot_read_a_timeline() {
    if !second_user() {
        return;
    }
    let dir = workspace();
    let output = run(
        dir.path(),
        "INC-3",
        &["--set", "note=payroll-db-password-hint"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let timeline = dir.path().join("timelines/INC-3.jsonl");
    assert_eq!(std::fs::metadata(&timeline).unwrap().mode() & 0o777, 0o600);
    let head = dir.path().join("timelines/INC-3.jsonl.head");
    assert_eq!(std::fs::metadata(&head).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(dir.path().join("timelines"))
            .unwrap()
            .mode()
            & 0o777,
        0o700
    );
    let read = as_nobody(dir.path(), "cat timelines/INC-3.jsonl");
    assert!(!read.status.success());
    assert!(
        !text(&read.stdout).contains("payroll"),
        "the attacker read it"
    );
}

/// `--resume` followed a link where the timeline was, and appended to whatever it named.
#[test]
fn resume_refuses_a_linked_timeline() {
    let dir = workspace();
    let output = run(dir.path(), "INC-4", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let link = dir.path().join("timelines/INC-5.jsonl");
    std::os::unix::fs::symlink("INC-4.jsonl", &link).unwrap();
    let before = std::fs::read(dir.path().join("timelines/INC-4.jsonl")).unwrap();
    let resumed = runbook(dir.path())
        .args(["run", "--yes", "--resume", "timelines/INC-5.jsonl"])
        .output()
        .unwrap();
    let stderr = text(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("timelines/INC-4.jsonl")).unwrap(),
        before
    );
}

/// A PEM key was masked line by line on screen, so every line of it showed.
#[test]
fn a_multi_line_secret_never_shows_on_screen_nor_in_the_timeline() {
    let dir = workspace();
    let output = run(dir.path(), "INC-6", &[]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    let timeline = std::fs::read_to_string(dir.path().join("timelines/INC-6.jsonl")).unwrap();
    for line in pem_body() {
        assert!(
            !stdout.contains(line),
            "{line} reached the screen:\n{stdout}"
        );
        assert!(!timeline.contains(line), "{line} reached the timeline");
    }
    assert!(stdout.contains("***"), "{stdout}");
}

/// A value with `\r` and an erase-line code blanked the command in an action's confirmation;
/// OSC 52 (clipboard) and title sequences reached the terminal, in `runbook timeline` too.
#[test]
fn a_value_cannot_forge_the_confirmation_nor_reach_the_terminal() {
    let dir = workspace();
    let value = "ok\r\x1b[2K\x1b]52;c;cm0gLXJmIH4K\x07\x1b]0;owned\x07";
    let mut terminal = Terminal::spawn(
        dir.path(),
        &[
            "run",
            "runbooks/attacks.yaml",
            "--incident",
            "INC-7",
            "--set",
            &format!("note={value}"),
        ],
    );
    terminal.answer("A private key", "k3y-for-the-check");
    terminal.expect("It will run:");
    terminal.expect("rm -rf ./cache");
    terminal.pick("Run it on local?", 1);
    terminal.expect("Runbook finished");
    let (_, screen) = terminal.finish();
    // The command shows whole, the codes as text; no BEL of an OSC reached the terminal.
    assert!(
        screen.contains(
            r"echo 'ok\r\x1b[2K\x1b]52;c;cm0gLXJmIH4K\x07\x1b]0;owned\x07' && rm -rf ./cache"
        ),
        "{screen}"
    );
    assert!(!screen.contains('\x07'), "{screen:?}");

    let mut terminal = Terminal::spawn(dir.path(), &["timeline", "timelines/INC-7.jsonl"]);
    let (code, chronology) = {
        terminal.expect("run resolved");
        terminal.finish()
    };
    assert_eq!(code, 0, "{chronology}");
    assert!(chronology.contains(r"\x1b]52;c;"), "{chronology}");
    assert!(!chronology.contains('\x07'), "{chronology:?}");
    for format in ["md", "text"] {
        let shown = runbook(dir.path())
            .args(["timeline", "timelines/INC-7.jsonl", "--format", format])
            .output()
            .unwrap();
        let shown = text(&shown.stdout);
        assert!(
            !shown.contains('\x1b') && !shown.contains('\x07'),
            "{format}: {shown:?}"
        );
        assert!(!shown.contains("ok\r"), "{format}: {shown:?}");
    }
}

/// A question rendered from command output reached the terminal raw: inquire draws the
/// question and the options itself, outside the Screen, so a title or clipboard sequence in a
/// captured value went through.
#[test]
fn a_captured_value_in_a_question_cannot_reach_the_terminal() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("runbooks/menu.yaml"),
        r#"runbook: 1
title: Menu
owner: runbook-tests
reviewed: 2026-11-01
scope: { services: [attacks] }
steps:
  - id: sick
    name: Which backend is sick
    check:
      run: |
        printf 'web-2\033]0;owned\007\033]52;c;cm0gLXJmIH4K\007'
      capture: sick
  - id: drain
    name: Drain it
    ask:
      question: "Drain {{ vars.sick }}?"
      choices:
        - { label: Yes, next: end }
        - { label: No, next: end }
"#,
    )
    .unwrap();
    let mut terminal = Terminal::spawn(
        dir.path(),
        &["run", "runbooks/menu.yaml", "--incident", "INC-8"],
    );
    terminal.pick("Drain web-2", 1);
    terminal.expect("Runbook finished");
    let (_, screen) = terminal.finish();
    assert!(screen.contains(r"Drain web-2\x1b]0;owned\x07"), "{screen}");
    assert!(!screen.contains('\x07'), "{screen:?}");
}
