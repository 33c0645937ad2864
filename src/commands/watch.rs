//! `runbook watch [PATH] [--every 1m] [--for 1h]`: hypercare after a fix. The `health` checks
//! of the catalog (or of one runbook) run every interval for the duration, through the
//! machinery of `runbook status`; one line per round. The first round is the baseline: a
//! service that turns worse than it was then (green → orange → red, or more checks failing)
//! rings the terminal bell, prints a ⚠ line, is recorded in `--timeline` when given, and makes
//! the watch end with exit 1. Ctrl-C stops it cleanly with the summary.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::incidents::parse_long_duration;
use super::status::{self, Watched};
use crate::execute::transport::Interrupt;
use crate::sanitize::sanitize;
use crate::secrets::Masker;
use crate::timeline::{Event, Timeline};
use crate::{Error, ExitStatus};

/// What `runbook watch` was asked to do.
#[derive(Debug)]
pub struct WatchSettings {
    pub path: PathBuf,
    pub every: String,
    pub duration: String,
    pub timeline: Option<PathBuf>,
    pub parallel: usize,
    pub ssh_config: Option<PathBuf>,
    pub catalog: Option<PathBuf>,
}

/// How bad a standing is: higher is worse; a runbook without checks is unknown, never worse.
fn badness(watched: &Watched) -> (u8, usize) {
    use status::ServiceState as State;
    let rank = match watched.state {
        State::Green | State::Grey => 0,
        State::Orange => 1,
        State::Red => 2,
    };
    (rank, watched.failed)
}

fn duration_flag(flag: &'static str, text: &str) -> Result<Duration, Error> {
    let ms = parse_long_duration(text).map_err(|reason| Error::InvalidFlag {
        flag,
        value: text.to_string(),
        reason,
    })?;
    if ms == 0 {
        return Err(Error::InvalidFlag {
            flag,
            value: text.to_string(),
            reason: "must be longer than zero".into(),
        });
    }
    Ok(Duration::from_millis(ms))
}

