//! The inputs of a run: from `--set`, the environment, a default, or asked — and checked
//! against `choices` and `pattern` wherever they come from.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;

use super::engine::Ending;
use super::prompt::{NoAnswer, Prompter, Reply};
use super::screen::Screen;
use crate::Error;
use crate::model::{Input, InputType, Runbook};

/// The items of a `list` input's text: separated by `,`, trimmed, empty ones left out.
pub fn list_items(text: &str) -> Vec<&str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect()
}

/// A number as an input's text gives it, when it is one: an integer stays an integer.
pub fn number_value(text: &str) -> Option<serde_json::Value> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(n.into());
    }
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(serde_json::Value::Number)
}

/// An input's value as templates see it: by its type.
pub fn typed_value(kind: InputType, text: &str) -> serde_json::Value {
    match kind {
        InputType::Text => text.into(),
        InputType::Number => number_value(text).unwrap_or_else(|| text.into()),
        InputType::List => serde_json::Value::Array(
            list_items(text)
                .into_iter()
                .map(|item| serde_json::Value::String(item.to_string()))
                .collect(),
        ),
    }
}

/// Every given input as templates see it (typed by its declaration; undeclared ones as text).
pub fn typed_values<'a>(
    runbook: &'a Runbook,
    inputs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> impl Iterator<Item = (&'a String, serde_json::Value)> {
    inputs.into_iter().map(|(name, text)| {
        let kind = runbook
            .inputs
            .iter()
            .find(|(k, _)| k.value == *name)
            .map(|(_, input)| input.input_type())
            .unwrap_or_default();
        (name, typed_value(kind, text))
    })
}

/// What is wrong with a value for an input, if anything: its type, then `choices` and
/// `pattern` (for each item of a list). A `pattern` that does not compile refuses every
/// value: validation fails closed (lint reports the pattern).
pub fn problem(input: &Input, value: &str) -> Option<String> {
    match input.input_type() {
        InputType::Text => {}
        InputType::Number => {
            if number_value(value).is_none() {
                return Some(if input.secret {
                    "must be a number".to_string()
                } else {
                    format!("must be a number (like `3` or `2.5`), not `{value}`")
                });
            }
        }
        InputType::List => {
            let items = list_items(value);
            if items.is_empty() {
                return Some("must be a list of items separated by `,` (like `a,b,c`)".into());
            }
            return items.into_iter().find_map(|item| {
                let shown = if input.secret {
                    "an item".to_string()
                } else {
                    format!("item `{item}`")
                };
                problem_of_text(input, item).map(|p| format!("{shown} {p}"))
            });
        }
    }
    problem_of_text(input, value)
}

/// What is wrong with one text for `choices` and `pattern`.
fn problem_of_text(input: &Input, value: &str) -> Option<String> {
    if let Some(choices) = &input.choices
        && !choices.iter().any(|c| c.value == value)
    {
        let list: Vec<String> = choices.iter().map(|c| format!("`{}`", c.value)).collect();
        return Some(format!("must be one of {}", list.join(", ")));
    }
    if let Some(pattern) = &input.pattern {
        match super::compiled::regex(pattern) {
            Ok(regex) if regex.is_match(value) => {}
            Ok(_) => return Some(format!("must match `{}`", pattern.value)),
            Err(_) => {
                return Some(
                    "cannot be checked: its `pattern` does not compile (`runbook lint` says why), so no value is accepted"
                        .to_string(),
                );
            }
        }
    }
    None
}

/// The inputs that stand as a word of their own in a shell command (`ssh {{ inputs.host }}`):
/// a value starting with `-` would be read there as an option (`-oProxyCommand=…`).
pub fn bare_argument_inputs(runbook: &Runbook) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let commands = runbook.health.iter().chain(
        runbook
            .steps
            .iter()
            .flat_map(|s| s.commands().into_iter().map(|(_, c)| c)),
    );
    for command in commands {
        if let Some(run) = &command.run
            && let Ok(lexemes) = crate::template::lex(run, false)
        {
            names.extend(crate::template::read_shell(&lexemes).bare_inputs);
        }
    }
    names
}

/// What is wrong with a value for the input `name` of `runbook`: [`problem`], and a leading
/// `-` where the input is a bare argument, unless it has `allow_dash: true`.
pub fn problem_in(runbook: &Runbook, name: &str, input: &Input, value: &str) -> Option<String> {
    if let Some(problem) = problem(input, value) {
        return Some(problem);
    }
    if value.starts_with('-') && !input.allow_dash && bare_argument_inputs(runbook).contains(name) {
        // A secret's value is never echoed, not even in the message that refuses it.
        let shown = if input.secret {
            "its value".to_string()
        } else {
            format!("`{value}`")
        };
        return Some(format!(
            "must not start with `-`: it is a word of its own in a command, where {shown} would be read as an option; set `allow_dash: true` on input `{name}` if that is meant"
        ));
    }
    None
}

