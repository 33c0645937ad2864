//! Everything the engineer sees goes through the [`Screen`]: colour only on a terminal (and
//! never with `NO_COLOR`, which anstream honours), secrets masked, a running clock.
//!
//! Every text a method is given comes from outside the program somewhere (a value, an output,
//! a runbook): it is masked whole, then sanitised ([`crate::sanitize`]), and only then split
//! into lines and styled, so that a secret cut by a line break still shows as `***` and no
//! control character from it reaches the terminal; only the Screen's own styles do.

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::{Contact, Sp};
use crate::sanitize::sanitize_owned;
use crate::secrets::Masker;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)))
    .bold();
const RED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .bold();
const YELLOW: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)))
    .bold();
const CYAN: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)))
    .bold();

/// How many lines of a command's output the screen shows after it ran.
const TAIL_LINES: usize = 6;
/// How many running hosts of a fan-out get a live line of their own; the rest are counted in
/// the summary line, so that 50 hosts do not scroll the terminal away.
const LIVE_HOST_LINES: usize = 10;

/// The engineer's view of the run.
#[derive(Debug)]
pub struct Screen {
    masker: Masker,
    /// When the run started (see [`Screen::start_clock_at`]).
    started: Instant,
    /// When the alert fired, if known.
    alerted: Option<Instant>,
    /// Whether spinners and countdowns are drawn (a terminal on stderr).
    live: bool,
    /// Shows nothing at all (`runbook test`: a scripted run has no one watching).
    quiet: bool,
}

impl Screen {
    /// `alert_age`: how long ago the alert fired.
    pub fn new(masker: Masker, alert_age: Option<Duration>) -> Self {
        use std::io::IsTerminal as _;
        Screen {
            masker,
            started: Instant::now(),
            alerted: alert_age.and_then(|age| Instant::now().checked_sub(age)),
            live: std::io::stderr().is_terminal(),
            quiet: false,
        }
    }

    /// A screen that shows nothing: no lines, no spinners (`runbook test`).
    pub fn quiet() -> Self {
        Screen {
            live: false,
            quiet: true,
            ..Screen::new(Masker::default(), None)
        }
    }

    /// Starts the clock at `at` (the run's `run_started`, earlier when resuming).
    pub fn start_clock_at(&mut self, at: jiff::Timestamp) {
        let ago = jiff::Timestamp::now().duration_since(at);
        let ago = Duration::try_from(ago).unwrap_or_default();
        self.started = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
    }

    pub fn set_masker(&mut self, masker: Masker) {
        self.masker = masker;
    }

    /// Prints text (masked and sanitised) and a newline.
    pub fn line(&self, text: &str) {
        self.emit(&self.clean(text));
    }

    /// Text from outside, safe to show: masked whole, then sanitised.
    fn clean(&self, text: &str) -> String {
        clean(&self.masker, text)
    }

    /// Writes a line that is already clean (and may carry the Screen's own styles).
    fn emit(&self, styled: &str) {
        if self.quiet {
            return;
        }
        let mut out = anstream::stdout().lock();
        let _ = writeln!(out, "{styled}");
        let _ = out.flush();
    }

    pub fn blank(&self) {
        self.line("");
    }

    pub fn title(&self, title: &str, subtitle: &str) {
        self.emit(&format!("{BOLD}{}{BOLD:#}", self.clean(title)));
        if !subtitle.is_empty() {
            self.emit(&format!("{DIM}{}{DIM:#}", self.clean(subtitle)));
        }
    }

    pub fn section(&self, name: &str) {
        self.emit(&format!("{CYAN}{}{CYAN:#}", self.clean(name)));
    }

    /// `Step 3/9 · Restart the deployment   [action]   ⏱ 4m 10s · alert 12m 02s`
    pub fn step_header(&self, number: usize, total: usize, name: &str, kind: &str) {
        self.blank();
        let (name, kind) = (self.clean(name), self.clean(kind));
        self.emit(&format!(
            "{BOLD}Step {number}/{total} · {name}{BOLD:#}   {DIM}[{kind}]   {}{DIM:#}",
            self.clock()
        ));
    }

    /// Instructions, indented.
    pub fn text_block(&self, text: &str) {
        for line in self.clean(text).trim_end().lines() {
            self.emit(&format!("  {line}"));
        }
    }

    /// The exact command before it runs.
    pub fn command(&self, target: &str, script: &str) {
        let target = self.clean(target);
        let script = self.clean(script);
        let mut lines = script.trim_end().lines();
        let first = lines.next().unwrap_or_default();
        self.emit(&format!("  {DIM}{target}${DIM:#} {BOLD}{first}{BOLD:#}"));
        for more in lines {
            self.emit(&format!("    {BOLD}{more}{BOLD:#}"));
        }
    }

    /// ✔ or ✘, what, how long, then the tail of the output.
    pub fn outcome(&self, ok: bool, what: &str, duration: Duration, output: &str) {
        let (mark, style) = if ok { ("✔", GREEN) } else { ("✘", RED) };
        self.emit(&format!(
            "  {style}{mark}{style:#} {} {DIM}({}){DIM:#}",
            self.clean(what),
            human_duration(duration)
        ));
        // Masked whole before it is cut into lines: a multi-line secret never shows a line.
        let output = self.clean(output);
        let lines: Vec<&str> = output.trim_end().lines().collect();
        let skip = lines.len().saturating_sub(TAIL_LINES);
        if skip > 0 {
            self.emit(&format!(
                "    {DIM}… {skip} more line{} above{DIM:#}",
                if skip == 1 { "" } else { "s" }
            ));
        }
        for line in &lines[skip..] {
            self.emit(&format!("    {DIM}│{DIM:#} {line}"));
        }
    }

