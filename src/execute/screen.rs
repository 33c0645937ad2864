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
/// An action's mark and its target: what changes something stands out, in colour and in words.
const ACTION: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Black)))
    .bg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)))
    .bold();
const CODE: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const ITALIC: Style = Style::new().italic();
/// How many lines of a failing host's output a fan-out shows under its line.
const FAILED_HOST_LINES: usize = 3;
/// Below this, text is not wrapped any narrower.
const MIN_WIDTH: usize = 40;

/// How many lines of a command's output the screen shows after it ran.
const TAIL_LINES: usize = 6;
/// How many running hosts of a fan-out get a live line of their own; the rest are counted in
/// the summary line, so that 50 hosts do not scroll the terminal away.
pub const LIVE_HOST_LINES: usize = 10;

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
            live: std::io::stderr().is_terminal() && !crate::color::dumb_terminal(),
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

    /// Whether spinners and live lines are drawn (a terminal on stderr).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Whether it shows nothing at all ([`Screen::quiet`]).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn set_masker(&mut self, masker: Masker) {
        self.masker = masker;
    }

    /// Prints text (masked and sanitised), wrapped to the terminal, and a newline.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = self.clean(text);
        let indent: String = text.chars().take_while(|c| *c == ' ').collect();
        let rest = format!("{indent}  ");
        self.emit_wrapped(&text[indent.len()..], &indent, &rest);
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
        let mut line = format!("{BOLD}{}{BOLD:#}", self.clean(title));
        if !subtitle.is_empty() {
            line.push_str(&format!("   {DIM}{}{DIM:#}", self.clean(subtitle)));
        }
        self.emit_wrapped(&line, "", "  ");
    }

    pub fn section(&self, name: &str) {
        self.emit(&format!("{CYAN}{}{CYAN:#}", self.clean(name)));
    }

    /// `Step 3/9 · Restart the deployment   ACTION   ⏱ 4m 10s · alert 12m 02s`; an action's
    /// kind stands out (`ACTION`, in colour too), a check's is dim. No blank line between
    /// steps: the context of a decision stays on one screen.
    pub fn step_header(&self, number: usize, total: usize, name: &str, kind: &str) {
        if self.quiet {
            return;
        }
        let (name, kind) = (self.clean(name), self.clean(kind));
        let kind = if kind == "action" {
            format!("{ACTION} ACTION {ACTION:#}")
        } else {
            format!("{DIM}[{kind}]{DIM:#}")
        };
        let head = format!("{BOLD}Step {number}/{total} · {name}{BOLD:#}   {kind}");
        let clock = format!("{DIM}{}{DIM:#}", self.clock());
        // The clock goes on a line of its own rather than past the edge.
        match width() {
            Some(width) if display_width(&head) + 3 + display_width(&clock) > width => {
                self.emit_wrapped(&head, "", "  ");
                self.emit(&format!("  {clock}"));
            }
            _ => self.emit(&format!("{head}   {clock}")),
        }
    }

    /// Instructions, indented, their Markdown drawn for the terminal and wrapped to its width.
    pub fn text_block(&self, text: &str) {
        if self.quiet {
            return;
        }
        for line in markdown_lines(&self.clean(text), "  ", width()) {
            self.emit(&line);
        }
    }

    /// The exact command before it runs; a line longer than the terminal goes on below with
    /// `↪`, so that nothing is cut and nothing looks like a line of its own.
    pub fn command(&self, target: &str, script: &str) {
        if self.quiet {
            return;
        }
        let target = self.clean(target);
        let script = self.clean(script);
        let mut lines = script.trim_end().lines();
        let first = lines.next().unwrap_or_default();
        self.emit_command(&format!("  {DIM}{target}${DIM:#} "), first);
        for more in lines {
            self.emit_command("    ", more);
        }
    }

    /// A check's command, on one line (cut to the terminal's width with `…`): a check changes
    /// nothing, its whole command is in the timeline and in `--dry-run`.
    pub fn command_line(&self, target: &str, script: &str) {
        if self.quiet {
            return;
        }
        let target = self.clean(target);
        let script = self.clean(script);
        let mut lines = script.trim().lines();
        let mut first = lines.next().unwrap_or_default().trim_end().to_string();
        let more = lines.count();
        if more > 0 {
            first.push_str(&format!(
                " … (+{more} line{})",
                if more == 1 { "" } else { "s" }
            ));
        }
        let prefix = format!("  {DIM}{target}${DIM:#} ");
        let room = width().map(|w| w.saturating_sub(display_width(&prefix)));
        let shown = match room {
            Some(room) if display_width(&first) > room => {
                let mut cut = String::new();
                for c in first.chars() {
                    if display_width(&cut) + 2 > room {
                        break;
                    }
                    cut.push(c);
                }
                format!("{}…", cut.trim_end())
            }
            _ => first,
        };
        self.emit(&format!("{prefix}{BOLD}{shown}{BOLD:#}"));
    }

    fn emit_command(&self, prefix: &str, line: &str) {
        let Some(width) = width() else {
            self.emit(&format!("{prefix}{BOLD}{line}{BOLD:#}"));
            return;
        };
        let options = textwrap::Options::new(
            width
                .saturating_sub(display_width(prefix))
                .max(MIN_WIDTH / 2),
        )
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .break_words(true)
        .subsequent_indent("  ");
        for (n, part) in textwrap::wrap(line, options).iter().enumerate() {
            if n == 0 {
                self.emit(&format!("{prefix}{BOLD}{part}{BOLD:#}"));
            } else {
                self.emit(&format!(
                    "{}{DIM}↪{DIM:#}{BOLD}{}{BOLD:#}",
                    " ".repeat(display_width(prefix).saturating_sub(1)),
                    part.strip_prefix(' ').unwrap_or(part)
                ));
            }
        }
    }

    /// Writes a styled line, wrapped to the terminal: `first` before its first line,
    /// `rest` before the others.
    fn emit_wrapped(&self, styled: &str, first: &str, rest: &str) {
        if self.quiet {
            return;
        }
        for line in wrap_styled(styled, first, rest, width()) {
            self.emit(&line);
        }
    }

    /// ✔ or ✘, what, how long, then the tail of the output.
    pub fn outcome(&self, ok: bool, what: &str, duration: Duration, output: &str) {
        if self.quiet {
            return;
        }
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
            self.emit_wrapped(
                line,
                &format!("    {DIM}│{DIM:#} "),
                &format!("    {DIM}│{DIM:#}   "),
            );
        }
    }

    /// A fan-out host's result: ✔ or ✘ and one line; under a failing host, the last lines of
    /// what it said (stderr first), so that the reason is on the screen.
    pub fn host_outcome(&self, ok: bool, line: &str, said: &str) {
        if ok {
            self.ok(line);
            return;
        }
        self.fail(line);
        let said = self.clean(said);
        let lines: Vec<&str> = said
            .trim_end()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let skip = lines.len().saturating_sub(FAILED_HOST_LINES);
        for line in &lines[skip..] {
            self.emit_wrapped(
                line,
                &format!("      {DIM}│{DIM:#} "),
                &format!("      {DIM}│{DIM:#}   "),
            );
        }
    }

    pub fn ok(&self, text: &str) {
        self.emit_wrapped(&self.clean(text), &format!("  {GREEN}✔{GREEN:#} "), "    ");
    }

    pub fn warn(&self, text: &str) {
        self.emit_wrapped(
            &self.clean(text),
            &format!("  {YELLOW}!{YELLOW:#} "),
            "    ",
        );
    }

    pub fn fail(&self, text: &str) {
        self.emit_wrapped(&self.clean(text), &format!("  {RED}✘{RED:#} "), "    ");
    }

    pub fn info(&self, text: &str) {
        self.emit_wrapped(&format!("{DIM}{}{DIM:#}", self.clean(text)), "  ", "  ");
    }

    /// A `label: value` line whose wrapped lines sit indented under it (a rollback).
    pub fn info_hanging(&self, text: &str) {
        self.emit_wrapped(&format!("{DIM}{}{DIM:#}", self.clean(text)), "  ", "    ");
    }

    /// A line about an action: `what` with `target` standing out (it is what changes).
    pub fn action_line(&self, before: &str, target: &str, after: &str) {
        self.emit_wrapped(
            &format!(
                "{}{ACTION}{}{ACTION:#}{}",
                self.clean(before),
                self.clean(target),
                self.clean(after)
            ),
            "  ",
            "  ",
        );
    }

    /// Text with some Markdown in it, indented by `indent` and wrapped.
    pub fn markdown(&self, text: &str, indent: &str) {
        for line in markdown_lines(&self.clean(text), indent, width()) {
            self.emit(&line);
        }
    }

    /// Long text to read on demand (a step's whole output), masked and sanitised: through
    /// `$PAGER` when it is set and stdout is a terminal, else printed under a dim `│`.
    pub fn page(&self, text: &str) {
        use std::io::IsTerminal as _;
        if self.quiet {
            return;
        }
        let text = self.clean(text);
        let pager = std::env::var("PAGER")
            .ok()
            .filter(|p| !p.trim().is_empty() && std::io::stdout().is_terminal());
        if let Some(pager) = pager {
            let child = std::process::Command::new("sh")
                .arg("-c")
                .arg(&pager)
                .stdin(std::process::Stdio::piped())
                .spawn();
            if let Ok(mut child) = child {
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(text.as_bytes());
                }
                if child.wait().is_ok() {
                    return;
                }
            }
        }
        for line in text.lines() {
            self.emit_wrapped(
                line,
                &format!("  {DIM}│{DIM:#} "),
                &format!("  {DIM}│{DIM:#}   "),
            );
        }
    }

    /// The contacts (in escalation order) and the links: the facts to bring back at any
    /// prompt. `links` are rendered already.
    pub fn reference(&self, contacts: &[Sp<Contact>], links: &[(String, String)]) -> Vec<String> {
        let mut lines = Vec::new();
        if !contacts.is_empty() {
            lines.push(format!("{CYAN}Who to call, in this order{CYAN:#}"));
            for (n, contact) in contacts.iter().enumerate() {
                lines.push(format!(
                    "  {}. {}",
                    n + 1,
                    self.clean(&contact_line(contact))
                ));
            }
        }
        if !links.is_empty() {
            lines.push(format!("{CYAN}Links{CYAN:#}"));
            for (name, url) in links {
                lines.push(format!("  {}: {}", self.clean(name), self.clean(url)));
            }
        }
        lines
    }

    /// What was expected next to what happened, then who to call (given only when the
    /// engineer is asked what now; the failure menu's "Escalate" lists them, without
    /// printing them a third time).
    pub fn failure(&self, expected: &str, happened: &str, contacts: &[Sp<Contact>]) {
        self.emit_wrapped(
            &self.clean(expected),
            &format!("  {RED}✘ Step failed{RED:#} — expected: "),
            "      ",
        );
        // A fan-out's `N of M hosts failed — …` repeats its host lines and summary above
        // (unless it says which hosts did not start).
        let repeats = !happened.contains("not started")
            && happened
                .split_once(" hosts failed")
                .or_else(|| happened.split_once(" host failed"))
                .is_some_and(|(count, _)| {
                    count
                        .split(" of ")
                        .all(|n| n.chars().all(|c| c.is_ascii_digit()))
                });
        if !repeats {
            self.emit_wrapped(&self.clean(happened), "    happened: ", "      ");
        }
        // Who to call, in escalation order, when the engineer decides what now.
        if !contacts.is_empty() {
            self.emit("    who to call:");
            for contact in contacts {
                self.emit_wrapped(&self.clean(&contact_line(contact)), "      ", "        ");
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

    /// A spinner that shows the time limit too: `running 12s / 1m`.
    pub fn spinner_until(&self, message: &str, limit: Duration) -> ProgressBar {
        let bar = self.spinner(message);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "  {{spinner}} {{msg}} {{elapsed}} / {}",
                human_duration(limit)
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    }

    /// A single command running: its spinner with the time limit, and under it, once it has
    /// run for a while, the last lines of what it writes ([`Running::show_tail`]). Nothing
    /// when stderr is not a live terminal.
    pub fn running(&self, message: &str, limit: Duration) -> Running {
        let multi = MultiProgress::with_draw_target(if self.live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        // Added to the group before it first draws, so that the group clears all it drew.
        let bar = if self.live {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "  {{spinner}} {{msg}} {{elapsed}} / {}",
                    human_duration(limit)
                ))
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(self.clean(message));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        } else {
            ProgressBar::hidden()
        };
        Running {
            multi,
            bar,
            lines: std::sync::Mutex::new(Vec::new()),
            masker: self.masker.clone(),
        }
    }

    /// A spinner whose message says it all (a countdown): no clock of its own.
    pub fn countdown(&self) -> ProgressBar {
        let bar = self.spinner("");
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
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
    pub fn hosts_progress(&self, total: usize, limit: Duration) -> HostsProgress {
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
        // No ticking thread for lines nobody sees.
        if self.live {
            summary.enable_steady_tick(Duration::from_millis(100));
        }
        HostsProgress {
            live: self.live,
            multi,
            summary,
            masker: self.masker.clone(),
            limit,
            live_lines: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        }
    }
}

/// How many lines of a running command's output show under its spinner.
pub const LIVE_TAIL_LINES: usize = 3;

/// A single command's spinner and the last lines of its output (see [`Screen::running`]).
pub struct Running {
    multi: MultiProgress,
    bar: ProgressBar,
    lines: std::sync::Mutex<Vec<ProgressBar>>,
    masker: Masker,
}

impl Running {
    /// Whether anything is drawn (a live terminal).
    pub fn is_live(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Shows `lines` (the last ones the command wrote) under the spinner, in place of the
    /// ones shown before: masked, sanitised, each cut to the terminal's width.
    pub fn show_tail(&self, lines: &[String]) {
        if !self.is_live() {
            return;
        }
        let room = width().unwrap_or(80).saturating_sub(7).max(10);
        let mut bars = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (n, line) in lines.iter().enumerate() {
            let line = clean(&self.masker, line).replace('\t', "    ");
            let mut cut = String::new();
            for c in line.chars() {
                if display_width(&cut) + 2 > room {
                    cut.push('…');
                    break;
                }
                cut.push(c);
            }
            if bars.len() <= n {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("    {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bars.push(bar);
            }
            // Drawn by indicatif straight to stderr: styled only when stderr gets colour.
            let bar = if crate::color::on_stderr() {
                format!("{DIM}│{DIM:#}")
            } else {
                "│".to_string()
            };
            bars[n].set_message(format!("{bar} {cut}"));
        }
    }

    /// Prints above the live lines.
    pub fn suspend(&self, print: impl FnOnce()) {
        self.multi.suspend(print);
    }

    /// Clears the spinner and the lines under it.
    pub fn finish(self) {
        for bar in self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            bar.finish_and_clear();
        }
        self.bar.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// The live part of a fan-out (see [`Screen::hosts_progress`]). [`HostsProgress::start`] and
/// [`HostsProgress::stop`] are called from the worker threads, [`HostsProgress::print`] from
/// the thread that owns the screen.
pub struct HostsProgress {
    /// Whether stderr is a terminal: otherwise no host gets a line (nor its ticking thread).
    live: bool,
    multi: MultiProgress,
    summary: ProgressBar,
    masker: Masker,
    /// Each host's time limit, shown on its line as single spinners show it.
    limit: Duration,
    live_lines: AtomicUsize,
    running: AtomicUsize,
}

impl HostsProgress {
    /// A host starts: its own spinner line while there is room for one.
    pub fn start(&self, host: &str) -> ProgressBar {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.show_running(running);
        if !self.live {
            return ProgressBar::hidden();
        }
        if self.live_lines.fetch_add(1, Ordering::SeqCst) >= LIVE_HOST_LINES {
            self.live_lines.fetch_sub(1, Ordering::SeqCst);
            return ProgressBar::hidden();
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "    {{spinner}} {{msg}} {{elapsed}} / {}",
                human_duration(self.limit)
            ))
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

/// Prints lines already made safe and styled (the [`Screen::reference`]), wrapped to the
/// terminal.
pub fn print_lines(lines: &[String]) {
    let mut out = anstream::stdout().lock();
    for line in lines {
        for part in wrap_styled(line, "", "      ", width()) {
            let _ = writeln!(out, "{part}");
        }
    }
    let _ = out.flush();
}

/// The terminal's width, when stdout is one (else `COLUMNS`, else none: no wrapping).
pub fn width() -> Option<usize> {
    use std::io::IsTerminal as _;
    let stdout = std::io::stdout();
    let columns = if stdout.is_terminal() {
        terminal_size::terminal_size_of(&stdout).map(|(w, _)| w.0 as usize)
    } else {
        None
    };
    columns
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .filter(|&w| w > 0)
        .map(|w: usize| w.max(MIN_WIDTH))
}

/// Columns a (possibly styled) text takes.
pub fn display_width(text: &str) -> usize {
    textwrap::core::display_width(text)
}

/// A phone number (`+33 1 00 00 00 02`) is one word: its spaces become no-break spaces for
/// the wrapping, and are put back after.
const NBSP: char = '\u{a0}';

fn keep_phone_numbers_whole(text: &str) -> String {
    static PHONE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\+?\(?[0-9][0-9()]*(?:[ .-][0-9()]+){2,}").expect("a valid regex")
    });
    PHONE
        .replace_all(text, |caps: &regex::Captures<'_>| {
            caps[0].replace(' ', &NBSP.to_string())
        })
        .into_owned()
}

/// `styled` wrapped to `width` (never inside a word or a phone number), `first` before its
/// first line and `rest` before the others. Not at a hyphen either: words here are paths,
/// host names and ids (`/tmp/demo-try/…`, `web-1`) that the engineer copies whole.
pub fn wrap_styled(styled: &str, first: &str, rest: &str, width: Option<usize>) -> Vec<String> {
    let Some(width) = width else {
        return vec![format!("{first}{styled}")];
    };
    let text = keep_phone_numbers_whole(styled);
    let options = textwrap::Options::new(width)
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false);
    let lines = textwrap::wrap(&text, options);
    if lines.is_empty() {
        return vec![first.trim_end().to_string()];
    }
    lines
        .into_iter()
        .map(|line| line.replace(NBSP, " "))
        .collect()
}

/// Markdown for the terminal: **bold**, `code` and links as `text (url)`, lists with `•`,
/// code blocks indented under `│`; paragraphs wrapped to `width` after `indent`.
pub fn markdown_lines(text: &str, indent: &str, width: Option<usize>) -> Vec<String> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut lines: Vec<String> = Vec::new();
    let mut paragraph = String::new();
    let mut prefix_first = indent.to_string();
    let mut prefix_rest = indent.to_string();
    let mut links: Vec<String> = Vec::new();
    let mut link_text = String::new();
    let mut in_code_block = false;
    let mut after_code = false;
    let mut lists: Vec<Option<u64>> = Vec::new();
    let flush = |paragraph: &mut String, first: &str, rest: &str, lines: &mut Vec<String>| {
        if paragraph.trim().is_empty() {
            paragraph.clear();
            return;
        }
        lines.extend(wrap_styled(paragraph.trim(), first, rest, width));
        paragraph.clear();
    };
    let blank = |lines: &mut Vec<String>| {
        if lines.last().is_some_and(|l| !l.trim().is_empty()) {
            lines.push(String::new());
        }
    };
    for (event, range) in Parser::new(text).into_offset_iter() {
        if !matches!(
            event,
            Event::End(TagEnd::CodeBlock) | Event::Start(Tag::Paragraph)
        ) {
            after_code = false;
        }
        match event {
            // A paragraph after a code block follows it closely: the `│` sets the code off.
            // A short paragraph ending in `:` introduces what follows, close to what is above.
            Event::Start(Tag::Paragraph)
                if lists.is_empty() && !after_code && !introduces(text, range.start) =>
            {
                blank(&mut lines)
            }
            Event::Start(Tag::Heading { .. }) => {
                blank(&mut lines);
                paragraph.push_str(&format!("{BOLD}"));
            }
            Event::End(TagEnd::Heading(_)) => {
                paragraph.push_str(&format!("{BOLD:#}"));
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
            }
            Event::End(TagEnd::Paragraph) => {
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
                prefix_first = prefix_rest.clone();
            }
            Event::Start(Tag::List(start)) => {
                if lists.is_empty() {
                    blank(&mut lines);
                }
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
                lists.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
                lists.pop();
                prefix_first = format!("{indent}{}", "  ".repeat(lists.len()));
                prefix_rest = prefix_first.clone();
            }
            Event::Start(Tag::Item) => {
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
                let depth = "  ".repeat(lists.len().saturating_sub(1));
                let mark = match lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}.", *n - 1)
                    }
                    _ => "•".to_string(),
                };
                prefix_first = format!("{indent}{depth}{mark} ");
                prefix_rest = format!("{indent}{depth}{}", " ".repeat(display_width(&mark) + 1));
            }
            Event::End(TagEnd::Item) => {
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
                in_code_block = true;
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                after_code = true;
            }
            Event::Text(text) if in_code_block => {
                let bar = format!("{prefix_rest}  {DIM}│{DIM:#} ");
                let more = format!("{prefix_rest}  {DIM}│{DIM:#}   ");
                for line in text.trim_end_matches('\n').lines() {
                    lines.extend(wrap_styled(line, &bar, &more, width));
                }
            }
            Event::Start(Tag::Strong) => paragraph.push_str(&format!("{BOLD}")),
            Event::End(TagEnd::Strong) => paragraph.push_str(&format!("{BOLD:#}")),
            Event::Start(Tag::Emphasis) => paragraph.push_str(&format!("{ITALIC}")),
            Event::End(TagEnd::Emphasis) => paragraph.push_str(&format!("{ITALIC:#}")),
            Event::Start(Tag::Link { dest_url, .. }) => {
                links.push(dest_url.to_string());
                link_text.clear();
            }
            Event::End(TagEnd::Link) => {
                let url = links.pop().unwrap_or_default();
                if link_text.trim() != url.trim() && !url.is_empty() {
                    paragraph.push_str(&format!(" ({CODE}{url}{CODE:#})"));
                }
            }
            Event::Code(code) => {
                paragraph.push_str(&format!("{CODE}{code}{CODE:#}"));
                link_text.push_str(&code);
            }
            Event::Text(text) => {
                paragraph.push_str(&text);
                link_text.push_str(&text);
            }
            Event::SoftBreak => paragraph.push(' '),
            Event::HardBreak => flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines),
            Event::Html(html) | Event::InlineHtml(html) => paragraph.push_str(&html),
            Event::Rule => {
                flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
                lines.push(format!("{indent}{DIM}───{DIM:#}"));
            }
            _ => {}
        }
    }
    flush(&mut paragraph, &prefix_first, &prefix_rest, &mut lines);
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    lines
}

