//! Secrets and scripts stay out of what other users can read: while `runbook run` runs a
//! command that uses a secret input, every process's command line (`/proc/*/cmdline`, what `ps`
//! shows to everyone) and the environment of every process of another user are polled, and the
//! secret must be in none of them — locally, and over a real sshd, where the `ssh` client, the
//! remote login shell and the remote shell run.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::sshd::sshd_or_skip;

/// A secret that needs quoting (so its shell-quoted form differs from it), unique to the test.
fn secret(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("s3cr3t {label}-{nanos}-{}", std::process::id())
}

/// A runbook whose one check uses the secret input `token` in three ways — as a quoted value,
/// raw inside double quotes, inside a larger single-quoted word — while it sleeps, on `on`; it
/// passes when each form holds the whole secret (`len` characters).
fn runbook(dir: &Path, on: &str, len: usize) -> PathBuf {
    let path = dir.join("secret.yaml");
    let text = format!(
        r#"runbook: 1
title: Uses a secret
owner: ops
reviewed: 2026-11-01
scope: {{ services: [vault] }}
inputs:
  token: {{ description: API token, secret: true, env: RUNBOOK_TEST_TOKEN }}
hosts:
  web: [web-1]
steps:
  - id: use
    name: Use the token while sleeping
    check:
      on: {on}
      run: |
        sleep 2
        v={{{{ inputs.token }}}}
        w="Bearer {{{{ inputs.token | safe }}}}"
        x={{{{ 'Bearer ' ~ inputs.token }}}}
        test "$w" = "Bearer $v"
        test "$x" = "Bearer $v"
        printf "%s\n" "$v" | awk '{{ print "len=" length($0) }}'

      expect: {{ stdout_contains: "len={len}" }}
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `runbook run RUNBOOK --yes`, the secret given the way an operator keeps it out of
/// `ps`: in the input's environment variable.
fn start(runbook: &Path, secret: &str, extra: &[&str], dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("run")
        .arg(runbook)
        .args(extra)
        .arg("--timeline")
        .arg(dir.join("timeline.jsonl"))
        .arg("--yes")
        .env("NO_COLOR", "1")
        .env("RUNBOOK_TEST_TOKEN", secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Where the secret was seen, polling until `child` exits: `pid cmdline: …` or
/// `pid environ (uid N)`. Also whether a `sleep 2` was seen, so that the poll is known to have
/// covered the command.
fn poll_until_exit(child: &mut Child, secret: &str) -> (Vec<String>, bool) {
    use std::os::unix::fs::MetadataExt as _;
    let me = nix::unistd::getuid().as_raw();
    let mut leaks = Vec::new();
    let mut saw_command = false;
    while child.try_wait().unwrap().is_none() {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                saw_command |= cmdline.trim() == "sleep 2";
                if cmdline.contains(secret) {
                    leaks.push(format!("{pid} cmdline: {cmdline}"));
                }
            }
            let Ok(owner) = std::fs::metadata(entry.path()).map(|m| m.uid()) else {
                continue;
            };
            if owner != me
                && let Ok(environ) = std::fs::read(entry.path().join("environ"))
                && String::from_utf8_lossy(&environ).contains(secret)
            {
                leaks.push(format!("{pid} environ (uid {owner})"));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    leaks.sort();
    leaks.dedup();
    (leaks, saw_command)
}

#[track_caller]
fn assert_ran_without_leaks(mut child: Child, secret: &str, dir: &Path) {
    let (leaks, saw_command) = poll_until_exit(&mut child, secret);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(leaks.is_empty(), "the secret leaked: {leaks:#?}");
    assert!(
        output.status.success(),
        "the run failed:\n{stdout}\n{stderr}"
    );
    assert!(saw_command, "the poll never saw the command running");
    let timeline = std::fs::read_to_string(dir.join("timeline.jsonl")).unwrap();
    assert!(!timeline.contains(secret), "the timeline holds the secret");
    assert!(
        timeline.contains("RUNBOOK_SECRET_TOKEN"),
        "the recorded command does not refer to the variable: {timeline}"
    );
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
}

#[test]
fn a_local_command_shows_its_secret_to_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret("local");
    let path = runbook(dir.path(), "local", secret.len());
    let child = start(&path, &secret, &[], dir.path());
    assert_ran_without_leaks(child, &secret, dir.path());
}

#[test]
fn a_remote_command_shows_its_secret_to_no_one() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let secret = secret("remote");
    let path = runbook(dir.path(), "web", secret.len());
    let config = sshd.config().display().to_string();
    let child = start(&path, &secret, &["--ssh-config", &config], dir.path());
    assert_ran_without_leaks(child, &secret, dir.path());
}