    pub fn ok(&self, text: &str) {
        self.emit(&format!("  {GREEN}✔{GREEN:#} {}", self.clean(text)));
    }

    pub fn warn(&self, text: &str) {
        self.emit(&format!("  {YELLOW}!{YELLOW:#} {}", self.clean(text)));
    }

    pub fn fail(&self, text: &str) {
        self.emit(&format!("  {RED}✘{RED:#} {}", self.clean(text)));
    }

    pub fn info(&self, text: &str) {
        self.emit(&format!("  {DIM}{}{DIM:#}", self.clean(text)));
    }

    /// What was expected next to what happened, then who to call.
    pub fn failure(&self, expected: &str, happened: &str, contacts: &[Sp<Contact>]) {
        self.emit(&format!("  {RED}Step failed{RED:#}"));
        self.line(&format!("    expected: {expected}"));
        self.line(&format!("    happened: {happened}"));
        if !contacts.is_empty() {
            self.line("    who to call:");
            for contact in contacts {
                self.line(&format!("      {}", contact_line(contact)));
            }
        }
    }

    /// Time since the start, and since the alert when known.
    pub fn clock(&self) -> String {
        let since_start = self.started.elapsed();
        match self.alerted {
            Some(alerted) => format!(
                "⏱ {} · alert {} ago",
                human_duration(since_start),
                human_duration(alerted.elapsed())
            ),
            None => format!("⏱ {}", human_duration(since_start)),
        }
    }

    /// A spinner on stderr while something runs; nothing when stderr is not a terminal.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if !self.live {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(self.clean(message));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// Live lines for a fan-out over `total` hosts: a spinner per running host under a line
    /// that counts what is done; nothing when stderr is not a terminal.
    pub fn hosts_progress(&self, total: usize) -> HostsProgress {
        let multi = MultiProgress::with_draw_target(if self.live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let summary = multi.add(ProgressBar::new(total as u64));
        summary.set_style(
            ProgressStyle::with_template("  {spinner} {pos}/{len} hosts done {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        summary.enable_steady_tick(Duration::from_millis(100));
        HostsProgress {
            multi,
            summary,
            masker: self.masker.clone(),
            live_lines: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        }
    }
}

/// The live part of a fan-out (see [`Screen::hosts_progress`]). [`HostsProgress::start`] and
/// [`HostsProgress::stop`] are called from the worker threads, [`HostsProgress::print`] from
/// the thread that owns the screen.
pub struct HostsProgress {
    multi: MultiProgress,
    summary: ProgressBar,
    masker: Masker,
    live_lines: AtomicUsize,
    running: AtomicUsize,
}

impl HostsProgress {
    /// A host starts: its own spinner line while there is room for one.
    pub fn start(&self, host: &str) -> ProgressBar {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.show_running(running);
        if self.live_lines.fetch_add(1, Ordering::SeqCst) >= LIVE_HOST_LINES {
            self.live_lines.fetch_sub(1, Ordering::SeqCst);
            return ProgressBar::hidden();
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("    {spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("{} running", clean(&self.masker, host)));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// A host is done: its spinner line goes away (its result is printed by [`Self::print`]).
    pub fn stop(&self, bar: ProgressBar) {
        let running = self
            .running
            .fetch_sub(1, Ordering::SeqCst)
            .saturating_sub(1);
        self.show_running(running);
        if !bar.is_hidden() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
            self.live_lines.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn show_running(&self, running: usize) {
        self.summary.set_message(if running > LIVE_HOST_LINES {
            format!("· {running} running, {LIVE_HOST_LINES} shown")
        } else {
            String::new()
        });
    }

    /// Prints a host's result above the live lines and counts it as done.
    pub fn print(&self, print: impl FnOnce()) {
        self.multi.suspend(print);
        self.summary.inc(1);
    }

    /// Clears the live lines.
    pub fn finish(self) {
        self.summary.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// Text from outside, safe to show: masked whole (so that a secret cut by a line break or
/// quoted is still found), then sanitised.
pub fn clean(masker: &Masker, text: &str) -> String {
    sanitize_owned(masker.mask(text).into_owned())
}

/// `IAM team — owns the destination API — chat #iam-support · phone +33… (when: …)`
pub fn contact_line(contact: &Contact) -> String {
    let mut parts = vec![contact.name.value.clone()];
    if let Some(role) = &contact.role {
        parts.push(role.clone());
    }
    let reach: Vec<String> = [
        ("chat", &contact.chat),
        ("email", &contact.email),
        ("phone", &contact.phone),
    ]
    .into_iter()
    .filter_map(|(how, value)| value.as_ref().map(|v| format!("{how} {v}")))
    .collect();
    if !reach.is_empty() {
        parts.push(reach.join(" · "));
    }
    let mut line = parts.join(" — ");
    if let Some(when) = &contact.when {
        line.push_str(&format!(" (when {when})"));
    }
    line
}

/// A duration as the timeline and the postmortem write it (`850ms`, `1.2s`, `4m 5s`), so the
/// screen and the record read the same.
pub fn human_duration(duration: Duration) -> String {
    crate::timeline::human_duration(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}
