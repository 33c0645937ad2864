//! A manual step: the engineer does what the instructions say, then says done (or skips it).

use crate::Error;
use crate::execute::engine::{Engine, Tried, stop_for};
use crate::execute::state::StepResult;
use crate::timeline::Outcome;

impl Engine {
    pub(crate) fn manual(&mut self, id: &str) -> Result<Tried, Error> {
        Ok(match self.ask(id, |p| p.manual(id))? {
            Ok(true) => Tried::Finished {
                result: StepResult {
                    ok: true,
                    outcome: "done".into(),
                    ..StepResult::default()
                },
                outcome: Outcome::Done,
                chose: None,
            },
            Ok(false) => Tried::Skipped {
                reason: "skipped by the engineer".into(),
                ok: false,
            },
            Err(no_answer) => Tried::Stop(stop_for(no_answer, id)),
        })
    }
}
