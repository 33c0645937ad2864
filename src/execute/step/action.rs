//! An action: shown in full (command, targets, rollback or why there is none), confirmed —
//! declining opens a menu, a mistyped confirmation asks again —, then run on its targets, a
//! canary first when it has one.

use crate::Error;
use crate::execute::engine::{Ending, Engine, Tried, step_timeout, stop_for};
use crate::execute::prompt::Declined;
use crate::execute::runner;
use crate::execute::state::{RunState, StepResult};
use crate::model::{Confirm, ConfirmWord, Runbook, Sp, Step};
use crate::timeline::{Event, Outcome};

/// How the engineer confirms: y/N, or by typing this text.
enum Confirmation {
    YesNo,
    Typed(String),
}

/// What the engineer decided about running the action.
enum Decided {
    Run,
    Skip,
    Stop,
    NoAnswer(crate::execute::prompt::NoAnswer),
}

impl Engine {
    pub(crate) fn action(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let action = step.action.as_ref().expect("an action step has an action");
        let key = step.id.value.as_str();
        let mut plan =
            match runner::plan(runbook, state, &self.env, action, None, step_timeout(step)) {
                Ok(plan) => plan,
                Err(error) => return Ok(super::cannot_render(error)),
            };
        let target = plan.target.clone();
        let confirmation = match action.confirm.as_ref().map(|c| &c.value) {
            None
            | Some(Confirm::Word(ConfirmWord::Yes))
            | Some(Confirm::Word(ConfirmWord::Approve)) => Confirmation::YesNo,
            Some(Confirm::Word(ConfirmWord::Type)) => Confirmation::Typed(target.clone()),
            Some(Confirm::Text { text }) => {
                match state.render(runbook, &self.env, text, false, None) {
                    Ok(text) => Confirmation::Typed(text),
                    Err(error) => {
                        return Ok(Tried::failed_before_running(
                            "the confirmation text renders",
                            format!("template error: {error}"),
                        ));
                    }
                }
            }
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
            let captured: Vec<(String, serde_json::Value)> = action
                .capture
                .as_ref()
                .map(|c| c.names(c.pos))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|name| Some((name.value.clone(), state.vars.get(&name.value)?.clone())))
                .collect();
            Some((state.steps.get(key).cloned()?, captured))
        });
        let hosts: Vec<&str> = plan.jobs.iter().map(|j| j.host()).collect();
        // Whether it can be undone: a one-line rollback as it is, a longer one shown in full
        // by the failure menu before it runs.
        let rollback = action
            .rollback
            .as_ref()
            .and_then(|rollback| rollback.run.as_ref())
            .map(|run| {
                let rendered = state
                    .render(runbook, &self.env, run, true, None)
                    .unwrap_or_else(|_| run.value.clone());
                match rendered.trim().lines().count() {
                    0 | 1 => Some(format!("rollback if it fails: {}", rendered.trim())),
                    _ => None,
                }
            });
        let has_rollback = action.rollback.is_some();
        if plan.fan_out {
            self.screen.action_line(
                "This action changes ",
                &target,
                &format!(
                    " ({} host{}: {}). It will run:",
                    hosts.len(),
                    if hosts.len() == 1 { "" } else { "s" },
                    hosts.join(", ")
                ),
            );
        } else {
            self.screen
                .action_line("This action changes ", &target, ". It will run:");
        }
        let first = plan.jobs.first().map(|j| j.shown()).unwrap_or_default();
        let differ = plan.jobs.iter().any(|j| j.shown() != first);
        // A loop shows what runs for each item (the first few, and how many in all); what is
        // confirmed, and recorded as confirmed, is every command that will run.
        let shown = if plan.each && differ {
            self.show_each(&plan);
            plan.jobs
                .iter()
                .map(|j| format!("[{}] {}", j.host(), j.shown()))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            self.screen.command(&target, &first);
            if differ {
                self.screen.info(&format!(
                    "(as rendered for {}; each host gets its own)",
                    hosts.first().copied().unwrap_or_default()
                ));
            }
            first
        };
        if let Some(Some(rollback)) = &rollback {
            self.screen.info_hanging(rollback);
        }
        if let Some(why) = &action.irreversible {
            self.screen
                .warn(&format!("this cannot be undone: {}", why.value));
        }
        if self.settings.rehearse {
            self.screen.warn("rehearsal: not run");
            return Ok(Tried::Finished {
                result: StepResult {
                    ok: true,
                    outcome: "rehearsed".into(),
                    ..StepResult::default()
                },
                outcome: Outcome::Rehearsed,
                chose: None,
            });
        }
        let interactive = action.is_interactive();
        // Under `runbook test` the session is scripted like any command: no terminal needed.
        if interactive && !self.prompter.is_interactive() && !self.runner.is_scripted() {
            self.screen
                .fail("this action is interactive: it needs a person at a terminal");
            return Ok(Tried::Stop(Ending::NeedsHuman {
                step: id.to_string(),
                question: "an interactive command needs a terminal".into(),
            }));
        }
        let question = if plan.each {
            format!(
                "Run it for {} item{} on {target}?",
                plan.jobs.len(),
                if plan.jobs.len() == 1 { "" } else { "s" }
            )
        } else if has_rollback && !matches!(rollback, Some(Some(_))) {
            // A rollback too long for a line is said in the question, and shown in full by
            // the failure menu before it runs.
            format!("Run it on {target}? (a rollback is offered if it fails)")
        } else {
            format!("Run it on {target}?")
        };
        match self.decide(id, &question, &confirmation)? {
            Decided::Run => {
                if self.prompter.yes() {
                    self.screen.info("confirmed by --yes");
                }
                // Another engineer's signed approval; `--yes` never gives it.
                let needed = action.approvals_needed();
                if needed > 0
                    && let Err(tried) = self.await_approvals(id, &shown, needed)?
                {
                    return Ok(tried);
                }
                self.record(
                    Some(id),
                    Event::Confirmed {
                        command: shown.clone(),
                    },
                )?;
            }
            Decided::Skip => {
                self.record(Some(id), Event::Declined { command: shown })?;
                return Ok(Tried::Skipped {
                    reason: "declined".into(),
                    ok: false,
                });
            }
            Decided::Stop => {
                self.record(Some(id), Event::Declined { command: shown })?;
                return Ok(Tried::Stop(Ending::Aborted {
                    step: id.to_string(),
                }));
            }
            Decided::NoAnswer(no_answer) => return Ok(Tried::Stop(stop_for(no_answer, id))),
        }
        if interactive && let Some(job) = plan.jobs.first() {
            return self.session(step, id, job, &shown);
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
            if self.interrupted(&execution) {
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
            for (name, before) in captured {
                if let serde_json::Value::Object(before) = before
                    && let Some(serde_json::Value::Object(now)) = state.vars.get_mut(&name)
                {
                    for (host, text) in before {
                        let done = result.hosts.get(&host).is_some_and(|h| h.ok);
                        if done {
                            now.entry(host).or_insert(text);
                        }
                    }
                }
            }
        }
        Ok(tried)
    }

    /// The commands of a `for_each`, one per item: the first few, then how many more.
    fn show_each(&self, plan: &runner::Plan) {
        const SHOWN: usize = 5;
        for job in plan.jobs.iter().take(SHOWN) {
            self.screen
                .command(&format!("{} · {}", plan.target, job.host()), &job.shown());
        }
        if plan.jobs.len() > SHOWN {
            self.screen.info(&format!(
                "… and {} more, one per item ({} in all): {}",
                plan.jobs.len() - SHOWN,
                plan.jobs.len(),
                plan.jobs[SHOWN..]
                    .iter()
                    .map(|j| j.host())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    /// An `interactive` action: the terminal goes to the command; its start, end and exit are
    /// recorded, not its output.
    fn session(
        &mut self,
        step: &Sp<Step>,
        id: &str,
        job: &runner::Job,
        shown: &str,
    ) -> Result<Tried, Error> {
        let host = match job {
            runner::Job::Shell { destination, .. } => destination.place().name().to_string(),
            runner::Job::Http { host, .. } => host.clone(),
        };
        self.record(
            Some(id),
            Event::SessionStarted {
                host: host.clone(),
                command: shown.to_string(),
            },
        )?;
        self.screen.info(&format!(
            "the terminal is yours on {host}; leave the session to go on"
        ));
        let end = self.runner.session_of(id, job);
        self.record(
            Some(id),
            Event::SessionEnded {
                host: host.clone(),
                exit: end.exit,
                duration_ms: runner::millis(end.duration),
                error: end.error.clone(),
            },
        )?;
        let expected = step
            .action
            .as_ref()
            .and_then(|a| a.expect.as_ref())
            .and_then(|e| e.exit.as_ref())
            .map_or(0, |e| e.value);
        let result = StepResult {
            ok: end.error.is_none() && end.exit == Some(expected),
            outcome: "done".into(),
            exit: end.exit,
            duration_ms: runner::millis(end.duration),
            ..StepResult::default()
        };
        let happened = match (&end.error, end.exit) {
            (Some(error), _) => error.clone(),
            (None, Some(code)) => format!("exit {code}"),
            (None, None) => "killed by a signal".into(),
        };
        if result.ok {
            self.screen.ok(&format!("session ended: {happened}"));
            Ok(Tried::Finished {
                result,
                outcome: Outcome::Done,
                chose: None,
            })
        } else {
            Ok(Tried::Failed {
                result: StepResult {
                    outcome: "failed".into(),
                    ..result
                },
                expected: format!("the session ends with exit {expected}"),
                happened: format!("the session ended with {happened}"),
                ran: true,
            })
        }
    }

    /// Asks until the engineer decides. No (Enter at y/N, or an empty typed answer) opens a
    /// menu — run it after all, skip it, stop here — so that a slip never moves on silently;
    /// a mistyped word asks again (the prompter sees to that).
    fn decide(
        &mut self,
        id: &str,
        question: &str,
        confirmation: &Confirmation,
    ) -> Result<Decided, Error> {
        loop {
            let answer = match confirmation {
                Confirmation::YesNo => self.ask(id, |p| p.confirm(id, question))?,
                Confirmation::Typed(expected) => {
                    self.ask(id, |p| p.confirm_typed(id, question, expected))?
                }
            };
            match answer {
                Ok(true) => return Ok(Decided::Run),
                Ok(false) => {}
                Err(no_answer) => return Ok(Decided::NoAnswer(no_answer)),
            }
            match self.ask(id, |p| p.declined(id))? {
                // Typed confirmations are typed: back to the question.
                Ok(Declined::RunAfterAll) if matches!(confirmation, Confirmation::Typed(_)) => {}
                Ok(Declined::RunAfterAll) => return Ok(Decided::Run),
                Ok(Declined::Skip) => return Ok(Decided::Skip),
                Ok(Declined::Stop) => return Ok(Decided::Stop),
                Err(no_answer) => return Ok(Decided::NoAnswer(no_answer)),
            }
        }
    }
}

/// After a retry on some hosts: the hosts done before stay in the step's result, so
/// `steps.ID.hosts` describes the whole group (their captures are kept the same way).
fn keep_done_hosts(tried: &mut Tried, before: &StepResult) {
    let result = match tried {
        Tried::Finished { result, .. } | Tried::Failed { result, .. } => result,
        _ => return,
    };
    for (host, done) in before.hosts.iter().filter(|(_, h)| h.ok) {
        result
            .hosts
            .entry(host.clone())
            .or_insert_with(|| done.clone());
    }
}
