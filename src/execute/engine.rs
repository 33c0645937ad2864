//! The engine walks a runbook's steps: it renders, asks, runs, records every event in the
//! timeline, and follows `next`, choices and `on_failure`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use minijinja::Environment;

use super::judge;
use super::prompt::{Asked, NoAnswer, Prompter};
use super::runner::{self, Execution, Limits, Output, Runner};
use super::screen::{Screen, contact_line, human_duration};
use super::state::{RunState, StepResult};
use super::transport::Interrupt;
use crate::Error;
use crate::model::{
    Command, Confirm, ConfirmWord, END, Runbook, Sp, Step, StepKind, parse_duration,
};
use crate::timeline::{Event, Outcome, Timeline};

/// The default time limit of one command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_WAIT_EVERY: Duration = Duration::from_secs(10);
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);

/// How a run (or a sub-procedure) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Resolved,
    Failed { step: String },
    Paused { step: String },
    NeedsHuman { step: String, question: String },
}

/// Where to go after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    Below,
    Step(String),
    End,
}

impl Next {
    fn from_target(target: Option<&Sp<String>>) -> Next {
        match target.map(|t| t.as_str()) {
            None => Next::Below,
            Some(END) => Next::End,
            Some(id) => Next::Step(id.to_string()),
        }
    }
}

/// What one try of a step gave.
enum Tried {
    Passed {
        result: StepResult,
        next: Next,
        outcome: Outcome,
    },
    Failed {
        result: StepResult,
        expected: String,
        happened: String,
    },
    Skipped {
        reason: String,
    },
    Stop(Ending),
}

/// The settings the engine needs from the command line.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub rehearse: bool,
    pub catalog: PathBuf,
    /// `--ssh-config`: passed to ssh as `-F`.
    pub ssh_config: Option<PathBuf>,
}

pub struct Engine {
    pub settings: EngineSettings,
    pub env: Environment<'static>,
    pub timeline: Timeline,
    pub prompter: Prompter,
    pub screen: Screen,
    pub interrupt: Interrupt,
    /// When resuming inside a sub-procedure: the inner step path to start at.
    pub resume_inner: Vec<String>,
    /// When resuming inside sub-procedures: their recorded states, by step path.
    pub resumed_inside: std::collections::BTreeMap<String, super::resume::Restored>,
    /// The next run of this action step goes only to these hosts: those that failed or did
    /// not start, after "retry on those hosts" was picked.
    retry_hosts: Option<(String, Vec<String>)>,
    runner: Runner,
}

impl Engine {
    pub fn new(
        settings: EngineSettings,
        timeline: Timeline,
        prompter: Prompter,
        screen: Screen,
        interrupt: Interrupt,
    ) -> Self {
        let runner = Runner::new(settings.ssh_config.clone(), interrupt.clone());
        Engine {
            settings,
            env: crate::template::environment(),
            timeline,
            prompter,
            screen,
            interrupt,
            resume_inner: Vec::new(),
            resumed_inside: std::collections::BTreeMap::new(),
            retry_hosts: None,
            runner,
        }
    }

    /// Closes what the run opened (SSH master connections).
    pub fn close(&mut self) {
        self.runner.close();
    }

    fn record(&mut self, step: Option<&str>, event: Event) -> Result<(), Error> {
        self.timeline.record(step, event).map_err(Error::from)
    }

    /// Records `step_finished` with what later steps can read (`--resume` rebuilds from it):
    /// `result`, the step's entry in `state.steps` (`None` when it leaves none), and the vars
    /// changed since the last record.
    fn finished(
        &mut self,
        state: &mut RunState,
        step: &Step,
        id: &str,
        outcome: Outcome,
        reason: Option<String>,
        result: Option<&StepResult>,
    ) -> Result<(), Error> {
        let recorded =
            super::resume::step_state(state, &step.id.value, result, self.timeline.masker());
        self.record(
            Some(id),
            Event::StepFinished {
                outcome,
                reason,
                state: Some(recorded),
            },
        )
    }

