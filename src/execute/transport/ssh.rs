//! Commands on other machines, through the system's OpenSSH client: the user's `~/.ssh/config`
//! (or `--ssh-config`), agent, ProxyJump and `known_hosts` apply exactly as on the command line.
//!
//! The first command to a destination opens a master connection: one `ssh -f -N` process
//! with a private ControlPath directory, the only `ssh` process of the host for the whole run.
//! Every command then goes over that master through native multiplexing (the `openssh`
//! crate's `native-mux`): the ControlMaster protocol spoken directly on the control socket,
//! with no client process per command. The crate is asynchronous; one small tokio runtime
//! lives inside the [`SshSession`] for all its hosts: a single command blocks on it, so the
//! engine stays synchronous, and a fan-out runs its hosts as tasks on it
//! ([`Ssh::run_task`]), so a thousand hosts in flight cost a thousand tasks, not threads.
//! Host keys are checked as ssh checks them: no option here switches that off, and with
//! `BatchMode` an unknown host key fails instead of prompting (`known_hosts` is never written
//! on the user's behalf).
//!
//! The connection's set-up is apart from the command's timeout: a command's clock starts when
//! its master is up, so a fan-out whose handshakes queue for a CPU does not fail hosts whose
//! commands are fast. The set-up is bounded by the user's `ConnectTimeout` (ssh applies it to
//! the connection and the key exchange) and by [`SETUP_LIMIT`]. At most [`setup_slots`]
//! set-ups run at once: a key exchange is CPU work (OpenSSH 9's post-quantum one costs about
//! 150 ms of client CPU), and a thousand at once on two cores would each take minutes and run
//! out their limit together. A host waiting for a slot is not counted against its limit.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use super::{CommandOutput, Interrupt, ShellCommand, Target, loader, shell_flags};
use crate::template::shell_quote;

/// How long an idle master connection stays up (a long prompt just opens a new one).
const CONTROL_PERSIST_SECONDS: u32 = 60;
/// The longest a master's set-up may take, on top of the user's `ConnectTimeout`: a host that
/// neither answers nor refuses is given up after this.
pub const SETUP_LIMIT: Duration = Duration::from_secs(60);
/// Master set-ups run at once per core, and at least this many in all (see [`setup_slots`]).
const SETUP_SLOTS_PER_CORE: usize = 16;
const MIN_SETUP_SLOTS: usize = 64;
/// How long `close` waits for the masters to exit.
const CLOSE_GRACE: Duration = Duration::from_secs(3);
/// After the channel is closed on a timeout or Ctrl-C, how long the remote side gets to end
/// (the watchdog's TERM, one second, then KILL) and send its last output and status.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for the output to end once the command has exited (a background child may
/// hold it open); what came by then is kept.
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// The most output kept of one stream.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// How often a waiting command looks at Ctrl-C.
const TICK: Duration = Duration::from_millis(25);
/// Masters closed at once by `close` unless [`SshSession::set_parallel`] says otherwise.
const DEFAULT_CLOSE_PARALLEL: usize = 32;

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

/// The lean form of [`REMOTE_WRAPPER`] for a bash script, the usual case: `sh -c
/// SHELL_CHECK runbook bash --noprofile --norc -c BASH_WRAPPER bash` (the `sh` part only until
/// bash has been found on the host, see [`Master`]). `sh` only says when bash is missing (as
/// the wrapper does) and becomes bash; bash reads the script itself (`read -N`, counting
/// bytes), starts the same watchdog, and runs the script itself with the loader's settings
/// (`-eo pipefail`, `failglob`, `/dev/null` as stdin). Two processes (bash and the watchdog)
/// instead of seven (sh, head, the watchdog, printf, bash, cat). A script with a NUL byte
/// (which `read` would drop, and so miscount) goes through [`REMOTE_WRAPPER`].
const SHELL_CHECK: &str = "command -v \"$1\" >/dev/null 2>&1 || { echo \"\\`$1\\` is not installed on this host\" >&2; exit 255; }; exec \"$@\"";

