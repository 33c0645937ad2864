//! `runbook timeline FILE --format md`: a postmortem draft. What the timeline knows is filled
//! in (who, when, what was run and decided); what only people know is left as sections to fill.

use std::fmt::Write as _;

use super::text::{alert_lead, one_line};
use super::{Event, Outcome, Record, RunOutcome, human_duration};

/// How many lines of an output the draft quotes under each command.
const OUTPUT_LINES: usize = 20;

/// The postmortem draft of a timeline, in Markdown.
pub fn postmortem(records: &[Record]) -> String {
    let mut out = String::new();
    let started = records
        .iter()
        .find(|r| matches!(r.event, Event::RunStarted { .. }));
    let incident = records.first().map_or("", |r| r.incident.as_str());
    let rehearsal = matches!(
        started.map(|r| &r.event),
        Some(Event::RunStarted {
            rehearsal: true,
            ..
        })
    );

    let _ = writeln!(out, "# Postmortem: incident {}\n", code(incident));
    if rehearsal {
        let _ = writeln!(
            out,
            "> **Rehearsal.** This timeline records a practice run (`runbook run --rehearse`): \
             checks ran for real, actions were shown but not run. It is not a real incident.\n"
        );
    }
    let _ = writeln!(
        out,
        "_Draft written by `runbook timeline --format md` from the incident timeline. \
         Times are UTC._\n"
    );
    summary(&mut out, records, started);
    alert_section(&mut out, started);
    timeline_table(&mut out, records);
    commands(&mut out, records);
    decisions(&mut out, records);
    escalations(&mut out, records);
    to_fill(&mut out);
    out
}

fn summary(out: &mut String, records: &[Record], started: Option<&Record>) {
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let mut row = |name: &str, value: String| {
        let _ = writeln!(out, "| {name} | {} |", cell(&value));
    };
    let alerted_at = match started.map(|r| &r.event) {
        Some(Event::RunStarted {
            runbook,
            path,
            sha256,
            git_commit,
            operator,
            inputs,
            alerted_at,
            ..
        }) => {
            row("Runbook", format!("{} ({})", code(runbook), code(path)));
            let mut version = format!("sha256 {}", code(short(sha256, 12)));
            if let Some(commit) = git_commit {
                let _ = write!(version, ", commit {}", code(short(commit, 12)));
            }
            row("Runbook version", version);
            row("Operator", operator.clone());
            if !inputs.is_empty() {
                let inputs: Vec<String> = inputs
                    .iter()
                    .map(|(k, v)| code(&format!("{k}={v}")))
                    .collect();
                row("Inputs", inputs.join(", "));
            }
            alerted_at.as_deref()
        }
        _ => {
            row(
                "Runbook",
                "unknown: the timeline has no `run_started` event".into(),
            );
            None
        }
    };
    row("Alerted", alerted_at.map_or("—".into(), date_time_of));
    let first = started.or(records.first());
    row("Started", first.map_or("—".into(), date_time));
    let finished = records
        .iter()
        .rev()
        .find(|r| matches!(r.event, Event::RunFinished { .. }));
    let resolved = records.iter().find(|r| {
        matches!(
            r.event,
            Event::RunFinished {
                outcome: RunOutcome::Resolved,
                ..
            }
        )
    });
    let (ended, outcome) = match (finished, records.last()) {
        (Some(finished), _) => {
            let Event::RunFinished {
                outcome,
                duration_ms,
                skipped_failures,
            } = &finished.event
            else {
                unreachable!()
            };
            (
                date_time(finished),
                format!(
                    "{}{} (run time {})",
                    outcome.as_str(),
                    with_skipped_failures(skipped_failures),
                    human_duration(*duration_ms)
                ),
            )
        }
        (None, Some(last)) => (
            format!("{} (last event; the run did not finish)", date_time(last)),
            match &last.event {
                Event::RunPaused { at_step } => format!("paused at step {}", code(at_step)),
                _ => "unfinished".into(),
            },
        ),
        (None, None) => ("—".into(), "no events".into()),
    };
    row("Ended", ended);
    row("Outcome", outcome);
    row(
        "Time to acknowledge",
        match (alerted_at, started) {
            (Some(alerted), Some(started)) => alert_lead(alerted, started)
                .map_or("—".into(), |lead| format!("{lead} (alert → run started)")),
            _ => "— (no `--alert` or `--alerted-at`)".into(),
        },
    );
    row(
        "Time to restore service",
        match resolved {
            Some(resolved) => {
                let from_alert = alerted_at.and_then(|a| a.parse::<jiff::Timestamp>().ok());
                let from_start = first.and_then(Record::timestamp);
                let to = resolved.timestamp();
                match (from_alert, from_start, to) {
                    (Some(from), _, Some(to)) => between(from, to)
                        .map_or("—".into(), |d| format!("{d} (alert → resolved)")),
                    (None, Some(from), Some(to)) => between(from, to)
                        .map_or("—".into(), |d| format!("{d} (run started → resolved)")),
                    _ => "—".into(),
                }
            }
            None => "— (the run did not end resolved)".into(),
        },
    );
    out.push('\n');
}

