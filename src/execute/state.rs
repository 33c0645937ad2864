//! What a run knows: inputs, captured vars, the results of the steps so far; and the
//! template context built from them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::model::Runbook;
use crate::template::SHELL_TEMPLATE_NAME;

/// The result of a step, as templates see it (`steps.ID.ok`, `steps.ID.failed_hosts`…).
#[derive(Debug, Clone, Default, Serialize)]
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
#[derive(Debug, Clone, Default, Serialize)]
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
    pub vars: BTreeMap<String, String>,
    pub steps: BTreeMap<String, StepResult>,
}

impl RunState {
    pub fn new(runbook_id: &str, incident: &str, inputs: IndexMap<String, String>) -> Self {
        RunState {
            runbook_id: runbook_id.to_string(),
            incident: incident.to_string(),
            inputs,
            vars: BTreeMap::new(),
            steps: BTreeMap::new(),
        }
    }

    /// The names a template can use (SPEC section 3), with `host` inside a fan-out.
    pub fn context(&self, runbook: &Runbook, env: &Environment<'_>, host: Option<&str>) -> Value {
        let mut context: BTreeMap<&str, Value> = BTreeMap::new();
        context.insert("inputs", Value::from(Serde(&self.inputs)));
        context.insert("vars", Value::from(Serde(&self.vars)));
        context.insert("steps", Value::from(Serde(&self.steps)));
        // Every field present (empty when not given), so `contacts[0].phone` never fails.
        let contacts: Vec<BTreeMap<&str, &str>> = runbook
            .contacts
            .iter()
            .map(|c| {
                fn field(v: &Option<String>) -> &str {
                    v.as_deref().unwrap_or_default()
                }
                BTreeMap::from([
                    ("name", c.name.value.as_str()),
                    ("role", field(&c.role)),
                    ("chat", field(&c.chat)),
                    ("email", field(&c.email)),
                    ("phone", field(&c.phone)),
                    ("when", field(&c.when)),
                ])
            })
            .collect();
        context.insert("contacts", Value::from(Serde(&contacts)));
        context.insert(
            "runbook",
            Value::from(Serde(BTreeMap::from([
                ("id", &self.runbook_id),
                ("title", &runbook.title.value),
                ("owner", &runbook.owner.value),
            ]))),
        );
        context.insert(
            "incident",
            Value::from(Serde(BTreeMap::from([("id", &self.incident)]))),
        );
        // Links may use inputs; render them first, as written when they cannot be.
        let mut links = BTreeMap::new();
        for link in &runbook.links {
            let base = Value::from(Serde(&context));
            let url = env
                .render_str(&link.url, base)
                .unwrap_or_else(|_| link.url.value.clone());
            links.insert(link.name.value.clone(), url);
        }
        context.insert("links", Value::from(Serde(&links)));
        if let Some(host) = host {
            context.insert("host", Value::from(host));
        }
        Value::from(Serde(&context))
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
            .render(self.context(runbook, env, host))
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
            .eval(self.context(runbook, env, None))
            .map(|v| v.is_true())
            .map_err(|e| describe(&e))
    }
}

fn describe(error: &minijinja::Error) -> String {
    error
        .detail()
        .map_or_else(|| error.to_string(), |d| format!("{d} ({})", error.kind()))
}
