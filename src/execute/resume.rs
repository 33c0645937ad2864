//! `runbook run --resume TIMELINE`: the state of a run and its record. Each `step_finished`
//! carries what later steps can read — the step's result and the vars it set, whole, secrets
//! masked and flagged ([`StepRecord`], written by [`step_state`]) — so that [`rebuild`] gives
//! back exactly the state the run had, for the runbook and for every sub-procedure it was
//! inside, and finds the step to continue at. Timelines written before these records existed
//! are rebuilt as well as their events allow (outcomes, the last 4 KiB of outputs, answers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::{RunState, StepResult, Withheld, remove_path};
use crate::model::{END, Runbook, StepKind};
use crate::secrets::Masker;
use crate::timeline::{Event, Outcome, Record, RunFlags};

/// What a `step_finished` event records in its `state` field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepRecord {
    /// The step's result as `steps.ID` shows it; absent when the step left none (an `if:`
    /// that could not be evaluated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<StepResult>,
    /// The vars this step set or changed (captures, host maps included; `ask` inputs).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, Value>,
    /// Where a value held a secret and was written masked, as template paths
    /// (`["vars", "token"]`, `["steps", "login", "stdout"]`, `["vars", "load", "web-1"]`).
    /// A resumed run never takes `***` for the value: templates that read it fail, naming
    /// the step to run again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masked: Vec<Vec<String>>,
}

/// The `state` of a `step_finished` for step `step_id` (its id without the sub-procedure
/// prefix): `result` as the step leaves it in `state.steps`, and the vars changed since the
/// last record of this state. Values holding a secret are masked here and flagged.
pub fn step_state(
    state: &mut RunState,
    step_id: &str,
    result: Option<&StepResult>,
    masker: &Masker,
) -> Value {
    let mut record = StepRecord::default();
    for (name, value) in &state.vars {
        if state.recorded_vars.get(name) != Some(value) {
            let mut value = value.clone();
            mask_leaves(
                masker,
                &mut value,
                &mut vec!["vars".into(), name.clone()],
                &mut record.masked,
            );
            record.vars.insert(name.clone(), value);
        }
    }
    state.recorded_vars = state.vars.clone();
    if let Some(result) = result {
        let mut value = serde_json::to_value(result).unwrap_or_default();
        mask_leaves(
            masker,
            &mut value,
            &mut vec!["steps".into(), step_id.to_string()],
            &mut record.masked,
        );
        record.result = serde_json::from_value(value).ok();
    }
    serde_json::to_value(&record).unwrap_or_default()
}

/// Masks every string of `value`, noting the path of each one that held a secret.
fn mask_leaves(
    masker: &Masker,
    value: &mut Value,
    path: &mut Vec<String>,
    masked: &mut Vec<Vec<String>>,
) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(hidden) = masker.mask(text) {
                *text = hidden;
                masked.push(path.clone());
            }
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                path.push(key.clone());
                mask_leaves(masker, child, path, masked);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                path.push(index.to_string());
                mask_leaves(masker, child, path, masked);
                path.pop();
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// What the timeline says about the run to continue.
#[derive(Debug)]
pub struct Interrupted {
    pub runbook_id: String,
    pub path: PathBuf,
    pub sha256: String,
    pub incident: String,
    /// The inputs as recorded (secrets as `***`), with the overrides of earlier resumes.
    pub inputs: BTreeMap<String, String>,
    pub alerted_at: Option<String>,
    /// The alert the run started from (`--alert`).
    pub alert: Option<crate::alert::Alert>,
    pub rehearsal: bool,
    /// `--from`: where the run started, when not at the first step.
    pub from: Option<String>,
    /// `--ssh-config`, `--catalog` of the first run.
    pub flags: RunFlags,
    /// Set when the run already ended; there is nothing to resume.
    pub finished: Option<String>,
}

