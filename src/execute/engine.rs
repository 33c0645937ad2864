//! The engine walks a runbook's steps. Each step goes one way: its `if`, its kind's work
//! (render → plan → run on its targets → judge, in [`super::step`]), the record of how it
//! ended ([`Engine::finish_step`]), then where [`crate::flow`] says it leads — or, when it
//! failed and `on_failure` asks, where the engineer says ([`super::failure_menu`]).

use std::path::PathBuf;
use std::time::Duration;

use minijinja::Environment;

use super::failure_menu::AfterFailure;
use super::prompt::{Asked, NoAnswer, Prompter, Reply};
use super::runner::Runner;
use super::screen::Screen;
use super::state::{RunState, StepResult};
use super::transport::Interrupt;
use crate::Error;
use crate::flow::{self, Next, StepEnd, Target};
use crate::model::{Runbook, Sp, Step, parse_duration};
use crate::timeline::{Event, Outcome, Timeline};

/// The default time limit of one command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How a run (or a sub-procedure) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Resolved,
    Failed {
        step: String,
    },
    /// The engineer chose to stop here (after declining an action).
    Aborted {
        step: String,
    },
    Paused {
        step: String,
    },
    NeedsHuman {
        step: String,
        question: String,
    },
}

/// What one try of a step gave.
pub(crate) enum Tried {
    /// It finished ok; a decision says which choice was picked.
    Finished {
        result: StepResult,
        outcome: Outcome,
        chose: Option<String>,
    },
    Failed {
        result: StepResult,
        expected: String,
        happened: String,
        /// A command of the step ran (so there may be something to roll back).
        ran: bool,
    },
    /// Skipped: by its `if` on a retry, or by the engineer (`ok` is false either way).
    Skipped {
        reason: String,
        ok: bool,
    },
    Stop(Ending),
}

impl Tried {
    /// A step that failed before any of its commands ran.
    pub(crate) fn failed_before_running(expected: &str, happened: String) -> Tried {
        Tried::Failed {
            result: StepResult::default(),
            expected: expected.into(),
            happened,
            ran: false,
        }
    }
}

