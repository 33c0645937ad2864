//! Rules about values that must parse: regexes, durations, and `on` targets.

use super::{FileLint, Rule};
use crate::load::did_you_mean;
use crate::model::{Command, Sp, parse_duration};

pub(super) fn check(lint: &mut FileLint<'_>) {
    let runbook = lint.runbook;
    for alert in &runbook.scope.alerts {
        check_regex(lint, alert, "alert pattern");
    }
    for input in runbook.inputs.values() {
        if let Some(pattern) = &input.pattern {
            check_regex(lint, pattern, "`pattern`");
            if let (Some(default), Ok(regex)) = (&input.default, regex::Regex::new(pattern))
                && !regex.is_match(default)
            {
                lint.report(
                    Rule::InvalidValue,
                    default.pos,
                    format!(
                        "default `{}` does not match the input's `pattern`",
                        default.value
                    ),
                );
            }
        }
    }
    for health in &runbook.health {
        check_command(lint, health);
    }
    for step in &runbook.steps {
        if let Some(timeout) = &step.timeout {
            check_duration(lint, timeout);
        }
        if let Some(wait) = &step.wait {
            for duration in [&wait.every, &wait.timeout].into_iter().flatten() {
                check_duration(lint, duration);
            }
        }
        for (_, command) in step.commands() {
            check_command(lint, command);
        }
    }
}

fn check_command(lint: &mut FileLint<'_>, command: &Command) {
    if let Some(timeout) = &command.timeout {
        check_duration(lint, timeout);
    }
    if let Some(expect) = &command.expect
        && let Some(regex) = &expect.stdout_matches
    {
        check_regex(lint, regex, "`stdout_matches`");
    }
    if let Some(http) = &command.http {
        if let Some(regex) = &http.body_matches {
            check_regex(lint, regex, "`body_matches`");
        }
        if let Some(timeout) = &http.timeout {
            check_duration(lint, timeout);
        }
    }
    if let Some(on) = &command.on {
        check_on(lint, on);
    }
}

fn check_regex(lint: &mut FileLint<'_>, regex: &Sp<String>, what: &str) {
    // Parsing is enough to find a mistake, and ten times cheaper than compiling the
    // automaton — lint runs over whole catalogs.
    if let Err(error) = regex_syntax::Parser::new().parse(regex) {
        // The parser's message spans several lines with a caret; keep its last line.
        let text = error.to_string();
        let reason = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(&text)
            .trim_start_matches("error: ")
            .trim()
            .to_string();
        lint.report(
            Rule::InvalidRegex,
            regex.pos,
            format!("{what} `{}` is not a valid regex: {reason}", regex.value),
        );
    }
}

fn check_duration(lint: &mut FileLint<'_>, duration: &Sp<String>) {
    match parse_duration(duration) {
        Ok(d) if d.is_zero() => lint.report(
            Rule::InvalidDuration,
            duration.pos,
            format!(
                "duration `{}` is zero; nothing could finish in it",
                duration.value
            ),
        ),
        Ok(_) => {}
        Err(message) => lint.report(Rule::InvalidDuration, duration.pos, message),
    }
}

/// `on` is `local`, a host group, a template, or one SSH destination. A bare word that is no
/// group is most likely a misspelt group, so it is an error; an SSH alias is declared as a
/// group of one.
fn check_on(lint: &mut FileLint<'_>, on: &Sp<String>) {
    let value = on.value.as_str();
    let groups: Vec<String> = lint.runbook.hosts.keys().map(|k| k.value.clone()).collect();
    if value == "local"
        || value == "localhost"
        || groups.iter().any(|g| g == value)
        || value.contains("{{")
    {
        return;
    }
    let looks_like_destination = value.contains(['.', '@', ':']);
    if looks_like_destination {
        return;
    }
    let hint = match did_you_mean(value, &groups) {
        Some(group) => format!("; did you mean `{group}`?"),
        None if groups.is_empty() => "; `hosts` defines no group".into(),
        None => format!(
            "; groups are {}",
            groups
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    lint.report_with_help(
        Rule::UnknownHostGroup,
        on.pos,
        format!("`on: {value}` names no host group{hint}"),
        Some(format!(
            "to run on the SSH alias `{value}`, declare it under `hosts:` as `{value}: [{value}]`"
        )),
    );
}
