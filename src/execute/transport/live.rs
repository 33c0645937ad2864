//! The output of the one command the engineer is watching, as it comes: a single local or
//! single-host command at a live terminal. The runner starts watching before it runs the
//! command and stops after; the transports' readers copy what they read here
//! ([`tee`]), and the screen shows its last lines under the spinner. Nothing is copied when
//! nobody watches (a fan-out, a pipe, `runbook test`).

use std::sync::{Arc, Mutex, PoisonError};

/// The most kept: the screen shows only the last lines.
const KEEP: usize = 64 * 1024;

/// What the watched command wrote so far (stdout and stderr as they came).
pub type Tap = Arc<Mutex<Vec<u8>>>;

static WATCHED: Mutex<Option<Tap>> = Mutex::new(None);

/// Starts watching: what the transports read from now on is copied into the returned tap.
pub fn watch() -> Tap {
    let tap = Tap::default();
    *WATCHED.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&tap));
    tap
}

/// Stops watching.
pub fn unwatch() {
    *WATCHED.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// Copies bytes a command wrote into the tap, when one is watched.
pub fn tee(bytes: &[u8]) {
    let watched = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(tap) = watched.as_ref() {
        let mut kept = tap.lock().unwrap_or_else(PoisonError::into_inner);
        kept.extend_from_slice(bytes);
        if kept.len() > KEEP {
            let cut = kept.len() - KEEP / 2;
            kept.drain(..cut);
        }
    }
}

/// The last `count` non-empty lines of a tap (a line still being written included).
pub fn last_lines(tap: &Tap, count: usize) -> Vec<String> {
    let kept = tap.lock().unwrap_or_else(PoisonError::into_inner);
    let text = String::from_utf8_lossy(&kept);
    let lines: Vec<&str> = text
        .split(['\n', '\r'])
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(count)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_watched_command_is_copied_and_its_last_lines_are_read() {
        tee(b"before\n");
        let tap = watch();
        tee(b"one\ntwo\n\nthree\nfou");
        unwatch();
        tee(b"after\n");
        // (Other tests' commands may run meanwhile: only what is known is asserted.)
        let lines = last_lines(&tap, 1000);
        for seen in ["one", "two", "three", "fou"] {
            assert!(lines.iter().any(|l| l == seen), "{lines:?}");
        }
        assert!(
            !lines.iter().any(|l| l == "before" || l == "after"),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.is_empty()), "{lines:?}");
        let tap = Tap::default();
        tap.lock().unwrap().extend_from_slice(b"a\nb\nc\nd");
        assert_eq!(last_lines(&tap, 3), ["b", "c", "d"]);
    }
}