    /// Asks until answered, writing each note to the timeline.
    fn ask<T>(
        &mut self,
        step: &str,
        mut question: impl FnMut(&mut Prompter) -> Asked<T>,
    ) -> Result<Result<T, NoAnswer>, Error> {
        loop {
            match question(&mut self.prompter) {
                Ok(super::prompt::Reply::Answer(answer)) => return Ok(Ok(answer)),
                Ok(super::prompt::Reply::Note(note)) if note.trim().is_empty() => {}
                Ok(super::prompt::Reply::Note(note)) => {
                    self.record(Some(step), Event::Note { text: note })?;
                    self.screen.info("note recorded");
                }
                Err(no_answer) => return Ok(Err(no_answer)),
            }
        }
    }

    /// Runs the steps of `runbook` from `start`; step ids get `prefix` (for sub-procedures).
    pub fn run_steps(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        prefix: &str,
        start: usize,
    ) -> Result<Ending, Error> {
        let total = runbook.steps.len();
        let mut index = start;
        while index < total {
            let step = &runbook.steps[index];
            let id = format!("{prefix}{}", step.id.value);
            if self.interrupt.is_set() {
                return Ok(Ending::Paused { step: id });
            }
            if let Some(condition) = &step.condition {
                match state.condition(runbook, &self.env, condition) {
                    Ok(true) => {}
                    Ok(false) => {
                        self.screen.step_header(
                            index + 1,
                            total,
                            &format!("{prefix}{}", step.name.value),
                            "skipped",
                        );
                        // A step whose condition is false did what it should: `ok`.
                        let reason = format!("`if: {}` is false", condition.value);
                        self.skipped(state, step, &id, reason, true)?;
                        index += 1;
                        continue;
                    }
                    Err(error) => {
                        self.screen.fail(&format!(
                            "cannot evaluate `if: {}`: {error}",
                            condition.value
                        ));
                        self.finished(
                            state,
                            step,
                            &id,
                            Outcome::Failed,
                            Some(format!("if: {error}")),
                            None,
                        )?;
                        return Ok(Ending::Failed { step: id });
                    }
                }
            }
            let kind = step.kind();
            self.screen.step_header(
                index + 1,
                total,
                &format!("{prefix}{}", step.name.value),
                kind.as_str(),
            );
            self.record(
                Some(&id),
                Event::StepStarted {
                    kind: kind.as_str().into(),
                    name: step.name.value.clone(),
                },
            )?;
            if let Some(instructions) = &step.instructions {
                let text = state
                    .render(runbook, &self.env, instructions, false, None)
                    .unwrap_or_else(|_| instructions.value.clone());
                self.screen.text_block(&text);
            }
            let next = loop {
                let tried = self.try_step(runbook, state, step, &id, kind)?;
                match tried {
                    Tried::Passed {
                        result,
                        next,
                        outcome,
                    } => {
                        self.finished(state, step, &id, outcome, None, Some(&result))?;
                        state.steps.insert(step.id.value.clone(), result);
                        break next;
                    }
                    Tried::Skipped { reason } => {
                        self.skipped(state, step, &id, reason, false)?;
                        break Next::Below;
                    }
                    Tried::Stop(ending) => return Ok(ending),
                    Tried::Failed {
                        result,
                        expected,
                        happened,
                    } => {
                        self.finished(
                            state,
                            step,
                            &id,
                            Outcome::Failed,
                            Some(happened.clone()),
                            Some(&result),
                        )?;
                        state.steps.insert(step.id.value.clone(), result);
                        self.screen.failure(&expected, &happened, &runbook.contacts);
                        match self.after_failure(runbook, state, step, &id)? {
                            AfterFailure::Retry => {
                                self.record(
                                    Some(&id),
                                    Event::StepStarted {
                                        kind: kind.as_str().into(),
                                        name: step.name.value.clone(),
                                    },
                                )?;
                                continue;
                            }
                            AfterFailure::Go(next) => break next,
                            AfterFailure::Stop(ending) => return Ok(ending),
                        }
                    }
                }
            };
            index = match next {
                Next::Below => index + 1,
                Next::End => return Ok(Ending::Resolved),
                Next::Step(target) => match runbook.steps.iter().position(|s| s.id.value == target)
                {
                    Some(position) => position,
                    None => {
                        self.screen.fail(&format!("no step `{target}` to go to"));
                        return Ok(Ending::Failed { step: id });
                    }
                },
            };
        }
        Ok(Ending::Resolved)
    }