pub fn watch(settings: WatchSettings) -> Result<ExitStatus, Error> {
    let every = duration_flag("--every", &settings.every)?;
    let total = duration_flag("--for", &settings.duration)?;
    if let Some(config) = &settings.ssh_config {
        crate::execute::check_ssh_config(config)?;
    }
    if let Some(timeline) = &settings.timeline {
        // Found now, not at the first bad round.
        Timeline::check_resumable(timeline)?;
    }
    let entries = status::watch_entries(&settings.path, settings.catalog.as_deref())?;
    let interrupt = Interrupt::install().map_err(Error::Output)?;
    let rounds = 1 + (total.as_millis() / every.as_millis()) as usize;
    let started = Instant::now();
    let until = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(total).unwrap_or_default())
        .map(|t| t.strftime("%H:%M:%S UTC").to_string())
        .unwrap_or_default();
    say(&format!(
        "watching {} runbook{} every {} for {} ({rounds} rounds, until {until}); Ctrl-C stops",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" },
        settings.every.trim(),
        settings.duration.trim()
    ));

    let mut baseline: Option<Vec<Watched>> = None;
    // The worst each service got to, to say each worsening once.
    let mut worst: Vec<(u8, usize)> = Vec::new();
    let mut worsened: Vec<String> = Vec::new();
    let mut done = 0;
    for round in 1..=rounds {
        if round > 1 && !sleep_until(started + every * (round as u32 - 1), &interrupt) {
            break;
        }
        let Some(now) = status::watch_round(
            &entries,
            settings.parallel,
            settings.ssh_config.clone(),
            &interrupt,
        ) else {
            break;
        };
        done = round;
        let clock = jiff::Zoned::now().strftime("%H:%M:%S").to_string();
        say(&format!(
            "{clock} round {round}/{rounds}: {}",
            round_line(&now)
        ));
        match &baseline {
            None => {
                worst = now.iter().map(badness).collect();
                baseline = Some(now);
            }
            Some(start) => {
                for ((was, is), worst) in start.iter().zip(&now).zip(&mut worst) {
                    if badness(is) > badness(was) && badness(is) > *worst {
                        *worst = badness(is);
                        let line = format!(
                            "{}: {} → {} ({}){}",
                            sanitize(&is.label),
                            was.state.word(),
                            is.state.word(),
                            is.summary,
                            if is.detail.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", sanitize(&is.detail))
                            }
                        );
                        alarm(&format!("⚠ worse than at the start: {line}"));
                        if !worsened.contains(&is.label) {
                            worsened.push(is.label.clone());
                        }
                        if let Some(timeline) = &settings.timeline {
                            record(timeline, was, is);
                        }
                    } else if badness(is) <= badness(was) && *worst > badness(was) {
                        *worst = badness(was);
                        say(&format!(
                            "✔ {} is back to {}",
                            sanitize(&is.label),
                            is.state.word()
                        ));
                    }
                }
            }
        }
    }
    let interrupted = interrupt.is_set();
    let mut summary = format!(
        "{}{done} of {rounds} rounds in {}",
        if interrupted {
            "stopped (Ctrl-C) after "
        } else {
            ""
        },
        crate::timeline::human_duration(started.elapsed().as_millis() as u64)
    );
    if worsened.is_empty() {
        summary.push_str(": no service turned worse than at the start");
        say(&summary);
    } else {
        summary.push_str(&format!(
            ": ⚠ worse than at the start: {}",
            worsened
                .iter()
                .map(|l| sanitize(l).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        alarm(&summary);
    }
    Ok(if !worsened.is_empty() {
        ExitStatus::Failure
    } else if interrupted {
        ExitStatus::Interrupted
    } else {
        ExitStatus::Success
    })
}

/// `3 green, 1 red: user-sync-service (1 of 2 checks failed)`.
fn round_line(round: &[Watched]) -> String {
    use status::ServiceState as State;
    let mut parts = Vec::new();
    for state in [State::Red, State::Orange, State::Green, State::Grey] {
        let n = round.iter().filter(|w| w.state == state).count();
        if n > 0 {
            let word = if state == State::Grey {
                "without health checks"
            } else {
                state.word()
            };
            parts.push(format!("{n} {word}"));
        }
    }
    let mut line = parts.join(", ");
    let bad: Vec<String> = round
        .iter()
        .filter(|w| matches!(w.state, State::Red | State::Orange))
        .map(|w| {
            format!(
                "{} {} ({})",
                w.state.symbol(),
                sanitize(&w.label),
                w.summary
            )
        })
        .collect();
    if !bad.is_empty() {
        line.push_str(" — ");
        line.push_str(&bad.join(", "));
    }
    line
}

/// Waits until `at`, a tenth of a second at a time; false when Ctrl-C came first.
fn sleep_until(at: Instant, interrupt: &Interrupt) -> bool {
    loop {
        if interrupt.is_set() {
            return false;
        }
        let now = Instant::now();
        if now >= at {
            return true;
        }
        std::thread::sleep((at - now).min(Duration::from_millis(100)));
    }
}

/// Appends `service_worse` to the incident's timeline through its writer (which takes the
/// lock); a timeline in use or unwritable is a warning, the watch goes on.
fn record(path: &Path, was: &Watched, is: &Watched) {
    let written = Timeline::resume(path, Masker::default()).and_then(|(mut timeline, _, _)| {
        timeline.record(
            None,
            Event::ServiceWorse {
                runbook: is.id.clone(),
                from: was.state.word().into(),
                to: is.state.word().into(),
                detail: if is.detail.is_empty() {
                    is.summary.clone()
                } else {
                    format!("{}: {}", is.summary, is.detail)
                },
            },
        )
    });
    match written {
        Ok(()) => say(&format!("  recorded in {}", path.display())),
        Err(error) => super::warn(&format!("not recorded in the timeline: {error}")),
    }
}

fn say(line: &str) {
    let mut stdout = anstream::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// A line that must be noticed: the terminal bell, then the line in bold red.
fn alarm(line: &str) {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Red.into()));
    // The bell goes out as is: a stripped colour is fine, a stripped bell is not heard.
    {
        let mut raw = std::io::stdout().lock();
        let _ = raw.write_all(b"\x07");
        let _ = raw.flush();
    }
    let mut stdout = anstream::stdout().lock();
    let _ = writeln!(stdout, "{style}{line}{style:#}");
    let _ = stdout.flush();
}
