//! Where commands run: this machine, SSH and HTTP (the transports). Every one that runs shell
//! commands implements [`Target`]; the engine does not know which it drives.
//!
//! A script never travels as a program argument (where every local user reads it in
//! `/proc/*/cmdline`): locally it reaches the shell on a pipe, over SSH on the SSH channel. Secret
//! values are not even in the script: [`secret_env`] turns them into references to environment
//! variables that travel beside it.

pub mod fleet;
mod http;
pub mod interactive;
pub mod live;
mod local;
mod processes;
pub mod scripted;
pub mod secret_env;
mod ssh;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use crate::model::Shell;

pub use http::{HttpClient, HttpRequest, HttpResponse, judge};
pub use local::Local;
pub use ssh::{Ssh, SshSession};

/// A shell command ready to run: rendered, with its time limit.
#[derive(Debug, Clone)]
pub struct ShellCommand {
    pub script: String,
    pub timeout: Duration,
    /// The shell that runs the script.
    pub shell: Shell,
    /// Environment variables the script refers to (the secrets: see [`secret_env`]).
    pub env: Vec<(String, String)>,
}

impl ShellCommand {
    /// A script for bash, with no environment of its own.
    pub fn new(script: impl Into<String>, timeout: Duration) -> ShellCommand {
        ShellCommand {
            script: script.into(),
            timeout,
            shell: Shell::Bash,
            env: Vec::new(),
        }
    }
}

/// The text the shell runs first, the same locally and over SSH: it reads the script from its
/// stdin (a pipe, never an argument), gives the script `/dev/null` as stdin, as a command run
/// from a terminal-less job expects, and evaluates it. `bash` also fails on a glob that matches
/// nothing.
pub(crate) fn loader(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "shopt -s failglob; s=$(cat); exec </dev/null; eval \"$s\"",
        Shell::Sh => "s=$(cat); exec </dev/null; eval \"$s\"",
    }
}

/// The arguments of the shell before the loader: no start-up files, and stop at the first
/// failing line (and, with bash, pipeline stage).
pub(crate) fn shell_flags(shell: Shell) -> &'static [&'static str] {
    match shell {
        Shell::Bash => &["--noprofile", "--norc", "-eo", "pipefail", "-c"],
        Shell::Sh => &["-e", "-c"],
    }
}

/// What running a command gave.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
    /// The exit code; `None` when killed by a signal or never started.
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// Killed because it outlived its timeout.
    pub timed_out: bool,
    /// Killed because the engineer pressed Ctrl-C.
    pub interrupted: bool,
    /// Why it could not run at all (the host is unreachable, `sh` is missing…).
    pub error: Option<String>,
}

/// Something that runs shell commands: this machine, or a host over SSH.
pub trait Target {
    /// How the timeline and the screen name it: `local`, or the host.
    fn name(&self) -> &str;
    fn run(&self, command: &ShellCommand, interrupt: &Interrupt) -> CommandOutput;
}

/// True while a question is on screen; see [`Interrupt::install`].
pub static PROMPTING: AtomicBool = AtomicBool::new(false);

/// Marks a question as on screen for as long as it lives.
pub struct Prompting;

impl Prompting {
    pub fn start() -> Prompting {
        PROMPTING.store(true, Ordering::SeqCst);
        Prompting
    }
}

impl Drop for Prompting {
    fn drop(&mut self) {
        PROMPTING.store(false, Ordering::SeqCst);
    }
}

/// Ends the process at once with status 130, after the SSH masters and set-ups of the run
/// (every event is already on disk; `--resume` continues).
fn hard_exit() -> ! {
    ssh::end_every_master();
    std::process::exit(130);
}

/// Set when the engineer presses Ctrl-C (or the process gets SIGTERM); everything that waits
/// looks at it, so that a run pauses cleanly instead of dying mid-step.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Installs the signal handlers for SIGINT, SIGTERM and SIGHUP. The first sets the flag;
    /// a second one ends the process.
    ///
    /// A prompt blocks inside the terminal library, where the flag is not seen (and a
    /// terminal that hung up makes it spin), so a watcher ends the process when a signal
    /// arrives while a question is on screen. Every event is already on disk, and
    /// `--resume` continues at that step.
    pub fn install() -> std::io::Result<Interrupt> {
        // Once per process: a second set of signal threads would see the first one's flag
        // and take the first signal for the second.
        static INSTALLED: std::sync::Mutex<Option<Interrupt>> = std::sync::Mutex::new(None);
        let mut installed = INSTALLED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(interrupt) = &*installed {
            return Ok(interrupt.clone());
        }
        let interrupt = Interrupt::default();
        // The signals arrive on a thread of their own (not in a handler), so that the hard
        // exit can first end the SSH masters and set-ups, which live in process groups of
        // their own and would otherwise outlive runbook.
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ])?;
        let flag = interrupt.clone();
        std::thread::Builder::new()
            .name("runbook-signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    if flag.is_set() {
                        hard_exit();
                    }
                    flag.set();
                }
            })?;
        let watched = interrupt.clone();
        std::thread::spawn(move || {
            loop {
                if watched.is_set() && PROMPTING.load(Ordering::SeqCst) {
                    hard_exit();
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        *installed = Some(interrupt.clone());
        Ok(interrupt)
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Whether `other` is this same flag (a clone of it).
    pub fn same(&self, other: &Interrupt) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
