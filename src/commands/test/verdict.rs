//! One test: its scripted run through the engine, and what it found against what the test
//! expects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::file::{ActionAnswer, Steps, TestCase};
use crate::Error;
use crate::execute::engine::Ending;
use crate::execute::prompt::{Declined, Prompter};
use crate::execute::transport::scripted::{Reply, Rule, Scripted};
use crate::model::{Pos, Runbook, Sp};
use crate::timeline::{Event, Outcome};

/// How one test went.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub file: PathBuf,
    pub pos: Pos,
    pub name: String,
    /// Why it failed, one sentence each; empty when it passed.
    pub problems: Vec<String>,
    pub expected_path: Option<Vec<String>>,
    pub actual_path: Vec<String>,
    /// `resolved`, `failed`, `aborted`, `paused` or `needs a person`.
    pub outcome: String,
    /// Every rendered command, in the order asked.
    pub commands: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// Where the expected and actual paths first differ (0-based), if they do.
    pub fn divergence(&self) -> Option<usize> {
        let expected = self.expected_path.as_ref()?;
        let actual = &self.actual_path;
        (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i))
    }
}

/// Runs `test` of the runbook `id`.
pub fn run(
    file: &Path,
    runbook: &Runbook,
    id: &str,
    catalog: &Path,
    steps: &Steps,
    test: &Sp<TestCase>,
) -> Result<Verdict, Error> {
    let scripted = Arc::new(Scripted::new(rules(test)));
    let prompter = prompter(steps, test);
    let sets = test
        .inputs
        .iter()
        .map(|(name, value)| (name.value.clone(), value.0.clone()))
        .collect();
    let mut verdict = Verdict {
        file: file.to_path_buf(),
        pos: test.name.pos,
        name: test.name.value.clone(),
        problems: Vec::new(),
        expected_path: test
            .expect
            .path
            .as_ref()
            .map(|p| p.iter().map(|s| s.value.clone()).collect()),
        actual_path: Vec::new(),
        outcome: String::new(),
        commands: Vec::new(),
    };
    let run = crate::execute::run_scripted(
        runbook,
        id,
        catalog.to_path_buf(),
        &sets,
        prompter,
        Arc::clone(&scripted),
    )?;
    let run = match run {
        Ok(run) => run,
        Err(why) => {
            verdict.outcome = "not started".into();
            verdict
                .problems
                .push(format!("the run did not start: {why}"));
            return Ok(verdict);
        }
    };
    let mut failures = Vec::new();
    for (step, event) in &run.events {
        match (step, event) {
            (Some(step), Event::StepStarted { .. }) => verdict.actual_path.push(step.clone()),
            (
                Some(step),
                Event::StepFinished {
                    outcome: Outcome::Failed,
                    reason,
                    ..
                },
            ) => failures.push(format!(
                "step `{step}` failed: {}",
                reason.as_deref().unwrap_or("no reason given")
            )),
            _ => {}
        }
    }
    let calls = scripted.calls();
    verdict.commands = calls.iter().map(|c| c.command.clone()).collect();
    // The hosts of a fan-out answer in any order: unmatched commands are told in the order
    // of the path, then by host, so that the report reads the same every time.
    let mut unmatched: Vec<_> = calls.iter().filter(|c| c.rule.is_none()).collect();
    let order = |step: &str| verdict.actual_path.iter().position(|s| s == step);
    unmatched.sort_by_key(|c| (order(&c.step), c.host.clone()));
    for call in unmatched {
        verdict.problems.push(format!(
            "no scripted outcome matches the command of step `{}` on `{}`: `{}`",
            call.step,
            call.host,
            one_line(&call.command)
        ));
    }
    verdict.outcome = match &run.ending {
        Ending::Resolved => "resolved".into(),
        Ending::Failed { step } => format!("failed at `{step}`"),
        Ending::Aborted { step } => format!("aborted at `{step}`"),
        Ending::Paused { step } => format!("paused at `{step}`"),
        Ending::NeedsHuman { step, question } => {
            verdict.problems.push(format!(
                "step `{step}` asks \"{question}\", and the test gives no answer for it (add `answers: {{{step}: …}}`)"
            ));
            format!("needs a person at `{step}`")
        }
    };
    if let Some(expected) = &test.expect.outcome {
        let actual = match &run.ending {
            Ending::Resolved => Some("resolved"),
            Ending::Failed { .. } => Some("failed"),
            Ending::Aborted { .. } => Some("aborted"),
            _ => None,
        };
        if actual != Some(expected.as_str()) {
            let mut problem = format!(
                "outcome: expected {}, got {}",
                expected.as_str(),
                verdict.outcome
            );
            if let Some(why) = failures.first() {
                problem.push_str(&format!(" ({why})"));
            }
            verdict.problems.push(problem);
        }
    }
    if verdict.divergence().is_some() {
        verdict
            .problems
            .insert(0, "the path differs from the expected one".into());
    }
    for wanted in &test.expect.commands_include {
        if !verdict.commands.iter().any(|c| c.contains(wanted.as_str())) {
            verdict
                .problems
                .push(format!("no command rendered contains `{}`", wanted.value));
        }
    }
    for unwanted in &test.expect.commands_exclude {
        if let Some(found) = verdict
            .commands
            .iter()
            .find(|c| c.contains(unwanted.as_str()))
        {
            verdict.problems.push(format!(
                "a command rendered contains `{}`: `{}`",
                unwanted.value,
                one_line(found)
            ));
        }
    }
    Ok(verdict)
}

