//! What a run knows: inputs, captured vars, the results of the steps so far; and the
//! template context built from them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::{Deserialize, Serialize};

use crate::model::Runbook;
use crate::template::SHELL_TEMPLATE_NAME;

/// The result of a step, as templates see it (`steps.ID.ok`, `steps.ID.failed_hosts`…), and
/// as `step_finished` records it for `--resume`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepResult {
    pub ok: bool,
    pub outcome: String,
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub status: Option<u16>,
    pub body: String,
    pub failed_hosts: Vec<String>,
    pub hosts: BTreeMap<String, HostResult>,
    pub answer: Option<String>,
    pub duration_ms: u64,
}

/// One host's part of a fan-out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostResult {
    pub ok: bool,
    pub exit: Option<i32>,
    pub stdout: String,
}

/// The state of one runbook's run (a sub-procedure has its own).
#[derive(Debug, Clone)]
pub struct RunState {
    pub runbook_id: String,
    pub incident: String,
    pub inputs: IndexMap<String, String>,
    /// Captures and `ask` inputs: text, or a host → text map under fan-out.
    pub vars: BTreeMap<String, serde_json::Value>,
    pub steps: BTreeMap<String, StepResult>,
    /// Values a resumed run could not restore because they held a secret (the timeline
    /// keeps them masked): templates that read them fail, naming the step to run again.
    pub withheld: Vec<Withheld>,
    /// The vars as last recorded in a `step_finished`, so the next record holds only what
    /// changed since.
    pub(crate) recorded_vars: BTreeMap<String, serde_json::Value>,
    /// The alert the run started from (`--alert`); `alert.*` is empty without one.
    pub alert: Option<crate::alert::Alert>,
}

/// A value left out of a resumed run's state because it held a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    /// Where templates find it: `["vars", "token_check"]`, `["steps", "login", "stdout"]`,
    /// `["vars", "load", "web-1"]`.
    pub path: Vec<String>,
    /// The step that produced it, to be run again.
    pub step: String,
}

impl Withheld {
    /// `vars.token_check`, as a template names it.
    pub fn name(&self) -> String {
        self.path.join(".")
    }
}

impl RunState {
    pub fn new(runbook_id: &str, incident: &str, inputs: IndexMap<String, String>) -> Self {
        RunState {
            runbook_id: runbook_id.to_string(),
            incident: incident.to_string(),
            inputs,
            vars: BTreeMap::new(),
            steps: BTreeMap::new(),
            withheld: Vec::new(),
            recorded_vars: BTreeMap::new(),
            alert: None,
        }
    }

    /// The step results as templates see them: without the values withheld on resuming.
    fn visible_steps(&self) -> Value {
        if self.withheld.is_empty() {
            return Value::from(Serde(&self.steps));
        }
        let mut steps = serde_json::to_value(&self.steps).unwrap_or_default();
        for withheld in self.withheld.iter().filter(|w| w.path[0] == "steps") {
            remove_path(&mut steps, &withheld.path[1..]);
        }
        Value::from(Serde(&steps))
    }

    /// An evaluation error, with what to do when it comes from a value withheld on resuming.
    fn explain(&self, error: &minijinja::Error, source: &str) -> String {
        let mut message = describe(error);
        let named: Vec<&Withheld> = self
            .withheld
            .iter()
            .filter(|w| source.contains(&w.path[..2].join(".")))
            .collect();
        if let Some(first) = named.first() {
            let names: Vec<String> = named.iter().map(|w| format!("`{}`", w.name())).collect();
            message.push_str(&format!(
                " — {} held a secret, so the timeline kept it masked and `--resume` could not \
                 restore it: run step `{}` again (retry, or go to it from the failure menu)",
                names.join(", "),
                first.step
            ));
        }
        message
    }

    /// The names a template can use (SPEC section 3), with `host` inside a fan-out. Only
    /// the names that `source` mentions are built: the step results grow with the run, and
    /// converting them for every template would make each step slower than the last.
    pub fn context(
        &self,
        runbook: &Runbook,
        env: &Environment<'_>,
        source: &str,
        host: Option<&str>,
    ) -> Value {
        Value::from(Serde(&self.context_map(runbook, env, source, host)))
    }

