//! `runbook run --resume TIMELINE`: rebuilds a run's state from its timeline — inputs
//! (secrets asked again), answers, captures, step results — and finds the first step that
//! had not finished.

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::state::RunState;
use crate::model::{END, Runbook};
use crate::timeline::{Event, Outcome, Record};

/// What the timeline says about the run to continue.
#[derive(Debug)]
pub struct Interrupted {
    pub runbook_id: String,
    pub path: PathBuf,
    pub sha256: String,
    pub incident: String,
    pub inputs: BTreeMap<String, String>,
    pub alerted_at: Option<String>,
    pub rehearsal: bool,
    /// `--from`: where the run started, when not at the first step.
    pub from: Option<String>,
    /// Set when the run already ended; there is nothing to resume.
    pub finished: Option<String>,
}

/// Reads the `run_started` and `run_finished` events.
pub fn interrupted(records: &[Record]) -> Option<Interrupted> {
    let mut found = None;
    for record in records {
        match &record.event {
            Event::RunStarted {
                runbook,
                path,
                sha256,
                inputs,
                alerted_at,
                rehearsal,
                from,
                ..
            } if found.is_none() => {
                found = Some(Interrupted {
                    runbook_id: runbook.clone(),
                    path: PathBuf::from(path),
                    sha256: sha256.clone(),
                    incident: record.incident.clone(),
                    inputs: inputs.clone(),
                    alerted_at: alerted_at.clone(),
                    rehearsal: *rehearsal,
                    from: from.clone(),
                    finished: None,
                });
            }
            Event::RunFinished { outcome, .. } => {
                if let Some(found) = found.as_mut() {
                    found.finished = Some(outcome.as_str().to_string());
                }
            }
            Event::RunResumed { .. } => {
                if let Some(found) = found.as_mut() {
                    found.finished = None;
                }
            }
            _ => {}
        }
    }
    found
}

/// Where to continue: the index of a top-level step, and the path inside a sub-procedure
/// (`restart/inner` → `["inner"]`) when the run stopped inside one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinueAt {
    pub index: usize,
    pub inner: Vec<String>,
}

/// Rebuilds the state of the top-level runbook and finds where to continue; `None` when
/// every step had finished (the run only lacks its end).
pub fn rebuild(
    runbook: &Runbook,
    records: &[Record],
    from: Option<&str>,
    state: &mut RunState,
) -> Option<ContinueAt> {
    let mut last_started: Option<String> = None;
    let mut last_finished: Option<(String, Outcome)> = None;
    let mut paused_at: Option<String> = None;
    for record in records {
        let Some(step) = record.step.as_deref() else {
            if let Event::RunPaused { at_step } = &record.event {
                paused_at = Some(at_step.clone());
            }
            if let Event::RunResumed { .. } = &record.event {
                paused_at = None;
            }
            continue;
        };
        let top = step.split('/').next().unwrap_or(step).to_string();
        let is_top = !step.contains('/');
        let definition = runbook.steps.iter().find(|s| s.id.value == top);
        let result = state.steps.entry(top.clone()).or_default();
        match &record.event {
            Event::StepStarted { .. } if is_top => {
                last_started = Some(top.clone());
            }
            Event::StepStarted { .. } => {
                last_started = Some(step.to_string());
            }
            Event::Command { stdout, exit, .. } if is_top => {
                result.stdout = stdout.clone();
                result.exit = *exit;
                let capture = definition.and_then(|d| {
                    d.commands()
                        .into_iter()
                        .find_map(|(_, c)| c.capture.as_ref().map(|c| c.value.clone()))
                });
                if let Some(name) = capture {
                    state.vars.insert(name, stdout.trim().into());
                }
            }
            Event::Answer { choice, value } if is_top => {
                result.answer = choice.clone().or_else(|| value.clone());
                if let (Some(value), Some(name)) = (
                    value,
                    definition
                        .and_then(|d| d.ask.as_ref())
                        .and_then(|a| a.input.as_ref()),
                ) {
                    state.vars.insert(name.value.clone(), value.as_str().into());
                }
            }
            Event::StepFinished { outcome, .. } if is_top => {
                result.outcome = outcome.as_str().to_string();
                result.ok = matches!(
                    outcome,
                    Outcome::Done | Outcome::Passed | Outcome::Rehearsed
                );
                last_finished = Some((top.clone(), *outcome));
                if last_started.as_deref() == Some(top.as_str()) {
                    last_started = None;
                }
            }
            _ => {}
        }
    }
    let position = |id: &str| runbook.steps.iter().position(|s| s.id.value == id);
    let split = |path: &str| {
        let mut parts = path.split('/');
        let top = parts.next().unwrap_or_default().to_string();
        (top, parts.map(String::from).collect::<Vec<_>>())
    };
    // Paused (quit, Ctrl-C, no terminal): continue where it said.
    if let Some(at) = paused_at {
        let (top, inner) = split(&at);
        return position(&top).map(|index| ContinueAt { index, inner });
    }
    // Killed mid-step: that step again.
    if let Some(started) = last_started {
        let (top, inner) = split(&started);
        return position(&top).map(|index| ContinueAt { index, inner });
    }
    // Killed between steps: the step after the last one that finished.
    // Killed before any step started: where the run was to start.
    let Some((finished, outcome)) = last_finished else {
        let index = from.and_then(&position).unwrap_or(0);
        return Some(ContinueAt {
            index,
            inner: Vec::new(),
        });
    };
    let index = position(&finished)?;
    if outcome == Outcome::Failed {
        return Some(ContinueAt {
            index,
            inner: Vec::new(),
        });
    }
    let step = &runbook.steps[index];
    let chosen = step
        .ask
        .as_ref()
        .and_then(|a| a.choices.as_ref())
        .and_then(|choices| {
            let answer = state.steps.get(&finished)?.answer.clone()?;
            choices
                .iter()
                .find(|c| c.label.value == answer)
                .map(|c| c.next.as_ref().map(|n| n.value.clone()))
        });
    let next = match chosen {
        Some(next) => next,
        None => step.next.as_ref().map(|n| n.value.clone()),
    };
    match next.as_deref() {
        Some(END) => None,
        Some(id) => position(id).map(|index| ContinueAt {
            index,
            inner: Vec::new(),
        }),
        None if index + 1 < runbook.steps.len() => Some(ContinueAt {
            index: index + 1,
            inner: Vec::new(),
        }),
        None => None,
    }
}

/// The inputs as recorded; secrets (`***`) are left out, to be asked again.
pub fn recorded_inputs(
    runbook: &Runbook,
    inputs: &BTreeMap<String, String>,
) -> IndexMap<String, String> {
    inputs
        .iter()
        .filter(|(name, _)| {
            !runbook
                .inputs
                .iter()
                .any(|(k, input)| k.value == **name && input.secret)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