/// The alert the run started from (`runbook run --alert`), as it arrived.
fn alert_section(out: &mut String, started: Option<&Record>) {
    let Some(Event::RunStarted {
        alert: Some(alert), ..
    }) = started.map(|r| &r.event)
    else {
        return;
    };
    let _ = writeln!(out, "## Alert\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let mut row = |name: &str, value: String| {
        let _ = writeln!(out, "| {name} | {} |", cell(&value));
    };
    row(
        "Alert",
        format!("{} ({})", alert.headline(), alert.source.name()),
    );
    if !alert.text.is_empty() {
        row("Text", alert.text.clone());
    }
    if let Some(status) = &alert.status {
        row("Status", status.clone());
    }
    if let Some(at) = &alert.starts_at {
        row("Firing since", date_time_of(at));
    }
    if !alert.labels.is_empty() {
        let labels: Vec<String> = alert
            .labels
            .iter()
            .map(|(k, v)| code(&format!("{k}={v}")))
            .collect();
        row("Labels", labels.join(", "));
    }
    for (name, value) in &alert.annotations {
        row(&format!("Annotation {}", code(name)), value.clone());
    }
    if let Some(url) = &alert.generator_url {
        row("Source", url.clone());
    }
    out.push('\n');
}

fn timeline_table(out: &mut String, records: &[Record]) {
    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "| Time | Step | Event | Detail |\n|---|---|---|---|");
    for record in records {
        let step = record.step.as_deref().map(code).unwrap_or_default();
        let detail = match &record.event {
            Event::RunStarted {
                runbook,
                operator,
                rehearsal,
                ..
            } => format!(
                "{} by {operator}{}",
                code(runbook),
                if *rehearsal { " (rehearsal)" } else { "" }
            ),
            Event::StepStarted { kind, name } => format!("{name} ({kind})"),
            Event::Command {
                host,
                command,
                exit,
                duration_ms,
                timed_out,
                ..
            } => format!(
                "{} on {host}: {} in {}",
                code(&one_line(command)),
                exit_text(*exit, *timed_out),
                human_duration(*duration_ms)
            ),
            Event::Http {
                host,
                method,
                url,
                status,
                duration_ms,
                error,
                ..
            } => format!(
                "{} on {host}: {} in {}",
                code(&format!("{method} {url}")),
                http_result(*status, error.as_deref()),
                human_duration(*duration_ms)
            ),
            Event::Confirmed { command } | Event::Declined { command } => code(&one_line(command)),
            Event::Answer { choice, value } => answer_text(choice, value),
            Event::Note { text } => text.clone(),
            Event::StepFinished {
                outcome, reason, ..
            } => match reason {
                Some(reason) => format!("{}: {reason}", outcome.as_str()),
                None => outcome.as_str().to_string(),
            },
            Event::Escalated { contact } => contact.clone(),
            Event::Jumped { to } => format!("to {}", code(to)),
            Event::RunPaused { at_step } => format!("at {}", code(at_step)),
            Event::RunResumed {
                at_step,
                dropped_bytes,
                ..
            } => match dropped_bytes {
                Some(bytes) => format!(
                    "at {} (a torn line of {bytes} bytes was cut off)",
                    code(at_step)
                ),
                None => format!("at {}", code(at_step)),
            },
            Event::RunFinished {
                outcome,
                duration_ms,
                skipped_failures,
            } => {
                format!(
                    "{}{} after {}",
                    outcome.as_str(),
                    with_skipped_failures(skipped_failures),
                    human_duration(*duration_ms)
                )
            }
            Event::Checklist { ticked, left } => checklist_text(ticked, left),
            Event::SessionStarted { host, command } => {
                format!("{} on {host}", code(&one_line(command)))
            }
            Event::SessionEnded {
                host,
                exit,
                duration_ms,
                error,
            } => format!(
                "on {host}: {} after {}",
                error.clone().unwrap_or_else(|| exit_text(*exit, false)),
                human_duration(*duration_ms)
            ),
            Event::HandedOver { from, to } => format!("from {from} to {to}"),
            Event::InputGiven { name, value } => format!("{} = {}", code(name), code(value)),
            Event::ServiceWorse {
                runbook,
                from,
                to,
                detail,
            } => format!(
                "hypercare: {} {from} → {to}: {}",
                code(runbook),
                one_line(detail)
            ),
            Event::ApprovalRequested {
                command, approvers, ..
            } => format!(
                "{approvers} approval(s) requested for {}",
                code(&one_line(command))
            ),
            Event::Approved {
                principal,
                fingerprint,
                ..
            } => format!("approved by {principal} ({fingerprint})"),
            Event::ApprovalRefused { file, reason, .. } => {
                format!("refused {}: {}", code(file), one_line(reason))
            }
            Event::NotifyFailed { on, name, error } => {
                format!("{name} on {on}: {}", one_line(error))
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            clock(record),
            cell(&step),
            record.event.name(),
            cell(&detail)
        );
    }
    out.push('\n');
}

