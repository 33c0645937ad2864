//! `runbook changes [DIR] [--since 24h]`: every action that ran for real across the timelines
//! of a folder — when, incident, operator, host, the command, its exit — newest first. The
//! trail of what was changed in production, for the first minutes of the next incident.
//!
//! What counts: the commands and HTTP requests of `action` steps of runs that are not
//! rehearsals. A declined or rehearsed action ran nothing, so it wrote no `command` event and
//! is not here; a rollback (a command of an action after the action's `step_finished`, from
//! the failure menu) is, marked as one.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::incidents::{field, lines, par_map, parse_long_duration, tag, timeline_files};
use super::write_stdout;
use crate::cli::BoardFormat;
use crate::sanitize::sanitize;
use crate::timeline::{Event, parse_record};
use crate::{Error, ExitStatus};

/// What `runbook changes` was asked to do.
#[derive(Debug)]
pub struct ChangesSettings {
    pub dir: PathBuf,
    /// `24h`, `7d`…, or an RFC 3339 time.
    pub since: String,
    pub format: BoardFormat,
}

/// One command (or HTTP request) an action ran.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// When it finished, RFC 3339 UTC.
    pub at: String,
    pub incident: String,
    pub runbook: String,
    pub operator: String,
    pub step: String,
    pub host: String,
    /// The rendered command, or `METHOD URL`.
    pub command: String,
    /// The exit code of a command; `None` when it could not start or timed out, and for a
    /// request.
    pub exit: Option<i32>,
    /// The HTTP status of a request; `None` when it got no answer, and for a command.
    pub status: Option<u16>,
    pub timed_out: bool,
    /// A rollback of the step's action, run from the failure menu.
    pub rollback: bool,
    pub file: String,
}

#[derive(Serialize)]
struct Trail<'a> {
    dir: String,
    since: String,
    changes: &'a [Change],
    /// Timelines that could not be read: `file: why`.
    unreadable: &'a [String],
}

pub fn changes(settings: ChangesSettings) -> Result<ExitStatus, Error> {
    let since = since(&settings.since, jiff::Timestamp::now())?;
    let since_text = format!("{since:.3}");
    let files = timeline_files(&settings.dir)?;
    let read = par_map(&files, |file| read_changes(file, &since_text));
    let mut changes = Vec::new();
    let mut unreadable = Vec::new();
    for (file, result) in files.iter().zip(read) {
        match result {
            Ok(found) => changes.extend(found),
            Err(error) => unreadable.push(format!("{}: {error}", file.display())),
        }
    }
    changes.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.file.cmp(&b.file)));
    let text = match settings.format {
        BoardFormat::Table => table(&changes, &since_text),
        BoardFormat::Json => {
            let mut text = serde_json::to_string_pretty(&Trail {
                dir: settings.dir.display().to_string(),
                since: since_text.clone(),
                changes: &changes,
                unreadable: &unreadable,
            })
            .expect("the trail serializes");
            text.push('\n');
            text
        }
    };
    write_stdout(&text)?;
    for line in &unreadable {
        super::warn(&format!(
            "cannot read {}; its changes are not listed",
            sanitize(line)
        ));
    }
    Ok(ExitStatus::Success)
}

/// `--since`: a duration back from `now` (`24h`, `7d`), or a time (RFC 3339).
fn since(text: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, Error> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    let ms = parse_long_duration(text).map_err(|reason| Error::InvalidFlag {
        flag: "--since",
        value: text.to_string(),
        reason: format!("{reason}, or as a time such as 2026-11-21T03:00:00Z"),
    })?;
    Ok(now
        .checked_sub(jiff::SignedDuration::from_millis(ms as i64))
        .unwrap_or(jiff::Timestamp::MIN))
}