/// See [`SHELL_CHECK`]. The locale is `C` while the script is read, so that `-N` counts bytes,
/// and is given back before it runs.
///
/// The script runs in the wrapper's own bash, not in a subshell: one fork less per command.
/// So nothing can run after it (its own `exit` or `exec` ends the wrapper, and an `EXIT` trap
/// of its own would replace one of ours), and the watchdog cannot be told that it ended.
/// The watchdog asks instead: when the channel ends, it kills the process group only if the
/// wrapper's bash (`$$`) is still there. When the script ends by itself, sshd reaps the
/// wrapper first and closes the channel after, so the watchdog finds it gone and leaves the
/// background jobs the script meant to leave. The watchdog writes nowhere (its output would
/// hold the channel's open) and is disowned, so the script's own `wait` does not wait for
/// it. `s` is unset by the first words `eval` runs, on the script's first line, so that line
/// numbers in bash's messages stay the script's own.
const BASH_WRAPPER: &str = "exec 3<&0 </dev/null; \
u=${LC_ALL+x}; o=${LC_ALL-}; export LC_ALL=C; \
IFS= read -r n <&3 && IFS= read -r -N \"$n\" s <&3 && [ \"${#s}\" = \"$n\" ] || { echo \"runbook: the script did not arrive\" >&2; exit 255; }; \
if [ -n \"$u\" ]; then LC_ALL=$o; else unset LC_ALL; fi; \
{ trap \"\" TERM; while IFS= read -r _; do :; done <&3; kill -0 \"$$\" 2>/dev/null || exit 0; kill -TERM 0; sleep 1; kill -KILL 0; } >/dev/null 2>&1 & disown; \
unset n o u; set -eo pipefail; shopt -s failglob; exec 3<&-; eval \"unset s;$s\"";

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
/// mode 0700, so socket paths stay under the ~100-byte limit), the optional `-F` config and the
/// runtime that speaks to the masters. Targets made by [`SshSession::target`] should not
/// outlive it.
#[derive(Debug)]
pub struct SshSession {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    control_dir: PathBuf,
    config: Option<PathBuf>,
    /// Per destination as written: its master (see [`Master`]).
    masters: Mutex<HashMap<String, Arc<Master>>>,
    runtime: tokio::runtime::Runtime,
    /// One watcher per [`Interrupt`] (see [`Shared::until_interrupted`]).
    interrupts: Mutex<Vec<(Interrupt, tokio::sync::watch::Receiver<bool>)>>,
    /// Master set-ups running now (see [`setup_slots`]).
    setups: tokio::sync::Semaphore,
    /// Masters closed at once at the end (see [`SshSession::set_parallel`]); 0 until a step
    /// says.
    close_parallel: AtomicUsize,
    closed: AtomicBool,
}

