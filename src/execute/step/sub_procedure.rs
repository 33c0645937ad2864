//! A sub-procedure: another runbook of the catalog, run with `with` as its inputs; its steps
//! are shown and recorded as `STEP/inner-id`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::Error;
use crate::execute::engine::{Ending, Engine, Tried};
use crate::execute::state::{RunState, StepResult};
use crate::model::{END, Runbook, Sp, Step};
use crate::timeline::Outcome;

impl Engine {
    /// The runbook at `path`: read at each use in a real run (it may have been fixed
    /// meanwhile); read once per process under `runbook test`, which runs it in test after
    /// test. `None` when it does not load.
    fn sub_runbook(&self, path: &Path) -> Option<Arc<Runbook>> {
        let read = || {
            crate::load::SourceFile::read(path)
                .ok()
                .and_then(|s| s.parsed.ok())
                .map(Arc::new)
        };
        if !self.runner.is_scripted() {
            return read();
        }
        type Read = Mutex<HashMap<PathBuf, Option<Arc<Runbook>>>>;
        static READ: OnceLock<Read> = OnceLock::new();
        crate::execute::compiled::cached(&READ, path, |_| read())
    }

    pub(crate) fn sub_procedure(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let uses = step.uses.as_ref().expect("a uses step has uses");
        let expected = format!("`{}` runs", uses.value);
        let failed = |happened: String| Tried::failed_before_running(&expected, happened);
        let Some(path) = crate::load::resolve_id(&self.settings.catalog, uses) else {
            return Ok(failed(format!(
                "no runbook `{}` in `{}`",
                uses.value,
                self.settings.catalog.display()
            )));
        };
        let sub = match self.sub_runbook(&path) {
            Some(sub) => sub,
            None => {
                return Ok(failed(format!(
                    "`{}` does not load; run `runbook lint` on it",
                    path.display()
                )));
            }
        };
        let mut inputs = indexmap::IndexMap::new();
        for (name, input) in &sub.inputs {
            let given = step.with.as_ref().and_then(|w| {
                w.iter()
                    .find(|(k, _)| k.value == name.value)
                    .map(|(_, v)| v)
            });
            let value = match given {
                Some(template) => match state.render(runbook, &self.env, template, false, None) {
                    Ok(value) => Some(value),
                    Err(error) => return Ok(failed(format!("`with.{}`: {error}", name.value))),
                },
                None => input
                    .env
                    .as_ref()
                    .and_then(|var| std::env::var(var.as_str()).ok())
                    .or_else(|| input.default.as_ref().map(|d| d.value.clone())),
            };
            match value {
                Some(value) => {
                    inputs.insert(name.value.clone(), value);
                }
                None => {
                    return Ok(failed(format!(
                        "input `{}` of `{}` has no value",
                        name.value, uses.value
                    )));
                }
            }
        }
        self.screen.info(&format!(
            "sub-procedure `{}`: {}",
            uses.value, sub.title.value
        ));
        let mut sub_state = RunState::new(uses, &state.incident, inputs);
        // Resuming inside this sub-procedure: its recorded state, and the step it stopped at
        // (`end` when it had run its last step).
        if let Some(restored) = self.resumed_inside.remove(id) {
            restored.restore_into(&mut sub_state);
        }
        let inner = std::mem::take(&mut self.resume_inner);
        let start = match inner.split_first() {
            Some((first, rest)) => {
                self.resume_inner = rest.to_vec();
                if first == END {
                    sub.steps.len()
                } else {
                    sub.steps
                        .iter()
                        .position(|s| s.id.value == *first)
                        .unwrap_or(0)
                }
            }
            None => 0,
        };
        Ok(
            match self.run_steps(&sub, &mut sub_state, &format!("{id}/"), start)? {
                Ending::Resolved => Tried::Finished {
                    result: StepResult {
                        ok: true,
                        outcome: "done".into(),
                        ..StepResult::default()
                    },
                    outcome: Outcome::Done,
                    chose: None,
                },
                Ending::Failed { step: inner } => failed(format!("step `{inner}` failed")),
                other => Tried::Stop(other),
            },
        )
    }
}