/// Renders text the engineer reads on the screen (instructions): as any text, but a capture
/// taken on several hosts (a host → value map) is drawn as a small table
/// ([`crate::template::host_table`]). An error is the one the plain rendering gives (it says
/// what to do about a value withheld on resuming).
pub fn render_shown(
    state: &super::state::RunState,
    runbook: &crate::model::Runbook,
    env: &minijinja::Environment<'_>,
    source: &str,
) -> Result<String, String> {
    state
        .render_as(runbook, env, source, crate::template::Escape::Screen, None)
        .or_else(|_| state.render(runbook, env, source, false, None))
}

/// Whether the paragraph at `start` of `text` is a short one ending in `:` (`HAProxy:`).
fn introduces(text: &str, start: usize) -> bool {
    let line = text[start..].lines().next().unwrap_or_default().trim_end();
    line.ends_with(':') && line.chars().count() <= 40
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                crate::sanitize::sanitize(&anstream::adapter::strip_str(l).to_string()).into_owned()
            })
            .collect()
    }

    #[test]
    fn a_phone_number_is_never_broken_across_lines() {
        let text = "Call the network team on +33 1 00 00 00 03 before you drain anything";
        for width in 20..60 {
            let lines = wrap_styled(text, "", "", Some(width));
            assert!(
                lines.iter().any(|l| l.contains("+33 1 00 00 00 03")),
                "width {width}: {lines:?}"
            );
            assert!(lines.iter().all(|l| !l.contains('\u{a0}')), "{lines:?}");
        }
    }

    #[test]
    fn a_path_or_host_name_is_never_broken_at_its_hyphens() {
        // The pause message's resume command: copied from the screen at 4 am.
        let path = "/tmp/demo-try/timelines/demo-local-demo-20261203-054440.jsonl";
        let text = format!("Paused at step `choose`. Resume with: runbook run --resume {path}");
        for width in 20..100 {
            let lines = wrap_styled(&text, "  ! ", "    ", Some(width));
            assert!(
                lines.iter().any(|l| l.contains(path)),
                "width {width}: {lines:?}"
            );
        }
    }

    #[test]
    fn markdown_is_drawn_bold_code_and_links_as_text_and_url() {
        let text = "Open the [dashboard](https://grafana.example.com/d/web) and look at **web-2**;\nrun `top`.\n\n```\nweb-1 up\n```\n";
        let lines = plain(&markdown_lines(text, "  ", Some(80)));
        let all = lines.join("\n");
        assert!(
            all.contains("dashboard (https://grafana.example.com/d/web)"),
            "{all}"
        );
        assert!(all.contains("web-2;") && all.contains("top."), "{all}");
        assert!(all.contains("│ web-1 up"), "{all}");
        for marker in ["**", "`", "]("] {
            assert!(!all.contains(marker), "{marker} in {all}");
        }
        assert!(lines.iter().all(|l| display_width(l) <= 80), "{all}");
    }
}