/// Reads the `run_started`, `run_resumed` and `run_finished` events.
pub fn interrupted(records: &[Record]) -> Option<Interrupted> {
    let mut found: Option<Interrupted> = None;
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
                flags,
                alert,
                ..
            } if found.is_none() => {
                found = Some(Interrupted {
                    runbook_id: runbook.clone(),
                    path: PathBuf::from(path),
                    sha256: sha256.clone(),
                    incident: record.incident.clone(),
                    inputs: inputs.clone(),
                    alerted_at: alerted_at.clone(),
                    alert: alert.as_deref().cloned(),
                    rehearsal: *rehearsal,
                    from: from.clone(),
                    flags: flags.clone(),
                    finished: None,
                });
            }
            Event::RunFinished { outcome, .. } => {
                if let Some(found) = found.as_mut() {
                    found.finished = Some(outcome.as_str().to_string());
                }
            }
            Event::RunResumed { inputs, .. } => {
                if let Some(found) = found.as_mut() {
                    found.finished = None;
                    found.inputs.extend(inputs.clone());
                }
            }
            // An input asked when a step first needed it: restored like those of the start.
            Event::InputGiven { name, value } => {
                if let Some(found) = found.as_mut() {
                    found.inputs.insert(name.clone(), value.clone());
                }
            }
            _ => {}
        }
    }
    found
}

/// The state of one runbook's run (the top one, or a sub-procedure's) as recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    pub vars: BTreeMap<String, Value>,
    pub steps: BTreeMap<String, StepResult>,
    pub withheld: Vec<Withheld>,
}

impl Restored {
    /// Puts the recorded vars, step results and withheld values into a fresh state.
    pub fn restore_into(self, state: &mut RunState) {
        state.vars = self.vars;
        state.steps = self.steps;
        state.withheld = self.withheld;
        state.recorded_vars = state.vars.clone();
    }

    /// Applies the record of step `id`.
    fn apply(&mut self, id: &str, record: StepRecord) {
        for (name, value) in record.vars {
            self.withheld
                .retain(|w| !(w.path[0] == "vars" && w.path[1] == name));
            self.vars.insert(name, value);
        }
        if let Some(result) = record.result {
            self.withheld
                .retain(|w| !(w.path[0] == "steps" && w.path[1] == id));
            self.steps.insert(id.to_string(), result);
        }
        for path in record.masked.into_iter().filter(|p| p.len() >= 2) {
            if path[0] == "vars" {
                if path.len() == 2 {
                    self.vars.remove(&path[1]);
                } else if let Some(value) = self.vars.get_mut(&path[1]) {
                    remove_path(value, &path[2..]);
                }
            }
            self.withheld.push(Withheld {
                path,
                step: id.to_string(),
            });
        }
    }
}

/// Where to continue: the index of a top-level step, and the path inside a sub-procedure
/// (`restart/inner` → `["inner"]`; `["end"]` when the sub-procedure had run its last step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinueAt {
    pub index: usize,
    pub inner: Vec<String>,
}

/// A run as its timeline tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebuilt {
    /// The top-level runbook's state.
    pub top: Restored,
    /// The state of each sub-procedure the run stopped inside, by its step path
    /// (`restart`, `restart/inner-sub`): the engine restores it when it enters the step.
    pub inside: BTreeMap<String, Restored>,
    /// `None` when every step had finished (the run only lacks its end).
    pub at: Option<ContinueAt>,
    /// The failed steps the run went on past so far (`run_finished.skipped_failures`).
    pub skipped_failures: Vec<String>,
}

/// The last step that finished in a runbook's run.
#[derive(Debug, Clone)]
struct Finished {
    id: String,
    outcome: Outcome,
    answer: Option<String>,
    /// Where the engineer jumped from the failure menu after this step failed.
    jumped: Option<String>,
}

/// The step outputs seen since a step started, for timelines without records.
#[derive(Debug, Default)]
struct Seen {
    stdout: Option<(String, Option<i32>)>,
    answer: Option<(Option<String>, Option<String>)>,
}