/// `--set` names real inputs with acceptable values.
pub fn check_sets(runbook: &Runbook, sets: &IndexMap<String, String>) -> Result<(), Error> {
    for (name, value) in sets {
        let Some((_, input)) = runbook.inputs.iter().find(|(k, _)| k.value == *name) else {
            let names: Vec<String> = runbook
                .inputs
                .keys()
                .map(|k| format!("`{}`", k.value))
                .collect();
            let known = if names.is_empty() {
                "it has none".to_string()
            } else {
                format!("inputs are {}", names.join(", "))
            };
            return Err(Error::InvalidFlag {
                flag: "--set",
                value: format!("{name}=…"),
                reason: format!("the runbook has no input `{name}`; {known}"),
            });
        };
        if let Some(problem) = problem_in(runbook, name, input, value) {
            let shown = if input.secret { "***" } else { value.as_str() };
            return Err(Error::InvalidFlag {
                flag: "--set",
                value: format!("{name}={shown}"),
                reason: format!("`{name}` {problem}"),
            });
        }
    }
    Ok(())
}

/// Every input's value: `--set`, then its environment variable, then asked (Enter takes the
/// default); without a terminal (or with `--yes`) the default is taken as it is.
pub fn resolve(
    runbook: &Runbook,
    sets: &IndexMap<String, String>,
    prompter: &mut Prompter,
    screen: &Screen,
) -> Result<Result<IndexMap<String, String>, Ending>, Error> {
    resolve_deferring(runbook, sets, prompter, screen, false)
}

/// Whether input `name` can wait to be asked until a step needs it: not a secret (its value
/// must be masked from the start), no default, used by a step and by no link (the header
/// shows the links).
pub fn can_wait(runbook: &Runbook, name: &str, input: &Input) -> bool {
    if input.secret || input.default.is_some() {
        return false;
    }
    let in_links = runbook
        .links
        .iter()
        .any(|link| link.url.contains("inputs") && link.url.contains(name));
    !in_links
        && runbook.steps.iter().any(|step| {
            uses_input(
                &serde_json::to_string(&step.value).unwrap_or_default(),
                name,
            )
        })
}

/// Whether template text (a step, as JSON) may use input `name`: it names `inputs` and the
/// input (over-asking early is harmless; asking too late is not).
fn uses_input(text: &str, name: &str) -> bool {
    text.contains("inputs") && text.contains(name)
}

/// [`resolve`]; with `defer`, an input that [`can_wait`] is left out, to be asked just before
/// the first step that uses it ([`Engine::ask_inputs_of`]).
pub fn resolve_deferring(
    runbook: &Runbook,
    sets: &IndexMap<String, String>,
    prompter: &mut Prompter,
    screen: &Screen,
    defer: bool,
) -> Result<Result<IndexMap<String, String>, Ending>, Error> {
    let mut values = IndexMap::new();
    let mut asked_header = false;
    for (name, input) in &runbook.inputs {
        let name = name.value.clone();
        if let Some(value) = sets.get(&name) {
            values.insert(name, value.clone());
            continue;
        }
        if let Some(var) = &input.env
            && let Ok(value) = std::env::var(var.as_str())
        {
            if let Some(problem) = problem_in(runbook, &name, input, &value) {
                return Err(Error::InvalidFlag {
                    flag: "environment",
                    value: format!("{}=…", var.value),
                    reason: format!("input `{name}` {problem}"),
                });
            }
            values.insert(name, value);
            continue;
        }
        let default = input.default.as_ref().map(|d| d.value.clone());
        if let Some(default) = &default
            && (!prompter.is_interactive() || prompter.yes())
        {
            values.insert(name, default.clone());
            continue;
        }
        if defer && prompter.is_interactive() && !prompter.yes() && can_wait(runbook, &name, input)
        {
            continue;
        }
        if !asked_header {
            screen.blank();
            screen.section("Inputs");
            asked_header = true;
        }
        // Notes before the run starts have no timeline to go to.
        let answer = match ask(
            runbook,
            &name,
            input,
            default.as_deref(),
            prompter,
            &mut Vec::new(),
        ) {
            Ok(answer) => answer,
            Err(ending) => return Ok(Err(ending)),
        };
        values.insert(name, answer);
    }
    Ok(Ok(values))
}

/// The inputs of `runbook` that `values` has no value for: those left to ask when needed.
pub fn missing(runbook: &Runbook, values: &IndexMap<String, String>) -> Vec<String> {
    runbook
        .inputs
        .keys()
        .map(|k| k.value.clone())
        .filter(|name| !values.contains_key(name))
        .collect()
}