/// After one step: where to go, or how the run ends.
enum Walked {
    Next(Next),
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
    /// Failed steps the run went past (`on_failure: continue`, or skipped from the failure
    /// menu) and that did not pass later: `run_finished` lists them.
    pub skipped_failures: Vec<String>,
    /// The next run of this action step goes only to these hosts: those that failed or did
    /// not start, after "retry on those hosts" was picked.
    pub(crate) retry_hosts: Option<(String, Vec<String>)>,
    /// How the last step finished: a `wait` right after a rehearsed action is rehearsed too.
    pub(crate) last_outcome: Option<Outcome>,
    /// Whether the last step was an action the engineer declined: a `wait` right after it
    /// looks once instead of polling for what nobody set off.
    pub(crate) last_declined: bool,
    pub(crate) runner: Runner,
    /// Inputs asked only when a step first needs them (see [`super::inputs::can_wait`]).
    pub deferred_inputs: Vec<String>,
    /// Where approvals come from (`confirm: approve`, `approvers: N`).
    pub approval: super::approval::ApprovalSettings,
    /// The runbook's `notify:` requests, sent in the background; `None` sends nothing.
    pub notifier: Option<crate::notify::Notifier>,
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
            skipped_failures: Vec::new(),
            retry_hosts: None,
            last_outcome: None,
            last_declined: false,
            runner,
            deferred_inputs: Vec::new(),
            approval: super::approval::ApprovalSettings::default(),
            notifier: None,
        }
    }

    /// Closes what the run opened (SSH master connections).
    pub fn close(&mut self) {
        self.runner.close();
    }

    pub(crate) fn record(&mut self, step: Option<&str>, event: Event) -> Result<(), Error> {
        // The events `notify:` answers go out in the background once they are on disk.
        let notified = (self.notifier.is_some() && crate::notify::trigger(&event).is_some())
            .then(|| event.clone());
        self.timeline.record(step, event).map_err(Error::from)?;
        if let (Some(notifier), Some(event)) = (&self.notifier, notified) {
            notifier.event(step, &event);
        }
        self.record_notify_failures(None)
    }

    /// Records the notifications that failed so far (waiting up to `flush` for those on
    /// their way), and says so on screen; the run goes on.
    pub(crate) fn record_notify_failures(
        &mut self,
        flush: Option<std::time::Duration>,
    ) -> Result<(), Error> {
        let Some(notifier) = &self.notifier else {
            return Ok(());
        };
        let failures = match flush {
            Some(limit) => notifier.flush(limit),
            None => notifier.failures(),
        };
        for failure in failures {
            self.screen.warn(&format!(
                "notification `{}` ({}) not sent: {}",
                failure.name,
                failure.on.as_str(),
                failure.error
            ));
            self.timeline
                .record(
                    None,
                    Event::NotifyFailed {
                        on: failure.on.as_str().into(),
                        name: failure.name,
                        error: failure.error,
                    },
                )
                .map_err(Error::from)?;
        }
        Ok(())
    }

    /// Asks until answered, writing each note to the timeline.
    pub(crate) fn ask<T>(
        &mut self,
        step: &str,
        mut question: impl FnMut(&mut Prompter) -> Asked<T>,
    ) -> Result<Result<T, NoAnswer>, Error> {
        loop {
            match question(&mut self.prompter) {
                Ok(Reply::Answer(answer)) => return Ok(Ok(answer)),
                Ok(Reply::Note(note)) if note.trim().is_empty() => {}
                Ok(Reply::Note(note)) => {
                    self.record(Some(step), Event::Note { text: note })?;
                    self.screen.info("note recorded");
                }
                Err(no_answer) => return Ok(Err(no_answer)),
            }
        }
    }

    /// Records how a step ended and keeps its result (when given) for the templates of the
    /// steps after it. Every `step_finished` of a run is written here.
    pub(crate) fn finish_step(
        &mut self,
        state: &mut RunState,
        step: &Step,
        id: &str,
        outcome: Outcome,
        reason: Option<String>,
        result: Option<StepResult>,
    ) -> Result<(), Error> {
        if let Some(result) = result {
            state.steps.insert(step.id.value.clone(), result);
        }
        self.last_outcome = Some(outcome);
        // A wait skipped for that reason passes it on to a wait right after it.
        self.last_declined = outcome == Outcome::Skipped
            && matches!(
                reason.as_deref(),
                Some("declined" | super::step::wait::NOT_WAITED)
            );
        // What later steps can read, recorded whole so that `--resume` rebuilds it exactly.
        // A timeline in memory (`runbook test`) is never resumed: nothing to record.
        let recorded = (!self.timeline.is_in_memory()).then(|| {
            let current = state.steps.get(&step.id.value).cloned();
            super::resume::step_state(
                state,
                &step.id.value,
                current.as_ref(),
                self.timeline.masker(),
            )
        });
        self.record(
            Some(id),
            Event::StepFinished {
                outcome,
                reason,
                state: recorded,
            },
        )
    }

    /// Runs the steps of `runbook` from `start`; step ids get `prefix` (for sub-procedures).
    pub fn run_steps(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        prefix: &str,
        start: usize,
    ) -> Result<Ending, Error> {
        let mut index = start;
        while index < runbook.steps.len() {
            let id = format!("{prefix}{}", runbook.steps[index].id.value);
            if self.interrupt.is_set() {
                return Ok(Ending::Paused { step: id });
            }
            let next = match self.walk(runbook, state, prefix, index, &id)? {
                Walked::Next(next) => next,
                Walked::Stop(ending) => return Ok(ending),
            };
            index = match flow::target(&runbook.steps, index, &next) {
                Some(Target::Step(to)) => to,
                Some(Target::End) => return Ok(Ending::Resolved),
                None => {
                    let named = match &next {
                        Next::Step(target) => target.as_str(),
                        _ => "?",
                    };
                    self.screen.fail(&format!("no step `{named}` to go to"));
                    return Ok(Ending::Failed { step: id });
                }
            };
        }
        Ok(Ending::Resolved)
    }

    /// One step, from its header to where it leads.
    fn walk(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        prefix: &str,
        index: usize,
        id: &str,
    ) -> Result<Walked, Error> {
        let step = &runbook.steps[index];
        let total = runbook.steps.len();
        let name = format!("{prefix}{}", step.name.value);
        // An input asked when first needed: the step's header first, then the question.
        let mut header_shown = false;
        if prefix.is_empty() && !self.inputs_wanted_by(state, step).is_empty() {
            self.screen
                .step_header(index + 1, total, &name, step.kind().as_str());
            header_shown = true;
            if let Some(ending) = self.ask_inputs_of(runbook, state, step, id)? {
                return Ok(Walked::Stop(ending));
            }
        }
        let condition = self.condition(runbook, state, step);
        if let Ok(Some(reason)) = &condition {
            if !header_shown {
                self.screen.step_header(index + 1, total, &name, "skipped");
            }
            // A step skipped by its `if` neither passed nor was done: not `ok` (its outcome
            // says `skipped`).
            self.skip(state, step, id, reason.clone(), false)?;
            return Ok(Walked::Next(flow::next(step, StepEnd::Skipped)));
        }
        let kind = step.kind();
        if !header_shown {
            self.screen
                .step_header(index + 1, total, &name, kind.as_str());
        }
        self.start_step(step, id)?;
        let mut tried = match condition {
            Err(error) => cannot_evaluate(step, error),
            Ok(_) => self.attempt(runbook, state, step, id, true)?,
        };
        loop {
            match tried {
                Tried::Finished {
                    result,
                    outcome,
                    chose,
                } => {
                    self.finish_step(state, step, id, outcome, None, Some(result))?;
                    self.skipped_failures.retain(|s| s != id);
                    let end = chose.as_deref().map_or(StepEnd::Ok, StepEnd::Chose);
                    return Ok(Walked::Next(flow::next(step, end)));
                }
                Tried::Skipped { reason, ok } => {
                    self.skip(state, step, id, reason, ok)?;
                    return Ok(Walked::Next(flow::next(step, StepEnd::Skipped)));
                }
                Tried::Stop(ending) => return Ok(Walked::Stop(ending)),
                Tried::Failed {
                    result,
                    expected,
                    happened,
                    ran,
                } => {
                    self.finish_step(
                        state,
                        step,
                        id,
                        Outcome::Failed,
                        Some(happened.clone()),
                        Some(result),
                    )?;
                    // Who to call when the engineer decides what now; not on a step the
                    // runbook goes on past.
                    let asks = matches!(flow::next(step, StepEnd::Failed), Next::AskEngineer);
                    let contacts = if asks { &runbook.contacts[..] } else { &[] };
                    self.screen.failure(&expected, &happened, contacts);
                    let next = match flow::next(step, StepEnd::Failed) {
                        Next::AskEngineer => {
                            match self.failure_menu(runbook, state, step, id, ran)? {
                                AfterFailure::Retry => {
                                    self.start_step(step, id)?;
                                    tried = self.attempt(runbook, state, step, id, false)?;
                                    continue;
                                }
                                AfterFailure::Go(next) => next,
                                AfterFailure::Stop(ending) => {
                                    return Ok(Walked::Stop(ending));
                                }
                            }
                        }
                        Next::Stop => {
                            return Ok(Walked::Stop(Ending::Failed {
                                step: id.to_string(),
                            }));
                        }
                        next => {
                            if step.on_failure.as_ref().map(|p| p.as_str()) == Some("continue") {
                                self.skipped_past(id);
                            }
                            next
                        }
                    };
                    return Ok(Walked::Next(next));
                }
            }
        }
    }

    /// The step's `if`: `Ok(None)` runs it, `Ok(Some(reason))` skips it; an expression that
    /// cannot be evaluated is an error, which fails the step ([`cannot_evaluate`]), not the
    /// run.
    fn condition(
        &self,
        runbook: &Runbook,
        state: &RunState,
        step: &Step,
    ) -> Result<Option<String>, String> {
        let Some(condition) = &step.condition else {
            return Ok(None);
        };
        match state.condition(runbook, &self.env, condition) {
            Ok(true) => Ok(None),
            Ok(false) => Ok(Some(format!("`if: {}` is false", condition.value))),
            Err(error) => Err(error),
        }
    }

    fn start_step(&mut self, step: &Step, id: &str) -> Result<(), Error> {
        self.runner.forget_outputs();
        self.record(
            Some(id),
            Event::StepStarted {
                kind: step.kind().as_str().into(),
                name: step.name.value.clone(),
            },
        )
    }

    /// One try of a step: its instructions, then its kind's work. A retry evaluates the
    /// step's `if` again, since what it looks at may have changed.
    fn attempt(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
        first: bool,
    ) -> Result<Tried, Error> {
        if !first {
            match self.condition(runbook, state, step) {
                Ok(None) => {}
                Ok(Some(reason)) => return Ok(Tried::Skipped { reason, ok: false }),
                Err(error) => return Ok(cannot_evaluate(step, error)),
            }
        }
        if let Some(instructions) = &step.instructions {
            match super::screen::render_shown(state, runbook, &self.env, instructions) {
                Ok(text) if first => self.screen.text_block(&text),
                Ok(_) => {}
                Err(error) => {
                    return Ok(Tried::failed_before_running(
                        "the instructions render",
                        format!("template error: {error}"),
                    ));
                }
            }
        }
        self.try_kind(runbook, state, step, id)
    }

    /// Shows and records a skipped step, and keeps its result for templates.
    fn skip(
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
        self.finish_step(
            state,
            step,
            id,
            Outcome::Skipped,
            Some(reason),
            Some(result),
        )
    }

    /// The run goes on past failed step `id`.
    pub(crate) fn skipped_past(&mut self, id: &str) {
        if !self.skipped_failures.iter().any(|s| s == id) {
            self.skipped_failures.push(id.to_string());
        }
    }
}

/// A step whose `if` cannot be evaluated fails.
fn cannot_evaluate(step: &Step, error: String) -> Tried {
    let condition = step.condition.as_ref().map_or("", |c| c.as_str());
    Tried::failed_before_running(
        &format!("`if: {condition}` evaluates to true or false"),
        format!("cannot evaluate `if`: {error}"),
    )
}

/// The run pauses at `id` (quit, Ctrl-C), or needs a person who is not there.
pub(crate) fn stop_for(no_answer: NoAnswer, id: &str) -> Ending {
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

/// The time limit of one command of `step`.
pub(crate) fn step_timeout(step: &Step) -> Duration {
    step.timeout
        .as_ref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}