/// The changes of one timeline at or after `since` (RFC 3339 with milliseconds, as the writer
/// writes `at`, so that strings compare as times). Only `run_started`, `step_started`,
/// `step_finished` and the commands of actions are parsed; other lines are looked at for their
/// tag and time.
fn read_changes(file: &Path, since: &str) -> Result<Vec<Change>, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read it: {e}"))?;
    let mut changes = Vec::new();
    let mut run: Option<(String, String, String)> = None; // incident, runbook, operator
    let mut rehearsal = false;
    // The step being walked: its id, whether it is an action, whether it finished.
    let mut step: Option<(String, bool, bool)> = None;
    for line in lines(&bytes) {
        let Some(tag) = tag(line.bytes) else {
            if !line.terminated {
                break; // a torn last line
            }
            return Err(format!("line {} is not a timeline event", line.number));
        };
        let wanted = match tag {
            "run_started" | "step_started" | "step_finished" | "handed_over" => true,
            "command" | "http" => {
                step.as_ref().is_some_and(|(_, action, _)| *action)
                    && !rehearsal
                    && field(line.bytes, "at").is_none_or(|at| at >= since)
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        // Step boundaries and commands are most of the lines, and their outputs (4 KiB
        // each) need not be copied: they are read into a light shape that skips them.
        if matches!(tag, "step_started" | "step_finished" | "command" | "http") {
            let light = match light_record(line.bytes, tag) {
                Ok(light) => light,
                Err(_) if !line.terminated => break,
                Err(error) => return Err(format!("line {}: {error}", line.number)),
            };
            let step_id = light.step.unwrap_or_default();
            let (host, command, exit, status, timed_out) = match light.event {
                LightEvent::StepStarted { kind } => {
                    step = Some((step_id, kind == "action", false));
                    continue;
                }
                LightEvent::StepFinished => {
                    if let Some(step) = &mut step
                        && step.0 == step_id
                    {
                        step.2 = true;
                    }
                    continue;
                }
                LightEvent::Command {
                    host,
                    command,
                    exit,
                    timed_out,
                } => (host, command, exit, None, timed_out),
                LightEvent::Http {
                    host,
                    method,
                    url,
                    status,
                } => (host, format!("{method} {url}"), None, status, false),
            };
            let Some((incident, runbook, operator)) = &run else {
                return Err("line 1 is not `run_started`".into());
            };
            let rollback = step
                .as_ref()
                .is_some_and(|(id, _, finished)| *id == step_id && *finished);
            changes.push(Change {
                at: light.at,
                incident: incident.clone(),
                runbook: runbook.clone(),
                operator: operator.clone(),
                step: step_id,
                host,
                command,
                exit,
                status,
                timed_out,
                rollback,
                file: file.display().to_string(),
            });
            continue;
        }
        let record = match parse_record(line.bytes) {
            Ok(record) => record,
            Err(_) if !line.terminated => break,
            Err(error) => return Err(format!("line {}: {error}", line.number)),
        };
        let step_id = record.step.clone().unwrap_or_default();
        let (host, command, exit, status, timed_out) = match record.event {
            Event::RunStarted {
                runbook,
                operator,
                rehearsal: rehearsed,
                ..
            } => {
                run = Some((record.incident.clone(), runbook, operator));
                rehearsal = rehearsed;
                continue;
            }
            Event::HandedOver { to, .. } => {
                if let Some(run) = &mut run {
                    run.2 = to;
                }
                continue;
            }
            Event::StepStarted { kind, .. } => {
                step = Some((step_id, kind == "action", false));
                continue;
            }
            Event::StepFinished { .. } => {
                if let Some(step) = &mut step
                    && step.0 == step_id
                {
                    step.2 = true;
                }
                continue;
            }
            Event::Command {
                host,
                command,
                exit,
                timed_out,
                ..
            } => (host, command, exit, None, timed_out),
            Event::Http {
                host,
                method,
                url,
                status,
                ..
            } => (host, format!("{method} {url}"), None, status, false),
            _ => continue,
        };
        let Some((incident, runbook, operator)) = &run else {
            return Err("line 1 is not `run_started`".into());
        };
        let rollback = step
            .as_ref()
            .is_some_and(|(id, _, finished)| *id == step_id && *finished);
        changes.push(Change {
            at: record.at,
            incident: incident.clone(),
            runbook: runbook.clone(),
            operator: operator.clone(),
            step: step_id,
            host,
            command,
            exit,
            status,
            timed_out,
            rollback,
            file: file.display().to_string(),
        });
    }
    Ok(changes)
}

/// What `changes` needs of a step boundary, a command or a request: the fields it shows,
/// without the outputs (serde skips the fields a shape does not name).
struct LightRecord {
    at: String,
    step: Option<String>,
    event: LightEvent,
}

enum LightEvent {
    StepStarted {
        kind: String,
    },
    StepFinished,
    Command {
        host: String,
        command: String,
        exit: Option<i32>,
        timed_out: bool,
    },
    Http {
        host: String,
        method: String,
        url: String,
        status: Option<u16>,
    },
}

/// One `step_started`, `step_finished`, `command` or `http` line, read light. The tag is
/// known already (from [`tag`]); a field the event needs and the line lacks is an error.
fn light_record(bytes: &[u8], tag: &str) -> Result<LightRecord, String> {
    #[derive(serde::Deserialize)]
    struct Fields {
        at: String,
        #[serde(default)]
        step: Option<String>,
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        host: Option<String>,
        #[serde(default)]
        command: Option<String>,
        #[serde(default)]
        exit: Option<i32>,
        #[serde(default)]
        timed_out: bool,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        status: Option<u16>,
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "the line is not UTF-8".to_string())?;
    let fields: Fields = serde_json::from_str(text).map_err(|error| {
        let message = error.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(head, _)| head);
        format!("{message} (column {})", error.column())
    })?;
    let missing = |name: &str| format!("missing field `{name}`");
    let event = match tag {
        "step_started" => LightEvent::StepStarted {
            kind: fields.kind.ok_or_else(|| missing("kind"))?,
        },
        "step_finished" => LightEvent::StepFinished,
        "command" => LightEvent::Command {
            host: fields.host.ok_or_else(|| missing("host"))?,
            command: fields.command.ok_or_else(|| missing("command"))?,
            exit: fields.exit,
            timed_out: fields.timed_out,
        },
        _ => LightEvent::Http {
            host: fields.host.ok_or_else(|| missing("host"))?,
            method: fields.method.ok_or_else(|| missing("method"))?,
            url: fields.url.ok_or_else(|| missing("url"))?,
            status: fields.status,
        },
    };
    Ok(LightRecord {
        at: fields.at,
        step: fields.step,
        event,
    })
}