impl SshSession {
    /// Creates the ControlPath directory and the runtime. `config` is passed to ssh as `-F`.
    pub fn new(config: Option<PathBuf>) -> std::io::Result<SshSession> {
        if let Some(path) = &config {
            std::fs::metadata(path).map_err(|error| {
                std::io::Error::new(
                    error.kind(),
                    format!("cannot read the ssh config `{}`: {error}", path.display()),
                )
            })?;
        }
        // One worker: it only moves bytes between sockets and pipes; each command's future
        // runs on the thread that waits for it.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("runbook-ssh")
            .enable_all()
            .build()?;
        let control_dir = create_control_dir()?;
        LIVE_CONTROL_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(control_dir.clone());
        Ok(SshSession {
            shared: Arc::new(Shared {
                control_dir,
                config,
                masters: Mutex::new(HashMap::new()),
                interrupts: Mutex::new(Vec::new()),
                runtime,
                setups: tokio::sync::Semaphore::new(setup_slots(
                    std::thread::available_parallelism().map_or(1, usize::from),
                )),
                close_parallel: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// A target for one destination as ssh accepts it: `alias`, `user@host`, `host:port`,
    /// `user@host:port`, `[v6]:port` or an `ssh://` URI.
    pub fn target(&self, destination: &str) -> Ssh {
        let master = {
            let mut masters = self
                .shared
                .masters
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(masters.entry(destination.to_owned()).or_default())
        };
        let (host, port) = split_destination(destination);
        Ssh {
            destination: destination.to_owned(),
            host,
            port,
            master,
            shared: Arc::clone(&self.shared),
        }
    }

    /// The runtime the commands run on: a fan-out drives its hosts as tasks on it (see
    /// [`Ssh::run_task`]).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.shared.runtime
    }

    /// Where the master connections' sockets live.
    pub fn control_dir(&self) -> &Path {
        &self.shared.control_dir
    }

    /// Says that a step ran with `parallel` hosts at once: `close` closes at most as many
    /// masters at once as the widest step did (within the open-files limit), never more than
    /// the run itself had in flight.
    pub fn set_parallel(&self, parallel: usize) {
        let parallel = super::fleet::parallel_cap(parallel).max(1);
        let _ =
            self.shared
                .close_parallel
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                    Some(if now == 0 {
                        parallel
                    } else {
                        now.max(parallel)
                    })
                });
    }

    /// How many masters `close` closes at once now.
    pub fn close_parallel(&self) -> usize {
        match self.shared.close_parallel.load(Ordering::SeqCst) {
            0 => DEFAULT_CLOSE_PARALLEL,
            set => set,
        }
        .min(super::fleet::hosts_allowed())
        .max(1)
    }

    /// Closes every master connection (a stop request on each control socket, through the
    /// multiplexing protocol: no process per host, at most `parallel` at once) and removes the
    /// directory. Also called from `Drop`; a second call does nothing.
    pub fn close(&self) {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let dir = &self.shared.control_dir;
        let sockets: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|path| path.extension().is_none())
                    .collect()
            })
            .unwrap_or_default();
        if !sockets.is_empty() {
            let parallel = self.close_parallel();
            let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
            self.shared.runtime.block_on(async {
                let mut closing = tokio::task::JoinSet::new();
                for socket in &sockets {
                    let socket = socket.clone().into_boxed_path();
                    let permits = Arc::clone(&permits);
                    closing.spawn(async move {
                        let Ok(_permit) = permits.acquire_owned().await else {
                            return;
                        };
                        let session = openssh::Session::resume_mux(socket, None);
                        let _ = tokio::time::timeout(CLOSE_GRACE, session.close()).await;
                    });
                }
                let _ = tokio::time::timeout(CLOSE_GRACE * 2, async {
                    while closing.join_next().await.is_some() {}
                })
                .await;
            });
        }
        // A master removes its socket as it stops listening, and exits once it has no session.
        let until = Instant::now() + CLOSE_GRACE;
        while sockets.iter().any(|s| s.exists()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Whatever did not go (a master that did not answer in time, a set-up cut short) is
        // ended: no `ssh` of this run outlives it.
        end_processes_of(dir);
        let _ = std::fs::remove_dir_all(dir);
        LIVE_CONTROL_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|live| live != dir);
    }
}