    /// Shows and records a skipped step, and keeps its result for templates.
    fn skipped(
        &mut self,
        state: &mut RunState,
        step: &Step,
        id: &str,
        reason: String,
        ok: bool,
    ) -> Result<(), Error> {
        self.screen.info(&format!("skipped: {reason}"));
        let result = StepResult {
            ok,
            outcome: "skipped".into(),
            ..StepResult::default()
        };
        self.finished(
            state,
            step,
            id,
            Outcome::Skipped,
            Some(reason),
            Some(&result),
        )?;
        state.steps.insert(step.id.value.clone(), result);
        Ok(())
    }

    fn try_step(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
        kind: StepKind,
    ) -> Result<Tried, Error> {
        match kind {
            StepKind::Manual => self.manual(id),
            StepKind::Check => {
                let check = step.check.as_ref().expect("a check step has a check");
                self.command_step(runbook, state, step, id, check)
            }
            StepKind::Action => {
                let action = step.action.as_ref().expect("an action step has an action");
                self.action(runbook, state, step, id, action)
            }
            StepKind::Ask => self.decision(runbook, state, step, id),
            StepKind::Wait => self.wait(runbook, state, step, id),
            StepKind::Uses => self.sub_procedure(runbook, state, step, id),
        }
    }

    fn manual(&mut self, id: &str) -> Result<Tried, Error> {
        match self.ask(id, |p| p.manual(id))? {
            Ok(true) => Ok(Tried::Passed {
                result: StepResult {
                    ok: true,
                    outcome: "done".into(),
                    ..StepResult::default()
                },
                next: Next::Below,
                outcome: Outcome::Done,
            }),
            Ok(false) => Ok(Tried::Skipped {
                reason: "skipped by the engineer".into(),
            }),
            Err(no_answer) => Ok(Tried::Stop(stop_for(no_answer, id))),
        }
    }

    fn decision(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let ask = step.ask.as_ref().expect("an ask step has an ask");
        let question = state
            .render(runbook, &self.env, &ask.question, false, None)
            .unwrap_or_else(|_| ask.question.value.clone());
        if let Some(choices) = &ask.choices {
            let labels: Vec<String> = choices.iter().map(|c| c.label.value.clone()).collect();
            let picked = self.ask(id, |p| p.select(id, &question, &labels, None))?;
            let index = match picked {
                Ok(index) => index,
                Err(no_answer) => return Ok(Tried::Stop(stop_for(no_answer, id))),
            };
            let choice = &choices[index];
            self.record(
                Some(id),
                Event::Answer {
                    choice: Some(choice.label.value.clone()),
                    value: None,
                },
            )?;
            self.screen.ok(&format!("answer: {}", choice.label.value));
            let result = StepResult {
                ok: true,
                outcome: "done".into(),
                answer: Some(choice.label.value.clone()),
                ..StepResult::default()
            };
            return Ok(Tried::Passed {
                result,
                next: Next::from_target(choice.next.as_ref()),
                outcome: Outcome::Done,
            });
        }
        let name = ask
            .input
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let answered = self.ask(id, |p| {
            p.text(id, &question, None, false, &|v: &str| {
                if v.trim().is_empty() {
                    Err("type an answer".into())
                } else {
                    Ok(())
                }
            })
        })?;
        let value = match answered {
            Ok(value) => value,
            Err(no_answer) => return Ok(Tried::Stop(stop_for(no_answer, id))),
        };
        self.record(
            Some(id),
            Event::Answer {
                choice: None,
                value: Some(value.clone()),
            },
        )?;
        state.vars.insert(name, value.as_str().into());
        let result = StepResult {
            ok: true,
            outcome: "done".into(),
            answer: Some(value),
            ..StepResult::default()
        };
        Ok(Tried::Passed {
            result,
            next: Next::from_target(step.next.as_ref()),
            outcome: Outcome::Done,
        })
    }

