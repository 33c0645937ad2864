//! `interactive: true`: the terminal is handed to the command — locally with inherited stdio,
//! on a destination through `ssh -t` with the same `-F` config and ControlPath directory as
//! the SSH transport. Nothing of the session is captured: only its exit.
//!
//! The script is not a program argument (where every local user reads it): locally it reaches
//! the shell in an environment variable; remotely it is first written to a private temporary
//! file over the SSH channel, which the shell of the session reads and removes before it runs.
//! While the session runs, Ctrl-C belongs to it (`psql` cancels a query with it): the run's
//! interrupt flag is cleared as it is set, so that a second Ctrl-C does not end the run.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{Interrupt, Shell, ShellCommand, shell_flags};
use crate::template::shell_quote;

/// How an interactive session ended.
#[derive(Debug, Clone, Default)]
pub struct SessionEnd {
    /// The exit code; `None` when killed by a signal or never started.
    pub exit: Option<i32>,
    pub duration: Duration,
    /// Why it could not start.
    pub error: Option<String>,
}

/// Where a session runs.
pub enum Place<'a> {
    Local,
    /// A destination, with the SSH session's ControlPath directory and `-F` config.
    Ssh {
        destination: &'a str,
        control_dir: &'a Path,
        config: Option<&'a Path>,
    },
}

/// The variable that carries the script to a local shell.
const SCRIPT_VARIABLE: &str = "RUNBOOK_INTERACTIVE_SCRIPT";

/// Runs `command` with the terminal, until it exits (no timeout: a person is at the wheel).
pub fn run(place: &Place<'_>, command: &ShellCommand, interrupt: &Interrupt) -> SessionEnd {
    let started = Instant::now();
    let spawned = match place {
        Place::Local => Command::new(command.shell.program())
            .args(shell_flags(command.shell))
            .arg(format!("eval \"${SCRIPT_VARIABLE}\""))
            .env(SCRIPT_VARIABLE, &command.script)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn(),
        Place::Ssh {
            destination,
            control_dir,
            config,
        } => {
            let base = ssh_arguments(destination, control_dir, *config);
            let file = match upload(&base, command) {
                Ok(file) => file,
                Err(error) => {
                    return SessionEnd {
                        error: Some(error),
                        duration: started.elapsed(),
                        ..SessionEnd::default()
                    };
                }
            };
            let remote = remote_command(command.shell, &file);
            Command::new("ssh")
                .arg("-t")
                .args(&base)
                .arg(remote)
                .stdin(Stdio::inherit())
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit())
                .spawn()
        }
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            return SessionEnd {
                error: Some(format!("cannot start the session: {error}")),
                duration: started.elapsed(),
                ..SessionEnd::default()
            };
        }
    };
    let status = loop {
        // Ctrl-C in the session is the session's.
        interrupt.clear();
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => break Err(error),
        }
    };
    interrupt.clear();
    match status {
        Ok(status) => SessionEnd {
            exit: status.code(),
            duration: started.elapsed(),
            error: None,
        },
        Err(error) => SessionEnd {
            error: Some(format!("lost the session: {error}")),
            duration: started.elapsed(),
            ..SessionEnd::default()
        },
    }
}

/// ssh's options, as the SSH transport gives them: batch mode, strict host keys, the shared
/// master under the run's ControlPath directory; the destination as an `ssh://` URI so that a
/// `host:port` destination reaches the right port.
fn ssh_arguments(destination: &str, control_dir: &Path, config: Option<&Path>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(config) = config {
        args.push("-F".to_string());
        args.push(config.display().to_string());
    }
    let digest = Sha256::digest(destination.as_bytes());
    let key: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let control_path = control_dir.join(format!("{key}-%C"));
    for option in [
        "BatchMode=yes".to_string(),
        "StrictHostKeyChecking=yes".into(),
        "UpdateHostKeys=no".into(),
        "ControlMaster=auto".into(),
        format!("ControlPath={}", control_path.display()),
        "ControlPersist=60".into(),
        "ConnectTimeout=10".into(),
    ] {
        args.push("-o".into());
        args.push(option);
    }
    args.push("--".into());
    if destination.starts_with("ssh://") {
        args.push(destination.to_string());
    } else {
        args.push(format!("ssh://{destination}"));
    }
    args
}

/// Writes the script (secrets as `export` lines first) to a private temporary file on the
/// destination, over the SSH channel; gives the file's path.
fn upload(base: &[String], command: &ShellCommand) -> Result<String, String> {
    let mut script = String::new();
    for (name, value) in &command.env {
        script.push_str(&format!("export {name}={}\n", shell_quote(value)));
    }
    script.push_str(&command.script);
    let writer = "umask 077; f=$(mktemp \"${TMPDIR:-/tmp}/runbook.XXXXXXXX\") && cat >\"$f\" && printf %s \"$f\"";
    let mut child = Command::new("ssh")
        .args(base)
        .arg(format!("sh -c {}", shell_quote(writer)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `ssh`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("ssh failed: {e}"))?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || path.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.trim().lines().last().unwrap_or("no reason given");
        return Err(format!("cannot start the session: {reason}"));
    }
    Ok(path)
}

/// The command the session's shell runs: read the script, remove it, run it.
fn remote_command(shell: Shell, file: &str) -> String {
    let loader = "s=$(cat -- \"$0\"); rm -f -- \"$0\"; eval \"$s\"";
    let mut words = vec![shell.program().to_string()];
    words.extend(shell_flags(shell).iter().map(|w| shell_quote(w)));
    words.push(shell_quote(loader));
    words.push(shell_quote(file));
    words.join(" ")
}