/// Rebuilds the run's state from its records and finds the step to continue at. `catalog`
/// finds the runbooks of sub-procedures. An error says why the run cannot be continued.
pub fn rebuild(
    runbook: &Runbook,
    catalog: &Path,
    records: &[Record],
    from: Option<&str>,
) -> Result<Rebuilt, String> {
    let mut states: BTreeMap<String, Restored> = BTreeMap::new();
    let mut done: BTreeMap<String, Finished> = BTreeMap::new();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    // The deepest step that started and has not finished.
    let mut open: Option<String> = None;
    let mut paused_at: Option<String> = None;
    // Where an earlier resume went on: the sub-procedure steps on the way there are started
    // again without starting afresh.
    let mut reentry: Option<String> = None;
    let mut skipped_failures: Vec<String> = Vec::new();
    let mut last_outcome: BTreeMap<String, Outcome> = BTreeMap::new();
    for record in records {
        let Some(step) = record.step.as_deref() else {
            match &record.event {
                Event::RunPaused { at_step } => paused_at = Some(at_step.clone()),
                Event::RunResumed { at_step, .. } => {
                    paused_at = None;
                    reentry = Some(at_step.clone());
                }
                _ => {}
            }
            continue;
        };
        let (scope, id) = step.rsplit_once('/').unwrap_or(("", step));
        match &record.event {
            Event::StepStarted { kind, .. } => {
                open = Some(step.to_string());
                seen.insert(step.to_string(), Seen::default());
                let reentered = reentry
                    .as_deref()
                    .is_some_and(|at| at.starts_with(&format!("{step}/")));
                if !reentered {
                    reentry = None;
                }
                if kind == StepKind::Uses.as_str() && !reentered {
                    // A sub-procedure starts afresh, with a state of its own.
                    states.insert(step.to_string(), Restored::default());
                    done.remove(step);
                }
            }
            Event::Command { stdout, exit, .. } => {
                if let Some(seen) = seen.get_mut(step) {
                    seen.stdout = Some((stdout.clone(), *exit));
                }
            }
            Event::Answer { choice, value } => {
                if let Some(seen) = seen.get_mut(step) {
                    seen.answer = Some((choice.clone(), value.clone()));
                }
            }
            Event::StepFinished { outcome, state, .. } => {
                let record = match state {
                    Some(state) => serde_json::from_value::<StepRecord>(state.clone())
                        .map_err(|e| format!("line {}: unreadable step state: {e}", record.seq))?,
                    None if scope.is_empty() => legacy_record(
                        runbook,
                        id,
                        *outcome,
                        seen.get(step),
                        states.get("").and_then(|s| s.steps.get(id)),
                    ),
                    None => StepRecord::default(),
                };
                let answer = record.result.as_ref().and_then(|r| r.answer.clone());
                states
                    .entry(scope.to_string())
                    .or_default()
                    .apply(id, record);
                done.insert(
                    scope.to_string(),
                    Finished {
                        id: id.to_string(),
                        outcome: *outcome,
                        answer,
                        jumped: None,
                    },
                );
                // The failed steps the run went on past, as the engine counts them.
                let failed_before = last_outcome.get(step) == Some(&Outcome::Failed);
                match outcome {
                    Outcome::Failed => {
                        let definition = runbook_at(runbook, catalog, &scope_path(scope))?;
                        if continues_past_failure(&definition, id) {
                            skip_failure(&mut skipped_failures, step);
                        }
                    }
                    Outcome::Skipped if failed_before => {
                        skip_failure(&mut skipped_failures, step);
                    }
                    Outcome::Skipped => {}
                    _ => skipped_failures.retain(|s| s != step),
                }
                last_outcome.insert(step.to_string(), *outcome);
                open = (!scope.is_empty()).then(|| scope.to_string());
            }
            Event::Jumped { to } => {
                if let Some(finished) = done.get_mut(scope)
                    && finished.id == id
                {
                    finished.jumped = Some(to.clone());
                }
            }
            _ => {}
        }
    }
    let path: Option<Vec<String>> = if let Some(at) = paused_at {
        Some(at.split('/').map(String::from).collect())
    } else if let Some(open) = open {
        let mut path: Vec<String> = open.split('/').map(String::from).collect();
        // Inside a sub-procedure some of whose steps finished: the step after the last one.
        if let Some(finished) = done.get(&open) {
            let sub = runbook_at(runbook, catalog, &path)?;
            path.push(match next_after(&sub, finished)? {
                Some(index) => sub.steps[index].id.value.clone(),
                None => END.to_string(),
            });
        }
        Some(path)
    } else {
        match done.get("") {
            Some(finished) => next_after(runbook, finished)?
                .map(|index| vec![runbook.steps[index].id.value.clone()]),
            None => Some(vec![from.unwrap_or(&runbook.steps[0].id.value).to_string()]),
        }
    };
    let at = match path {
        None => None,
        Some(path) => {
            let index = position(runbook, &path[0])?;
            Some(ContinueAt {
                index,
                inner: path[1..].to_vec(),
            })
        }
    };
    let top = states.remove("").unwrap_or_default();
    // Only the sub-procedures on the way to where the run continues are entered again.
    let inside = match &at {
        Some(at) if !at.inner.is_empty() => {
            let mut prefix = runbook.steps[at.index].id.value.clone();
            let mut inside = BTreeMap::new();
            for part in std::iter::once(None).chain(at.inner.iter().map(Some)) {
                if let Some(part) = part {
                    prefix = format!("{prefix}/{part}");
                }
                if let Some(state) = states.remove(&prefix) {
                    inside.insert(prefix.clone(), state);
                }
            }
            inside
        }
        _ => BTreeMap::new(),
    };
    Ok(Rebuilt {
        top,
        inside,
        at,
        skipped_failures,
    })
}

