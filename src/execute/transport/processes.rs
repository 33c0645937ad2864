//! Every process a local command started, including those that left its process group
//! (`setsid`, daemons that fork twice): a timeout or Ctrl-C must not leave any behind.
//!
//! Each command carries a mark in its environment, which its descendants inherit; at kill time
//! the processes bearing the mark, and those still below the shell in the process tree, are
//! killed. This process is made a child subreaper (`PR_SET_CHILD_SUBREAPER`), so an orphaned
//! descendant is re-parented here rather than to init: the tree stays whole, and a killed one
//! is reaped instead of lingering as a zombie.

use std::collections::{BTreeSet, HashMap};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// The environment variable that marks a command's processes.
pub const MARK_VARIABLE: &str = "RUNBOOK_COMMAND_MARK";

/// A mark no other command of any run shares: this process's id, a counter and the clock.
pub fn new_mark() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Makes this process the reaper of its orphaned descendants (once; Linux only, a no-op
/// where the kernel refuses).
pub fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    });
}

/// The processes below `root` in the tree and those whose environment holds `mark`, without
/// `root` itself and without this process.
pub fn of_command(root: u32, mark: &str) -> BTreeSet<i32> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let root = i32::try_from(root).unwrap_or(0);
    let needle = format!("{MARK_VARIABLE}={mark}");
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut found = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me || pid == root {
            continue;
        }
        if let Some(parent) = parent_of(pid) {
            children.entry(parent).or_default().push(pid);
        }
        let marked = std::fs::read(entry.path().join("environ")).is_ok_and(|environ| {
            environ
                .split(|&b| b == 0)
                .any(|variable| variable == needle.as_bytes())
        });
        if marked {
            found.insert(pid);
        }
    }
    let mut below = vec![root];
    while let Some(pid) = below.pop() {
        for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
            found.insert(child);
            below.push(child);
        }
    }
    found.remove(&root);
    found
}

/// The parent of `pid`, from `/proc/PID/stat` (the field after the state, after the command
/// name in parentheses, which may itself hold spaces and parentheses).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    fields.next()?;
    fields.next()?.parse().ok()
}

/// SIGKILL to each of `pids`; those that became our children (as orphans) are reaped.
pub fn kill_all(pids: &BTreeSet<i32>) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    for &pid in pids {
        // Not our child: ECHILD at once. Our child: it dies of the SIGKILL within moments.
        for _ in 0..100 {
            match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                _ => break,
            }
        }
    }
}