fn one_line(text: &str) -> String {
    let text = text.trim();
    match text.split_once('\n') {
        Some((first, _)) => format!("{first} …"),
        None => text.to_string(),
    }
}

/// The scripted outcomes, in the test's order (first match wins).
fn rules(test: &TestCase) -> Vec<Rule> {
    test.commands
        .iter()
        .map(|command| {
            let matcher = command.matcher.as_ref();
            Rule {
                step: matcher.and_then(|m| m.step.as_ref().map(|s| s.value.clone())),
                host: matcher.and_then(|m| m.host.as_ref().map(|h| h.value.clone())),
                // Checked to compile when the file was loaded.
                run: matcher
                    .and_then(|m| m.run.as_ref())
                    .and_then(|r| regex::Regex::new(r).ok()),
                times: command.times.as_ref().map(|t| t.value as usize),
                reply: Reply {
                    exit: command.exit.as_ref().map(|e| e.value),
                    stdout: command.stdout.clone().unwrap_or_default(),
                    stderr: command.stderr.clone().unwrap_or_default(),
                    status: command.status.as_ref().map(|s| s.value),
                    body: command.body.clone(),
                },
            }
        })
        .collect()
}

/// The engineer, scripted: confirms and does everything (`--yes`) unless an answer says
/// otherwise; picks the decisions' choices the test names.
fn prompter(steps: &Steps, test: &TestCase) -> Prompter {
    let mut answers = HashMap::new();
    let mut declines = Vec::new();
    for (id, answer) in &test.answers {
        let answer = answer.0.trim();
        match steps.get(&id.value) {
            Some(step) if step.action.is_some() => match ActionAnswer::parse(answer) {
                Some(ActionAnswer::Skip) => declines.push((id.value.clone(), Declined::Skip)),
                Some(ActionAnswer::Stop) => declines.push((id.value.clone(), Declined::Stop)),
                _ => {}
            },
            Some(step) if step.ask.is_none() => {
                if answer.eq_ignore_ascii_case("skip") {
                    answers.insert(id.value.clone(), "Skip this step".to_string());
                }
            }
            _ => {
                answers.insert(id.value.clone(), answer.to_string());
            }
        }
    }
    let mut prompter = Prompter::new(true, answers, false);
    for (id, then) in declines {
        prompter.decline(&id, then);
    }
    prompter
}