fn position(runbook: &Runbook, id: &str) -> Result<usize, String> {
    runbook
        .steps
        .iter()
        .position(|s| s.id.value == id)
        .ok_or_else(|| format!("the run stopped at step `{id}`, which the runbook no longer has"))
}

/// The step a run goes to after `finished`: where [`crate::flow`] leads, as for the engine
/// (a failure that awaits the engineer: that step again); `None` for the end.
fn next_after(runbook: &Runbook, finished: &Finished) -> Result<Option<usize>, String> {
    use crate::flow::{self, Next, StepEnd, Target};
    let index = position(runbook, &finished.id)?;
    let step = &runbook.steps[index];
    let next = match (&finished.jumped, finished.outcome) {
        // The engineer picked "go to" in the failure menu.
        (Some(to), _) => Next::Step(to.clone()),
        (None, Outcome::Skipped) => flow::next(step, StepEnd::Skipped),
        (None, Outcome::Failed) => flow::next(step, StepEnd::Failed),
        (None, Outcome::Done | Outcome::Passed | Outcome::Rehearsed) => {
            match finished.answer.as_deref() {
                Some(answer) => flow::next(step, StepEnd::Chose(answer)),
                None => flow::next(step, StepEnd::Ok),
            }
        }
    };
    match flow::target(&runbook.steps, index, &next) {
        Some(Target::Step(to)) => Ok(Some(to)),
        Some(Target::End) => Ok(None),
        // Stopped, or at the failure menu: that step again.
        None if matches!(next, Next::Stop | Next::AskEngineer) => Ok(Some(index)),
        None => position(
            runbook,
            match &next {
                Next::Step(id) => id,
                _ => &finished.id,
            },
        )
        .map(Some),
    }
}

/// Whether the run went on past this failed step (`on_failure: continue`), as the engine
/// counts it in `skipped_failures`.
fn continues_past_failure(runbook: &Runbook, id: &str) -> bool {
    runbook
        .steps
        .iter()
        .find(|s| s.id.value == id)
        .is_some_and(|s| s.on_failure.as_ref().map(|p| p.as_str()) == Some("continue"))
}

