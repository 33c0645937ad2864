//! `runbook timeline FILE`: a readable chronology, one line per event (times in UTC).

use std::collections::HashMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{Event, Outcome, Record, RunOutcome, human_duration};

/// How many lines of an output the chronology shows under a command.
const OUTPUT_LINES: usize = 3;

/// The chronology of a timeline; `styled` adds colour (stripped later where it does not belong).
/// What the records hold is sanitised first: it came from outside (outputs, values, notes).
pub fn chronology(records: &[Record], styled: bool) -> String {
    let records: Vec<Record> = records.iter().map(Record::sanitized).collect();
    let records = records.as_slice();
    let style = |style: Style| if styled { style } else { Style::new() };
    let dim = style(Style::new().dimmed());
    let green = style(Style::new().fg_color(Some(AnsiColor::Green.into())));
    let red = style(Style::new().fg_color(Some(AnsiColor::Red.into())));
    let yellow = style(Style::new().fg_color(Some(AnsiColor::Yellow.into())));
    let bold = style(Style::new().bold());

    let width = records
        .iter()
        .filter_map(|r| r.step.as_deref())
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    // Continuation lines start under the "what happened" column.
    let indent = " ".repeat(8 + 2 + width + 2 + 2);
    let mut kinds: HashMap<&str, &str> = HashMap::new();
    let mut out = String::new();
    let mut day = None;

    if let Some(first) = records.first() {
        let _ = writeln!(
            out,
            "{bold}incident {}{bold:#}{dim} · times in UTC{dim:#}",
            first.incident
        );
    }
    for record in records {
        let timestamp = record.timestamp();
        let today = timestamp.map(|t| t.strftime("%Y-%m-%d").to_string());
        if today != day {
            if let Some(today) = &today {
                let _ = writeln!(out, "{dim}── {today} ──{dim:#}");
            }
            day = today;
        }
        let clock =
            timestamp.map_or_else(|| record.at.clone(), |t| t.strftime("%H:%M:%S").to_string());
        let step = record.step.as_deref().unwrap_or("");
        let (what, more): (String, Vec<String>) = match &record.event {
            Event::RunStarted {
                runbook,
                operator,
                inputs,
                alerted_at,
                rehearsal,
                ..
            } => {
                let mut more = Vec::new();
                if *rehearsal {
                    more.push(format!(
                        "{yellow}rehearsal: actions were shown, not run{yellow:#}"
                    ));
                }
                if !inputs.is_empty() {
                    let inputs: Vec<String> =
                        inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    more.push(format!("inputs: {}", inputs.join(", ")));
                }
                if let Some(alerted) = alerted_at {
                    let when = match alerted.parse::<jiff::Timestamp>() {
                        Ok(at) if day.as_deref() == Some(&*at.strftime("%F").to_string()) => {
                            at.strftime("%H:%M:%S").to_string()
                        }
                        Ok(at) => at.strftime("%F %H:%M:%S").to_string(),
                        Err(_) => alerted.clone(),
                    };
                    more.push(match alert_lead(alerted, record) {
                        Some(lead) => format!("alerted at {when}, {lead} before"),
                        None => format!("alerted at {when}"),
                    });
                }
                let name = if *rehearsal {
                    "rehearsal started"
                } else {
                    "run started"
                };
                (
                    format!("{bold}▶ {name}{bold:#}: {runbook} by {operator}"),
                    more,
                )
            }
            Event::StepStarted { kind, name } => {
                kinds.insert(step, kind);
                (
                    format!("{bold}▸ {name}{bold:#} {dim}({kind}){dim:#}"),
                    Vec::new(),
                )
            }
            Event::Command {
                host,
                command,
                exit,
                duration_ms,
                stdout,
                stderr,
                timed_out,
            } => {
                let duration = human_duration(*duration_ms);
                let result = match (exit, timed_out) {
                    (_, true) => format!("{red}timed out after {duration}{red:#}"),
                    (Some(0), _) => format!("{green}exit 0{green:#} · {duration}"),
                    (Some(code), _) => format!("{red}exit {code}{red:#} · {duration}"),
                    (None, _) => format!("{red}did not run{red:#} · {duration}"),
                };
                let failed = *exit != Some(0) || *timed_out;
                let mut more: Vec<String> = last_lines(stdout)
                    .map(|l| format!("{dim}│{dim:#} {l}"))
                    .collect();
                if failed {
                    more.extend(last_lines(stderr).map(|l| format!("{red}│{red:#} {l}")));
                }
                (
                    format!("$ {}{} → {result}", one_line(command), on_host(host)),
                    more,
                )
            }
            Event::Http {
                host,
                method,
                url,
                status,
                duration_ms,
                body,
                error,
            } => {
                let duration = human_duration(*duration_ms);
                let result = match (status, error) {
                    (_, Some(error)) => format!("{red}{error}{red:#} · {duration}"),
                    (Some(status), None) if (200..300).contains(status) => {
                        format!("{green}{status}{green:#} · {duration}")
                    }
                    (Some(status), None) => format!("{red}{status}{red:#} · {duration}"),
                    (None, None) => format!("no answer · {duration}"),
                };
                let more = if status.is_some_and(|s| (200..300).contains(&s)) {
                    Vec::new()
                } else {
                    last_lines(body)
                        .map(|l| format!("{dim}│{dim:#} {l}"))
                        .collect()
                };
                (
                    format!("↗ {method} {url}{} → {result}", on_host(host)),
                    more,
                )
            }
            Event::Confirmed { command } => {
                (format!("✓ confirmed: {}", one_line(command)), Vec::new())
            }
            Event::Declined { command } => (
                format!("{yellow}✗ declined{yellow:#}: {}", one_line(command)),
                Vec::new(),
            ),
            Event::Answer { choice, value } => match (choice, value) {
                (Some(choice), _) => (format!("? chose “{choice}”"), Vec::new()),
                (None, Some(value)) => (format!("? answered “{value}”"), Vec::new()),
                (None, None) => ("? answered".into(), Vec::new()),
            },
            Event::Note { text } => {
                let mut lines = text.lines();
                let first = lines.next().unwrap_or("");
                (
                    format!("✎ note: {first}"),
                    lines.map(String::from).collect(),
                )
            }
            Event::StepFinished {
                outcome, reason, ..
            } => {
                let kind = kinds.get(step).copied().unwrap_or("step");
                let why = reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                let line = match outcome {
                    Outcome::Done | Outcome::Passed => {
                        format!("{green}✔ {kind} {}{green:#}{why}", outcome.as_str())
                    }
                    Outcome::Failed => format!("{red}✘ {kind} failed{red:#}{why}"),
                    Outcome::Skipped => format!("{yellow}↷ {kind} skipped{yellow:#}{why}"),
                    Outcome::Rehearsed => {
                        format!("{yellow}◇ {kind} rehearsed (not run){yellow:#}{why}")
                    }
                };
                (line, Vec::new())
            }
            Event::Escalated { contact } => (
                format!("{bold}☎ escalated to {contact}{bold:#}"),
                Vec::new(),
            ),
            Event::Jumped { to } => (format!("↪ jumped to {to}"), Vec::new()),
            Event::RunPaused { at_step } => (
                format!("{yellow}⏸ run paused{yellow:#} at {at_step}"),
                Vec::new(),
            ),
            Event::RunResumed {
                at_step,
                dropped_bytes,
                ..
            } => {
                let more = dropped_bytes
                    .map(|bytes| {
                        vec![format!(
                            "a torn last line of {bytes} bytes was cut off first"
                        )]
                    })
                    .unwrap_or_default();
                (format!("{bold}⏵ run resumed{bold:#} at {at_step}"), more)
            }
            Event::RunFinished {
                outcome,
                duration_ms,
                skipped_failures,
            } => {
                let duration = human_duration(*duration_ms);
                let line = match outcome {
                    RunOutcome::Resolved if !skipped_failures.is_empty() => format!(
                        "{yellow}■ run resolved, with {} failed step{} skipped{yellow:#} ({}) in {duration}",
                        skipped_failures.len(),
                        if skipped_failures.len() == 1 { "" } else { "s" },
                        skipped_failures.join(", ")
                    ),
                    RunOutcome::Resolved => format!("{green}■ run resolved{green:#} in {duration}"),
                    RunOutcome::Failed => format!("{red}■ run failed{red:#} after {duration}"),
                    RunOutcome::Aborted => {
                        format!("{yellow}■ run aborted{yellow:#} after {duration}")
                    }
                };
                (line, Vec::new())
            }
            Event::Checklist { ticked, left } => (
                format!(
                    "☑ checklist: {} of {} ticked",
                    ticked.len(),
                    ticked.len() + left.len()
                ),
                ticked
                    .iter()
                    .map(|item| format!("{green}☑{green:#} {item}"))
                    .chain(
                        left.iter()
                            .map(|item| format!("{yellow}☐{yellow:#} {item}")),
                    )
                    .collect(),
            ),
            Event::SessionStarted { host, command } => (
                format!("⌨ interactive session on {host}: {command}"),
                Vec::new(),
            ),
            Event::SessionEnded {
                host,
                exit,
                duration_ms,
                error,
            } => {
                let how = match (error, exit) {
                    (Some(error), _) => error.clone(),
                    (None, Some(code)) => format!("exit {code}"),
                    (None, None) => "killed by a signal".into(),
                };
                (
                    format!(
                        "⌨ interactive session on {host} ended: {how} after {}",
                        human_duration(*duration_ms)
                    ),
                    Vec::new(),
                )
            }
            Event::HandedOver { from, to } => (
                format!("{bold}⇄ handed over{bold:#}: {from} → {to}"),
                Vec::new(),
            ),
            Event::InputGiven { name, value } => (format!("✎ input {name} = {value}"), Vec::new()),
            Event::ServiceWorse {
                runbook,
                from,
                to,
                detail,
            } => (
                format!("{red}⚠ hypercare: {runbook} turned {to}{red:#} (was {from})"),
                vec![one_line(detail)],
            ),
            Event::ApprovalRequested {
                command,
                sha256,
                approvers,
                ..
            } => (
                format!(
                    "{bold}✋ approval requested{bold:#} ({approvers} needed), sha256 {}",
                    &sha256[..sha256.len().min(16)]
                ),
                vec![one_line(command)],
            ),
            Event::Approved {
                principal,
                fingerprint,
                ..
            } => (
                format!("{bold}✔ approved by {principal}{bold:#} ({fingerprint})"),
                Vec::new(),
            ),
            Event::ApprovalRefused { file, reason, .. } => (
                format!("{red}✘ approval refused{red:#}: {file}"),
                vec![one_line(reason)],
            ),
            Event::NotifyFailed { on, name, error } => (
                format!("{red}✉ notification not sent{red:#}: {name} ({on})"),
                vec![one_line(error)],
            ),
        };
        let _ = writeln!(out, "{dim}{clock}{dim:#}  {step:<width$}  {what}");
        for line in more {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    out
}

/// How long before the run started the alert fired, if both times are known and in order.
pub(super) fn alert_lead(alerted_at: &str, started: &Record) -> Option<String> {
    let alerted: jiff::Timestamp = alerted_at.parse().ok()?;
    let started = started.timestamp()?;
    let ms = started.as_millisecond() - alerted.as_millisecond();
    u64::try_from(ms).ok().map(human_duration)
}

/// The first line of a command, with `…` when there are more.
pub(super) fn one_line(text: &str) -> String {
    let text = text.trim();
    match text.split_once('\n') {
        Some((first, _)) => format!("{} …", first.trim_end()),
        None => text.to_string(),
    }
}

fn on_host(host: &str) -> String {
    if host == "local" || host.is_empty() {
        String::new()
    } else {
        format!(" on {host}")
    }
}

/// The last few non-blank lines of an output.
fn last_lines(text: &str) -> impl Iterator<Item = &str> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(OUTPUT_LINES);
    lines.into_iter().skip(start)
}