    fn action(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
        action: &Sp<Command>,
    ) -> Result<Tried, Error> {
        let mut plan =
            match runner::plan(runbook, state, &self.env, action, None, step_timeout(step)) {
                Ok(plan) => plan,
                Err(error) => return Ok(cannot_render(error)),
            };
        // A retry on the hosts that failed or did not start: the others are done already.
        let retry = self.retry_hosts.take().filter(|(step, _)| step == id);
        if let Some((_, retry)) = &retry {
            let done: Vec<&str> = plan
                .jobs
                .iter()
                .map(|j| j.host())
                .filter(|h| !retry.iter().any(|r| r == h))
                .collect();
            self.screen.info(&format!(
                "retrying on the hosts that failed or did not start; done already: {}",
                done.join(", ")
            ));
            plan.jobs.retain(|j| retry.iter().any(|r| r == j.host()));
        }
        let before = retry.and_then(|_| {
            let captured = action
                .capture
                .as_ref()
                .and_then(|c| state.vars.get(&c.value).cloned());
            Some((state.steps.get(id).cloned()?, captured))
        });
        let hosts: Vec<&str> = plan.jobs.iter().map(|j| j.host()).collect();
        let target = plan.target.clone();
        if plan.fan_out {
            self.screen.info(&format!(
                "This action changes {target} ({} host{}: {}). It will run:",
                hosts.len(),
                if hosts.len() == 1 { "" } else { "s" },
                hosts.join(", ")
            ));
        } else {
            self.screen
                .info(&format!("This action changes {target}. It will run:"));
        }
        let shown = plan.jobs.first().map(|j| j.shown()).unwrap_or_default();
        self.screen.command(&target, &shown);
        if plan.jobs.iter().any(|j| j.shown() != shown) {
            self.screen.info(&format!(
                "(as rendered for {}; each host gets its own)",
                hosts.first().copied().unwrap_or_default()
            ));
        }
        if let Some(rollback) = &action.rollback
            && let Some(run) = &rollback.run
        {
            self.screen.info(&format!(
                "rollback if it fails: {}",
                state
                    .render(runbook, &self.env, run, true, None)
                    .unwrap_or_else(|_| run.value.clone())
            ));
        }
        if self.settings.rehearse {
            self.screen.warn("rehearsal: not run");
            let result = StepResult {
                ok: true,
                outcome: "rehearsed".into(),
                ..StepResult::default()
            };
            return Ok(Tried::Passed {
                result,
                next: Next::from_target(step.next.as_ref()),
                outcome: Outcome::Rehearsed,
            });
        }
        let question = format!("Run it on {target}?");
        let confirmed = match action.confirm.as_ref().map(|c| &c.value) {
            None | Some(Confirm::Word(ConfirmWord::Yes)) => {
                self.ask(id, |p| p.confirm(id, &question))?
            }
            Some(Confirm::Word(ConfirmWord::Type)) => {
                self.ask(id, |p| p.confirm_typed(id, &question, &target))?
            }
            Some(Confirm::Text { text }) => {
                self.ask(id, |p| p.confirm_typed(id, &question, text))?
            }
        };
        match confirmed {
            Ok(true) => {
                if self.prompter.yes() {
                    self.screen.info("confirmed by --yes");
                }
                self.record(
                    Some(id),
                    Event::Confirmed {
                        command: shown.clone(),
                    },
                )?;
            }
            Ok(false) => {
                self.record(Some(id), Event::Declined { command: shown })?;
                return Ok(Tried::Skipped {
                    reason: "declined".into(),
                });
            }
            Err(no_answer) => return Ok(Tried::Stop(stop_for(no_answer, id))),
        }
        // A canary: the first hosts, their results, and a second question before the rest.
        let canary = action.canary.as_ref().map_or(0, |c| c.value as usize);
        let limits = self.limits(step, action, true);
        let (first, rest) = if canary > 0 && canary < plan.jobs.len() {
            plan.jobs.split_at(canary)
        } else {
            plan.jobs.split_at(plan.jobs.len())
        };
        let mut execution = self.execute(runbook, state, &plan, first, action, &limits, id)?;
        if !rest.is_empty() {
            if execution.interrupted() {
                return Ok(Tried::Stop(Ending::Paused {
                    step: id.to_string(),
                }));
            }
            if !execution.ok() {
                self.screen
                    .fail("the canary failed: the other hosts were not started");
                execution
                    .not_started
                    .extend(rest.iter().map(|j| j.host().to_string()));
            } else {
                let question = format!(
                    "The canary passed on {canary} host{}. Go on with the other {}?",
                    if canary == 1 { "" } else { "s" },
                    rest.len()
                );
                match self.ask(id, |p| p.confirm(id, &question))? {
                    Ok(true) => {
                        self.record(
                            Some(id),
                            Event::Confirmed {
                                command: shown.clone(),
                            },
                        )?;
                        let more =
                            self.execute(runbook, state, &plan, rest, action, &limits, id)?;
                        execution.runs.extend(more.runs);
                        execution.not_started.extend(more.not_started);
                    }
                    Ok(false) => {
                        self.record(Some(id), Event::Declined { command: shown })?;
                        execution
                            .not_started
                            .extend(rest.iter().map(|j| j.host().to_string()));
                    }
                    Err(no_answer) => return Ok(Tried::Stop(stop_for(no_answer, id))),
                }
            }
        }
        let mut tried = self.conclude(state, step, id, action, &execution);
        if let Some((result, captured)) = before {
            keep_done_hosts(&mut tried, &result);
            if let (Some(capture), Some(serde_json::Value::Object(before))) =
                (&action.capture, captured)
                && let Some(serde_json::Value::Object(now)) = state.vars.get_mut(&capture.value)
            {
                for (host, text) in before {
                    let done = result.hosts.get(&host).is_some_and(|h| h.ok);
                    if done {
                        now.entry(host).or_insert(text);
                    }
                }
            }
        }
        Ok(tried)
    }

