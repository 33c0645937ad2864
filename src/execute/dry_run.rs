//! `--dry-run`: every step in order with its rendered commands and targets, and where
//! branches lead (as [`crate::flow`] decides). Nothing runs, checks included.

use std::fmt::Write as _;

use super::state::RunState;
use crate::flow::{self, Next, StepEnd, Target};
use crate::model::{Command, Runbook, StepKind};

pub fn plan(runbook: &Runbook, id: &str, state: &RunState, start: usize) -> String {
    let env = crate::template::environment();
    // What cannot be known before the run (vars, step results) is shown as written.
    let render = |text: &str, shell: bool| {
        state
            .render(runbook, &env, text, shell, None)
            .unwrap_or_else(|_| text.to_string())
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dry run of `{id}`: {} — nothing will run.",
        runbook.title.value
    );
    if !state.inputs.is_empty() {
        let inputs: Vec<String> = state
            .inputs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "inputs: {}", inputs.join(", "));
    }
    let total = runbook.steps.len();
    for (index, step) in runbook.steps.iter().enumerate().skip(start) {
        let kind = step.kind();
        let _ = writeln!(
            out,
            "\nStep {}/{total} · {}   [{}]  ({})",
            index + 1,
            step.name.value,
            kind.as_str(),
            step.id.value
        );
        if let Some(condition) = &step.condition {
            let _ = writeln!(out, "  only if: {}", condition.value);
        }
        if let Some(instructions) = &step.instructions {
            for line in render(instructions, false).trim_end().lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        let describe = |out: &mut String, label: &str, command: &Command| {
            let on = command.on.as_ref().map_or("local", |o| o.as_str());
            if let Some(each) = &command.for_each {
                let _ = writeln!(
                    out,
                    "  for each item of `{}` (one command per item, `{{{{ item }}}}` set):",
                    each.value
                );
            }
            if on.contains("{{") {
                let _ = writeln!(
                    out,
                    "  on the hosts `{on}` gives at run time (a list fans out)"
                );
            }
            if command.is_interactive() {
                let _ = writeln!(out, "  interactive: the terminal is handed to the command");
            }
            if let Some(run) = &command.run {
                let script = render(run, true);
                let mut lines = script.trim_end().lines();
                let _ = writeln!(
                    out,
                    "  {label} on {on}: $ {}",
                    lines.next().unwrap_or_default()
                );
                // A multi-line script stays readable: its other lines under the first.
                for line in lines {
                    let _ = writeln!(out, "      {line}");
                }
            }
            if let Some(http) = &command.http {
                let method = http.method.as_ref().map_or("GET", |m| m.as_str());
                // Requests always leave from here; `on` makes one per host.
                let per_host = match command.on.as_ref().map(|o| o.as_str()) {
                    None | Some("local" | "localhost") => String::new(),
                    Some(group) => format!(", once per host of {group}"),
                };
                let _ = writeln!(
                    out,
                    "  {label} from local{per_host}: {method} {}",
                    render(&http.url, false)
                );
            }
            if let Some(that) = command.expect.as_ref().and_then(|e| e.that.as_ref()) {
                let _ = writeln!(out, "    passes only if: {}", that.value.trim());
            }
            if let Some(capture) = &command.capture {
                // `capture: NAME` is shown as it always was (not at all); named captures
                // say what each keeps.
                if let crate::model::Capture::Each(rules) = &capture.value {
                    for (name, rule) in rules {
                        let _ = writeln!(
                            out,
                            "    keeps vars.{} ← {}",
                            name.value,
                            super::capture::describe(rule)
                        );
                    }
                }
            }
        };
        match kind {
            StepKind::Check => describe(&mut out, "check", step.check.as_ref().expect("check")),
            StepKind::Action => {
                let action = step.action.as_ref().expect("action");
                describe(&mut out, "action (asks first)", action);
                if let Some(rollback) = &action.rollback {
                    describe(&mut out, "rollback", rollback);
                }
            }
            StepKind::Wait => {
                let wait = step.wait.as_ref().expect("wait");
                if let Some(pause) = &wait.pause {
                    let _ = writeln!(out, "  pauses for {} (a countdown, no check)", pause.value);
                }
                if let Some(until) = &wait.until {
                    describe(&mut out, "until", until);
                    let every = wait.every.as_ref().map_or("10s", |e| e.as_str());
                    let timeout = wait.timeout.as_ref().map_or("10m", |t| t.as_str());
                    let _ = writeln!(out, "  every {every}, gives up after {timeout}");
                }
            }
            StepKind::Ask => {
                let ask = step.ask.as_ref().expect("ask");
                let _ = writeln!(out, "  asks: {}", render(&ask.question, false));
                for choice in ask.choices.iter().flatten() {
                    let chose = flow::next(step, StepEnd::Chose(&choice.label.value));
                    let _ = writeln!(
                        out,
                        "    - {} → {}",
                        choice.label.value,
                        leads_to(runbook, index, &chose)
                    );
                }
                if let Some(input) = &ask.input {
                    let _ = writeln!(out, "    answer kept as vars.{}", input.value);
                }
            }
            StepKind::Uses => {
                let _ = writeln!(
                    out,
                    "  runs the runbook `{}`",
                    step.uses.as_ref().map_or("", |u| u.as_str())
                );
                for (name, value) in step.with.iter().flat_map(|w| w.iter()) {
                    let _ = writeln!(out, "    with {} = {}", name.value, render(value, false));
                }
            }
            StepKind::Manual => {
                for item in step.checklist.iter().flat_map(|c| c.iter()) {
                    let _ = writeln!(out, "  ☐ {}", render(item, false));
                }
                let _ = writeln!(out, "  the engineer does this and says done");
            }
        }
        if step.ask.as_ref().and_then(|a| a.choices.as_ref()).is_none() {
            let then = flow::next(step, StepEnd::Ok);
            let _ = writeln!(out, "  then → {}", leads_to(runbook, index, &then));
        }
        if step.condition.is_some() {
            let skipped = flow::next(step, StepEnd::Skipped);
            let _ = writeln!(out, "  if false → {}", leads_to(runbook, index, &skipped));
        }
        if step.on_failure.is_some() {
            let failed = flow::next(step, StepEnd::Failed);
            let _ = writeln!(out, "  on failure → {}", leads_to(runbook, index, &failed));
        }
    }
    out
}

/// Where a run goes, in words.
fn leads_to(runbook: &Runbook, index: usize, next: &Next) -> String {
    match (next, flow::target(&runbook.steps, index, next)) {
        (Next::Stop, _) => "the run stops (failed)".into(),
        (Next::AskEngineer, _) => "the engineer picks from the failure menu".into(),
        (_, Some(Target::Step(to))) => format!("step `{}`", runbook.steps[to].id.value),
        (_, Some(Target::End)) => "end".into(),
        (Next::Step(id), None) => format!("step `{id}` (no such step)"),
        (_, None) => "end".into(),
    }
}
