//! Questions to the engineer. Scripted answers (`--yes`, `--answer STEP=LABEL`) come first;
//! then the terminal (inquire); without a terminal, a question nobody answered ends the run
//! with exit code 3 and the step's name.
//!
//! Every question also offers "add a note" and "quit" (the run pauses and can be resumed):
//! menus list them, and Esc at any prompt opens them.

use std::collections::HashMap;

use inquire::{InquireError, Password, PasswordDisplayMode, Select, Text};

use super::transport::Prompting;
use crate::sanitize::sanitize;

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// The engineer chose to quit, or pressed Ctrl-C: pause the run.
    Quit,
    /// Nobody can answer: stdin is not a terminal and no flag covered it.
    NeedsHuman { step: String, question: String },
}

/// An answer, or a note to record before asking again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<T> {
    Answer(T),
    Note(String),
}

pub type Asked<T> = Result<Reply<T>, NoAnswer>;

/// What to do with an action the engineer said No to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declined {
    RunAfterAll,
    Skip,
    Stop,
}

const NOTE: &str = "✎ Add a note to the timeline";
const QUIT: &str = "⏸ Quit — pause the run (resume later with --resume)";
const BACK: &str = "↩ Back to the question";
const CONTACTS: &str = "☎ Contacts and links — show them again";

/// Where answers come from.
#[derive(Debug)]
pub struct Prompter {
    /// `--yes`: manual steps are done, confirmations are yes.
    yes: bool,
    /// `--answer STEP=LABEL`, by step id.
    answers: HashMap<String, String>,
    /// Whether a person is at a terminal.
    terminal: bool,
    /// Actions answered No by a script (`runbook test`), and what to do then, by step id.
    declines: HashMap<String, Declined>,
    /// The contacts and links, ready to show (see [`Prompter::set_reference`]).
    reference: Vec<String>,
}

impl Prompter {
    pub fn new(yes: bool, answers: HashMap<String, String>, terminal: bool) -> Self {
        Prompter {
            yes,
            answers,
            terminal,
            declines: HashMap::new(),
            reference: Vec::new(),
        }
    }

    /// A scripted No to the action of `step` (`runbook test`), then `then`.
    pub fn decline(&mut self, step: &str, then: Declined) {
        self.declines.insert(step.to_string(), then);
    }

    /// The contacts and links (lines made safe by the screen): every menu, and the Esc menu
    /// of every prompt, offers to show them again.
    pub fn set_reference(&mut self, lines: Vec<String>) {
        self.reference = lines;
    }

    /// Shows the contacts and links; the question is then asked again.
    fn show_reference<T>(&self) -> Asked<T> {
        super::screen::print_lines(&self.reference);
        Ok(Reply::Note(String::new()))
    }

    /// `--yes` was given.
    pub fn yes(&self) -> bool {
        self.yes
    }

    pub fn is_interactive(&self) -> bool {
        self.terminal
    }

    /// `--answer` (or `--yes`) answers the question of step `step`.
    pub fn answered_by_flag(&self, step: &str) -> bool {
        self.answers.contains_key(step)
    }

    fn needs_human<T>(&self, step: &str, question: &str) -> Asked<T> {
        Err(NoAnswer::NeedsHuman {
            step: step.to_string(),
            question: question.to_string(),
        })
    }

    /// A menu. `scripted` is the label a flag picked, if any.
    pub fn select(
        &mut self,
        step: &str,
        question: &str,
        options: &[String],
        scripted: Option<&str>,
    ) -> Asked<usize> {
        self.select_more(step, question, options, scripted, &[])
    }