impl Shared {
    /// Resolves once `interrupt` is set. One task per interrupt looks at the flag every
    /// [`TICK`] (the signal handler can only set an atomic) and tells every waiting command
    /// through a watch channel, so a thousand commands in flight cost one timer, not a
    /// thousand.
    async fn until_interrupted(&self, interrupt: &Interrupt) {
        let mut watch = {
            let mut watchers = self
                .interrupts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((_, watch)) = watchers.iter().find(|(known, _)| known.same(interrupt)) {
                watch.clone()
            } else {
                let (tell, watch) = tokio::sync::watch::channel(interrupt.is_set());
                let flag = interrupt.clone();
                self.runtime.spawn(async move {
                    let mut tick = tokio::time::interval(TICK);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        let set = flag.is_set();
                        tell.send_if_modified(|was| std::mem::replace(was, set) != set);
                    }
                });
                watchers.push((interrupt.clone(), watch.clone()));
                watch
            }
        };
        loop {
            // The flag itself decides: the watch may still say a cleared interrupt.
            if interrupt.is_set() {
                return;
            }
            if watch.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// How many master set-ups run at once on a machine of `cores` cores: enough that a wide
/// network's round trips overlap, few enough that each key exchange gets its share of CPU well
/// within [`SETUP_LIMIT`] (64 on two cores: each of 64 exchanges of 150 ms of CPU ends within
/// about 5 s).
fn setup_slots(cores: usize) -> usize {
    cores
        .saturating_mul(SETUP_SLOTS_PER_CORE)
        .clamp(MIN_SETUP_SLOTS, tokio::sync::Semaphore::MAX_PERMITS)
}

/// `now + duration`, or a year from now when that is further (or beyond the clock).
fn deadline_after(duration: Duration) -> tokio::time::Instant {
    const FAR: Duration = Duration::from_secs(365 * 24 * 3600);
    tokio::time::Instant::now() + duration.min(FAR)
}

impl Drop for SshSession {
    fn drop(&mut self) {
        self.close();
    }
}

/// The control directories of the sessions not closed yet, for [`end_every_master`].
static LIVE_CONTROL_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The `ssh` processes of a control directory: those that name it in their arguments (every
/// master and every set-up names its ControlPath), ours, live. Read from `/proc`.
fn processes_of(dir: &Path) -> Vec<nix::unistd::Pid> {
    use std::os::unix::fs::MetadataExt as _;
    let needle = dir.as_os_str().as_encoded_bytes();
    let uid = nix::unistd::getuid().as_raw();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let ours = pid != me && entry.metadata().is_ok_and(|meta| meta.uid() == uid);
            let cmdline = if ours {
                std::fs::read(entry.path().join("cmdline")).ok()?
            } else {
                return None;
            };
            let named = cmdline.windows(needle.len()).any(|window| window == needle);
            let pid = i32::try_from(pid).ok()?;
            named.then_some(nix::unistd::Pid::from_raw(pid))
        })
        .collect()
}

/// Ends the `ssh` processes of a control directory: TERM (a master removes its socket and
/// closes its sessions, so the remote watchdogs end the commands), then KILL for any still
/// there a moment later.
fn end_processes_of(dir: &Path) {
    use nix::sys::signal::{Signal, kill};
    let found = processes_of(dir);
    if found.is_empty() {
        return;
    }
    for &pid in &found {
        let _ = kill(pid, Signal::SIGTERM);
    }
    let until = Instant::now() + Duration::from_millis(500);
    let mut left = found;
    while !left.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
        left.retain(|&pid| kill(pid, None).is_ok() && !is_zombie(pid));
    }
    for pid in left {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

fn is_zombie(pid: nix::unistd::Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            == Some("Z")
    })
}

