//! The test file beside a runbook, `NAME.test.yaml` (SPEC 7.8), as plain data with positions,
//! and the checks that make a mistake in it a finding at `file:line:col` (exit 2) rather than
//! a test that fails for the wrong reason.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::lint::{Diagnostic, Rule};
use crate::model::{Pos, Runbook, Sp, Step};

/// A whole test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub tests: Vec<Sp<TestCase>>,
}

/// One test: the inputs, the engineer's answers, what the commands give, and what must
/// happen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: Sp<String>,
    /// Inputs by name, as `--set` gives them.
    #[serde(default)]
    pub inputs: IndexMap<Sp<String>, Sp<Scalar>>,
    /// By step id: a decision's choice label or typed value; `no` (or `skip`) / `stop` for an
    /// action that is declined; `skip` for a manual step.
    #[serde(default)]
    pub answers: IndexMap<Sp<String>, Sp<Scalar>>,
    /// Scripted outcomes, first match wins.
    #[serde(default)]
    pub commands: Vec<Sp<ScriptedCommand>>,
    pub expect: Sp<Expect>,
}

/// A YAML scalar taken as text (`3`, `true` and `no` as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a single text value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(if v { "yes" } else { "no" }.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// What one scripted command matches and gives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCommand {
    /// Without `match`, it answers every command.
    #[serde(default, rename = "match")]
    pub matcher: Option<Sp<Matcher>>,
    #[serde(default)]
    pub exit: Option<Sp<i32>>,
    #[serde(default)]
    pub stdout: Option<String>,
    #[serde(default)]
    pub stderr: Option<String>,
    #[serde(default)]
    pub status: Option<Sp<u16>>,
    #[serde(default)]
    pub body: Option<String>,
    /// How many matching commands it answers (default: every one); then the next entry that
    /// matches answers. The tries of a wait consume them in order.
    #[serde(default)]
    pub times: Option<Sp<u32>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    #[serde(default)]
    pub step: Option<Sp<String>>,
    #[serde(default)]
    pub host: Option<Sp<String>>,
    /// A regex searched in the rendered command (`METHOD URL` for HTTP).
    #[serde(default)]
    pub run: Option<Sp<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The steps that ran, in order (`uses` step, then `uses-step/inner` ones).
    #[serde(default)]
    pub path: Option<Vec<Sp<String>>>,
    #[serde(default)]
    pub outcome: Option<Sp<ExpectedOutcome>>,
    /// Each is found in some rendered command (as text, not a regex).
    #[serde(default)]
    pub commands_include: Vec<Sp<String>>,
    /// None is found in any rendered command.
    #[serde(default)]
    pub commands_exclude: Vec<Sp<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    Resolved,
    Failed,
    Aborted,
}

impl ExpectedOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedOutcome::Resolved => "resolved",
            ExpectedOutcome::Failed => "failed",
            ExpectedOutcome::Aborted => "aborted",
        }
    }
}

/// What an answer does to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionAnswer {
    Confirm,
    /// Declined, then skipped: the run goes on.
    Skip,
    /// Declined, then stopped: the run ends, aborted.
    Stop,
}

impl ActionAnswer {
    pub fn parse(text: &str) -> Option<ActionAnswer> {
        match text.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" | "confirm" | "run" => Some(ActionAnswer::Confirm),
            "no" | "n" | "skip" | "decline" => Some(ActionAnswer::Skip),
            "stop" | "abort" => Some(ActionAnswer::Stop),
            _ => None,
        }
    }
}

/// The test file of a runbook: `NAME.test.yaml` beside `NAME.yaml` (or `.yml`).
pub fn tests_of(runbook: &Path) -> Option<PathBuf> {
    let stem = runbook.file_stem()?.to_string_lossy().into_owned();
    ["yaml", "yml"]
        .iter()
        .map(|ext| runbook.with_file_name(format!("{stem}.test.{ext}")))
        .find(|p| p.is_file())
}

/// The runbook a test file tests: `NAME.yaml` (or `.yml`) beside `NAME.test.yaml`.
pub fn runbook_of(tests: &Path) -> Option<PathBuf> {
    let name = tests.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".test.yaml")
        .or_else(|| name.strip_suffix(".test.yml"))?;
    ["yaml", "yml"]
        .iter()
        .map(|ext| tests.with_file_name(format!("{stem}.{ext}")))
        .find(|p| p.is_file())
}

pub use crate::lint::load_diagnostic;