    /// The names of [`RunState::context`], to add to.
    fn context_map(
        &self,
        runbook: &Runbook,
        env: &Environment<'_>,
        source: &str,
        host: Option<&str>,
    ) -> BTreeMap<&'static str, Value> {
        let uses = |name: &str| source.contains(name);
        let mut context: BTreeMap<&str, Value> = BTreeMap::new();
        // Links may use inputs, so inputs are there whenever links are.
        if uses("inputs") || uses("links") {
            context.insert("inputs", typed_inputs(runbook, &self.inputs));
        }
        if uses("data") {
            let data: BTreeMap<&str, &serde_json::Value> = runbook
                .data
                .iter()
                .map(|(k, v)| (k.value.as_str(), v))
                .collect();
            context.insert("data", Value::from(Serde(&data)));
        }
        if uses("vars") {
            context.insert("vars", Value::from(Serde(&self.vars)));
        }
        if uses("steps") {
            context.insert("steps", self.visible_steps());
        }
        if uses("contacts") {
            context.insert("contacts", Value::from(Serde(contacts(runbook))));
        }
        if uses("runbook") || uses("links") {
            context.insert(
                "runbook",
                Value::from(Serde(BTreeMap::from([
                    ("id", &self.runbook_id),
                    ("title", &runbook.title.value),
                    ("owner", &runbook.owner.value),
                ]))),
            );
        }
        if uses("incident") || uses("links") {
            context.insert(
                "incident",
                Value::from(Serde(BTreeMap::from([("id", &self.incident)]))),
            );
        }
        if uses("links") {
            // Rendered first, as written when they cannot be.
            let base = Value::from(Serde(&context));
            let links: BTreeMap<&str, String> = runbook
                .links
                .iter()
                .map(|link| {
                    let url = env
                        .render_str(&link.url, base.clone())
                        .unwrap_or_else(|_| link.url.value.clone());
                    (link.name.value.as_str(), url)
                })
                .collect();
            context.insert("links", Value::from(Serde(&links)));
        }
        if let Some(host) = host {
            context.insert("host", Value::from(host));
        }
        if uses("alert") {
            context.insert("alert", crate::alert::template_value(self.alert.as_ref()));
        }
        context
    }

    /// Evaluates an `expect.that` expression with the facts of one host's output (`exit`,
    /// `stdout`, `json`…) beside the run's names: `Ok(None)` when it is true, `Ok(Some(what
    /// it saw))` when it is false — the value of each name it reads —, `Err` when it cannot
    /// be evaluated.
    pub fn that(
        &self,
        runbook: &Runbook,
        env: &Environment<'_>,
        expression: &str,
        facts: BTreeMap<&'static str, Value>,
    ) -> Result<Option<String>, String> {
        let compiled = env
            .compile_expression(expression)
            .map_err(|e| describe(&e))?;
        let mut context = self.context_map(runbook, env, expression, None);
        context.extend(facts);
        let context = Value::from(Serde(&context));
        let value = compiled
            .eval(context.clone())
            .map_err(|e| self.explain(&e, expression))?;
        if value.is_true() {
            return Ok(None);
        }
        Ok(Some(read_by(env, expression, &context)))
    }

    /// The values an `expect.that` expression reads (`json.ready = 3, data.limit = 3`),
    /// whatever it gives: what a passing `that` shows on the screen.
    pub fn that_reads(
        &self,
        runbook: &Runbook,
        env: &Environment<'_>,
        expression: &str,
        facts: BTreeMap<&'static str, Value>,
    ) -> String {
        let mut context = self.context_map(runbook, env, expression, None);
        context.extend(facts);
        read_by(env, expression, &Value::from(Serde(&context)))
    }

    /// Renders a template; `shell` quotes every substituted value.
    pub fn render(
        &self,
        runbook: &Runbook,
        env: &Environment<'_>,
        source: &str,
        shell: bool,
        host: Option<&str>,
    ) -> Result<String, String> {
        let name = if shell { SHELL_TEMPLATE_NAME } else { "text" };
        let template = env
            .template_from_named_str(name, source)
            .map_err(|e| describe(&e))?;
        template
            .render(self.context(runbook, env, source, host))
            .map_err(|e| self.explain(&e, source))
    }

    /// Renders a template with its values escaped for where the text goes (a URL, a JSON
    /// body, a shell command).
    pub fn render_as(
        &self,
        runbook: &Runbook,
        env: &Environment<'_>,
        source: &str,
        escape: crate::template::Escape,
        host: Option<&str>,
    ) -> Result<String, String> {
        let template = env
            .template_from_named_str(escape.template_name(), source)
            .map_err(|e| describe(&e))?;
        template
            .render(self.context(runbook, env, source, host))
            .map_err(|e| describe(&e))
    }

    /// Evaluates an `if:` expression.
    pub fn condition(
        &self,
        runbook: &Runbook,
        env: &Environment<'_>,
        expression: &str,
    ) -> Result<bool, String> {
        let compiled = env
            .compile_expression(expression)
            .map_err(|e| describe(&e))?;
        compiled
            .eval(self.context(runbook, env, expression, None))
            .map(|v| v.is_true())
            .map_err(|e| self.explain(&e, expression))
    }
}

