//! A manual step: the engineer does what the instructions say, then says done (or skips it).
//! A `checklist` is a multi-select: each item ticked or left, and the timeline records which.

use inquire::{InquireError, MultiSelect, Select, Text};

use crate::Error;
use crate::execute::engine::{Ending, Engine, Tried, stop_for};
use crate::execute::state::{RunState, StepResult};
use crate::execute::transport::Prompting;
use crate::model::{Runbook, Sp, Step};
use crate::sanitize::sanitize;
use crate::timeline::{Event, Outcome};

const BACK: &str = "↩ Back to the checklist";
const SKIP: &str = "Skip this step (nothing ticked)";
const NOTE: &str = "✎ Add a note to the timeline";
const QUIT: &str = "⏸ Quit — pause the run (resume later with --resume)";

/// What the engineer did with a checklist.
enum Ticked {
    Done(Vec<bool>),
    Skip,
    Stop(Ending),
}

impl Engine {
    pub(crate) fn manual(
        &mut self,
        runbook: &Runbook,
        state: &RunState,
        step: &Sp<Step>,
        id: &str,
    ) -> Result<Tried, Error> {
        let Some(checklist) = step.checklist.as_ref().filter(|c| !c.is_empty()) else {
            return self.done_or_skipped(id);
        };
        let mut items = Vec::new();
        for item in checklist.iter() {
            match state.render(runbook, &self.env, item, false, None) {
                Ok(text) => items.push(text.trim().to_string()),
                Err(error) => {
                    return Ok(Tried::failed_before_running(
                        "the checklist renders",
                        format!("template error: {error}"),
                    ));
                }
            }
        }
        // `--yes` and `--answer` say the step is done, never that an item was: nothing is
        // ticked on a person's behalf, and the timeline says every item was left.
        let ticked = if self.prompter.is_interactive() && !self.prompter.yes() {
            self.tick(id, &items)?
        } else {
            match self.done_or_skipped(id)? {
                Tried::Finished { .. } => {
                    self.screen.warn(&format!(
                        "no checklist item is ticked without a person: all {} recorded as not ticked",
                        items.len()
                    ));
                    Ticked::Done(vec![false; items.len()])
                }
                other => return Ok(other),
            }
        };
        let ticks = match ticked {
            Ticked::Done(ticks) => ticks,
            Ticked::Skip => {
                return Ok(Tried::Skipped {
                    reason: "skipped by the engineer".into(),
                    ok: false,
                });
            }
            Ticked::Stop(ending) => return Ok(Tried::Stop(ending)),
        };
        let (mut ticked, mut left) = (Vec::new(), Vec::new());
        for (item, tick) in items.iter().zip(&ticks) {
            if *tick {
                ticked.push(item.clone());
            } else {
                left.push(item.clone());
            }
        }
        let total = items.len();
        if left.is_empty() {
            self.screen.ok(&format!("{total} of {total} ticked"));
        } else {
            self.screen.warn(&format!(
                "{} of {total} ticked; left: {}",
                ticked.len(),
                left.join(", ")
            ));
        }
        self.record(
            Some(id),
            Event::Checklist {
                ticked: ticked.clone(),
                left,
            },
        )?;
        Ok(Tried::Finished {
            result: StepResult {
                ok: true,
                outcome: "done".into(),
                answer: Some(ticked.join("\n")),
                ..StepResult::default()
            },
            outcome: Outcome::Done,
            chose: None,
        })
    }

    fn done_or_skipped(&mut self, id: &str) -> Result<Tried, Error> {
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

    /// The multi-select, at a terminal: Space ticks, Enter says done; Esc opens back, skip,
    /// note and quit; Ctrl-C pauses the run.
    fn tick(&mut self, id: &str, items: &[String]) -> Result<Ticked, Error> {
        let shown: Vec<String> = items.iter().map(|i| sanitize(i).into_owned()).collect();
        loop {
            let picked = {
                let _on_screen = Prompting::start();
                MultiSelect::new("Tick what is done, then Enter:", shown.clone())
                    .with_help_message(
                        "Space ticks, → all, ← none, Enter when done; Esc: skip, note or quit",
                    )
                    .with_page_size(12)
                    .raw_prompt()
            };
            let error = match picked {
                Ok(picked) => {
                    let mut ticks = vec![false; items.len()];
                    for option in picked {
                        ticks[option.index] = true;
                    }
                    return Ok(Ticked::Done(ticks));
                }
                Err(error) => error,
            };
            if !matches!(error, InquireError::OperationCanceled) {
                return Ok(Ticked::Stop(Ending::Paused {
                    step: id.to_string(),
                }));
            }
            let options = vec![BACK.to_string(), SKIP.into(), NOTE.into(), QUIT.into()];
            let chosen = {
                let _on_screen = Prompting::start();
                Select::new("What now?", options).prompt()
            };
            match chosen.as_deref() {
                Ok(BACK) | Err(InquireError::OperationCanceled) => {}
                Ok(SKIP) => return Ok(Ticked::Skip),
                Ok(NOTE) => {
                    let note = {
                        let _on_screen = Prompting::start();
                        Text::new("Note for the timeline:").prompt()
                    };
                    if let Ok(text) = note.map(|t| t.trim().to_string())
                        && !text.is_empty()
                    {
                        self.record(Some(id), Event::Note { text })?;
                        self.screen.info("note recorded");
                    }
                }
                _ => {
                    return Ok(Ticked::Stop(Ending::Paused {
                        step: id.to_string(),
                    }));
                }
            }
        }
    }
}
