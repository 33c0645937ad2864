//! A decision: a menu of choices, each leading somewhere, or free text kept in `vars`.

use crate::Error;
use crate::execute::engine::{Engine, Tried, stop_for};
use crate::execute::state::{RunState, StepResult};
use crate::model::{Runbook, Sp, Step};
use crate::timeline::{Event, Outcome};

impl Engine {
    pub(crate) fn decision(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let ask = step.ask.as_ref().expect("an ask step has an ask");
        let question = match state.render(runbook, &self.env, &ask.question, false, None) {
            Ok(question) => question,
            Err(error) => {
                return Ok(Tried::failed_before_running(
                    "the question renders",
                    format!("template error: {error}"),
                ));
            }
        };
        let done = |answer: String, chose: Option<String>| Tried::Finished {
            result: StepResult {
                ok: true,
                outcome: "done".into(),
                answer: Some(answer),
                ..StepResult::default()
            },
            outcome: Outcome::Done,
            chose,
        };
        if let Some(choices) = &ask.choices {
            let labels: Vec<String> = choices.iter().map(|c| c.label.value.clone()).collect();
            let index = match self.ask(id, |p| p.select(id, &question, &labels, None))? {
                Ok(index) => index,
                Err(no_answer) => return Ok(Tried::Stop(stop_for(no_answer, id))),
            };
            let label = labels[index].clone();
            self.record(
                Some(id),
                Event::Answer {
                    choice: Some(label.clone()),
                    value: None,
                },
            )?;
            // At a terminal the menu leaves its answer on the screen; a flag's answer is shown.
            if !self.prompter.is_interactive() || self.prompter.answered_by_flag(id) {
                self.screen.ok(&format!("answer: {label}"));
            }
            return Ok(done(label.clone(), Some(label)));
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
        Ok(done(value, None))
    }
}
