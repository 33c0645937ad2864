//! Rules for loops and people in the loop (SPEC 7.4, 7.5): `for_each` and templated `on:`,
//! `interactive` actions, `checklist` on manual steps, and `wait: {for: …}` pauses.

use super::{FileLint, Rule};
use crate::model::{Command, Runbook, Sp, Step, StepKind, parse_duration};

pub(super) fn check(lint: &mut FileLint<'_>) {
    let runbook = lint.runbook;
    for step in &runbook.steps {
        check_step(lint, runbook, step);
    }
}

fn check_step(lint: &mut FileLint<'_>, runbook: &Runbook, step: &Sp<Step>) {
    if let Some(checklist) = &step.checklist {
        if step.kind() != StepKind::Manual {
            lint.report(
                Rule::MisplacedKey,
                checklist.pos,
                format!(
                    "`checklist` belongs to a manual step, but step `{}` is a {}; put the checklist in a manual step of its own",
                    step.id.value,
                    step.kind()
                ),
            );
        } else if checklist.is_empty() {
            lint.report(
                Rule::EmptyList,
                checklist.pos,
                "`checklist` is empty; give at least one item, or remove it",
            );
        }
    }
    if let Some(wait) = &step.wait {
        match (&wait.until, &wait.pause) {
            (Some(_), Some(pause)) => lint.report(
                Rule::CommandShape,
                pause.pos,
                "a wait has either `until` (a check to repeat) or `for` (a pause), not both; split it into two steps",
            ),
            (None, None) => lint.report(
                Rule::CommandShape,
                wait.pos,
                "a wait needs `until: {run: …}` (a check to repeat) or `for: 30s` (a pause)",
            ),
            _ => {}
        }
        if let Some(pause) = &wait.pause {
            match parse_duration(pause) {
                Ok(d) if d.is_zero() => lint.report(
                    Rule::InvalidDuration,
                    pause.pos,
                    format!("`for: {}` is a pause of nothing", pause.value),
                ),
                Ok(_) => {}
                Err(message) => lint.report(Rule::InvalidDuration, pause.pos, message),
            }
            if wait.until.is_none() {
                for (key, value) in [("every", &wait.every), ("timeout", &wait.timeout)] {
                    if let Some(value) = value {
                        lint.report(
                            Rule::MisplacedKey,
                            value.pos,
                            format!("`{key}` belongs to a wait with `until`; a pause (`for`) has no tries"),
                        );
                    }
                }
            }
        }
        if let Some(each) = wait.until.as_ref().and_then(|u| u.for_each.as_ref()) {
            lint.report(
                Rule::MisplacedKey,
                each.pos,
                "`for_each` is not allowed in `wait.until`: a wait repeats one check; loop in a check or an action",
            );
        }
    }
    for (place, command) in [("check", &step.check), ("action", &step.action)] {
        if let Some(command) = command {
            check_command(lint, runbook, place, command);
        }
    }
}

/// Whether `on` fans out: a group of `hosts`, or a template (which may give a list).
fn fans_out(runbook: &Runbook, command: &Command) -> Option<String> {
    let on = command.on.as_ref()?;
    if on.contains("{{") || on.contains("{%") {
        Some(format!(
            "`on: {}` is a template that may give several hosts",
            on.value
        ))
    } else if runbook
        .hosts
        .iter()
        .any(|(group, members)| group.value == on.value && members.len() > 1)
    {
        // A group of one is how an SSH alias is named: one destination.
        Some(format!("`on: {}` is a group of hosts", on.value))
    } else {
        None
    }
}

fn check_command(lint: &mut FileLint<'_>, runbook: &Runbook, place: &str, command: &Command) {
    if let Some(each) = &command.for_each {
        if each.trim().is_empty() {
            lint.report(
                Rule::InvalidValue,
                each.pos,
                "`for_each` needs an expression that gives a list, like `vars.pods | lines`",
            );
        } else if each.contains("{{") {
            lint.report_with_help(
                Rule::TemplateSyntax,
                each.pos,
                "`for_each` is an expression, written without `{{ }}`",
                Some(format!(
                    "write `for_each: {}`",
                    each.trim()
                        .trim_start_matches("{{")
                        .trim_end_matches("}}")
                        .trim()
                )),
            );
        }
        if let Some(why) = fans_out(runbook, command) {
            lint.report(
                Rule::MisplacedKey,
                each.pos,
                format!("`for_each` runs its items on one destination, but {why}; loop over the hosts with `on` alone, or over the items on one host"),
            );
        }
    }
    let Some(interactive) = command.interactive.as_ref().filter(|i| i.value) else {
        return;
    };
    if place != "action" {
        return; // the schema and the command rules say `interactive` belongs to an action
    }
    if let Some(why) = fans_out(runbook, command) {
        lint.report(
            Rule::MisplacedKey,
            interactive.pos,
            format!("`interactive` is not allowed with a fan-out: {why}, and one terminal goes to one command"),
        );
    }
    if command.for_each.is_some() {
        lint.report(
            Rule::MisplacedKey,
            interactive.pos,
            "`interactive` is not allowed with `for_each`: one terminal goes to one command",
        );
    }
    if command.http.is_some() {
        lint.report(
            Rule::CommandShape,
            interactive.pos,
            "`interactive` hands the terminal to a `run` command; an `http` request has none",
        );
    }
    let unseen = [
        ("capture", command.capture.as_ref().map(|c| c.pos)),
        ("canary", command.canary.as_ref().map(|c| c.pos)),
        (
            "expect.stdout_contains",
            command
                .expect
                .as_ref()
                .and_then(|e| e.stdout_contains.as_ref().map(|v| v.pos)),
        ),
        (
            "expect.stdout_matches",
            command
                .expect
                .as_ref()
                .and_then(|e| e.stdout_matches.as_ref().map(|v| v.pos)),
        ),
        (
            "expect.stdout_not_contains",
            command
                .expect
                .as_ref()
                .and_then(|e| e.stdout_not_contains.as_ref().map(|v| v.pos)),
        ),
    ];
    for (key, pos) in unseen {
        if let Some(pos) = pos {
            lint.report(
                Rule::MisplacedKey,
                pos,
                format!("`{key}` is not allowed with `interactive`: the session's output goes to the terminal and is not kept"),
            );
        }
    }
}
