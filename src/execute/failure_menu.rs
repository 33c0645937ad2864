//! The failure menu (`on_failure: ask` at a terminal): retry (on every host, or on the hosts
//! that did not finish), roll back (an action that ran), skip, go to a step, escalate, stop.
//! A skip is remembered as a skipped failure; a jump is recorded as a `jumped` event.

use super::engine::{Ending, Engine, step_timeout, stop_for};
use super::runner;
use super::screen::contact_line;
use super::state::RunState;
use crate::Error;
use crate::flow::{self, Next, StepEnd};
use crate::model::{Runbook, Sp, Step};
use crate::timeline::{Event, Outcome};

/// The failure menu's last entry, when a command of the step ran.
const SHOW_OUTPUT: &str = "▤ Show the whole output of this step ($PAGER), then back here";

/// What the engineer picked.
pub(crate) enum AfterFailure {
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
    /// `unfinished`: the hosts a fan-out action failed on or did not start on; `skip_to`:
    /// where a skip leads. Each label says where the choice leads.
    fn label(self, unfinished: &[String], skip_to: &str) -> String {
        match self {
            FailureChoice::RetryUnfinished => format!(
                "Retry on the hosts that failed or did not start: {}",
                unfinished.join(", ")
            ),
            FailureChoice::Retry if !unfinished.is_empty() => {
                "Retry the step on every host → runs it again".into()
            }
            FailureChoice::Retry => "Retry the step → runs it again".into(),
            FailureChoice::Rollback => {
                "Roll back → shows the rollback command and asks, then back here".into()
            }
            FailureChoice::Skip => format!("Skip it and go on → {skip_to}"),
            FailureChoice::GoTo => "Go to another step → pick which".into(),
            FailureChoice::Escalate => {
                "Escalate → pick who you call (recorded), then back here".into()
            }
            FailureChoice::Stop => "Stop the run → it ends, failed".into(),
        }
    }
}

impl Engine {
    /// Asks what to do about failed step `id`; `ran`: a command of it ran, so a rollback
    /// has something to undo.
    pub(crate) fn failure_menu(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
        ran: bool,
    ) -> Result<AfterFailure, Error> {
        if !self.prompter.is_interactive() {
            self.screen
                .info("no terminal: the run stops here (`on_failure: ask` acts as `stop`)");
            return Ok(AfterFailure::Stop(Ending::Failed {
                step: id.to_string(),
            }));
        }
        // A rollback runs where its action ran unless it says otherwise.
        let rollback = step.action.as_ref().filter(|_| ran).and_then(|action| {
            action.rollback.as_ref().map(|rollback| {
                let mut effective = rollback.value.clone();
                if effective.on.is_none() {
                    effective.on = action.on.clone();
                }
                effective
            })
        });
        // After a fan-out action that went through on some hosts: retrying on the others only.
        let unfinished: Vec<String> = match (step.action.is_some(), state.steps.get(&step.id.value))
        {
            (true, Some(result)) if result.hosts.values().any(|h| h.ok) => {
                result.failed_hosts.clone()
            }
            _ => Vec::new(),
        };
        let skip_to = match flow::next(step, StepEnd::Skipped) {
            Next::Step(to) => format!("goes on to step {to}"),
            Next::End => "ends the run (resolved)".into(),
            _ => match runbook
                .steps
                .iter()
                .position(|s| s.id.value == step.id.value)
            {
                Some(at) if at + 1 < runbook.steps.len() => {
                    format!("goes on to step {}", runbook.steps[at + 1].id.value)
                }
                _ => "ends the run (resolved)".into(),
            },
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
            let labels: Vec<String> = options
                .iter()
                .map(|o| o.label(&unfinished, &skip_to))
                .collect();
            // The whole output, on demand: last in the menu, so that the entries above keep
            // their places.
            let outputs = self.runner.outputs_text();
            let more = if outputs.is_empty() {
                Vec::new()
            } else {
                vec![SHOW_OUTPUT.to_string()]
            };
            let picked = match self.ask(id, |p| {
                p.select_more(id, "The step failed. What now?", &labels, None, &more)
            })? {
                Ok(index) if index >= options.len() => {
                    self.screen.page(&outputs);
                    continue;
                }
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
                    self.finish_step(
                        state,
                        step,
                        id,
                        Outcome::Skipped,
                        Some("skipped after failure".into()),
                        None,
                    )?;
                    self.skipped_past(id);
                    return Ok(AfterFailure::Go(flow::next(step, StepEnd::Skipped)));
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
                            let to = runbook.steps[index].id.value.clone();
                            self.record(Some(id), Event::Jumped { to: to.clone() })?;
                            return Ok(AfterFailure::Go(Next::Step(to)));
                        }
                        Err(no_answer) => return Ok(AfterFailure::Stop(stop_for(no_answer, id))),
                    }
                }
                FailureChoice::Escalate => {
                    if runbook.contacts.is_empty() {
                        self.screen.warn("this runbook lists no contacts");
                        continue;
                    }
                    // Listed once, in the menu itself.
                    let contacts: Vec<String> =
                        runbook.contacts.iter().map(|c| contact_line(c)).collect();
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
                    let in_full = plan.jobs.first().map(super::runner::Job::shown);
                    self.screen
                        .command(&plan.target, &in_full.unwrap_or_default());
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
