//! Fleet scale: open file descriptors. Every host in flight holds a few (the pipes of its
//! command, the socket to its master, the set-up's log), so the soft `RLIMIT_NOFILE` bounds how
//! many hosts can run at once. It is raised to the hard limit when runbook starts, and
//! [`parallel_cap`] keeps `parallel` within what it allows (saying so once), so that a big
//! `parallel` never fails hosts with a raw "Too many open files".

use std::sync::Mutex;

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The most descriptors one host in flight holds at a time: over SSH, three pipe pairs and the
/// master's socket while the command is handed to the master (then four), or the set-up's
/// pipes, log and process handle; locally, three pipe pairs.
pub const DESCRIPTORS_PER_HOST: u64 = 8;
/// Kept for everything else: the timeline, the terminal, the HTTP pool, libraries.
const RESERVED: u64 = 64;

/// Raises the soft limit on open files to the hard limit (as far as the kernel allows). Returns
/// the soft limit in force afterwards.
pub fn raise_open_files_limit() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if hard > soft && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// Descriptors open in this process now.
fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(16, |entries| entries.count() as u64)
}

/// How many hosts at once the open-files limit allows, with what is already open.
pub fn hosts_allowed() -> usize {
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    let free = soft.saturating_sub(open_descriptors() + RESERVED);
    usize::try_from((free / DESCRIPTORS_PER_HOST).max(1)).unwrap_or(usize::MAX)
}

/// `parallel`, lowered to what the open-files limit allows. When it lowers it, one line on
/// stderr says so (once per value, not per step).
pub fn parallel_cap(parallel: usize) -> usize {
    // One host is always allowed: no need to count the open descriptors (a directory read
    // of `/proc`) for every step on one host.
    if parallel <= 1 {
        return parallel;
    }
    let allowed = hosts_allowed();
    if parallel <= allowed {
        return parallel;
    }
    static SAID: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.contains(&(parallel, allowed)) {
        said.push((parallel, allowed));
        let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft);
        eprintln!(
            "runbook: running {allowed} hosts at once, not {parallel}: the open-files limit \
             ({soft}, `ulimit -n`) allows no more"
        );
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_parallel_is_kept_and_a_huge_one_lowered() {
        raise_open_files_limit();
        assert_eq!(parallel_cap(3), 3);
        let allowed = hosts_allowed();
        assert!(allowed >= 1);
        assert!(parallel_cap(usize::MAX) < usize::MAX);
    }
}
