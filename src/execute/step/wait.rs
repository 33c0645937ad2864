//! A wait: runs its `until` check every interval until it passes or the time is up, with a
//! countdown between tries. In a rehearsal, a wait right after a rehearsed action runs once:
//! what it waits for was never set off. Right after an action the engineer declined, a wait
//! looks once: passed if what it checks is already true, else skipped (not waited, not
//! failed) — polling to its timeout (an hour in some runbooks) waits for nothing. Under
//! `runbook test` no time passes: the tries are made at once, and a pause ends at once.

use std::time::{Duration, Instant};

use crate::Error;
use crate::execute::engine::{Ending, Engine, Tried, step_timeout};
use crate::execute::runner;
use crate::execute::screen::human_duration;
use crate::execute::state::{RunState, StepResult};
use crate::model::{Runbook, Sp, Step, Wait, parse_duration};
use crate::timeline::Outcome;

/// Why a wait right after a declined action (or after such a wait) was skipped.
pub(crate) const NOT_WAITED: &str = "not waited: the action before was declined";

const DEFAULT_WAIT_EVERY: Duration = Duration::from_secs(10);
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);

impl Engine {
    pub(crate) fn wait(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let wait = step.wait.as_ref().expect("a wait step has a wait");
        let Some(until) = &wait.until else {
            return self.pause(wait, id);
        };
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
        let plan = match runner::plan(runbook, state, &self.env, until, None, timeout) {
            Ok(plan) => plan,
            Err(error) => return Ok(super::cannot_render(error)),
        };
        let rehearsed = self.settings.rehearse && self.last_outcome == Some(Outcome::Rehearsed);
        let declined = !rehearsed && self.last_declined;
        if rehearsed {
            self.screen
                .warn("rehearsal: the action before was not run, so this wait runs once, unpolled");
        } else if declined {
            self.screen
                .warn("the action before was declined, so this wait looks once, unpolled");
        } else {
            self.screen.info(&format!(
                "every {}, for at most {}:",
                human_duration(every),
                human_duration(limit)
            ));
        }
        if let Some(job) = plan.jobs.first() {
            self.screen.command(&plan.target, &job.shown());
        }
        let started = Instant::now();
        // A scripted run (`runbook test`) keeps time on a clock of its own: no try sleeps, and
        // the tries, their outcomes (consumed in order) and the give-up are those of a real run.
        let scripted = self.runner.is_scripted();
        let mut waited = Duration::ZERO;
        let elapsed = |waited: Duration| {
            if scripted { waited } else { started.elapsed() }
        };
        let mut limits = self.limits(step, until, false);
        limits.timeout = timeout;
        let mut tries = 0;
        loop {
            tries += 1;
            let execution = self.execute(runbook, state, &plan, &plan.jobs, until, &limits, id)?;
            if rehearsed && !self.interrupted(&execution) {
                return Ok(Tried::Finished {
                    result: StepResult {
                        ok: true,
                        outcome: "rehearsed".into(),
                        ..execution.step_result()
                    },
                    outcome: Outcome::Rehearsed,
                    chose: None,
                });
            }
            if execution.ok() || self.interrupted(&execution) {
                if execution.ok() {
                    self.screen.ok(&format!(
                        "passed after {tries} tr{} ({})",
                        if tries == 1 { "y" } else { "ies" },
                        human_duration(elapsed(waited))
                    ));
                }
                return Ok(self.conclude(state, step, id, until, &execution));
            }
            if declined {
                return Ok(Tried::Skipped {
                    reason: NOT_WAITED.into(),
                    ok: false,
                });
            }
            // A real try takes a moment, so the try that would fall exactly on the limit is
            // never made; the scripted clock, where tries take no time, says so with `>=`.
            let gives_up = if scripted {
                waited + every >= limit
            } else {
                started.elapsed() + every > limit
            };
            if gives_up {
                self.screen
                    .fail(&format!("still failing after {tries} tries"));
                return Ok(match self.conclude(state, step, id, until, &execution) {
                    Tried::Failed {
                        result,
                        expected,
                        happened,
                        ran,
                    } => Tried::Failed {
                        result,
                        expected,
                        happened: format!("{happened} (gave up after {})", human_duration(limit)),
                        ran,
                    },
                    other => other,
                });
            }
            if scripted {
                waited += every;
                continue;
            }
            // Countdown to the next try, watching for Ctrl-C.
            let spinner = self.screen.countdown();
            let until = Instant::now() + every;
            while Instant::now() < until {
                if self.interrupt.is_set() {
                    spinner.finish_and_clear();
                    return Ok(Tried::Stop(Ending::Paused {
                        step: id.to_string(),
                    }));
                }
                let now = Instant::now();
                // Whole seconds: a countdown that reads `8.5s 0s` helps nobody.
                let left = limit.saturating_sub(started.elapsed());
                spinner.set_message(format!(
                    "try {tries} failed; next try in {}s · gives up in {}",
                    until.saturating_duration_since(now).as_secs() + 1,
                    human_duration(Duration::from_secs(left.as_secs()))
                ));
                std::thread::sleep(
                    Duration::from_millis(50).min(until.saturating_duration_since(now)),
                );
            }
            spinner.finish_and_clear();
        }
    }

    /// `wait: {for: DURATION}`: a pause with a countdown, no check; Ctrl-C pauses the run.
    /// In a rehearsal right after a rehearsed action, or right after a declined one, it is
    /// shown, not waited.
    fn pause(&mut self, wait: &Wait, id: &str) -> Result<Tried, Error> {
        let length = wait
            .pause
            .as_ref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or_default();
        let finished = |outcome: Outcome, text: &str| Tried::Finished {
            result: StepResult {
                ok: true,
                outcome: text.into(),
                ..StepResult::default()
            },
            outcome,
            chose: None,
        };
        if self.settings.rehearse && self.last_outcome == Some(Outcome::Rehearsed) {
            self.screen.warn(&format!(
                "rehearsal: the action before was not run, so this {} pause is not waited",
                human_duration(length)
            ));
            return Ok(finished(Outcome::Rehearsed, "rehearsed"));
        }
        if self.last_declined {
            self.screen.warn(&format!(
                "the action before was declined, so this {} pause is not waited",
                human_duration(length)
            ));
            return Ok(Tried::Skipped {
                reason: NOT_WAITED.into(),
                ok: false,
            });
        }
        self.screen
            .info(&format!("pausing for {}", human_duration(length)));
        let spinner = self.screen.spinner("");
        // A scripted run (`runbook test`) does not sleep: the pause ends at once, as it would
        // after its length.
        let until = Instant::now()
            + if self.runner.is_scripted() {
                Duration::ZERO
            } else {
                length
            };
        loop {
            if self.interrupt.is_set() {
                spinner.finish_and_clear();
                return Ok(Tried::Stop(Ending::Paused {
                    step: id.to_string(),
                }));
            }
            let now = Instant::now();
            let left = until.saturating_duration_since(now);
            if left.is_zero() {
                break;
            }
            spinner.set_message(format!("{} left (Ctrl-C pauses the run)", countdown(left)));
            std::thread::sleep(Duration::from_millis(50).min(left));
        }
        spinner.finish_and_clear();
        self.screen
            .ok(&format!("paused for {}", human_duration(length)));
        Ok(finished(Outcome::Passed, "passed"))
    }
}

/// `1:05` left, `0:09` left: whole seconds, rounded up.
fn countdown(left: Duration) -> String {
    let seconds = left.as_millis().div_ceil(1000);
    format!("{}:{:02}", seconds / 60, seconds % 60)
}