fn commands(out: &mut String, records: &[Record]) {
    let _ = writeln!(out, "## Commands run\n");
    let mut number = 0;
    for record in records {
        let step = record
            .step
            .as_deref()
            .map(code)
            .unwrap_or_else(|| "—".into());
        match &record.event {
            Event::Command {
                host,
                command,
                exit,
                duration_ms,
                stdout,
                stderr,
                timed_out,
            } => {
                number += 1;
                let _ = writeln!(
                    out,
                    "### {number}. {} · step {step} on {host}: {} in {}\n",
                    clock(record),
                    exit_text(*exit, *timed_out),
                    human_duration(*duration_ms)
                );
                fenced(out, "sh", command.trim_end());
                quote_output(out, "stdout", stdout);
                quote_output(out, "stderr", stderr);
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
                number += 1;
                let _ = writeln!(
                    out,
                    "### {number}. {} · step {step} on {host}: {} in {}\n",
                    clock(record),
                    http_result(*status, error.as_deref()),
                    human_duration(*duration_ms)
                );
                fenced(out, "http", &format!("{method} {url}"));
                quote_output(out, "body", body);
            }
            _ => {}
        }
    }
    if number == 0 {
        let _ = writeln!(out, "_No command was run._\n");
    }
}

fn decisions(out: &mut String, records: &[Record]) {
    let _ = writeln!(out, "## Decisions and notes\n");
    let mut any = false;
    for record in records {
        let step = record
            .step
            .as_deref()
            .map(|s| format!(" {}", code(s)))
            .unwrap_or_default();
        let what = match &record.event {
            Event::Answer { choice, value } => answer_text(choice, value),
            Event::Confirmed { command } => format!("confirmed {}", code(&one_line(command))),
            Event::Declined { command } => format!("declined {}", code(&one_line(command))),
            Event::Jumped { to } => format!("went to step {} after a failure", code(to)),
            Event::Checklist { ticked, left } => checklist_text(ticked, left),
            Event::SessionEnded { exit, .. } => {
                format!("interactive session ended: {}", exit_text(*exit, false))
            }
            Event::HandedOver { from, to } => format!("handed over from {from} to {to}"),
            Event::Approved {
                principal,
                fingerprint,
                ..
            } => format!("approved by {principal} (key {fingerprint})"),
            Event::StepFinished {
                outcome: Outcome::Skipped,
                reason,
                ..
            } => match reason {
                Some(reason) => format!("skipped: {reason}"),
                None => "skipped".into(),
            },
            Event::Note { text } => {
                let mut lines = text.lines();
                let first = lines.next().unwrap_or("");
                let rest: String = lines.map(|l| format!("\n  {l}")).collect();
                format!("note: {first}{rest}")
            }
            _ => continue,
        };
        any = true;
        let _ = writeln!(out, "- **{}**{step} — {what}", clock(record));
    }
    if !any {
        let _ = writeln!(out, "_None recorded._");
    }
    out.push('\n');
}