    fn command_step(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
        command: &Sp<Command>,
    ) -> Result<Tried, Error> {
        let plan = match runner::plan(runbook, state, &self.env, command, None, step_timeout(step))
        {
            Ok(plan) => plan,
            Err(error) => return Ok(cannot_render(error)),
        };
        if let Some(job) = plan.jobs.first() {
            self.screen.command(&plan.target, &job.shown());
        }
        let limits = self.limits(step, command, false);
        let execution = self.execute(runbook, state, &plan, &plan.jobs, command, &limits, id)?;
        Ok(self.conclude(state, step, id, command, &execution))
    }

    /// The time limit, parallelism and failure budget of a step's command.
    fn limits(&self, step: &Step, command: &Command, action: bool) -> Limits {
        Limits {
            timeout: step_timeout(step),
            parallel: command
                .parallel
                .as_ref()
                .map_or(runner::DEFAULT_PARALLEL, |p| p.value)
                .max(1) as usize,
            max_failures: match &command.max_failures {
                Some(max) if max.value > 0 => Some(max.value as usize),
                Some(_) => None,
                None if action => Some(1),
                None => None,
            },
        }
    }

    /// Runs jobs of a plan through the runner, judging each host's output.
    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        runbook: &Runbook,
        state: &RunState,
        plan: &runner::Plan,
        jobs: &[runner::Job],
        command: &Command,
        limits: &Limits,
        id: &str,
    ) -> Result<Execution, Error> {
        let env = &self.env;
        let timeout = limits.timeout;
        let judge =
            |output: &Output| judge::judge_output(runbook, state, env, command, output, timeout);
        self.runner.execute(
            plan,
            jobs,
            limits,
            &judge,
            &mut self.timeline,
            &self.screen,
            id,
        )
    }

    /// A step's verdict from its command's execution; keeps the capture.
    fn conclude(
        &mut self,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
        command: &Command,
        execution: &Execution,
    ) -> Tried {
        if execution.interrupted() {
            return Tried::Stop(Ending::Paused {
                step: id.to_string(),
            });
        }
        if let Some(capture) = &command.capture {
            state
                .vars
                .insert(capture.value.clone(), execution.capture());
        }
        let result = execution.step_result();
        match execution.failure() {
            None if execution.ok() => {
                let outcome = if step.action.is_some() {
                    Outcome::Done
                } else {
                    Outcome::Passed
                };
                Tried::Passed {
                    result,
                    next: Next::from_target(step.next.as_ref()),
                    outcome,
                }
            }
            None => Tried::Failed {
                result,
                expected: "every host runs".into(),
                happened: format!("not started: {}", execution.not_started.join(", ")),
            },
            Some((expected, happened)) => Tried::Failed {
                result,
                expected,
                happened,
            },
        }
    }

    fn wait(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let wait = step.wait.as_ref().expect("a wait step has a wait");
        let every = wait
            .every
            .as_ref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(DEFAULT_WAIT_EVERY);
        let limit = wait
            .timeout
            .as_ref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(DEFAULT_WAIT_TIMEOUT);
        let timeout = step_timeout(step).min(limit);
        let plan = match runner::plan(runbook, state, &self.env, &wait.until, None, timeout) {
            Ok(plan) => plan,
            Err(error) => return Ok(cannot_render(error)),
        };
        self.screen.info(&format!(
            "every {}, for at most {}:",
            human_duration(every),
            human_duration(limit)
        ));
        if let Some(job) = plan.jobs.first() {
            self.screen.command(&plan.target, &job.shown());
        }
        let started = Instant::now();
        let mut limits = self.limits(step, &wait.until, false);
        limits.timeout = timeout;
        let mut tries = 0;
        loop {
            tries += 1;
            let execution =
                self.execute(runbook, state, &plan, &plan.jobs, &wait.until, &limits, id)?;
            if execution.interrupted() || execution.ok() {
                if execution.ok() {
                    self.screen.ok(&format!(
                        "passed after {tries} tr{} ({})",
                        if tries == 1 { "y" } else { "ies" },
                        human_duration(started.elapsed())
                    ));
                }
                return Ok(self.conclude(state, step, id, &wait.until, &execution));
            }
            let elapsed = started.elapsed();
            if elapsed + every > limit {
                self.screen
                    .fail(&format!("still failing after {tries} tries"));
                return Ok(
                    match self.conclude(state, step, id, &wait.until, &execution) {
                        Tried::Failed {
                            result,
                            expected,
                            happened,
                        } => Tried::Failed {
                            result,
                            expected,
                            happened: format!(
                                "{happened} (gave up after {})",
                                human_duration(limit)
                            ),
                        },
                        other => other,
                    },
                );
            }
            // Countdown to the next try, watching for Ctrl-C.
            let spinner = self.screen.spinner("");
            let until = Instant::now() + every;
            while Instant::now() < until {
                if self.interrupt.is_set() {
                    spinner.finish_and_clear();
                    return Ok(Tried::Stop(Ending::Paused {
                        step: id.to_string(),
                    }));
                }
                let now = Instant::now();
                spinner.set_message(format!(
                    "try {tries} failed; next try in {}s; gives up in {}",
                    until.saturating_duration_since(now).as_secs() + 1,
                    human_duration(limit.saturating_sub(started.elapsed()))
                ));
                std::thread::sleep(
                    Duration::from_millis(50).min(until.saturating_duration_since(now)),
                );
            }
            spinner.finish_and_clear();
        }
    }

    fn sub_procedure(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let uses = step.uses.as_ref().expect("a uses step has uses");
        let failed = |happened: String| Tried::Failed {
            result: StepResult::default(),
            expected: format!("`{}` runs", uses.value),
            happened,
        };
        let Some(path) = crate::load::resolve_id(&self.settings.catalog, uses) else {
            return Ok(failed(format!(
                "no runbook `{}` in `{}`",
                uses.value,
                self.settings.catalog.display()
            )));
        };
        let sub = match crate::load::SourceFile::read(&path).map(|s| s.parsed) {
            Ok(Ok(sub)) => sub,
            _ => {
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
        let ending = self.run_steps(&sub, &mut sub_state, &format!("{id}/"), start)?;
        match ending {
            Ending::Resolved => {
                let result = StepResult {
                    ok: true,
                    outcome: "done".into(),
                    ..StepResult::default()
                };
                Ok(Tried::Passed {
                    result,
                    next: Next::from_target(step.next.as_ref()),
                    outcome: Outcome::Done,
                })
            }
            Ending::Failed { step: inner } => Ok(failed(format!("step `{inner}` failed"))),
            other => Ok(Tried::Stop(other)),
        }
    }

    fn after_failure(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<AfterFailure, Error> {
        let policy = step.on_failure.as_ref().map_or("ask", |p| p.as_str());
        match policy {
            "stop" => {
                return Ok(AfterFailure::Stop(Ending::Failed {
                    step: id.to_string(),
                }));
            }
            "continue" => return Ok(AfterFailure::Go(Next::from_target(step.next.as_ref()))),
            "ask" => {}
            target => return Ok(AfterFailure::Go(Next::Step(target.to_string()))),
        }
        if !self.prompter.is_interactive() {
            self.screen
                .info("no terminal: the run stops here (`on_failure: ask` acts as `stop`)");
            return Ok(AfterFailure::Stop(Ending::Failed {
                step: id.to_string(),
            }));
        }
        // A rollback runs where its action ran unless it says otherwise.
        let rollback = step.action.as_ref().and_then(|action| {
            action.rollback.as_ref().map(|rollback| {
                let mut effective = rollback.value.clone();
                if effective.on.is_none() {
                    effective.on = action.on.clone();
                }
                effective
            })
        });
        // After a fan-out action that went through on some hosts: retrying on the others only.
        let unfinished: Vec<String> = match (step.action.is_some(), state.steps.get(id)) {
            (true, Some(result)) if result.hosts.values().any(|h| h.ok) => {
                result.failed_hosts.clone()
            }
            _ => Vec::new(),
        };
        loop {
            let mut options = Vec::new();
            if !unfinished.is_empty() {
                options.push(FailureChoice::RetryUnfinished);
            }
            options.push(FailureChoice::Retry);
            if rollback.is_some() {
                options.push(FailureChoice::Rollback);
            }
            options.extend([
                FailureChoice::Skip,
                FailureChoice::GoTo,
                FailureChoice::Escalate,
                FailureChoice::Stop,
            ]);
            let labels: Vec<String> = options.iter().map(|o| o.label(&unfinished)).collect();
            let picked = match self.ask(id, |p| {
                p.select(id, "The step failed. What now?", &labels, None)
            })? {
                Ok(index) => options[index],
                Err(no_answer) => return Ok(AfterFailure::Stop(stop_for(no_answer, id))),
            };
            match picked {
                FailureChoice::Retry => return Ok(AfterFailure::Retry),
                FailureChoice::RetryUnfinished => {
                    self.retry_hosts = Some((id.to_string(), unfinished.clone()));
                    return Ok(AfterFailure::Retry);
                }
                FailureChoice::Skip => {
                    // The failed result stays what `steps.ID` shows.
                    let result = state.steps.get(&step.id.value).cloned();
                    self.finished(
                        state,
                        step,
                        id,
                        Outcome::Skipped,
                        Some("skipped after failure".into()),
                        result.as_ref(),
                    )?;
                    return Ok(AfterFailure::Go(Next::Below));
                }
                FailureChoice::Stop => {
                    return Ok(AfterFailure::Stop(Ending::Failed {
                        step: id.to_string(),
                    }));
                }
                FailureChoice::GoTo => {
                    let ids: Vec<String> = runbook
                        .steps
                        .iter()
                        .map(|s| format!("{} — {}", s.id.value, s.name.value))
                        .collect();
                    match self.ask(id, |p| p.select(id, "Go to which step?", &ids, None))? {
                        Ok(index) => {
                            return Ok(AfterFailure::Go(Next::Step(
                                runbook.steps[index].id.value.clone(),
                            )));
                        }
                        Err(no_answer) => return Ok(AfterFailure::Stop(stop_for(no_answer, id))),
                    }
                }
                FailureChoice::Escalate => {
                    if runbook.contacts.is_empty() {
                        self.screen.warn("this runbook lists no contacts");
                        continue;
                    }
                    let contacts: Vec<String> =
                        runbook.contacts.iter().map(|c| contact_line(c)).collect();
                    for line in &contacts {
                        self.screen.line(&format!("    {line}"));
                    }
                    let picked = self.ask(id, |p| {
                        p.select(id, "Who are you calling?", &contacts, None)
                    })?;
                    match picked {
                        Ok(index) => {
                            let contact = runbook.contacts[index].name.value.clone();
                            self.record(
                                Some(id),
                                Event::Escalated {
                                    contact: contact.clone(),
                                },
                            )?;
                            self.screen
                                .ok(&format!("escalated to {contact} (recorded)"));
                        }
                        Err(no_answer) => return Ok(AfterFailure::Stop(stop_for(no_answer, id))),
                    }
                }
                FailureChoice::Rollback => {
                    let Some(rollback) = &rollback else { continue };
                    let plan = match runner::plan(
                        runbook,
                        state,
                        &self.env,
                        rollback,
                        None,
                        step_timeout(step),
                    ) {
                        Ok(plan) => plan,
                        Err(error) => {
                            self.screen
                                .fail(&format!("the rollback cannot be rendered: {error}"));
                            continue;
                        }
                    };
                    let shown = plan.jobs.first().map(|j| j.shown()).unwrap_or_default();
                    self.screen.command(&plan.target, &shown);
                    match self.ask(id, |p| p.confirm(id, "Run the rollback?"))? {
                        Ok(true) => {
                            self.record(Some(id), Event::Confirmed { command: shown })?;
                            let limits = self.limits(step, rollback, false);
                            let execution = self.execute(
                                runbook, state, &plan, &plan.jobs, rollback, &limits, id,
                            )?;
                            if execution.ok() {
                                self.screen.ok("rollback done");
                            } else {
                                self.screen.fail("the rollback failed");
                            }
                        }
                        Ok(false) => self.record(Some(id), Event::Declined { command: shown })?,
                        Err(no_answer) => return Ok(AfterFailure::Stop(stop_for(no_answer, id))),
                    }
                }
            }
        }
    }
}

/// A command whose templates do not render fails its step.
fn cannot_render(error: String) -> Tried {
    Tried::Failed {
        result: StepResult::default(),
        expected: "the command renders".into(),
        happened: format!("template error: {error}"),
    }
}

enum AfterFailure {
    Retry,
    Go(Next),
    Stop(Ending),
}

#[derive(Debug, Clone, Copy)]
enum FailureChoice {
    RetryUnfinished,
    Retry,
    Rollback,
    Skip,
    GoTo,
    Escalate,
    Stop,
}

impl FailureChoice {
    /// `unfinished`: the hosts a fan-out action failed on or did not start on.
    fn label(self, unfinished: &[String]) -> String {
        match self {
            FailureChoice::RetryUnfinished => format!(
                "Retry on the hosts that failed or did not start: {}",
                unfinished.join(", ")
            ),
            FailureChoice::Retry if !unfinished.is_empty() => "Retry the step on every host".into(),
            FailureChoice::Retry => "Retry the step".into(),
            FailureChoice::Rollback => "Roll back (run the rollback command)".into(),
            FailureChoice::Skip => "Skip it and go on".into(),
            FailureChoice::GoTo => "Go to another step".into(),
            FailureChoice::Escalate => "Escalate: show who to call".into(),
            FailureChoice::Stop => "Stop the run (failed)".into(),
        }
    }
}

/// After a retry on some hosts: the hosts done before stay in the step's result, so
/// `steps.ID.hosts` describes the whole group (`action` keeps their captures the same way).
fn keep_done_hosts(tried: &mut Tried, before: &StepResult) {
    let result = match tried {
        Tried::Passed { result, .. } | Tried::Failed { result, .. } => result,
        _ => return,
    };
    for (host, done) in before.hosts.iter().filter(|(_, h)| h.ok) {
        result
            .hosts
            .entry(host.clone())
            .or_insert_with(|| done.clone());
    }
}

fn stop_for(no_answer: NoAnswer, id: &str) -> Ending {
    match no_answer {
        NoAnswer::Quit => Ending::Paused {
            step: id.to_string(),
        },
        NoAnswer::NeedsHuman { question, .. } => Ending::NeedsHuman {
            step: id.to_string(),
            question,
        },
    }
}

fn step_timeout(step: &Step) -> Duration {
    step.timeout
        .as_ref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}