/// Asks input `name` until it gets an acceptable value; the notes written meanwhile go to
/// `notes`.
fn ask(
    runbook: &Runbook,
    name: &str,
    input: &Input,
    default: Option<&str>,
    prompter: &mut Prompter,
    notes: &mut Vec<String>,
) -> Result<String, Ending> {
    let name = name.to_string();
    let question = match &input.description {
        Some(description) => format!("{description} ({name}):"),
        None => format!("{name}:"),
    };
    let step = format!("input `{name}`");
    {
        let answer = loop {
            let asked = match &input.choices {
                Some(choices) => {
                    let labels: Vec<String> = choices.iter().map(|c| c.value.clone()).collect();
                    prompter
                        .select(&step, &question, &labels, None)
                        .map(|r| match r {
                            Reply::Answer(index) => Reply::Answer(labels[index].clone()),
                            Reply::Note(note) => Reply::Note(note),
                        })
                }
                None => prompter.text(&step, &question, default, input.secret, &|value: &str| {
                    match problem_in(runbook, &name, input, value) {
                        Some(problem) => Err(format!("`{name}` {problem}")),
                        None if value.is_empty() => Err("type a value".into()),
                        None => Ok(()),
                    }
                }),
            };
            match asked {
                Ok(Reply::Answer(value)) => break value,
                // A note (or "back"), then the same question again.
                Ok(Reply::Note(note)) => {
                    if !note.trim().is_empty() {
                        notes.push(note);
                    }
                    continue;
                }
                Err(NoAnswer::Quit) => return Err(Ending::Paused { step }),
                Err(NoAnswer::NeedsHuman { question, .. }) => {
                    return Err(Ending::NeedsHuman { step, question });
                }
            }
        };
        Ok(answer)
    }
}

impl super::engine::Engine {
    /// Asks the inputs left to ask when needed ([`resolve_deferring`]) that `step` uses, just
    /// before it runs (its header is on the screen): each is recorded (`input_given`) and
    /// kept. `Some(ending)` when the engineer quit instead of answering.
    pub(crate) fn ask_inputs_of(
        &mut self,
        runbook: &Runbook,
        state: &mut super::state::RunState,
        step: &crate::model::Step,
        id: &str,
    ) -> Result<Option<Ending>, Error> {
        for name in self.inputs_wanted_by(state, step) {
            let Some((_, input)) = runbook.inputs.iter().find(|(k, _)| k.value == name) else {
                continue;
            };
            let mut notes = Vec::new();
            let asked = ask(runbook, &name, input, None, &mut self.prompter, &mut notes);
            for text in notes {
                self.record(Some(id), crate::timeline::Event::Note { text })?;
                self.screen.info("note recorded");
            }
            let answer = match asked {
                Ok(answer) => answer,
                // Resuming asks it again, at this step.
                Err(Ending::NeedsHuman { question, .. }) => {
                    return Ok(Some(Ending::NeedsHuman {
                        step: id.to_string(),
                        question,
                    }));
                }
                Err(_) => {
                    return Ok(Some(Ending::Paused {
                        step: id.to_string(),
                    }));
                }
            };
            let value = if input.secret {
                "***".to_string()
            } else {
                answer.clone()
            };
            self.record(
                Some(id),
                crate::timeline::Event::InputGiven {
                    name: name.clone(),
                    value,
                },
            )?;
            self.deferred_inputs.retain(|n| *n != name);
            state.inputs.insert(name, answer);
        }
        Ok(None)
    }

    /// The inputs left to ask when needed that `step` uses and that have no value yet.
    pub(crate) fn inputs_wanted_by(
        &self,
        state: &super::state::RunState,
        step: &crate::model::Step,
    ) -> Vec<String> {
        if self.deferred_inputs.is_empty() {
            return Vec::new();
        }
        let text = serde_json::to_string(step).unwrap_or_default();
        self.deferred_inputs
            .iter()
            .filter(|name| uses_input(&text, name) && !state.inputs.contains_key(*name))
            .cloned()
            .collect()
    }
}

/// The values of secret inputs, to mask everywhere: each as typed and as it appears once
/// shell-quoted inside a rendered command (quoting can split it into pieces).
pub fn secret_values(runbook: &Runbook, values: &IndexMap<String, String>) -> Vec<String> {
    runbook
        .inputs
        .iter()
        .filter(|(_, input)| input.secret)
        .filter_map(|(name, _)| values.get(&name.value))
        .flat_map(|value| [value.clone(), crate::template::shell_quote(value)])
        .collect()
}

