//! Rules about getting data out and deciding on it (SPEC 7.3): each named capture says what
//! it finds with exactly one of `json` and `regex`, and that pattern compiles; an input's
//! `default` fits its `type`.

use super::{FileLint, Rule};
use crate::execute::capture;
use crate::model::{Capture, CaptureRule, Command, InputType};

pub(super) fn check(lint: &mut FileLint<'_>) {
    let runbook = lint.runbook;
    for (name, input) in &runbook.inputs {
        let Some(default) = &input.default else {
            continue;
        };
        match input.input_type() {
            InputType::Number if crate::execute::inputs::number_value(default).is_none() => {
                lint.report(
                    Rule::InvalidValue,
                    default.pos,
                    format!(
                        "default `{}` of input `{}` is not a number, and the input has `type: number`",
                        default.value, name.value
                    ),
                );
            }
            InputType::List if crate::execute::inputs::list_items(default).is_empty() => {
                lint.report(
                    Rule::InvalidValue,
                    default.pos,
                    format!(
                        "default of input `{}` has no items, and the input has `type: list`",
                        name.value
                    ),
                );
            }
            _ => {}
        }
    }
    for step in &runbook.steps {
        for (_, command) in step.commands() {
            check_command(lint, command);
        }
    }
}

fn check_command(lint: &mut FileLint<'_>, command: &Command) {
    let Some(capture) = &command.capture else {
        return;
    };
    let Capture::Each(rules) = &capture.value else {
        return;
    };
    for (name, rule) in rules {
        let CaptureRule::Find(find) = &rule.value else {
            continue;
        };
        match (&find.json, &find.regex) {
            (None, None) => lint.report(
                Rule::CommandShape,
                rule.pos,
                format!(
                    "capture `{}` says nothing to find: give `json: \"$.path\"` or `regex: '…'`",
                    name.value
                ),
            ),
            (Some(_), Some(regex)) => lint.report(
                Rule::CommandShape,
                regex.pos,
                format!(
                    "capture `{}` has both `json` and `regex`: keep one (capture twice under two names for both)",
                    name.value
                ),
            ),
            (Some(path), None) => {
                if let Err(error) = capture::compile_json(path) {
                    lint.report(
                        Rule::InvalidJsonPath,
                        path.pos,
                        format!(
                            "JSONPath `{}` of capture `{}` does not parse (RFC 9535): {error}",
                            path.value, name.value
                        ),
                    );
                }
            }
            (None, Some(regex)) => {
                if let Err(error) = capture::compile_regex(regex) {
                    let first = error.lines().last().unwrap_or_default().trim().to_string();
                    lint.report(
                        Rule::InvalidRegex,
                        regex.pos,
                        format!(
                            "regex `{}` of capture `{}` does not compile: {first}",
                            regex.value, name.value
                        ),
                    );
                }
            }
        }
    }
}