/// `, with 2 failed steps skipped (`disk`, `queue`)`, or nothing: a resolved run that went
/// past failures says so.
fn with_skipped_failures(skipped: &[String]) -> String {
    match skipped.len() {
        0 => String::new(),
        n => format!(
            ", with {n} failed step{} skipped ({})",
            if n == 1 { "" } else { "s" },
            skipped
                .iter()
                .map(|s| code(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn escalations(out: &mut String, records: &[Record]) {
    let _ = writeln!(out, "## Escalations\n");
    let mut any = false;
    for record in records {
        if let Event::Escalated { contact } = &record.event {
            any = true;
            let step = record
                .step
                .as_deref()
                .map(|s| format!(" {}", code(s)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- **{}**{step} — escalated to {contact}",
                clock(record)
            );
        }
    }
    if !any {
        let _ = writeln!(out, "_None recorded._");
    }
    out.push('\n');
}

/// The sections only people can write.
fn to_fill(out: &mut String) {
    out.push_str(
        "## Impact\n\
         \n\
         _Who and what was affected, how badly, and for how long._\n\
         \n\
         ## Root cause\n\
         \n\
         _Five whys: start from the symptom and ask why until the cause is one you can fix._\n\
         \n\
         1. Why?\n\
         2. Why?\n\
         3. Why?\n\
         4. Why?\n\
         5. Why?\n\
         \n\
         ## What went well\n\
         \n\
         - \n\
         \n\
         ## What went wrong\n\
         \n\
         - \n\
         \n\
         ## Action items\n\
         \n\
         _Steps to avoid a recurrence, each with an owner and a due date._\n\
         \n\
         | Action | Owner | Due date |\n\
         |---|---|---|\n\
         | | | |\n",
    );
}

/// A fenced block whose fence is longer than any run of backticks inside.
fn fenced(out: &mut String, info: &str, text: &str) {
    let longest = longest_backtick_run(text);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{fence}{info}\n{text}\n{fence}\n");
}

fn quote_output(out: &mut String, name: &str, text: &str) {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.iter().all(|l| l.trim().is_empty()) {
        return;
    }
    let start = lines.len().saturating_sub(OUTPUT_LINES);
    let label = if start > 0 {
        format!("{name}, last {OUTPUT_LINES} lines:")
    } else {
        format!("{name}:")
    };
    let _ = writeln!(out, "{label}\n");
    fenced(out, "text", &lines[start..].join("\n"));
}

/// Inline code that survives backticks in the text.
fn code(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A table cell: pipes escaped, lines joined.
fn cell(text: &str) -> String {
    text.trim()
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

fn short(text: &str, len: usize) -> &str {
    text.get(..len).unwrap_or(text)
}

fn clock(record: &Record) -> String {
    record
        .timestamp()
        .map_or_else(|| record.at.clone(), |t| t.strftime("%H:%M:%S").to_string())
}

fn date_time(record: &Record) -> String {
    date_time_of(&record.at)
}

fn date_time_of(at: &str) -> String {
    at.parse::<jiff::Timestamp>().map_or_else(
        |_| at.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn between(from: jiff::Timestamp, to: jiff::Timestamp) -> Option<String> {
    u64::try_from(to.as_millisecond() - from.as_millisecond())
        .ok()
        .map(human_duration)
}

fn exit_text(exit: Option<i32>, timed_out: bool) -> String {
    match (exit, timed_out) {
        (_, true) => "timed out".into(),
        (Some(code), _) => format!("exit {code}"),
        (None, _) => "did not run".into(),
    }
}

fn http_result(status: Option<u16>, error: Option<&str>) -> String {
    match (status, error) {
        (_, Some(error)) => format!("error: {error}"),
        (Some(status), None) => format!("status {status}"),
        (None, None) => "no answer".into(),
    }
}

fn answer_text(choice: &Option<String>, value: &Option<String>) -> String {
    match (choice, value) {
        (Some(choice), _) => format!("chose **{choice}**"),
        (None, Some(value)) => format!("answered {}", code(value)),
        (None, None) => "answered".into(),
    }
}

/// `checklist: 2 of 3 ticked (✔ a, ✔ b; left: c)`.
fn checklist_text(ticked: &[String], left: &[String]) -> String {
    let mut text = format!(
        "checklist: {} of {} ticked",
        ticked.len(),
        ticked.len() + left.len()
    );
    let ticked: Vec<String> = ticked.iter().map(|t| format!("✔ {t}")).collect();
    if !ticked.is_empty() {
        text.push_str(&format!(" ({})", ticked.join(", ")));
    }
    if !left.is_empty() {
        text.push_str(&format!("; left: {}", left.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_survives_backticks() {
        assert_eq!(code("ls"), "`ls`");
        assert_eq!(code("echo `date`"), "`` echo `date` ``");
        assert_eq!(code("a `` b"), "```a `` b```");
    }

    #[test]
    fn fences_are_longer_than_the_backticks_inside() {
        let mut out = String::new();
        fenced(&mut out, "text", "```\nx\n````");
        assert_eq!(out, "`````text\n```\nx\n````\n`````\n\n");
    }

    #[test]
    fn cells_keep_to_one_table_cell() {
        assert_eq!(cell("a | b\nc\r\nd "), "a \\| b<br>c<br>d");
    }

    #[test]
    fn outputs_are_quoted_by_their_last_lines() {
        let mut out = String::new();
        let text: String = (1..=25).map(|i| format!("line {i}\n")).collect();
        quote_output(&mut out, "stdout", &text);
        assert!(
            out.starts_with("stdout, last 20 lines:\n\n```text\nline 6\n"),
            "{out}"
        );
        assert!(out.ends_with("line 25\n```\n\n"), "{out}");
        let mut out = String::new();
        quote_output(&mut out, "stderr", " \n\n");
        assert_eq!(out, "");
    }
}
