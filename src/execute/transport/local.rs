//! Commands on this machine: `sh -c`, in a process group of their own so that a timeout or
//! Ctrl-C kills the command with every child it started.

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{CommandOutput, Interrupt, ShellCommand, Target};

/// The most output kept of one stream; the rest is dropped from the middle's end.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// How long a killed command gets to exit after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_millis(300);
/// How long to wait for the output pipes to close once the shell has exited (a background
/// child may hold them open).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// This machine.
#[derive(Debug, Default)]
pub struct Local;

impl Target for Local {
    fn name(&self) -> &str {
        "local"
    }

    fn run(&self, command: &ShellCommand, interrupt: &Interrupt) -> CommandOutput {
        let started = Instant::now();
        let spawned = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command.script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                return CommandOutput {
                    error: Some(format!("cannot start `sh`: {error}")),
                    duration: started.elapsed(),
                    ..CommandOutput::default()
                };
            }
        };
        let stdout = read_in_background(child.stdout.take());
        let stderr = read_in_background(child.stderr.take());
        let deadline = started + command.timeout;
        let mut output = CommandOutput::default();
        let status = wait(child, deadline, interrupt, &mut output);
        output.exit = status.and_then(|s| s.code());
        output.stdout = collect(stdout);
        output.stderr = collect(stderr);
        output.duration = started.elapsed();
        output
    }
}

/// Waits for the shell, killing its process group on timeout or interrupt. A thread blocks
/// in `wait`, so a quick command is seen the moment it exits; this thread wakes every 25 ms
/// to look at the clock and at Ctrl-C.
pub(super) fn wait(
    mut child: Child,
    deadline: Instant,
    interrupt: &Interrupt,
    output: &mut CommandOutput,
) -> Option<std::process::ExitStatus> {
    let pid = child.id();
    let (sender, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    loop {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(25));
        match exited.recv_timeout(slice) {
            Ok(Ok(status)) => return Some(status),
            Ok(Err(error)) => {
                output.error = Some(format!("cannot wait for the command: {error}"));
                return None;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if interrupt.is_set() {
            output.interrupted = true;
        } else if Instant::now() >= deadline {
            output.timed_out = true;
        } else {
            continue;
        }
        return kill_group(pid, &exited);
    }
}

/// SIGTERM to the whole group; SIGKILL to whatever is left of it after a short grace.
fn kill_group(
    pid: u32,
    exited: &mpsc::Receiver<std::io::Result<std::process::ExitStatus>>,
) -> Option<std::process::ExitStatus> {
    let Ok(id) = i32::try_from(pid) else {
        return None;
    };
    let group = Pid::from_raw(id);
    let _ = killpg(group, Signal::SIGTERM);
    let until = Instant::now() + KILL_GRACE;
    let mut status = None;
    while Instant::now() < until {
        if status.is_none() {
            status = exited.recv_timeout(Duration::from_millis(10)).ok();
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The group is empty once no process answers a null signal.
        if status.is_some() && killpg(group, None).is_err() {
            return status.and_then(Result::ok);
        }
    }
    let _ = killpg(group, Signal::SIGKILL);
    status.or_else(|| exited.recv().ok()).and_then(Result::ok)
}

pub(super) fn read_in_background(
    stream: Option<impl Read + Send + 'static>,
) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    if let Some(mut stream) = stream {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buffer = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                if kept.len() < MAX_OUTPUT {
                    kept.extend_from_slice(&buffer[..n]);
                }
            }
            let _ = sender.send(kept);
        });
    }
    receiver
}

pub(super) fn collect(receiver: mpsc::Receiver<Vec<u8>>) -> String {
    let bytes = receiver.recv_timeout(PIPE_GRACE).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, timeout: Duration) -> CommandOutput {
        Local.run(
            &ShellCommand {
                script: script.into(),
                timeout,
            },
            &Interrupt::default(),
        )
    }

    #[test]
    fn output_and_exit_code() {
        let out = run("echo out; echo err >&2; exit 3", Duration::from_secs(5));
        assert_eq!(
            (
                out.exit,
                out.stdout.as_str(),
                out.stderr.as_str(),
                out.timed_out
            ),
            (Some(3), "out\n", "err\n", false)
        );
    }

    #[test]
    fn a_command_past_its_timeout_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let out = run(&script, Duration::from_millis(300));
        assert!(out.timed_out);
        assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!is_running(pid), "sleep {pid} survived");
    }

    /// Whether a process runs: it exists and is not a zombie waiting to be reaped by init.
    fn is_running(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => {
                stat.rsplit(')')
                    .next()
                    .and_then(|rest| rest.split_whitespace().next())
                    != Some("Z")
            }
            Err(_) => false,
        }
    }

    #[test]
    fn an_interrupt_stops_the_command() {
        let interrupt = Interrupt::default();
        let flag = interrupt.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            flag.set();
        });
        let out = Local.run(
            &ShellCommand {
                script: "sleep 30".into(),
                timeout: Duration::from_secs(60),
            },
            &interrupt,
        );
        assert!(out.interrupted && !out.timed_out);
        assert!(out.duration < Duration::from_secs(5));
    }
}