/// Ends every `ssh` process of every session not closed yet and removes their control
/// directories: for a process that must exit at once (a second Ctrl-C or SIGTERM), which
/// would otherwise leave its masters up for `ControlPersist`, and set-ups in mid-handshake.
pub fn end_every_master() {
    let dirs = std::mem::take(
        &mut *LIVE_CONTROL_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    for dir in dirs {
        end_processes_of(&dir);
        let _ = std::fs::remove_dir_all(&dir);
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
    master: Arc<Master>,
    shared: Arc<Shared>,
}

/// What is known of one destination's master connection.
#[derive(Debug, Default)]
struct Master {
    /// Whether it is up. The first command to a destination holds the lock while it opens
    /// the master, so that parallel commands to the same host wait for it instead of each
    /// opening a connection.
    up: tokio::sync::Mutex<bool>,
    /// Whether a bash command ran on the host: later ones need no `sh` to check that bash is
    /// there (see [`SHELL_CHECK`]), which saves a process per command.
    bash_found: AtomicBool,
}

/// Why a command did not run to its end.
enum Stopped {
    Interrupted,
    Failed(String),
}

impl Ssh {
    /// The master's control socket. Keyed on the destination as written: two aliases of one
    /// address do not share a master, so an alias whose known_hosts would refuse the key never
    /// rides on another's verified connection.
    pub fn control_path(&self) -> PathBuf {
        self.shared.control_dir.join(alias_key(&self.destination))
    }

    /// The arguments of an `ssh` that rides on this host's master (or opens it if it is not up):
    /// what an interactive `ssh -t` uses. The remote command goes after them.
    pub fn ssh_arguments(&self) -> Vec<OsString> {
        self.arguments(&["ControlMaster=auto".into()], &[])
    }

    /// `[-F config] -o … [extra] [-p port] -- host`.
    fn arguments(&self, options: &[OsString], flags: &[&str]) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(config) = &self.shared.config {
            args.push("-F".into());
            args.push(config.into());
        }
        let mut control_path = OsString::from("ControlPath=");
        control_path.push(self.control_path());
        let common: [OsString; 5] = [
            "BatchMode=yes".into(),
            // Never trust or record a key on the user's behalf, whatever their config says.
            "StrictHostKeyChecking=yes".into(),
            "UpdateHostKeys=no".into(),
            control_path,
            format!("ControlPersist={CONTROL_PERSIST_SECONDS}").into(),
        ];
        for option in common.iter().chain(options) {
            args.push("-o".into());
            args.push(option.clone());
        }
        args.extend(flags.iter().map(OsString::from));
        if let Some(port) = self.port {
            args.push("-p".into());
            args.push(port.to_string().into());
        }
        // `--` so that a destination can never be read as an option.
        args.push("--".into());
        args.push(self.host.clone().into());
        args
    }

    /// Opens the master unless it is up: `ssh -o ControlMaster=yes -f -N` (not `-M` as well: twice is `ask`), which returns once the connection is
    /// authenticated and the control socket listens (then goes on in the background). Its own
    /// process group, so that Ctrl-C on the terminal does not kill it half-way; killed if the
    /// engineer presses Ctrl-C or [`SETUP_LIMIT`] passes.
    async fn ensure_master(&self, interrupt: &Interrupt, reopen: bool) -> Result<(), Stopped> {
        let mut up = self.master.up.lock().await;
        let socket = self.control_path();
        if *up && !reopen && socket.exists() {
            return Ok(());
        }
        *up = false;
        // A slot first; the wait for it is no part of the set-up's limit.
        let _slot = tokio::select! {
            slot = self.shared.setups.acquire() => slot.ok(),
            () = self.shared.until_interrupted(interrupt) => return Err(Stopped::Interrupted),
        };
        let _ = std::fs::remove_file(&socket);
        let log = socket.with_extension("log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| Stopped::Failed(format!("cannot create `{}`: {e}", log.display())))?;
        let spawned = tokio::process::Command::new("ssh")
            .args(self.arguments(&["ControlMaster=yes".into()], &["-f", "-N"]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => return Err(Stopped::Failed(format!("cannot start `ssh`: {error}"))),
        };
        let status = tokio::select! {
            status = child.wait() => status,
            () = self.shared.until_interrupted(interrupt) => {
                let _ = child.kill().await;
                return Err(Stopped::Interrupted);
            }
            () = tokio::time::sleep(SETUP_LIMIT) => {
                let _ = child.kill().await;
                return Err(Stopped::Failed(format!(
                    "the connection was not set up within {} s",
                    SETUP_LIMIT.as_secs()
                )));
            }
        };
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        // The master writes on in the background to a file that is gone: nothing is kept.
        let _ = std::fs::remove_file(&log);
        match status {
            Ok(status) if status.success() && socket.exists() => {
                *up = true;
                Ok(())
            }
            Ok(_) => Err(Stopped::Failed(ssh_failure(&said))),
            Err(error) => Err(Stopped::Failed(format!("cannot wait for `ssh`: {error}"))),
        }
    }

    /// The remote command: the wrapper, the shell and its loader; nothing secret. Once bash
    /// has been found on the host, the lean wrapper goes to bash directly: the login shell
    /// reads the same words as it did after `sh -c SHELL_CHECK runbook`.
    fn remote_command(command: &ShellCommand, bash_found: bool) -> String {
        if command.shell == super::Shell::Bash && !channel_payload(command).contains(&0) {
            let bash = format!(
                "bash --noprofile --norc -c {} bash",
                shell_quote(BASH_WRAPPER)
            );
            if bash_found {
                return bash;
            }
            return format!("sh -c {} runbook {bash}", shell_quote(SHELL_CHECK));
        }
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
        remote
    }

    async fn run_async(&self, command: &ShellCommand, interrupt: &Interrupt) -> CommandOutput {
        let set_up = Instant::now();
        let mut output = CommandOutput::default();
        // A master that went away (ControlPersist ran out during a long prompt, the connection
        // dropped) is opened again once.
        for attempt in 0..2 {
            if let Err(stopped) = self.ensure_master(interrupt, attempt > 0).await {
                match stopped {
                    Stopped::Interrupted => output.interrupted = true,
                    Stopped::Failed(reason) => output.error = Some(reason),
                }
                output.duration = set_up.elapsed();
                return output;
            }
            let session = openssh::Session::resume_mux(self.control_path().into_boxed_path(), None);
            let bash_found = self.master.bash_found.load(Ordering::Relaxed);
            let spawned = session
                .raw_command(Self::remote_command(command, bash_found))
                .stdin(openssh::Stdio::piped())
                .stdout(openssh::Stdio::piped())
                .stderr(openssh::Stdio::piped())
                .spawn()
                .await;
            match spawned {
                Ok(child) => {
                    let interrupted = self.shared.until_interrupted(interrupt);
                    let output = over_the_master(child, command, interrupted).await;
                    let _ = session.detach();
                    // An exit status of its own (not 255, ssh's or the check's) means bash
                    // ran the script.
                    if command.shell == super::Shell::Bash && output.exit.is_some() {
                        self.master.bash_found.store(true, Ordering::Relaxed);
                    }
                    return output;
                }
                Err(error) if attempt == 0 => {
                    let _ = (error, session.detach());
                }
                Err(error) => {
                    let _ = session.detach();
                    output.error = Some(format!(
                        "cannot run over the SSH connection: {}",
                        with_causes(&error)
                    ));
                }
            }
        }
        output.duration = set_up.elapsed();
        output
    }
}

/// Reads a stream to its end (keeping at most [`MAX_OUTPUT`]). Straight into `kept`, which
/// grows with what comes: no fixed buffer in each host's task (a thousand hosts in flight
/// would hold a thousand of them).
async fn read_into(stream: Option<impl AsyncRead + Unpin>, kept: &mut Vec<u8>) {
    let Some(mut stream) = stream else { return };
    let mut past_limit = Vec::new();
    loop {
        let into = if kept.len() < MAX_OUTPUT {
            &mut *kept
        } else {
            // Past the limit: read on (the remote side must not block), keep nothing.
            past_limit.clear();
            &mut past_limit
        };
        if into.capacity() - into.len() < 512 {
            into.reserve(into.len().clamp(1024, 64 * 1024));
        }
        let start = into.len();
        match stream.read_buf(into).await {
            Ok(0) | Err(_) => break,
            Ok(_) => super::live::tee(&into[start..]),
        }
    }
}

/// Runs a command that the master has started: the script on the channel, which then stays
/// open until the command ends (see [`REMOTE_WRAPPER`]); on timeout or Ctrl-C the channel is
/// closed, the remote watchdog kills the command's process group, and what it wrote until then
/// is kept.
async fn over_the_master(
    mut child: openssh::Child<&openssh::Session>,
    command: &ShellCommand,
    interrupted: impl std::future::Future<Output = ()>,
) -> CommandOutput {
    let started = Instant::now();
    let mut output = CommandOutput::default();
    let stdin = child.stdin().take();
    let stdout = child.stdout().take();
    let stderr = child.stderr().take();
    let payload = channel_payload(command);
    let (hold, held) = tokio::sync::oneshot::channel::<()>();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = {
        // The script, then the channel held open, never written to again: a host that does
        // not read cannot hold up the timeout.
        let feed = async move {
            if let Some(mut stdin) = stdin {
                tokio::select! {
                    _ = async {
                        let _ = stdin.write_all(&payload).await;
                        std::future::pending::<()>().await
                    } => {}
                    _ = held => {}
                }
            }
        };
        let reads =
            async { tokio::join!(read_into(stdout, &mut out), read_into(stderr, &mut err)) };
        let wait = child.wait();
        // Until the command's timeout; once it is being stopped, until the stop's grace ends.
        let clock = tokio::time::sleep_until(deadline_after(command.timeout));
        tokio::pin!(feed, reads, wait, clock, interrupted);
        let mut hold = Some(hold);
        let (mut fed, mut read, mut stopping) = (false, false, false);
        let status = loop {
            tokio::select! {
                status = &mut wait => break Some(status),
                () = &mut feed, if !fed => fed = true,
                _ = &mut reads, if !read => read = true,
                () = &mut interrupted, if !stopping => output.interrupted = true,
                () = &mut clock => {
                    if stopping {
                        break None;
                    }
                    output.timed_out = true;
                }
            }
            if !stopping && (output.interrupted || output.timed_out) {
                // The end of the channel: the watchdog kills the process group.
                hold = None;
                stopping = true;
                clock.as_mut().reset(deadline_after(STOP_GRACE));
            }
        };
        drop(hold);
        if !read {
            let _ = tokio::time::timeout(PIPE_GRACE, &mut reads).await;
        }
        status
    };
    output.stdout = String::from_utf8_lossy(&out).into_owned();
    output.stderr = String::from_utf8_lossy(&err).into_owned();
    output.duration = started.elapsed();
    match status {
        _ if output.timed_out || output.interrupted => output.exit = None,
        Some(Ok(status)) => {
            let code = status.code();
            if code == Some(255) {
                output.error = Some(ssh_failure(&output.stderr));
            } else {
                output.exit = code;
            }
        }
        Some(Err(error)) => {
            output.error = Some(format!(
                "the SSH connection failed: {}",
                with_causes(&error)
            ));
        }
        None => output.error = Some("the command did not end".into()),
    }
    output
}

/// A short, path-safe key for a destination as written: 8 hex digits of its sha256 (socket
/// paths must stay under ~104 bytes).
fn alias_key(destination: &str) -> String {
    let digest = Sha256::digest(destination.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

impl Ssh {
    /// [`Target::run`] as a task of its own, for a fan-out that drives its hosts on the
    /// session's runtime ([`SshSession::runtime`]) instead of a thread per host.
    pub async fn run_task(self, command: ShellCommand, interrupt: Interrupt) -> CommandOutput {
        self.run_async(&command, &interrupt).await
    }
}

impl Target for Ssh {
    fn name(&self) -> &str {
        &self.destination
    }

    /// Runs the script with the command's shell on the host (see [`REMOTE_WRAPPER`]), over the
    /// host's master. When the connection cannot be set up, `error` holds ssh's one-line reason
    /// and `exit` is `None`; a remote command that exits 255 reads the same, as it does to ssh.
    fn run(&self, command: &ShellCommand, interrupt: &Interrupt) -> CommandOutput {
        self.shared
            .runtime
            .block_on(self.run_async(command, interrupt))
    }
}

/// An error and what caused it, on one line.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(&format!(": {next}"));
        cause = next.source();
    }
    text
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
    use std::io::Write as _;
    use std::os::unix::process::CommandExt as _;
    use std::process::Command;

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
    }

    #[test]
    fn set_ups_at_once_grow_with_the_cores_from_a_floor() {
        assert_eq!(setup_slots(1), 64);
        assert_eq!(setup_slots(2), 64);
        assert_eq!(setup_slots(8), 128);
        assert_eq!(setup_slots(usize::MAX), tokio::sync::Semaphore::MAX_PERMITS);
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

    /// `host` run here with the payload on its stdin as ssh would deliver it.
    fn over_channel(host: &mut Command, command: &ShellCommand) -> std::process::Output {
        let mut child = host
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The watchdog kills its whole process group when the channel ends.
            .process_group(0)
            .spawn()
            .unwrap();
        let mut channel = child.stdin.take().unwrap();
        // A host that ends without reading (no bash there) closes the channel first: the
        // write then fails with a broken pipe, as ssh's would, and the exit says why.
        let _ = channel.write_all(&channel_payload(command));
        let output = child.wait_with_output().unwrap();
        drop(channel);
        output
    }

    /// The remote wrapper, run as the host would run it.
    fn wrapper(shell: &[&str], command: &ShellCommand) -> std::process::Output {
        over_channel(
            Command::new("sh")
                .args(["-c", REMOTE_WRAPPER, "runbook"])
                .args(shell),
            command,
        )
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

    /// The lean bash wrapper, run here as the host would run it.
    fn lean(program: &str, command: &ShellCommand) -> std::process::Output {
        over_channel(
            Command::new("sh")
                .args(["-c", SHELL_CHECK, "runbook", program])
                .args(["--noprofile", "--norc", "-c", BASH_WRAPPER, "bash"])
                .env("LC_ALL", "en_US.UTF-8"),
            command,
        )
    }

    /// The remote command as sshd runs it: given to the login shell with `-c`.
    fn as_sshd_runs(command: &ShellCommand, bash_found: bool) -> std::process::Output {
        over_channel(
            Command::new("sh")
                .args(["-c", &Ssh::remote_command(command, bash_found)])
                .env("LC_ALL", "en_US.UTF-8"),
            command,
        )
    }

    /// What the loader gives a script, the lean wrapper gives it too: the secrets' exports,
    /// `-e`, `pipefail`, `failglob`, `/dev/null` as stdin, no arguments, the locale it had;
    /// and a script of many-byte characters arrives whole.
    #[test]
    fn the_lean_wrapper_runs_the_script_as_the_loader_does() {
        for bash_found in [false, true] {
            lean_wrapper_cases(|command| as_sshd_runs(command, bash_found));
        }
        lean_wrapper_cases(|command| lean("bash", command));
    }

    fn lean_wrapper_cases(run_command: impl Fn(&ShellCommand) -> std::process::Output) {
        let run = |script: &str| {
            let command = ShellCommand {
                env: vec![("RUNBOOK_SECRET_TOKEN".into(), "it's a secret".into())],
                ..ShellCommand::new(script, Duration::from_secs(5))
            };
            let out = run_command(&command);
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                out.status.code(),
            )
        };
        assert_eq!(
            run("cat\nprintf '%s\\n' \"$RUNBOOK_SECRET_TOKEN\"\nfalse | true\necho not-reached"),
            ("it's a secret\n".into(), Some(1))
        );
        assert_eq!(run("false\necho not-reached"), (String::new(), Some(1)));
        assert_eq!(
            run("echo /no-such-dir-here/*\necho not-reached"),
            (String::new(), Some(1))
        );
        assert_eq!(
            run("echo \"$# ${LC_ALL-unset} [${n-}${o-}${u-}${s-}]\"; exit 7"),
            ("0 en_US.UTF-8 []\n".into(), Some(7))
        );
        assert_eq!(
            run("echo 'café ↩ 日本'\necho done\n\n"),
            ("café ↩ 日本\ndone\n".into(), Some(0))
        );
        assert_eq!(run(""), (String::new(), Some(0)));
        // Background jobs the script leaves are its own: `wait` does not wait for the watchdog.
        assert_eq!(
            run("sleep 0.1 &\nwait\necho waited"),
            ("waited\n".into(), Some(0))
        );
    }

    #[test]
    fn the_lean_wrapper_is_used_for_bash_without_nul_only() {
        let bash = ShellCommand::new("echo hi", Duration::from_secs(5));
        let nul = ShellCommand::new("echo a\0b", Duration::from_secs(5));
        let sh = ShellCommand {
            shell: Shell::Sh,
            ..ShellCommand::new("echo hi", Duration::from_secs(5))
        };
        for bash_found in [false, true] {
            assert!(Ssh::remote_command(&bash, bash_found).contains("read -r -N"));
            assert!(!Ssh::remote_command(&nul, bash_found).contains("read -r -N"));
            assert!(!Ssh::remote_command(&sh, bash_found).contains("read -r -N"));
        }
        // The check for bash is made until bash has been found, then left out.
        assert!(Ssh::remote_command(&bash, false).starts_with("sh -c "));
        assert!(Ssh::remote_command(&bash, true).starts_with("bash --noprofile --norc -c "));
        assert!(Ssh::remote_command(&sh, true).starts_with("sh -c "));
        let out = lean(
            "runbook-no-such-shell",
            &ShellCommand::new("echo hi", Duration::from_secs(5)),
        );
        assert_eq!(out.status.code(), Some(255));
        assert_eq!(
            ssh_failure(&String::from_utf8_lossy(&out.stderr)),
            "`runbook-no-such-shell` is not installed on this host"
        );
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

#[cfg(test)]
mod task_size {
    use super::*;

    /// A host in flight costs its task: the task's state is small, whatever the command is
    /// waiting for (a thousand hosts hold a thousand of them).
    #[test]
    fn a_host_in_flight_is_a_small_task() {
        let session = SshSession::new(None).unwrap();
        let task = session.target("web-1").run_task(
            ShellCommand::new("true", Duration::from_secs(1)),
            Interrupt::default(),
        );
        let size = std::mem::size_of_val(&task);
        drop(task);
        session.close();
        // 3.7 KB in a debug build; two fixed 8 KB read buffers made it over 20 KB.
        assert!(size < 8192, "{size} bytes per host in flight");
    }
}
