//! Commands on this machine: the shell reads the script on its stdin (a pipe, never an
//! argument), secrets arrive as environment variables, and the command runs in a process group
//! of its own so that a timeout or Ctrl-C kills it with every child it started — those that
//! left the group included (see [`processes`](super::processes)).

use std::io::{Read, Write as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::processes;
use super::{CommandOutput, Interrupt, ShellCommand, Target, loader, shell_flags};

/// The most output kept of one stream; the rest is dropped from the middle's end.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// How long a killed command gets to exit after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_millis(300);
/// How long to wait for the output pipes to close once the shell has exited (a background
/// child may hold them open); what was read by then is kept.
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
        processes::become_subreaper();
        let mark = processes::new_mark();
        let program = command.shell.program();
        let spawned = std::process::Command::new(program)
            .args(shell_flags(command.shell))
            .arg(loader(command.shell))
            .envs(command.env.iter().map(|(name, value)| (name, value)))
            .env(processes::MARK_VARIABLE, &mark)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                let error = if error.kind() == std::io::ErrorKind::NotFound {
                    format!("`{program}` is not installed on this machine")
                } else {
                    format!("cannot start `{program}`: {error}")
                };
                return CommandOutput {
                    error: Some(error),
                    duration: started.elapsed(),
                    ..CommandOutput::default()
                };
            }
        };
        send_script(child.stdin.take(), command.script.clone());
        let stdout = read_in_background(child.stdout.take());
        let stderr = read_in_background(child.stderr.take());
        let deadline = started + command.timeout;
        let mut output = CommandOutput::default();
        let status = wait(child, deadline, interrupt, &mut output, Some(&mark));
        output.exit = status.and_then(|s| s.code());
        output.stdout = collect(stdout);
        output.stderr = collect(stderr);
        output.duration = started.elapsed();
        output
    }
}

/// Writes the script to the shell's stdin from a thread (a long script fills the pipe before
/// the shell reads it), then closes it so that the shell's loader sees the end.
pub(super) fn send_script(stdin: Option<std::process::ChildStdin>, script: String) {
    if let Some(mut stdin) = stdin {
        std::thread::spawn(move || {
            let _ = stdin.write_all(script.as_bytes());
        });
    }
}

/// Waits for the shell, killing its process group on timeout or interrupt. A thread blocks
/// in `wait`, so a quick command is seen the moment it exits; this thread wakes every 25 ms
/// to look at the clock and at Ctrl-C.
/// `mark` is the command's process mark (see [`processes`](super::processes)): the processes
/// bearing it die with the group.
pub(super) fn wait(
    mut child: Child,
    deadline: Instant,
    interrupt: &Interrupt,
    output: &mut CommandOutput,
    mark: Option<&str>,
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
        // Found before the group dies: once the shell is gone, its orphans are re-parented.
        let escaped = mark.map(|mark| processes::of_command(pid, mark));
        let status = kill_group(pid, &exited);
        if let Some(escaped) = escaped {
            processes::kill_all(&escaped);
        }
        return status;
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

/// A stream being read by a thread: what it gave so far, and a signal when it ended.
pub(super) struct Reading {
    kept: Arc<Mutex<Vec<u8>>>,
    ended: mpsc::Receiver<()>,
}

pub(super) fn read_in_background(stream: Option<impl Read + Send + 'static>) -> Reading {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let (sender, ended) = mpsc::channel();
    if let Some(mut stream) = stream {
        let kept = Arc::clone(&kept);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                super::live::tee(&buffer[..n]);
                let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                if kept.len() < MAX_OUTPUT {
                    kept.extend_from_slice(&buffer[..n]);
                }
            }
            let _ = sender.send(());
        });
    }
    Reading { kept, ended }
}

/// What the stream gave: all of it once it ends, or what came within [`PIPE_GRACE`] when a
/// background process keeps the pipe open.
pub(super) fn collect(reading: Reading) -> String {
    let _ = reading.ended.recv_timeout(PIPE_GRACE);
    let kept = reading.kept.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, timeout: Duration) -> CommandOutput {
        Local.run(&ShellCommand::new(script, timeout), &Interrupt::default())
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
            &ShellCommand::new("sleep 30", Duration::from_secs(60)),
            &interrupt,
        );
        assert!(out.interrupted && !out.timed_out);
        assert!(out.duration < Duration::from_secs(5));
    }

    fn fails(script: &str) -> bool {
        run(script, Duration::from_secs(10)).exit != Some(0)
    }

    #[test]
    fn a_failing_line_or_pipeline_stage_fails_the_command() {
        assert!(fails("false | true"), "a failing first stage passed");
        assert!(
            fails("echo one\nfalse\necho three"),
            "a failing middle line passed"
        );
        assert!(
            fails("ls /nonexistent-runbook-dir/*.log"),
            "an empty glob passed"
        );
        assert!(!fails("if false; then :; fi\nfalse || true\necho ok"));
        let out = run("echo one\nfalse\necho three", Duration::from_secs(10));
        assert_eq!(out.stdout, "one\n", "lines after the failure ran");
    }

    #[test]
    fn shell_sh_runs_sh_with_errexit() {
        let command = |script: &str| ShellCommand {
            shell: crate::model::Shell::Sh,
            ..ShellCommand::new(script, Duration::from_secs(10))
        };
        let out = Local.run(&command("echo a; false; echo b"), &Interrupt::default());
        assert_eq!((out.exit, out.stdout.as_str()), (Some(1), "a\n"));
        // No pipefail in sh: a pipeline is judged by its last stage.
        let out = Local.run(&command("false | true"), &Interrupt::default());
        assert_eq!(out.exit, Some(0));
    }

    #[test]
    fn the_command_reads_dev_null_and_gets_its_environment() {
        let command = ShellCommand {
            env: vec![("RUNBOOK_SECRET_TOKEN".into(), "s3cret".into())],
            ..ShellCommand::new(
                "cat; echo \"token=${RUNBOOK_SECRET_TOKEN}\"",
                Duration::from_secs(10),
            )
        };
        let out = Local.run(&command, &Interrupt::default());
        assert_eq!((out.exit, out.stdout.as_str()), (Some(0), "token=s3cret\n"));
    }

    #[test]
    fn output_is_kept_when_a_background_child_holds_the_pipe() {
        let out = run(
            "echo before; sleep 30 & echo after",
            Duration::from_secs(20),
        );
        assert_eq!(out.exit, Some(0));
        assert_eq!(out.stdout, "before\nafter\n");
    }

    #[test]
    fn children_that_left_the_process_group_die_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // `setsid -f` forks a child in a session (and process group) of its own, which is then
        // re-parented when its parent exits.
        let script = format!(
            "setsid -f sh -c 'echo $$ > {}; exec sleep 30' </dev/null >/dev/null 2>&1\nsleep 30",
            pid_file.display()
        );
        let out = run(&script, Duration::from_millis(1500));
        assert!(out.timed_out);
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!is_running(pid), "the setsid child {pid} survived");
    }
}
