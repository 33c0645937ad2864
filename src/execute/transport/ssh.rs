//! Commands on other machines, through the system's OpenSSH client: the user's `~/.ssh/config`
//! (or `--ssh-config`), agent, ProxyJump and `known_hosts` apply exactly as on the command line.
//!
//! Each command is one `ssh` process with `ControlMaster=auto` and a private ControlPath
//! directory, so the first command to a host opens a master connection and the later ones reuse
//! it: one connection per host for the whole run. The `openssh` crate does the same through an
//! async runtime; the engine is synchronous, and driving `ssh` directly keeps the behaviour
//! without one. Host keys are checked as ssh checks them: no option here switches that off, and
//! with `BatchMode` an unknown host key fails instead of prompting (`known_hosts` is never
//! written on the user's behalf).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::io::Write as _;

use sha2::{Digest as _, Sha256};

use super::local::{collect, read_in_background, wait};
use super::{CommandOutput, Interrupt, ShellCommand, Target, loader, shell_flags};
use crate::template::shell_quote;

/// How long an idle master connection stays up (a long prompt just opens a new one).
const CONTROL_PERSIST_SECONDS: u32 = 60;
/// How long ssh may take to set up the TCP connection.
const CONNECT_TIMEOUT_SECONDS: u32 = 10;
/// How long `close` waits for each master to exit.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Runs on the remote side as `sh -c REMOTE_WRAPPER runbook SHELL ARGS…`, where `SHELL ARGS…` is
/// the shell and its loader (see [`loader`](super::loader)): nothing in it is secret. The script
/// arrives on the SSH channel (stdin): a line with its length in bytes, then the script itself,
/// which the wrapper hands to the shell through a pipe (never as an argument).
///
/// Without a terminal, sshd sends no signal when the connection goes away, so a killed local
/// `ssh` would leave the command running. The local side keeps the channel open, writing
/// nothing more: a watchdog reads it, and when it ends (the local `ssh` was killed, the
/// connection dropped) kills the session's whole process group, TERM then KILL (it ignores the
/// TERM itself to live until the KILL). When the script ends by itself the watchdog is stopped
/// first, so background jobs it meant to leave behind stay. The script gets `/dev/null` as
/// stdin, as a local command does. A host without the shell fails with one line on stderr and
/// exit 255, which reads as ssh's own failure reason. One line: csh-like login shells refuse
/// newlines inside quotes.
const REMOTE_WRAPPER: &str = "exec 3<&0 </dev/null; \
IFS= read -r n <&3 && s=$(head -c \"$n\" <&3) || { echo \"runbook: the script did not arrive\" >&2; exit 255; }; \
command -v \"$1\" >/dev/null 2>&1 || { echo \"\\`$1\\` is not installed on this host\" >&2; exit 255; }; \
{ trap \"\" TERM; while IFS= read -r _; do :; done <&3; kill -TERM 0; sleep 1; kill -KILL 0; } & w=$!; \
printf \"%s\\n\" \"$s\" | \"$@\" 3<&-; s=$?; kill -KILL \"$w\" 2>/dev/null; exit \"$s\"";

/// What travels on the channel: the script's length, then the script, preceded by the
/// exports of its environment (the secrets, which thus never appear in an argument).
fn channel_payload(command: &ShellCommand) -> Vec<u8> {
    let mut script = String::new();
    for (name, value) in &command.env {
        script.push_str(&format!("export {name}={}\n", shell_quote(value)));
    }
    script.push_str(&command.script);
    let mut payload = format!("{}\n", script.len()).into_bytes();
    payload.extend_from_slice(script.as_bytes());
    payload
}

/// One SSH session for a whole run: a private ControlPath directory (a short path under `/tmp`,
/// mode 0700, so socket paths stay under the ~100-byte limit) and the optional `-F` config.
/// Targets made by [`SshSession::target`] should not outlive it.
#[derive(Debug)]
pub struct SshSession {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    control_dir: PathBuf,
    config: Option<PathBuf>,
    /// Per destination as written: whether a command got through (so a master is likely up).
    /// The first command to a destination holds the lock, so that parallel commands to the same
    /// host wait for its master instead of each opening a connection.
    opened: Mutex<HashMap<String, Arc<Mutex<bool>>>>,
    closed: AtomicBool,
}