    /// A menu with `more` entries last, after note, quit and contacts (so that the entries
    /// above keep their places): picking `more[i]` answers `options.len() + i`. Only a person
    /// at a terminal is offered them.
    pub fn select_more(
        &mut self,
        step: &str,
        question: &str,
        options: &[String],
        scripted: Option<&str>,
        more: &[String],
    ) -> Asked<usize> {
        if let Some(label) = scripted.or(self.answers.get(step).map(String::as_str))
            && let Some(index) = options.iter().position(|o| o.eq_ignore_ascii_case(label))
        {
            return Ok(Reply::Answer(index));
        }
        if !self.terminal {
            return self.needs_human(step, question);
        }
        // Questions and options carry rendered values (targets, labels, contacts): shown, like
        // everything from outside the program, through the one sanitiser.
        let question = &sanitize(question);
        let mut items: Vec<String> = options.iter().map(|o| sanitize(o).into_owned()).collect();
        items.push(NOTE.into());
        items.push(QUIT.into());
        if !self.reference.is_empty() {
            items.push(CONTACTS.into());
        }
        let first_more = items.len();
        items.extend(more.iter().map(|m| sanitize(m).into_owned()));
        // An answer that would run past the terminal's edge after its question goes on a
        // line of its own.
        let longest = items
            .iter()
            .map(|i| super::screen::display_width(i))
            .max()
            .unwrap_or(0);
        let long = super::screen::width()
            .is_some_and(|w| super::screen::display_width(question) + longest + 4 > w);
        let mut config = if crate::color::on_stderr() {
            inquire::ui::RenderConfig::default_colored()
        } else {
            inquire::ui::RenderConfig::empty()
        };
        config.answer_from_new_line = long;
        let _on_screen = Prompting::start();
        // A typo that matches no entry shows them all again (with the typo), instead of an
        // empty menu where Enter does nothing.
        let shown = items.clone();
        let forgiving = move |typed: &str, option: &String, value: &str, index: usize| {
            let fuzzy = Select::<String>::DEFAULT_SCORER;
            if shown
                .iter()
                .enumerate()
                .any(|(i, item)| fuzzy(typed, item, item, i).is_some())
            {
                fuzzy(typed, option, value, index)
            } else {
                Some(0)
            }
        };
        let picked = Select::new(question, items)
            .with_scorer(&forgiving)
            .with_render_config(config)
            .with_help_message("↑↓ to move, Enter to pick, Esc: note, quit, contacts")
            .with_page_size(12)
            .raw_prompt();
        match picked {
            Ok(choice) if choice.index < options.len() => Ok(Reply::Answer(choice.index)),
            Ok(choice) if choice.index >= first_more => {
                Ok(Reply::Answer(options.len() + choice.index - first_more))
            }
            Ok(choice) if choice.value == NOTE => self.note(),
            Ok(choice) if choice.value == CONTACTS => self.show_reference(),
            Ok(_) => Err(NoAnswer::Quit),
            Err(error) => self.escape(error),
        }
    }

    /// A manual step: done, or skip.
    pub fn manual(&mut self, step: &str) -> Asked<bool> {
        if self.yes && !self.answers.contains_key(step) {
            return Ok(Reply::Answer(true));
        }
        let options = ["Done".to_string(), "Skip this step".to_string()];
        self.select(step, "When you have done it:", &options, None)
            .map(|reply| match reply {
                Reply::Answer(index) => Reply::Answer(index == 0),
                Reply::Note(note) => Reply::Note(note),
            })
    }

    /// A y/N confirmation, No by default.
    pub fn confirm(&mut self, step: &str, question: &str) -> Asked<bool> {
        if self.declines.contains_key(step) {
            return Ok(Reply::Answer(false));
        }
        if self.yes {
            return Ok(Reply::Answer(true));
        }
        let options = ["No".to_string(), "Yes, run it".to_string()];
        self.select(step, question, &options, None)
            .map(|reply| match reply {
                Reply::Answer(index) => Reply::Answer(index == 1),
                Reply::Note(note) => Reply::Note(note),
            })
    }

    /// A confirmation by typing `expected`. A mistyped word asks again (a slip must not
    /// skip the fix); Enter alone is No.
    pub fn confirm_typed(&mut self, step: &str, question: &str, expected: &str) -> Asked<bool> {
        if self.declines.contains_key(step) {
            return Ok(Reply::Answer(false));
        }
        if self.yes {
            return Ok(Reply::Answer(true));
        }
        if !self.terminal {
            return self.needs_human(step, question);
        }
        let _on_screen = Prompting::start();
        let prompt = sanitize(&format!("{question} To confirm, type: {expected}")).into_owned();
        loop {
            match Text::new(&prompt)
                .with_help_message("Enter alone to decline; Esc: note, quit, contacts")
                .prompt()
            {
                Ok(typed) if typed.trim() == expected => return Ok(Reply::Answer(true)),
                Ok(typed) if typed.trim().is_empty() => return Ok(Reply::Answer(false)),
                Ok(typed) => eprintln!(
                    "  ✘ `{}` is not `{}`; type it exactly, or Enter alone to decline",
                    sanitize(typed.trim()),
                    sanitize(expected)
                ),
                Err(error) => return self.escape(error),
            }
        }
    }

    /// After No to an action: run it after all, skip it, or stop the run.
    pub fn declined(&mut self, step: &str) -> Asked<Declined> {
        if let Some(then) = self.declines.get(step) {
            return Ok(Reply::Answer(*then));
        }
        let options = [
            "Run it after all".to_string(),
            "Skip it and go on (recorded as declined)".to_string(),
            "Stop here (the run ends, aborted)".to_string(),
        ];
        self.select(step, "Not run. What now?", &options, None)
            .map(|reply| match reply {
                Reply::Answer(0) => Reply::Answer(Declined::RunAfterAll),
                Reply::Answer(1) => Reply::Answer(Declined::Skip),
                Reply::Answer(_) => Reply::Answer(Declined::Stop),
                Reply::Note(note) => Reply::Note(note),
            })
    }