/// Inputs as the timeline keeps them: secrets as `***`.
pub fn for_timeline(
    runbook: &Runbook,
    values: &IndexMap<String, String>,
) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(name, value)| {
            let secret = runbook
                .inputs
                .iter()
                .any(|(k, input)| k.value == *name && input.secret);
            (
                name.clone(),
                if secret {
                    "***".to_string()
                } else {
                    value.clone()
                },
            )
        })
        .collect()
}

/// Inputs for a dry run: given, default, or a placeholder that shows the name.
pub fn for_dry_run(runbook: &Runbook, sets: &IndexMap<String, String>) -> IndexMap<String, String> {
    runbook
        .inputs
        .iter()
        .map(|(name, input)| {
            let value = sets
                .get(&name.value)
                .cloned()
                .or_else(|| input.default.as_ref().map(|d| d.value.clone()))
                .unwrap_or_else(|| format!("<{}>", name.value));
            let value = if input.secret {
                "***".to_string()
            } else {
                value
            };
            (name.value.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNBOOK: &str = "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\ninputs:\n  host: {}\n  flag: {}\n  note: {}\n  ok: { allow_dash: true }\n  key: { secret: true }\n  code: { pattern: '^(\\w{1000}){1000}$' }\nsteps:\n  - id: a\n    name: A\n    check:\n      run: ssh {{ inputs.host }} uptime --flag={{ inputs.flag }} {{ inputs.ok }} {{ inputs.key }}\n";

    #[track_caller]
    fn check(name: &str, value: &str) -> Option<String> {
        let runbook = crate::load::parse(RUNBOOK).unwrap();
        let (_, input) = runbook
            .inputs
            .iter()
            .find(|(k, _)| k.value == name)
            .unwrap();
        problem_in(&runbook, name, input, value)
    }

    /// `-oProxyCommand=…` into `ssh {{ inputs.host }}` ran a command.
    #[test]
    fn a_bare_argument_refuses_a_leading_dash() {
        let problem = check("host", "-oProxyCommand=touch /tmp/pwned").expect("refused");
        assert!(
            problem.contains("allow_dash: true") && problem.contains("`host`"),
            "{problem}"
        );
        assert_eq!(check("host", "web-1"), None);
        assert_eq!(check("flag", "-x"), None, "inside a word it is no option");
        assert_eq!(check("note", "-x"), None, "not used in a command");
        assert_eq!(check("ok", "-v"), None, "allowed by the runbook");
    }

    /// A PEM key refused for its leading dashes was printed whole in the error.
    #[test]
    fn a_refused_secret_is_never_echoed() {
        let problem = check("key", "-----BEGIN KEY-----s3cr3t").expect("refused");
        assert!(!problem.contains("s3cr3t"), "{problem}");
    }

    /// A pattern too big to compile used to skip validation: every value passed.
    #[test]
    fn a_pattern_that_does_not_compile_refuses_every_value() {
        assert!(check("code", "anything").is_some());
    }

    /// SPEC 7.3: `type: number` and `type: list`, checked wherever the value comes from.
    #[test]
    fn typed_inputs_are_checked_and_typed() {
        let runbook = crate::load::parse(
            "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\ninputs:\n  n: { type: number, default: 2 }\n  ids: { type: list, default: [a, b], choices: [a, b, c] }\n  pin: { type: number, secret: true }\nsteps: [{ id: a, name: A, instructions: x }]\n",
        )
        .unwrap();
        let input = |name: &str| {
            runbook
                .inputs
                .iter()
                .find(|(k, _)| k.value == name)
                .map(|(_, i)| i.clone())
                .unwrap()
        };
        assert_eq!(input("n").default.clone().unwrap().value, "2");
        assert_eq!(input("ids").default.clone().unwrap().value, "a,b");
        assert!(problem(&input("n"), "abc").unwrap().contains("number"));
        assert_eq!(problem(&input("n"), "-2.5"), None);
        assert_eq!(problem(&input("ids"), "a, c"), None);
        assert!(problem(&input("ids"), "a,d").unwrap().contains("item `d`"));
        assert!(problem(&input("ids"), " , ").is_some(), "no items");
        assert!(!problem(&input("pin"), "s3cr3t").unwrap().contains("s3cr3t"));
        assert_eq!(typed_value(InputType::Number, "3"), serde_json::json!(3));
        assert_eq!(
            typed_value(InputType::Number, "2.5"),
            serde_json::json!(2.5)
        );
        assert_eq!(
            typed_value(InputType::List, "a, b,,c"),
            serde_json::json!(["a", "b", "c"])
        );
        assert_eq!(typed_value(InputType::Text, "3"), serde_json::json!("3"));
    }
}
