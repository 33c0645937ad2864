//! Rules that look beyond one file: `uses` names a runbook of the catalog, gives it the
//! inputs it needs, and does not call back into itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{FileLint, Rule};
use crate::load::{self, did_you_mean};
use crate::model::Runbook;

/// The runbooks of one catalog folder, loaded on demand and kept for the whole lint run.
#[derive(Debug)]
pub struct Catalog {
    dir: PathBuf,
    ids: Option<Vec<String>>,
    loaded: HashMap<String, Option<Rc<Runbook>>>,
}

/// Catalogs by folder, for a run over files that may sit in different catalogs.
#[derive(Debug, Default)]
pub(super) struct Catalogs(HashMap<PathBuf, Catalog>);

impl Catalogs {
    pub fn get(&mut self, dir: &Path) -> &mut Catalog {
        self.0
            .entry(dir.to_path_buf())
            .or_insert_with(|| Catalog::new(dir.to_path_buf()))
    }
}

impl Catalog {
    pub fn new(dir: PathBuf) -> Self {
        Catalog {
            dir,
            ids: None,
            loaded: HashMap::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every id in the catalog, for suggestions.
    fn ids(&mut self) -> &[String] {
        let dir = &self.dir;
        self.ids.get_or_insert_with(|| {
            load::find_runbooks(dir)
                .unwrap_or_default()
                .iter()
                .map(|p| load::runbook_id(dir, p))
                .collect()
        })
    }

    /// The runbook behind an id: `None` when there is no such file, `Some(None)` when it does
    /// not load.
    pub fn runbook(&mut self, id: &str) -> Option<Option<Rc<Runbook>>> {
        if let Some(found) = self.loaded.get(id) {
            return Some(found.clone());
        }
        let path = load::resolve_id(&self.dir, id)?;
        let runbook = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| load::parse(&text).ok())
            .map(Rc::new);
        self.loaded.insert(id.to_string(), runbook.clone());
        Some(runbook)
    }

    pub(super) fn check(&mut self, lint: &mut FileLint<'_>) {
        let own_id = load::runbook_id(&self.dir, lint.path);
        for step in &lint.runbook.steps {
            let Some(uses) = &step.uses else { continue };
            let target = match self.runbook(uses) {
                None => {
                    let ids = self.ids().to_vec();
                    let hint = did_you_mean(uses, &ids)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    lint.report_with_help(
                        Rule::UnknownRunbook,
                        uses.pos,
                        format!("`uses: {}` names no runbook of the catalog `{}`{hint}", uses.value, self.dir.display()),
                        Some("ids are paths under the catalog without `.yaml`; `--catalog DIR` picks another catalog"),
                    );
                    continue;
                }
                Some(None) => {
                    lint.report(Rule::UnknownRunbook, uses.pos, format!("`uses: {}` names a runbook that does not load; run `runbook lint` on it", uses.value));
                    continue;
                }
                Some(Some(target)) => target,
            };
            let given: Vec<&str> = step
                .with
                .iter()
                .flat_map(|w| w.keys())
                .map(|k| k.as_str())
                .collect();
            let missing: Vec<String> = target
                .inputs
                .iter()
                .filter(|(name, input)| input.is_required() && !given.contains(&name.as_str()))
                .map(|(name, _)| format!("`{}`", name.value))
                .collect();
            if !missing.is_empty() {
                let pos = step.with.as_ref().map_or(uses.pos, |w| w.pos);
                lint.report(
                    Rule::MissingInput,
                    pos,
                    format!(
                        "`{}` needs the input{} {} in `with`",
                        uses.value,
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", ")
                    ),
                );
            }
            for key in step.with.iter().flat_map(|w| w.keys()) {
                if !target.inputs.keys().any(|name| name.value == key.value) {
                    let names: Vec<String> =
                        target.inputs.keys().map(|k| k.value.clone()).collect();
                    let hint = did_you_mean(key, &names)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    lint.report(
                        Rule::MissingInput,
                        key.pos,
                        format!("`{}` has no input `{}`{hint}", uses.value, key.value),
                    );
                }
            }
            if let Some(chain) = self.cycle_back_to(&own_id, uses) {
                lint.report(
                    Rule::UsesCycle,
                    uses.pos,
                    format!(
                        "`uses` loops back to this runbook: {own_id} → {}",
                        chain.join(" → ")
                    ),
                );
            }
        }
    }

    /// The chain of ids from `start` back to `own_id` through `uses`, if there is one. Each
    /// runbook is visited once and remembers only who led to it, so a deep chain costs its
    /// length, not its length squared.
    fn cycle_back_to(&mut self, own_id: &str, start: &str) -> Option<Vec<String>> {
        let mut led_by: HashMap<String, Option<String>> = HashMap::new();
        led_by.insert(start.to_string(), None);
        let mut pending = vec![start.to_string()];
        while let Some(id) = pending.pop() {
            if id == own_id {
                let mut chain = vec![id.clone()];
                let mut at = id;
                while let Some(Some(previous)) = led_by.get(&at) {
                    chain.push(previous.clone());
                    at = previous.clone();
                }
                chain.reverse();
                return Some(chain);
            }
            let Some(Some(runbook)) = self.runbook(&id) else {
                continue;
            };
            for step in &runbook.steps {
                if let Some(uses) = &step.uses
                    && !led_by.contains_key(&uses.value)
                {
                    led_by.insert(uses.value.clone(), Some(id.clone()));
                    pending.push(uses.value.clone());
                }
            }
        }
        None
    }
}