    /// Free text, checked by `validate` (which says what is wrong), hidden when `secret`.
    pub fn text(
        &mut self,
        step: &str,
        question: &str,
        default: Option<&str>,
        secret: bool,
        validate: &(dyn Fn(&str) -> Result<(), String> + Sync),
    ) -> Asked<String> {
        if let Some(value) = self.answers.get(step) {
            return match validate(value) {
                Ok(()) => Ok(Reply::Answer(value.clone())),
                Err(_) => self.needs_human(step, question),
            };
        }
        if !self.terminal {
            return self.needs_human(step, question);
        }
        let _on_screen = Prompting::start();
        let question = &sanitize(question);
        // Asked again until valid, with the reason shown; the validator inquire offers wants
        // a 'static closure, which a borrowed check cannot be.
        loop {
            let answered = if secret {
                Password::new(question)
                    .without_confirmation()
                    .with_display_mode(PasswordDisplayMode::Hidden)
                    .with_help_message("typing is hidden; Esc: note, quit, contacts")
                    .prompt()
            } else {
                let mut prompt = Text::new(question).with_help_message("Esc: note, quit, contacts");
                if let Some(default) = default {
                    prompt = prompt.with_default(default);
                }
                prompt.prompt()
            };
            let value = match answered {
                Ok(value) if value.is_empty() => default.unwrap_or_default().to_string(),
                Ok(value) => value,
                Err(error) => return self.escape(error),
            };
            match validate(&value) {
                Ok(()) => return Ok(Reply::Answer(value)),
                Err(message) => eprintln!("  ✘ {}; try again", sanitize(&message)),
            }
        }
    }

    /// Esc: back, note or quit. Ctrl-C: quit.
    fn escape<T>(&mut self, error: InquireError) -> Asked<T> {
        let _on_screen = Prompting::start();
        match error {
            InquireError::OperationCanceled => {
                let mut options = vec![BACK.to_string(), NOTE.to_string(), QUIT.to_string()];
                if !self.reference.is_empty() {
                    options.push(CONTACTS.into());
                }
                match Select::new("What now?", options).prompt() {
                    Ok(choice) if choice == NOTE => self.note(),
                    Ok(choice) if choice == CONTACTS => self.show_reference(),
                    Ok(choice) if choice == BACK => Ok(Reply::Note(String::new())),
                    _ => Err(NoAnswer::Quit),
                }
            }
            InquireError::NotTTY => {
                self.terminal = false;
                Err(NoAnswer::NeedsHuman {
                    step: String::new(),
                    question: "a terminal went away".into(),
                })
            }
            _ => Err(NoAnswer::Quit),
        }
    }

    fn note<T>(&mut self) -> Asked<T> {
        let _on_screen = Prompting::start();
        match Text::new("Note for the timeline:").prompt() {
            Ok(text) => Ok(Reply::Note(text)),
            Err(InquireError::OperationCanceled) => Ok(Reply::Note(String::new())),
            Err(_) => Err(NoAnswer::Quit),
        }
    }
}

/// Asks until the engineer answers, recording each note on the way (an empty note — "back"
/// — is not recorded).
pub fn until_answered<T>(
    mut ask: impl FnMut() -> Asked<T>,
    mut record_note: impl FnMut(String),
) -> Result<T, NoAnswer> {
    loop {
        match ask()? {
            Reply::Answer(answer) => return Ok(answer),
            Reply::Note(note) if note.trim().is_empty() => {}
            Reply::Note(note) => record_note(note),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripted(yes: bool, answers: &[(&str, &str)]) -> Prompter {
        Prompter::new(
            yes,
            answers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            false,
        )
    }

    #[test]
    fn flags_answer_without_a_terminal() {
        let mut prompter = scripted(true, &[("how-bad", "some of them")]);
        let options = vec!["All of them".to_string(), "Some of them".to_string()];
        assert_eq!(
            prompter.select("how-bad", "?", &options, None),
            Ok(Reply::Answer(1))
        );
        assert_eq!(prompter.confirm("drain", "?"), Ok(Reply::Answer(true)));
        assert_eq!(prompter.manual("assess"), Ok(Reply::Answer(true)));
    }

    #[test]
    fn an_unanswered_question_without_a_terminal_needs_a_human() {
        let mut prompter = scripted(false, &[]);
        let Err(NoAnswer::NeedsHuman { step, .. }) = prompter.confirm("drain", "Run it?") else {
            panic!("expected NeedsHuman")
        };
        assert_eq!(step, "drain");
        let options = vec!["a".to_string()];
        assert!(matches!(
            prompter.select("pick", "?", &options, Some("nope")),
            Err(NoAnswer::NeedsHuman { .. })
        ));
    }

    #[test]
    fn a_scripted_text_answer_must_be_valid() {
        let mut prompter = scripted(false, &[("name", "ok"), ("bad", "x")]);
        let validate = |v: &str| {
            if v.len() > 1 {
                Ok(())
            } else {
                Err("too short".to_string())
            }
        };
        assert_eq!(
            prompter.text("name", "?", None, false, &validate),
            Ok(Reply::Answer("ok".into()))
        );
        assert!(matches!(
            prompter.text("bad", "?", None, false, &validate),
            Err(NoAnswer::NeedsHuman { .. })
        ));
    }
}