/// A step path's parts (`restart/inner` → `["restart", "inner"]`); none for the top.
fn scope_path(scope: &str) -> Vec<String> {
    scope
        .split('/')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

fn skip_failure(skipped: &mut Vec<String>, step: &str) {
    if !skipped.iter().any(|s| s == step) {
        skipped.push(step.to_string());
    }
}

/// The runbook run at a step path: the top one, or the sub-procedure `uses` names.
fn runbook_at(runbook: &Runbook, catalog: &Path, path: &[String]) -> Result<Runbook, String> {
    let mut current = runbook.clone();
    for id in path {
        let step = &current.steps[position(&current, id)?];
        let Some(uses) = &step.uses else {
            return Err(format!("step `{id}` is no longer a sub-procedure"));
        };
        let file = crate::load::resolve_id(catalog, uses).ok_or_else(|| {
            format!(
                "the sub-procedure `{}` is not in the catalog `{}`",
                uses.value,
                catalog.display()
            )
        })?;
        current = match crate::load::SourceFile::read(&file).map(|s| s.parsed) {
            Ok(Ok(sub)) => sub,
            _ => return Err(format!("`{}` does not load", file.display())),
        };
    }
    Ok(current)
}

/// A record for a top-level `step_finished` of a timeline written before records existed:
/// the outcome, the last command's output (its last 4 KiB) and capture, the answer.
fn legacy_record(
    runbook: &Runbook,
    id: &str,
    outcome: Outcome,
    seen: Option<&Seen>,
    before: Option<&StepResult>,
) -> StepRecord {
    let definition = runbook.steps.iter().find(|s| s.id.value == id);
    let mut result = before.cloned().unwrap_or_default();
    result.outcome = outcome.as_str().to_string();
    result.ok = matches!(
        outcome,
        Outcome::Done | Outcome::Passed | Outcome::Rehearsed
    );
    let mut record = StepRecord::default();
    if let Some((stdout, exit)) = seen.and_then(|s| s.stdout.clone()) {
        result.exit = exit;
        let capture = definition.and_then(|d| {
            d.commands()
                .into_iter()
                .find_map(|(_, c)| match c.capture.as_ref().map(|c| &c.value) {
                    Some(crate::model::Capture::Whole(name)) => Some(name.clone()),
                    _ => None,
                })
        });
        if let Some(name) = capture {
            record.vars.insert(name, stdout.trim().into());
        }
        result.stdout = stdout;
    }
    if let Some((choice, value)) = seen.and_then(|s| s.answer.clone()) {
        result.answer = choice.or_else(|| value.clone());
        let input = definition
            .and_then(|d| d.ask.as_ref())
            .and_then(|a| a.input.as_ref());
        if let (Some(value), Some(name)) = (value, input) {
            record.vars.insert(name.value.clone(), value.into());
        }
    }
    record.result = Some(result);
    record
}

/// The inputs as recorded that the runbook still has; secrets (`***`) are left out, to be
/// asked again.
pub fn recorded_inputs(
    runbook: &Runbook,
    inputs: &BTreeMap<String, String>,
) -> IndexMap<String, String> {
    inputs
        .iter()
        .filter(|(name, _)| runbook.inputs.iter().any(|(k, _)| k.value == **name))
        .filter(|(name, _)| !is_secret(runbook, name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether `name` is a secret input of the runbook.
pub fn is_secret(runbook: &Runbook, name: &str) -> bool {
    runbook
        .inputs
        .iter()
        .any(|(k, input)| k.value == name && input.secret)
}

/// The runbook file to continue, and its catalog. The file is the one the catalog holds
/// under the recorded id (`--catalog`, else the catalog of the first run): a timeline whose
/// `path` is not that file — moved, gone, or written to point elsewhere — is refused unless
/// `told` (`--resume-runbook FILE`) says which file to run. A runbook that was run as a file
/// outside any catalog is continued from that file.
pub fn locate(
    run: &Interrupted,
    explicit_catalog: Option<&Path>,
    told: Option<&Path>,
) -> Result<(PathBuf, PathBuf), String> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let recorded_catalog = run.flags.catalog.as_deref().map(PathBuf::from);
    if let Some(file) = told {
        let catalog = match (explicit_catalog, recorded_catalog) {
            (Some(explicit), _) => explicit.to_path_buf(),
            (None, Some(recorded)) if inside(file, &recorded) => recorded,
            _ => crate::load::catalog_root(None, Some(file)),
        };
        return Ok((absolute(file), catalog));
    }
    let catalog = explicit_catalog
        .map(Path::to_path_buf)
        .or(recorded_catalog)
        .unwrap_or_else(|| crate::load::catalog_root(None, Some(&run.path)));
    let hint = "if the runbook moved, say which file to run with `--resume-runbook FILE`";
    let (id, path) = (&run.runbook_id, run.path.display());
    match crate::load::resolve_id(&catalog, id) {
        Some(file) if explicit_catalog.is_some() || same_file(&file, &run.path) => {
            Ok((absolute(&file), catalog))
        }
        Some(file) => Err(format!(
            "the timeline names `{path}`, but runbook `{id}` of the catalog `{}` is `{}`; {hint}",
            catalog.display(),
            file.display()
        )),
        None if !run.path.is_file() => Err(format!(
            "the runbook of this run, `{id}` (`{path}`), is gone; {hint}"
        )),
        None if inside(&run.path, &catalog) => Err(format!(
            "`{path}` is runbook `{}` of the catalog `{}`, not `{id}` as the timeline says; {hint}",
            crate::load::runbook_id(&catalog, &run.path),
            catalog.display()
        )),
        // Run as a file outside any catalog: known by its file name.
        None if run
            .path
            .file_stem()
            .is_some_and(|s| s.to_string_lossy() == *id) =>
        {
            Ok((run.path.clone(), catalog))
        }
        None => Err(format!(
            "runbook `{id}` is no longer in the catalog `{}` (the timeline names `{path}`, outside it); {hint}",
            catalog.display()
        )),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn inside(file: &Path, catalog: &Path) -> bool {
    match (std::fs::canonicalize(file), std::fs::canonicalize(catalog)) {
        (Ok(file), Ok(catalog)) => file.starts_with(catalog),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNBOOK: &str = "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\ncontacts: [{ name: Ops }]\nlinks: [{ name: Dash, url: 'https://d' }]\nsteps: [{ id: login, name: L, instructions: x }, { id: use, name: U, instructions: y }]\n";

    #[test]
    fn a_record_holds_what_changed_and_flags_what_held_a_secret() {
        let masker = Masker::new(["s3cr3t".to_string()]);
        let mut state = RunState::new("svc/a", "INC-1", IndexMap::new());
        state.vars.insert("load".into(), "0.5".into());
        let first = step_state(&mut state, "load", None, &masker);
        assert_eq!(first, serde_json::json!({"vars": {"load": "0.5"}}));

        state.vars.insert("auth".into(), "Bearer s3cr3t".into());
        state.vars.insert(
            "hosts".into(),
            serde_json::json!({"web-1": "ok", "web-2": "key s3cr3t"}),
        );
        let result = StepResult {
            ok: true,
            stdout: "Bearer s3cr3t\n".into(),
            ..StepResult::default()
        };
        let second = step_state(&mut state, "login", Some(&result), &masker);
        let record: StepRecord = serde_json::from_value(second.clone()).unwrap();
        assert_eq!(
            record.vars.keys().collect::<Vec<_>>(),
            ["auth", "hosts"],
            "only what changed: {second}"
        );
        assert!(!second.to_string().contains("s3cr3t"), "{second}");
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            record.masked,
            [
                path(&["vars", "auth"]),
                path(&["vars", "hosts", "web-2"]),
                path(&["steps", "login", "stdout"]),
            ]
        );
    }

    fn record(step: Option<&str>, event: Event) -> Record {
        Record {
            seq: 0,
            at: String::new(),
            incident: "INC-1".into(),
            step: step.map(String::from),
            prev: String::new(),
            event,
            raw: String::new(),
        }
    }

    fn finished(step: &str, outcome: Outcome) -> Record {
        record(
            Some(step),
            Event::StepFinished {
                outcome,
                reason: None,
                state: None,
            },
        )
    }

    /// Timelines written before `state` existed still resume: outcomes, the last output and
    /// its capture, answers; a skipped step goes on below it, whatever its `next`.
    #[test]
    fn a_timeline_without_records_is_rebuilt_from_its_events() {
        let runbook = crate::load::parse(
            "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\n\
             contacts: [{ name: Ops }]\nlinks: [{ name: Dash, url: 'https://d' }]\nsteps:\n\
             - { id: look, name: L, check: { run: 'echo hi', capture: seen } }\n\
             - { id: who, name: W, ask: { question: Who?, input: person } }\n\
             - { id: maybe, name: M, instructions: x, next: last }\n\
             - { id: after, name: A, instructions: y }\n\
             - { id: last, name: Z, instructions: z }\n",
        )
        .unwrap();
        let started = |step: &str| {
            record(
                Some(step),
                Event::StepStarted {
                    kind: "check".into(),
                    name: step.into(),
                },
            )
        };
        let records = vec![
            started("look"),
            record(
                Some("look"),
                Event::Command {
                    host: "local".into(),
                    command: "echo hi".into(),
                    exit: Some(0),
                    duration_ms: 1,
                    stdout: "hi\n".into(),
                    stderr: String::new(),
                    timed_out: false,
                },
            ),
            finished("look", Outcome::Passed),
            started("who"),
            record(
                Some("who"),
                Event::Answer {
                    choice: None,
                    value: Some("ada".into()),
                },
            ),
            finished("who", Outcome::Done),
            started("maybe"),
            finished("maybe", Outcome::Skipped),
        ];
        let rebuilt = rebuild(&runbook, Path::new("runbooks"), &records, None).unwrap();
        assert_eq!(rebuilt.top.vars["seen"], "hi");
        assert_eq!(rebuilt.top.vars["person"], "ada");
        assert_eq!(rebuilt.top.steps["look"].stdout, "hi\n");
        assert!(rebuilt.top.steps["look"].ok);
        assert_eq!(rebuilt.top.steps["who"].answer.as_deref(), Some("ada"));
        assert_eq!(
            rebuilt.at,
            Some(ContinueAt {
                index: 3,
                inner: Vec::new()
            }),
            "after a skipped step: the step below, not its `next`"
        );
        // A step the runbook no longer has: an error, never "every step had finished".
        let mut gone = records.clone();
        gone.push(finished("vanished", Outcome::Passed));
        assert!(
            rebuild(&runbook, Path::new("runbooks"), &gone, None)
                .unwrap_err()
                .contains("`vanished`")
        );
    }

    #[test]
    fn values_that_held_a_secret_are_withheld_and_templates_name_their_step() {
        let runbook = crate::load::parse(RUNBOOK).unwrap();
        let env = crate::template::environment();
        let masker = Masker::new(["s3cr3t".to_string()]);
        let mut recorded = RunState::new("svc/a", "INC-1", IndexMap::new());
        recorded.vars.insert("auth".into(), "Bearer s3cr3t".into());
        recorded.vars.insert(
            "hosts".into(),
            serde_json::json!({"web-1": "ok", "web-2": "key s3cr3t"}),
        );
        let result = StepResult {
            ok: true,
            stdout: "s3cr3t".into(),
            ..StepResult::default()
        };
        let record = step_state(&mut recorded, "login", Some(&result), &masker);

        let mut restored = Restored::default();
        restored.apply("login", serde_json::from_value(record).unwrap());
        let mut state = RunState::new("svc/a", "INC-1", IndexMap::new());
        restored.clone().restore_into(&mut state);
        let render = |source: &str| state.render(&runbook, &env, source, false, None);
        assert_eq!(
            render("{{ vars.hosts['web-1'] }} {{ steps.login.ok }}").unwrap(),
            "ok True"
        );
        for source in [
            "{{ vars.auth }}",
            "{{ vars.hosts['web-2'] }}",
            "{{ steps.login.stdout }}",
        ] {
            let error = render(source).unwrap_err();
            assert!(
                error.contains("held a secret") && error.contains("run step `login` again"),
                "{source}: {error}"
            );
            assert!(!error.contains("***"), "{error}");
        }

        // Set again by a later run of the step: restored, no longer withheld.
        let mut again = RunState::new("svc/a", "INC-1", IndexMap::new());
        again.vars.insert("auth".into(), "Bearer fine".into());
        let record = step_state(&mut again, "login", Some(&StepResult::default()), &masker);
        restored.apply("login", serde_json::from_value(record).unwrap());
        assert!(restored.withheld.iter().all(|w| w.path[1] != "auth"));
        assert_eq!(restored.vars["auth"], "Bearer fine");
    }
}
