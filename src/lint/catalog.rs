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
    /// The strongly connected part of the `uses` graph each id belongs to, once found.
    part_of: HashMap<String, usize>,
    parts: usize,
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
            part_of: HashMap::new(),
            parts: 0,
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
        super::notify::check_approvals(lint, &self.dir);
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

    /// The chain of ids from `start` back to `own_id` through `uses`, if there is one.
    /// `start` and `own_id` are on a loop when they are in the same strongly connected part
    /// of the `uses` graph; the parts are found once per catalog (Tarjan), so a whole
    /// catalog costs its size, however deep its chains. The chain is then searched within
    /// the part only.
    fn cycle_back_to(&mut self, own_id: &str, start: &str) -> Option<Vec<String>> {
        self.find_parts_from(start);
        let part = *self.part_of.get(start)?;
        if self.part_of.get(own_id) != Some(&part) {
            return None;
        }
        let mut led_by: HashMap<String, Option<String>> = HashMap::new();
        led_by.insert(start.to_string(), None);
        let mut pending = std::collections::VecDeque::from([start.to_string()]);
        while let Some(id) = pending.pop_front() {
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
            for next in self.uses_of(&id) {
                if self.part_of.get(&next) == Some(&part) && !led_by.contains_key(&next) {
                    led_by.insert(next.clone(), Some(id.clone()));
                    pending.push_back(next);
                }
            }
        }
        None
    }

    /// The ids a runbook of the catalog calls with `uses`.
    fn uses_of(&mut self, id: &str) -> Vec<String> {
        match self.runbook(id) {
            Some(Some(runbook)) => runbook
                .steps
                .iter()
                .filter_map(|s| s.uses.as_ref().map(|u| u.value.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Tarjan's strongly connected components of the `uses` graph reachable from `start`,
    /// without recursion (chains can be thousands deep); parts found before are kept.
    fn find_parts_from(&mut self, start: &str) {
        if self.part_of.contains_key(start) {
            return;
        }
        let mut index: HashMap<String, (usize, usize)> = HashMap::new(); // id → (index, lowlink)
        let mut on_stack: Vec<String> = Vec::new();
        let mut in_stack: std::collections::HashSet<String> = std::collections::HashSet::new();
        // (id, its callees, next callee to visit)
        let mut work: Vec<(String, Vec<String>, usize)> = Vec::new();
        let mut counter = 0;
        let mut enter = |id: String,
                         this: &mut Self,
                         index: &mut HashMap<String, (usize, usize)>,
                         on_stack: &mut Vec<String>,
                         in_stack: &mut std::collections::HashSet<String>,
                         work: &mut Vec<(String, Vec<String>, usize)>| {
            index.insert(id.clone(), (counter, counter));
            counter += 1;
            on_stack.push(id.clone());
            in_stack.insert(id.clone());
            let callees = this.uses_of(&id);
            work.push((id, callees, 0));
        };
        enter(
            start.to_string(),
            self,
            &mut index,
            &mut on_stack,
            &mut in_stack,
            &mut work,
        );
        while let Some((id, callees, next)) = work.last_mut() {
            if let Some(callee) = callees.get(*next).cloned() {
                *next += 1;
                let id = id.clone();
                if self.part_of.contains_key(&callee) {
                    continue;
                }
                match index.get(&callee) {
                    None => enter(
                        callee,
                        self,
                        &mut index,
                        &mut on_stack,
                        &mut in_stack,
                        &mut work,
                    ),
                    Some(&(callee_index, _)) if in_stack.contains(&callee) => {
                        if let Some(entry) = index.get_mut(&id) {
                            entry.1 = entry.1.min(callee_index);
                        }
                    }
                    Some(_) => {}
                }
                continue;
            }
            let id = id.clone();
            work.pop();
            let (own_index, low) = index[&id];
            if let Some((parent, _, _)) = work.last()
                && let Some(entry) = index.get_mut(parent)
            {
                entry.1 = entry.1.min(low);
            }
            if own_index == low {
                let part = self.parts;
                self.parts += 1;
                while let Some(member) = on_stack.pop() {
                    in_stack.remove(&member);
                    let done = member == id;
                    self.part_of.insert(member, part);
                    if done {
                        break;
                    }
                }
            }
        }
    }
}
