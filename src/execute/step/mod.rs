//! What each kind of step does, one file per kind: [`manual`], [`check`], [`action`],
//! [`decision`], [`wait`] and [`sub_procedure`]. Each returns a [`Tried`]; the engine
//! records it and follows the flow. What commands share — their limits, running them on
//! their targets and judging the outcome — is here.

mod action;
mod check;
mod decision;
mod manual;
mod sub_procedure;
pub(crate) mod wait;

use std::time::{Duration, Instant};

use super::engine::{Ending, Engine, Tried, step_timeout};
use super::judge;
use super::runner::{self, Execution, Limits, Output};
use super::state::RunState;
use crate::Error;
use crate::model::{Command, Runbook, Sp, Step, StepKind};
use crate::timeline::Outcome;

/// How long a command killed by a signal waits for the interrupt flag: the signal that
/// killed it (Ctrl-C, SIGTERM to the group) may reach this process a moment later.
const SIGNAL_GRACE: Duration = Duration::from_millis(250);

impl Engine {
    /// The work of the step's kind.
    pub(crate) fn try_kind(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        match step.kind() {
            StepKind::Manual => self.manual(runbook, state, step, id),
            StepKind::Check => self.check(runbook, state, step, id),
            StepKind::Action => self.action(runbook, state, step, id),
            StepKind::Ask => self.decision(runbook, state, step, id),
            StepKind::Wait => self.wait(runbook, state, step, id),
            StepKind::Uses => self.sub_procedure(runbook, state, step, id),
        }
    }

    /// The time limit, parallelism and failure budget of a step's command.
    pub(crate) fn limits(&self, step: &Step, command: &Command, action: bool) -> Limits {
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
            each_command: !action,
        }
    }

    /// Runs jobs of a plan on their targets, judging each host's output.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn execute(
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
        let reads = |output: &Output| judge::that_read(runbook, state, env, command, output);
        self.runner.execute(
            plan,
            jobs,
            limits,
            &judge,
            &reads,
            &mut self.timeline,
            &self.screen,
            id,
        )
    }

    /// Whether the run is being interrupted under this execution: a command stopped by
    /// Ctrl-C, or one that failed — killed by a signal, most often the same Ctrl-C or SIGTERM
    /// sent to its whole group — while (or just before) the interrupt flag was set. Such a
    /// step is not failed: the run pauses, and resuming runs it again.
    pub(crate) fn interrupted(&self, execution: &Execution) -> bool {
        if execution.interrupted() {
            return true;
        }
        if execution.ok() {
            return false;
        }
        let killed = execution.runs.iter().any(|run| {
            matches!(&run.output, Output::Shell(o)
                if o.exit.is_none() && o.error.is_none() && !o.timed_out)
        });
        let until = Instant::now() + if killed { SIGNAL_GRACE } else { Duration::ZERO };
        loop {
            if self.interrupt.is_set() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A step's verdict from its command's execution; keeps the capture.
    pub(crate) fn conclude(
        &mut self,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
        command: &Command,
        execution: &Execution,
    ) -> Tried {
        if self.interrupted(execution) {
            return Tried::Stop(Ending::Paused {
                step: id.to_string(),
            });
        }
        super::capture::keep(state, command, execution);
        let result = execution.step_result();
        let ran = !execution.runs.is_empty();
        match execution.failure() {
            None if execution.ok() => Tried::Finished {
                result,
                outcome: if step.action.is_some() {
                    Outcome::Done
                } else {
                    Outcome::Passed
                },
                chose: None,
            },
            None => Tried::Failed {
                result,
                expected: "every host runs".into(),
                happened: format!("not started: {}", execution.not_started.join(", ")),
                ran,
            },
            Some((expected, happened)) => Tried::Failed {
                result,
                expected,
                happened,
                ran,
            },
        }
    }
}

/// A command whose templates do not render fails its step.
fn cannot_render(error: String) -> Tried {
    Tried::failed_before_running("the command renders", format!("template error: {error}"))
}