pub fn finding(pos: Pos, message: String) -> Diagnostic {
    let pos = if pos.line == 0 { Pos::START } else { pos };
    Diagnostic {
        line: pos.line,
        col: pos.col.max(1),
        severity: Rule::TestFile.severity(),
        rule: Rule::TestFile,
        message,
        help: None,
    }
}

/// Every step a test can name, by its id in a test: `id`, and `uses-step/inner` for the
/// steps of a sub-procedure (followed through the catalog, each runbook read once; a
/// runbook that calls itself is not followed again).
pub type Steps = HashMap<String, Step>;

pub fn steps_of(runbook: &Runbook, catalog: &Path) -> Steps {
    let mut steps = Steps::new();
    let mut reading = Vec::new();
    collect(runbook, catalog, "", &mut reading, &mut steps);
    steps
}

fn collect(
    runbook: &Runbook,
    catalog: &Path,
    prefix: &str,
    reading: &mut Vec<String>,
    steps: &mut Steps,
) {
    for step in &runbook.steps {
        let id = format!("{prefix}{}", step.id.value);
        if let Some(uses) = &step.uses
            && !reading.contains(&uses.value)
            && let Some(path) = crate::load::resolve_id(catalog, uses)
            && let Ok(source) = crate::load::SourceFile::read(&path)
            && let Ok(sub) = source.parsed
        {
            reading.push(uses.value.clone());
            collect(&sub, catalog, &format!("{id}/"), reading, steps);
            reading.pop();
        }
        steps.insert(id, step.value.clone());
    }
}

/// Every mistake in the tests that would make them fail for the wrong reason: unknown steps,
/// answers that are not a choice, regexes that do not compile.
pub fn check(file: &TestFile, runbook: &Runbook, all: &Steps) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let steps: Vec<String> = runbook.steps.iter().map(|s| s.id.value.clone()).collect();
    let step_named = |id: &Sp<String>, found: &mut Vec<Diagnostic>| -> Option<Step> {
        let step = all.get(&id.value).cloned();
        if step.is_none() {
            let hint = crate::load::did_you_mean(id, &steps)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            found.push(finding(
                id.pos,
                format!("the runbook has no step `{}`{hint}", id.value),
            ));
        }
        step
    };
    for test in &file.tests {
        for (id, answer) in &test.answers {
            let Some(step) = step_named(id, &mut found) else {
                continue;
            };
            if let Some(message) = answer_problem(&step, id, &answer.0) {
                found.push(finding(answer.pos, message));
            }
        }
        for command in &test.commands {
            if let Some(times) = &command.times
                && times.value == 0
            {
                found.push(finding(
                    times.pos,
                    "`times: 0` answers nothing: give 1 or more, or remove the entry".into(),
                ));
            }
            let Some(matcher) = &command.matcher else {
                continue;
            };
            if let Some(step) = &matcher.step {
                step_named(step, &mut found);
            }
            if let Some(run) = &matcher.run
                && let Err(error) = regex::Regex::new(run)
            {
                found.push(finding(
                    run.pos,
                    format!(
                        "`match.run` is not a valid regex: {}",
                        error.to_string().lines().last().unwrap_or_default().trim()
                    ),
                ));
            }
        }
        for id in test.expect.path.iter().flatten() {
            step_named(id, &mut found);
        }
    }
    found.sort_by_key(|d| (d.line, d.col));
    found
}

/// Why `answer` cannot answer `step`, if it cannot.
fn answer_problem(step: &Step, id: &str, answer: &str) -> Option<String> {
    if let Some(ask) = &step.ask {
        let choices = ask.choices.as_ref()?;
        if choices
            .iter()
            .any(|c| c.label.value.eq_ignore_ascii_case(answer.trim()))
        {
            return None;
        }
        let labels: Vec<String> = choices
            .iter()
            .map(|c| format!("`{}`", c.label.value))
            .collect();
        return Some(format!(
            "`{answer}` is not a choice of `{id}`; its choices are {}",
            labels.join(", ")
        ));
    }
    if step.action.is_some() {
        return ActionAnswer::parse(answer).is_none().then(|| {
            format!("`{id}` is an action: answer `yes` (the default), `no` (declined, the run goes on) or `stop` (declined, the run ends)")
        });
    }
    if step.check.is_none() && step.wait.is_none() && step.uses.is_none() {
        return match answer.trim().to_ascii_lowercase().as_str() {
            "done" | "skip" => None,
            _ => Some(format!(
                "`{id}` is a manual step: answer `done` (the default) or `skip`"
            )),
        };
    }
    Some(format!(
        "`{id}` asks nothing: only decisions, actions and manual steps take an answer"
    ))
}
