//! A check: runs at once, with no question, on its targets; passes or fails by its `expect`.

use crate::Error;
use crate::execute::engine::{Engine, Tried, step_timeout};
use crate::execute::runner;
use crate::execute::state::RunState;
use crate::model::{Runbook, Sp, Step};

impl Engine {
    pub(crate) fn check(
        &mut self,
        runbook: &Runbook,
        state: &mut RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let check = step.check.as_ref().expect("a check step has a check");
        let plan = match runner::plan(runbook, state, &self.env, check, None, step_timeout(step)) {
            Ok(plan) => plan,
            Err(error) => return Ok(super::cannot_render(error)),
        };
        // The command of a check that passes is not needed to decide anything (it is in the
        // timeline and in `--dry-run`): at a live terminal it is in the spinner while it runs,
        // and a failing check shows it under its results. Without a live terminal it is shown
        // first, as the run goes.
        // Hosts (or items) that run different commands show each their own on their line.
        let shown = plan.one_command();
        let live = self.screen.is_live();
        if let (Some(shown), false) = (&shown, live) {
            self.screen.command_line(&plan.target, shown);
        }
        let limits = self.limits(step, check, false);
        let execution = self.execute(runbook, state, &plan, &plan.jobs, check, &limits, id)?;
        if let (Some(shown), true, false) = (&shown, live, execution.ok()) {
            self.screen.command_line(&plan.target, shown);
        }
        Ok(self.conclude(state, step, id, check, &execution))
    }
}