/// A value as `that` shows it: JSON-like, cut to one short line.
/// `path = value` for each name `expression` reads (at most 6), in `context`.
fn read_by(env: &Environment<'_>, expression: &str, context: &Value) -> String {
    let mut seen = Vec::new();
    if let Ok(names) = crate::template::names_in_expression(env, expression) {
        for path in names.paths.iter().take(6) {
            let shown = env
                .compile_expression(path)
                .ok()
                .and_then(|e| e.eval(context.clone()).ok())
                .map_or_else(|| "undefined".to_string(), |v| shown_value(&v));
            seen.push(format!("{path} = {shown}"));
        }
    }
    seen.join(", ")
}

fn shown_value(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| value.to_string());
    let text = text.replace('\n', " ");
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// The inputs as templates see them: a `number` input as a number, a `list` input as the
/// list of its items (given separated by `,`), others as text.
fn typed_inputs(runbook: &Runbook, inputs: &IndexMap<String, String>) -> Value {
    let typed: BTreeMap<&String, serde_json::Value> =
        crate::execute::inputs::typed_values(runbook, inputs).collect();
    Value::from(Serde(&typed))
}

fn describe(error: &minijinja::Error) -> String {
    error
        .detail()
        .map_or_else(|| error.to_string(), |d| format!("{d} ({})", error.kind()))
}

/// Removes the value at `path` (object keys) from a JSON tree, if it is there.
pub(crate) fn remove_path(value: &mut serde_json::Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = value;
    for key in parents {
        match node.get_mut(key.as_str()) {
            Some(child) => node = child,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(last.as_str());
    }
}

/// Contacts with every field present (empty when not given), so `contacts[0].phone` never
/// fails.
fn contacts(runbook: &Runbook) -> Vec<BTreeMap<&str, &str>> {
    fn field(value: &Option<String>) -> &str {
        value.as_deref().unwrap_or_default()
    }
    runbook
        .contacts
        .iter()
        .map(|c| {
            BTreeMap::from([
                ("name", c.name.value.as_str()),
                ("role", field(&c.role)),
                ("chat", field(&c.chat)),
                ("email", field(&c.email)),
                ("phone", field(&c.phone)),
                ("when", field(&c.when)),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNBOOK: &str = "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\ncontacts: [{ name: Ops, phone: '+1 555' }]\nlinks: [{ name: Dash, url: 'https://d/{{ inputs.env }}' }]\ninputs: { env: { default: prod } }\nsteps: [{ id: a, name: A, instructions: x }]\n";

    #[test]
    fn templates_see_every_name_they_use() {
        let runbook = crate::load::parse(RUNBOOK).unwrap();
        let env = crate::template::environment();
        let mut state = RunState::new(
            "svc/a",
            "INC-1",
            IndexMap::from([("env".to_string(), "prod".to_string())]),
        );
        state.vars.insert("load".into(), "0.5".into());
        state.steps.insert(
            "a".into(),
            StepResult {
                ok: true,
                ..StepResult::default()
            },
        );
        let render = |source: &str| state.render(&runbook, &env, source, false, None).unwrap();
        assert_eq!(render("{{ links.Dash }}"), "https://d/prod");
        assert_eq!(
            render("{{ contacts[0].phone }} {{ contacts[0].email }}|"),
            "+1 555 |"
        );
        assert_eq!(
            render("{{ vars.load }} {{ steps.a.ok }} {{ runbook.id }} {{ incident.id }}"),
            "0.5 True svc/a INC-1"
        );
        assert!(
            state
                .condition(&runbook, &env, "inputs.env == 'prod' and steps.a.ok")
                .unwrap()
        );
        assert!(
            state
                .render(&runbook, &env, "{{ vars.nope }}", false, None)
                .is_err(),
            "strict about undefined names"
        );
    }

    /// `expect.that`: true, false with the values it read, or an error — never a panic.
    #[test]
    fn that_says_what_it_read() {
        let runbook = crate::load::parse("runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\ndata: { limit: 3 }\ninputs: { n: { type: number, default: 2 } }\nsteps: [{ id: a, name: A, instructions: x }]\n").unwrap();
        let env = crate::template::environment();
        let state = RunState::new(
            "a",
            "INC-1",
            IndexMap::from([("n".to_string(), "2".to_string())]),
        );
        let facts = || {
            BTreeMap::from([
                ("exit", Value::from(0)),
                ("json", Value::from(Serde(serde_json::json!({"ready": 2})))),
            ])
        };
        let that = |expression: &str| state.that(&runbook, &env, expression, facts());
        assert_eq!(that("json.ready == inputs.n and exit == 0"), Ok(None));
        assert_eq!(
            that("json.ready >= data.limit"),
            Ok(Some("data.limit = 3, json.ready = 2".into()))
        );
        assert!(that("json.nothing.deeper > 1").is_err());
        assert!(that("json.ready >").is_err());
    }
}
