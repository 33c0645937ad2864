//! `runbook` at a real pseudo-terminal, driven as a person would: wait for text, type keys.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect as _};

/// Generous: the tests run in parallel on small machines.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(15);

pub const ENTER: &str = "\r";
pub const DOWN: &str = "\x1b[B";
pub const ESC: &str = "\x1b";
pub const CTRL_C: &str = "\x03";

/// `runbook ARGS…` at a pseudo-terminal, keeping everything it drew.
pub struct Terminal {
    session: OsSession,
    /// Everything read so far, escape sequences included.
    transcript: String,
}

impl Terminal {
    /// Starts `runbook ARGS…` in `dir`. The terminal is set up as people have it — echo on
    /// (the pty library turns it off), 120 columns — so that a prompt that forgot to hide
    /// what is typed shows it.
    pub fn spawn(dir: &Path, args: &[&str]) -> Terminal {
        Terminal::spawn_env(dir, args, &[("NO_COLOR", "1")])
    }

    /// [`Terminal::spawn`] with `env` set, and without `NO_COLOR` unless `env` gives it: for
    /// the tests of colour.
    ///
    /// The pty library sets 80×24 from this side once the child has started, which raced a
    /// size set by the child itself (a confirmation drawn at 80 columns now and then). So the
    /// size is set from this side after it, and the child waits to see it before `runbook`
    /// starts.
    pub fn spawn_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Terminal {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(
                r#"while [ "$(stty size)" != "50 120" ]; do sleep 0.01; done; stty echo && exec "$0" "$@""#,
            )
            .arg(env!("CARGO_BIN_EXE_runbook"))
            .args(args)
            .current_dir(dir)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .env("TERM", "xterm")
            .env_remove("RUNBOOK_CATALOG");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut session = OsSession::spawn(command).expect("runbook starts in a pty");
        session
            .get_process_mut()
            .set_window_size(120, 50)
            .expect("the pty takes a size");
        session.set_expect_timeout(Some(EXPECT_TIMEOUT));
        Terminal {
            session,
            transcript: String::new(),
        }
    }

    /// [`Terminal::finish`], with every escape sequence kept.
    #[track_caller]
    pub fn finish_raw(mut self) -> (i32, String) {
        self.expect_eof();
        let status = self
            .session
            .get_process()
            .wait()
            .expect("runbook is waited for");
        let code = match status {
            WaitStatus::Exited(_, code) => code,
            other => panic!("runbook did not exit normally: {other:?}"),
        };
        (code, self.transcript)
    }

    /// Waits until the screen shows `text` (after what was already matched).
    #[track_caller]
    pub fn expect(&mut self, text: &str) {
        match self.session.expect(text) {
            Ok(found) => self
                .transcript
                .push_str(&String::from_utf8_lossy(found.as_bytes())),
            Err(error) => {
                let mut pending = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(n) = self.session.try_read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buffer[..n]);
                }
                panic!(
                    "the screen never showed {text:?} ({error})\n── screen so far ──\n{}\n── not matched yet ──\n{}",
                    plain(&self.transcript),
                    plain(&String::from_utf8_lossy(&pending)),
                );
            }
        }
    }

    /// Types keys.
    pub fn send(&mut self, keys: &str) {
        self.session.send(keys).expect("keys reach the pty");
    }

    /// Waits for a menu asking `question`, then picks the entry `downs` below the first.
    #[track_caller]
    pub fn pick(&mut self, question: &str, downs: usize) {
        self.expect(question);
        self.send(&(DOWN.repeat(downs) + ENTER));
    }

    /// Waits for a text prompt asking `question`, then types `text` and Enter.
    #[track_caller]
    pub fn answer(&mut self, question: &str, text: &str) {
        self.expect(question);
        self.send(&format!("{text}{ENTER}"));
    }

    /// Reads to the end; returns the exit code and the whole screen, without escape
    /// sequences.
    #[track_caller]
    pub fn finish(mut self) -> (i32, String) {
        self.expect_eof();
        let status = self
            .session
            .get_process()
            .wait()
            .expect("runbook is waited for");
        let code = match status {
            WaitStatus::Exited(_, code) => code,
            other => panic!("runbook did not exit normally: {other:?}"),
        };
        (code, plain(&self.transcript))
    }

    #[track_caller]
    pub fn expect_eof(&mut self) {
        match self.session.expect(Eof) {
            Ok(found) => self
                .transcript
                .push_str(&String::from_utf8_lossy(found.as_bytes())),
            Err(error) => panic!(
                "runbook did not end ({error})\n── screen so far ──\n{}",
                plain(&self.transcript)
            ),
        }
    }
}

/// Text without terminal escape sequences (CSI and two-byte ones).
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // CSI: parameters up to a final byte; any other escape is two characters long.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}