impl SshSession {
    /// Creates the ControlPath directory. `config` is passed to ssh as `-F`.
    pub fn new(config: Option<PathBuf>) -> std::io::Result<SshSession> {
        if let Some(path) = &config {
            std::fs::metadata(path).map_err(|error| {
                std::io::Error::new(
                    error.kind(),
                    format!("cannot read the ssh config `{}`: {error}", path.display()),
                )
            })?;
        }
        Ok(SshSession {
            shared: Arc::new(Shared {
                control_dir: create_control_dir()?,
                config,
                opened: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// A target for one destination as ssh accepts it: `alias`, `user@host`, `host:port`,
    /// `user@host:port`, `[v6]:port` or an `ssh://` URI.
    pub fn target(&self, destination: &str) -> Ssh {
        let opened = {
            let mut opened = self
                .shared
                .opened
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(opened.entry(destination.to_owned()).or_default())
        };
        let (host, port) = split_destination(destination);
        Ssh {
            destination: destination.to_owned(),
            host,
            port,
            opened,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Where the master connections' sockets live.
    pub fn control_dir(&self) -> &Path {
        &self.shared.control_dir
    }

    /// Closes every master connection (`ssh -O exit` on each socket) and removes the directory.
    /// Also called from `Drop`; a second call does nothing.
    pub fn close(&self) {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let dir = &self.shared.control_dir;
        let sockets: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        // All at once: with 50 hosts, one `ssh -O exit` after another costs a quarter second.
        // With the socket named by -S, ssh talks to the master and nothing else; the
        // destination is required by the syntax but not used.
        let mut exits: Vec<std::process::Child> = sockets
            .iter()
            .filter_map(|socket| {
                Command::new("ssh")
                    .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-S"])
                    .arg(socket)
                    .args(["-O", "exit", "runbook-control"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .ok()
            })
            .collect();
        let until = Instant::now() + CLOSE_GRACE;
        while Instant::now() < until
            && exits
                .iter_mut()
                .any(|child| matches!(child.try_wait(), Ok(None)))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        for child in &mut exits {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A master removes its socket as it exits.
        let until = Instant::now() + CLOSE_GRACE;
        while sockets.iter().any(|s| s.exists()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Drop for SshSession {
    fn drop(&mut self) {
        self.close();
    }
}

/// Removes the ControlPath directories of earlier runs that were killed before they could
/// (`kill -9`, a lost machine): ours (same owner), named after a process that no longer
/// exists. Their masters exited on their own after `ControlPersist`; only the folder is left.
fn remove_stale_control_dirs() {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    let uid = nix::unistd::getuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("rb-ssh-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| i32::from_str_radix(pid, 16).ok())
        else {
            continue;
        };
        let ours = std::fs::symlink_metadata(entry.path())
            .is_ok_and(|meta| meta.is_dir() && meta.uid() == uid);
        let gone = matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        if ours && gone && pid > 0 {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `/tmp/rb-ssh-…`, created with mode 0700 and failing if it exists, so nobody else can have
/// prepared it.
fn create_control_dir() -> std::io::Result<PathBuf> {
    remove_stale_control_dirs();
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o700);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut attempt = 0u32;
    loop {
        let name = format!(
            "rb-ssh-{:x}-{:x}",
            std::process::id(),
            nanos.wrapping_add(attempt.wrapping_mul(0x9e37_79b9))
        );
        let path = Path::new("/tmp").join(name);
        match builder.create(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Splits `host:port` (with an optional `user@`, or `[v6]:port`) into what ssh takes as the
/// destination and `-p`. Anything else is passed to ssh as written.
fn split_destination(destination: &str) -> (String, Option<u16>) {
    if destination.starts_with("ssh://") {
        return (destination.to_owned(), None);
    }
    let (user, rest) = match destination.rsplit_once('@') {
        Some((user, rest)) => (Some(user), rest),
        None => (None, destination),
    };
    let parsed = |port: &str| port.parse::<u16>().ok();
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        match inner.split_once("]:") {
            Some((host, port)) => match parsed(port) {
                Some(port) => (host, Some(port)),
                None => return (destination.to_owned(), None),
            },
            None => (inner.strip_suffix(']').unwrap_or(inner), None),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) if !port.contains(':') => match parsed(port) {
                Some(port) => (host, Some(port)),
                None => return (destination.to_owned(), None),
            },
            _ => (rest, None),
        }
    };
    let host = match user {
        Some(user) => format!("{user}@{host}"),
        None => host.to_owned(),
    };
    (host, port)
}

/// One host over SSH.
#[derive(Debug)]
pub struct Ssh {
    destination: String,
    /// What ssh gets as the destination (the port split off).
    host: String,
    port: Option<u16>,
    opened: Arc<Mutex<bool>>,
    shared: Arc<Shared>,
}

impl Ssh {
    fn arguments(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(config) = &self.shared.config {
            args.push("-F".into());
            args.push(config.into());
        }
        // Keyed on the destination as written as well as on ssh's %C (host, port and user after
        // the config): two aliases of one address do not share a master, so an alias whose
        // known_hosts would refuse the key never rides on another's verified connection.
        let mut control_path = OsString::from("ControlPath=");
        control_path.push(
            self.shared
                .control_dir
                .join(format!("{}-%C", alias_key(&self.destination))),
        );
        for option in [
            "BatchMode=yes".into(),
            // Never trust or record a key on the user's behalf, whatever their config says.
            "StrictHostKeyChecking=yes".into(),
            "UpdateHostKeys=no".into(),
            "ControlMaster=auto".into(),
            control_path,
            format!("ControlPersist={CONTROL_PERSIST_SECONDS}").into(),
            format!("ConnectTimeout={CONNECT_TIMEOUT_SECONDS}").into(),
        ] {
            args.push("-o".into());
            args.push(option);
        }
        if let Some(port) = self.port {
            args.push("-p".into());
            args.push(port.to_string().into());
        }
        // `--` so that a destination can never be read as an option.
        args.push("--".into());
        args.push(self.host.clone().into());
        args
    }
}

/// A short, path-safe key for a destination as written: 8 hex digits of its sha256 (socket
/// paths must stay under ~104 bytes).
fn alias_key(destination: &str) -> String {
    let digest = Sha256::digest(destination.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

impl Target for Ssh {
    fn name(&self) -> &str {
        &self.destination
    }

    /// Runs the script with the command's shell on the host (see [`REMOTE_WRAPPER`]). When ssh itself fails (exit 255), `error` holds ssh's
    /// one-line reason and `exit` is `None`; a remote command that exits 255 by itself looks
    /// the same, as it does to ssh.
    fn run(&self, command: &ShellCommand, interrupt: &Interrupt) -> CommandOutput {
        let lock = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        let first = if *lock {
            drop(lock);
            None
        } else {
            Some(lock)
        };
        let started = Instant::now();
        let mut remote = format!(
            "sh -c {} runbook {}",
            shell_quote(REMOTE_WRAPPER),
            command.shell.program()
        );
        for word in shell_flags(command.shell)
            .iter()
            .copied()
            .chain([loader(command.shell)])
        {
            remote.push(' ');
            remote.push_str(&shell_quote(word));
        }
        let spawned = Command::new("ssh")
            .args(self.arguments())
            .arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                return CommandOutput {
                    error: Some(format!("cannot start `ssh`: {error}")),
                    duration: started.elapsed(),
                    ..CommandOutput::default()
                };
            }
        };
        // The script, then the channel held open, never written to again, until ssh is gone:
        // see REMOTE_WRAPPER. From a thread, so that a long script to a host that does not
        // read cannot hold up the timeout; a failed write means ssh is gone, which its exit
        // status tells.
        let (channel, held) = std::sync::mpsc::channel::<()>();
        if let Some(mut stdin) = child.stdin.take() {
            let payload = channel_payload(command);
            std::thread::spawn(move || {
                let _ = stdin.write_all(&payload);
                let _ = held.recv();
            });
        }
        let stdout = read_in_background(child.stdout.take());
        let stderr = read_in_background(child.stderr.take());
        let mut output = CommandOutput::default();
        let status = wait(
            child,
            started + command.timeout,
            interrupt,
            &mut output,
            None,
        );
        drop(channel);
        output.stdout = collect(stdout);
        output.stderr = without_mux_notice(collect(stderr));
        output.duration = started.elapsed();
        let code = status.and_then(|s| s.code());
        if output.timed_out || output.interrupted {
            output.exit = None;
        } else if code == Some(255) {
            output.error = Some(ssh_failure(&output.stderr));
        } else {
            output.exit = code;
        }
        if let Some(mut opened) = first
            && output.error.is_none()
            && !output.interrupted
        {
            *opened = true;
        }
        output
    }
}

/// Drops ssh's notice that another command to the same host (or an alias of it) won the race
/// to open the master: the command then has a connection of its own, which is all it means.
fn without_mux_notice(stderr: String) -> String {
    if !stderr.contains("disabling multiplexing") {
        return stderr;
    }
    stderr
        .split_inclusive('\n')
        .filter(|line| {
            !(line.starts_with("ControlSocket ")
                && line
                    .trim_end()
                    .ends_with("already exists, disabling multiplexing"))
        })
        .collect()
}

/// ssh's own last word on why it failed: its last line on stderr, without the `ssh: ` prefix.
fn ssh_failure(stderr: &str) -> String {
    stderr
        .lines()
        .map(|line| line.trim())
        .rfind(|line| !line.is_empty())
        .map(|line| line.strip_prefix("ssh: ").unwrap_or(line).to_owned())
        .unwrap_or_else(|| {
            "ssh exited with status 255 and said nothing (the remote command exited 255 or was \
             killed by a signal)"
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::super::Shell;
    use super::*;

    #[track_caller]
    fn case(destination: &str, host: &str, port: Option<u16>) {
        assert_eq!(
            split_destination(destination),
            (host.to_owned(), port),
            "{destination}"
        );
    }

    #[test]
    fn destinations() {
        case("web-1", "web-1", None);
        case("deploy@web-3.example.com", "deploy@web-3.example.com", None);
        case("web-3.example.com:2222", "web-3.example.com", Some(2222));
        case(
            "deploy@web-3.example.com:2222",
            "deploy@web-3.example.com",
            Some(2222),
        );
        case("[::1]:2222", "::1", Some(2222));
        case("root@[::1]:22", "root@::1", Some(22));
        case("[::1]", "::1", None);
        case("::1", "::1", None);
        case("ssh://deploy@web:2222", "ssh://deploy@web:2222", None);
        case("web:notaport", "web:notaport", None);
    }

    #[test]
    fn failure_reasons() {
        assert_eq!(
            ssh_failure("ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n"),
            "connect to host 127.0.0.1 port 1: Connection refused"
        );
        assert_eq!(
            ssh_failure(
                "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested \
                 strict checking.\r\nHost key verification failed.\r\n"
            ),
            "Host key verification failed."
        );
        assert!(ssh_failure("").contains("255"));
        assert_eq!(
            without_mux_notice(
                "ControlSocket /tmp/rb-ssh-1/ab already exists, disabling multiplexing\r\nerr\n"
                    .to_owned()
            ),
            "err\n"
        );
    }

    #[test]
    fn control_dirs_of_dead_runs_are_removed() {
        // A pid that cannot exist (above the kernel's pid_max), and this process's own.
        let dead = Path::new("/tmp").join(format!(
            "rb-ssh-{:x}-test{}",
            0x7fff_fff0,
            std::process::id()
        ));
        let alive = Path::new("/tmp").join(format!("rb-ssh-{:x}-test", std::process::id()));
        std::fs::create_dir_all(dead.join("sockets")).unwrap();
        std::fs::create_dir_all(&alive).unwrap();
        let session = SshSession::new(None).unwrap();
        assert!(!dead.exists(), "the dead run's folder is left");
        assert!(alive.exists(), "a live run's folder was removed");
        session.close();
        std::fs::remove_dir_all(&alive).unwrap();
    }

    #[test]
    fn the_control_dir_is_private_and_removed_on_close() {
        use std::os::unix::fs::PermissionsExt as _;
        let session = SshSession::new(None).unwrap();
        let dir = session.control_dir().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Room for the 40-character %C and ssh's temporary suffix under the ~104-byte limit.
        assert!(dir.as_os_str().len() < 40, "{}", dir.display());
        session.close();
        assert!(!dir.exists());
    }

    /// The remote wrapper, run here with the payload on its stdin as ssh would deliver it.
    fn wrapper(shell: &[&str], command: &ShellCommand) -> std::process::Output {
        let mut child = Command::new("sh")
            .args(["-c", REMOTE_WRAPPER, "runbook"])
            .args(shell)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The watchdog kills its whole process group when the channel ends.
            .process_group(0)
            .spawn()
            .unwrap();
        let mut channel = child.stdin.take().unwrap();
        channel.write_all(&channel_payload(command)).unwrap();
        let output = child.wait_with_output().unwrap();
        drop(channel);
        output
    }

    #[test]
    fn the_wrapper_runs_the_script_from_the_channel_with_its_environment() {
        let command = ShellCommand {
            env: vec![("RUNBOOK_SECRET_TOKEN".into(), "it's a secret".into())],
            ..ShellCommand::new(
                "cat\nprintf '%s\\n' \"$RUNBOOK_SECRET_TOKEN\"\nfalse | true\necho not-reached",
                Duration::from_secs(5),
            )
        };
        let mut shell: Vec<&str> = vec!["bash"];
        shell.extend(shell_flags(Shell::Bash));
        shell.push(loader(Shell::Bash));
        let out = wrapper(&shell, &command);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's a secret\n");
        assert_eq!(out.status.code(), Some(1));
    }

    #[test]
    fn a_host_without_the_shell_fails_with_one_line() {
        let out = wrapper(
            &["runbook-no-such-shell", "-c", "true"],
            &ShellCommand::new("echo hi", Duration::from_secs(5)),
        );
        assert_eq!(out.status.code(), Some(255));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            ssh_failure(&stderr),
            "`runbook-no-such-shell` is not installed on this host"
        );
        assert!(out.stdout.is_empty());
    }
}
