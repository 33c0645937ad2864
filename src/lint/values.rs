//! Rules about values that must parse: regexes, durations, and `on` targets.

use super::{FileLint, Rule};
use crate::load::did_you_mean;
use crate::model::{Command, Sp, parse_duration};

pub(super) fn check(lint: &mut FileLint<'_>) {
    let runbook = lint.runbook;
    for alert in &runbook.scope.alerts {
        match &alert.value {
            crate::model::AlertRule::Pattern(pattern) => {
                check_regex(lint, &Sp::new(pattern.clone(), alert.pos), "alert pattern");
            }
            crate::model::AlertRule::Matcher(matcher) => {
                super::alerts::check_matcher(lint, alert.pos, matcher);
                for (what, regex) in matcher.regexes() {
                    check_regex(lint, regex, &format!("alert matcher `{what}`"));
                }
            }
        }
    }
    for input in runbook.inputs.values() {
        if let Some(pattern) = &input.pattern {
            check_regex(lint, pattern, "`pattern`");
            // Compiled only when there is a default to check.
            if let Some(default) = &input.default
                && let Ok(regex) = regex::Regex::new(pattern)
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
    if let Err(text) = validate_regex(regex) {
        // The parser's message spans several lines with a caret; keep its last line.
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

/// Parsing is enough to find a mistake, and ten times cheaper than compiling the automaton
/// (lint runs over whole catalogs). The syntax tree alone catches syntax errors; the
/// translation that follows can only fail on Unicode classes and flags, so it runs only for
/// patterns that have them. A counted repetition (`{1000}`) can make the automaton too big to
/// build, which only compiling tells: those patterns are compiled, as the executor will.
fn validate_regex(pattern: &str) -> Result<(), String> {
    if pattern.contains('{') {
        return regex::Regex::new(pattern).map(drop).map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => format!(
                "it is too big to compile (over {limit} bytes once expanded); use smaller repetition counts"
            ),
            other => other.to_string(),
        });
    }
    let ast = regex_syntax::ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    if pattern.contains("\\p") || pattern.contains("\\P") || pattern.contains("(?") {
        regex_syntax::hir::translate::Translator::new()
            .translate(pattern, &ast)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::validate_regex;

    #[test]
    fn regexes_are_checked_without_compiling_them() {
        for good in [
            r"^\[svc\] (403|500)",
            r"^[0-9]+%$",
            r"\p{Greek}+",
            r"(?i)error",
            r"\d{1,3}",
        ] {
            assert!(validate_regex(good).is_ok(), "{good}");
        }
        for bad in [
            r"(\w{1000}){1000}",
            r"(403|500",
            r"[z-a]",
            r"\p{NoSuchClass}",
            r"(?z)x",
            r"a{3,1}",
            r"*x",
        ] {
            assert!(validate_regex(bad).is_err(), "{bad} should be refused");
            assert!(
                regex::Regex::new(bad).is_err(),
                "{bad}: the regex crate agrees"
            );
        }
    }
}