fn table(changes: &[Change], since: &str) -> String {
    if changes.is_empty() {
        return format!("no action ran since {}\n", shown_time(since));
    }
    let headers = [
        "WHEN (UTC)",
        "INCIDENT",
        "OPERATOR",
        "HOST",
        "EXIT",
        "COMMAND",
    ];
    let rows: Vec<[String; 6]> = changes
        .iter()
        .map(|c| {
            let clean = |s: &str| sanitize(s).into_owned();
            let mut command = one_line(&clean(&c.command));
            if c.rollback {
                command = format!("↩ rollback of {}: {command}", clean(&c.step));
            }
            [
                shown_time(&c.at),
                clean(&c.incident),
                clean(&c.operator),
                clean(&c.host),
                match (c.exit, c.status, c.timed_out) {
                    (_, _, true) => "timeout".into(),
                    (Some(exit), _, _) => exit.to_string(),
                    (_, Some(status), _) => format!("HTTP {status}"),
                    (None, None, _) => "—".into(),
                },
                command,
            ]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (n, (cell, width)) in cells.iter().zip(widths).enumerate() {
            text.push_str(cell);
            if n + 1 < cells.len() {
                text.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&headers.map(String::from));
    for row in &rows {
        line(row);
    }
    let failed = changes
        .iter()
        .filter(|c| match (c.exit, c.status) {
            (Some(exit), _) => exit != 0,
            (None, Some(status)) => !(200..400).contains(&status),
            (None, None) => true,
        })
        .count();
    let rollbacks = changes.iter().filter(|c| c.rollback).count();
    let mut summary = format!(
        "\n{} change{} since {}",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        shown_time(since)
    );
    if rollbacks > 0 {
        summary.push_str(&format!(", {rollbacks} rollback{}", plural(rollbacks)));
    }
    if failed > 0 {
        summary.push_str(&format!(", {failed} failed"));
    }
    out.push_str(&summary);
    out.push('\n');
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `2026-11-21 03:58:00`.
fn shown_time(at: &str) -> String {
    at.parse::<jiff::Timestamp>().map_or_else(
        |_| at.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// The first line of a command, `…` when there is more.
fn one_line(command: &str) -> String {
    let trimmed = command.trim();
    match trimmed.split_once('\n') {
        Some((first, _)) => format!("{} …", first.trim_end()),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_duration_or_a_time() {
        let now: jiff::Timestamp = "2026-11-22T04:00:00Z".parse().unwrap();
        assert_eq!(
            since("24h", now).unwrap(),
            "2026-11-21T04:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert_eq!(
            since("2026-11-20T00:00:00Z", now).unwrap(),
            "2026-11-20T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert!(since("yesterday", now).is_err());
    }
}
