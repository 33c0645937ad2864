//! Rules about the shape of a runbook that serde cannot express: the format version, names,
//! lists that must not be empty, one kind per step, keys valid only in some commands.

use std::sync::OnceLock;

use regex::Regex;

use super::{FileLint, LintOptions, Rule};
use crate::model::{Command, FORMAT_VERSION, Pos, Sp, Step, StepKind};
use crate::schema::CommandContext;

/// How old a review may get before lint warns.
const STALE_AFTER_DAYS: i32 = 180;

pub(super) fn check(lint: &mut FileLint<'_>, options: &LintOptions) {
    let runbook = lint.runbook;
    if *runbook.runbook != FORMAT_VERSION {
        lint.report(
            Rule::UnsupportedVersion,
            runbook.runbook.pos,
            format!(
                "format version {} is not supported; this build reads `runbook: {FORMAT_VERSION}`",
                *runbook.runbook
            ),
        );
    }
    check_reviewed(lint, options);
    if runbook.scope.services.is_empty() && runbook.scope.alerts.is_empty() {
        lint.report(
            Rule::EmptyList,
            runbook.scope.pos,
            "`scope.services` is empty; name at least one service this runbook is for, or the \
             alerts it answers in `scope.alerts`",
        );
    }
    if runbook.steps.is_empty() {
        lint.report(
            Rule::EmptyList,
            Pos::START,
            "`steps` is empty; a runbook needs at least one step",
        );
    }
    if runbook.contacts.is_empty() {
        lint.report_with_help(
            Rule::NoContacts,
            Pos::START,
            "no `contacts`: at 4 am the engineer will not know whom to call",
            Some("list the owning team and who to escalate to, in order"),
        );
    }
    if runbook.links.is_empty() {
        lint.report_with_help(
            Rule::NoLinks,
            Pos::START,
            "no `links`: add the dashboards, logs and docs the engineer will need",
            None::<String>,
        );
    }
    for (name, input) in &runbook.inputs {
        check_name(lint, name, "input");
        if let (Some(default), Some(choices)) = (&input.default, &input.choices)
            && !choices.iter().any(|c| c.value == default.value)
        {
            lint.report(
                Rule::InvalidValue,
                default.pos,
                format!("default `{}` is not one of the `choices`", default.value),
            );
        }
        if let Some(choices) = &input.choices
            && choices.is_empty()
        {
            lint.report(
                Rule::EmptyList,
                name.pos,
                format!("input `{}` has an empty `choices` list", name.value),
            );
        }
    }
    let mut link_names = std::collections::HashSet::new();
    for link in &runbook.links {
        if !link_names.insert(link.name.value.as_str()) {
            lint.report(
                Rule::DuplicateName,
                link.name.pos,
                format!(
                    "two links are named `{}`; `links.NAME` needs unique names",
                    link.name.value
                ),
            );
        }
    }
    for (group, members) in &runbook.hosts {
        if members.is_empty() {
            lint.report(
                Rule::EmptyList,
                group.pos,
                format!("host group `{}` is empty", group.value),
            );
        }
    }
    for health in &runbook.health {
        check_command(lint, health, CommandContext::Health);
        if health.name.is_none() {
            lint.report(
                Rule::MissingKey,
                health.pos,
                "a health check needs a `name` to show in the status page",
            );
        }
    }
    for step in &runbook.steps {
        check_step(lint, step);
    }
}

fn check_reviewed(lint: &mut FileLint<'_>, options: &LintOptions) {
    let reviewed = &lint.runbook.reviewed;
    match reviewed.value.parse::<jiff::civil::Date>() {
        Ok(date) => {
            let age = options.today.since(date).map_or(0, |span| span.get_days());
            if age > STALE_AFTER_DAYS {
                lint.report_with_help(
                    Rule::StaleReview,
                    reviewed.pos,
                    format!("last reviewed {age} days ago ({}); runbooks rot: check it still matches the service", reviewed.value),
                    Some("walk through it with `runbook run --rehearse`, fix what changed, then update `reviewed`"),
                );
            }
        }
        Err(_) => lint.report(
            Rule::InvalidDate,
            reviewed.pos,
            format!(
                "`reviewed: {}` is not a date; write it as `YYYY-MM-DD`",
                reviewed.value
            ),
        ),
    }
}

fn step_id_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new("^[a-z0-9][a-z0-9-]*$").expect("valid regex"))
}

/// Input and capture names are used as `inputs.NAME` and `vars.NAME` and in `--set NAME=…`.
fn name_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new("^[A-Za-z_][A-Za-z0-9_]*$").expect("valid regex"))
}

fn check_name(lint: &mut FileLint<'_>, name: &Sp<String>, what: &str) {
    if !name_pattern().is_match(name) {
        lint.report(
            Rule::InvalidName,
            name.pos,
            format!("{what} name `{}` cannot be used in templates; use letters, digits and `_` (e.g. `{}`)", name.value, suggest_name(name)),
        );
    }
}

fn suggest_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if cleaned.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{cleaned}")
    } else {
        cleaned
    }
}

fn check_step(lint: &mut FileLint<'_>, step: &Sp<Step>) {
    if !step_id_pattern().is_match(&step.id) {
        lint.report(
            Rule::InvalidName,
            step.id.pos,
            format!("step id `{}` must be lowercase letters, digits and `-`, starting with a letter or digit", step.id.value),
        );
    } else if step.id.value == crate::model::END {
        lint.report(
            Rule::InvalidName,
            step.id.pos,
            "`end` cannot be a step id: `next: end` finishes the run",
        );
    }
    let kinds = step.kinds();
    if kinds.len() > 1 {
        let names: Vec<&str> = kinds.iter().map(|(kind, _)| kind_key(*kind)).collect();
        let second = key_pos(lint.text, kinds[1].1, kind_key(kinds[1].0));
        lint.report(
            Rule::TwoKinds,
            second,
            format!(
                "step `{}` has {}; a step does one thing: split it into one step per kind",
                step.id.value,
                join_keys(&names)
            ),
        );
    }
    if kinds.is_empty() && step.instructions.is_none() {
        lint.report(
            Rule::MissingInstructions,
            step.pos,
            format!("manual step `{}` has no `instructions`; say what the engineer must do (or give it a `check`, `action`…)", step.id.value),
        );
    }
    if let Some(with) = &step.with
        && step.uses.is_none()
    {
        lint.report(
            Rule::MisplacedKey,
            with.pos,
            "`with` gives inputs to a `uses` sub-procedure, but this step has no `uses`",
        );
    }
    if let Some(check) = &step.check {
        check_command(lint, check, CommandContext::Check);
    }
    if let Some(until) = step.wait.as_ref().and_then(|w| w.until.as_ref()) {
        check_command(lint, until, CommandContext::Check);
    }
    if let Some(action) = &step.action {
        check_command(lint, action, CommandContext::Action);
        match &action.rollback {
            Some(rollback) => {
                check_command(lint, rollback, CommandContext::Rollback);
                if let Some(irreversible) = &action.irreversible {
                    lint.report(
                        Rule::CommandShape,
                        irreversible.pos,
                        "an action with a `rollback` can be undone: drop `irreversible`, or the `rollback`",
                    );
                }
            }
            // `irreversible: "why"` says there is no way back, and why.
            None if action.irreversible.is_some() => {}
            None => lint.report_with_help(
                Rule::NoRollback,
                action.pos,
                format!(
                    "action `{}` has no `rollback`: say how to undo it, or why it cannot be undone",
                    step.id.value
                ),
                Some("add `rollback: {run: …}`, or `irreversible: \"why it cannot be undone\"`"),
            ),
        }
    }
    if let Some(ask) = &step.ask {
        match (&ask.choices, &ask.input) {
            (Some(_), Some(input)) => lint.report(Rule::CommandShape, input.pos, "an `ask` has either `choices` (a menu) or `input` (free text), not both"),
            (None, None) => lint.report(Rule::CommandShape, ask.pos, "an `ask` needs `choices` (a menu) or `input: NAME` (free text kept in `vars.NAME`)"),
            (Some(choices), None) if choices.is_empty() => lint.report(Rule::EmptyList, ask.pos, "`choices` is empty; give at least one"),
            _ => {}
        }
        if let Some(input) = &ask.input {
            check_name(lint, input, "input");
        }
        let mut labels = std::collections::HashSet::new();
        for choice in ask.choices.iter().flatten() {
            if !labels.insert(choice.label.value.as_str()) {
                lint.report(
                    Rule::DuplicateName,
                    choice.label.pos,
                    format!("two choices are labelled `{}`", choice.label.value),
                );
            }
        }
    }
}

/// Where `key:` is written for a value at `value`: the model keeps the value's position, and
/// a finding about the key points at the key. The nearest `key:` at or before the value.
fn key_pos(text: &str, value: Pos, key: &str) -> Pos {
    let lines: Vec<&str> = text.lines().collect();
    let last = (value.line as usize).min(lines.len());
    for number in (1..=last).rev() {
        let line = lines[number - 1];
        let line: String = if number == value.line as usize {
            line.chars()
                .take(value.col.saturating_sub(1) as usize)
                .collect()
        } else {
            line.to_string()
        };
        let pattern = format!("{key}:");
        let found = line.rmatch_indices(&pattern).find(|(at, _)| {
            line[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-'))
        });
        if let Some((at, _)) = found {
            let col = line[..at].chars().count() + 1;
            return Pos::new(number as u32, u32::try_from(col).unwrap_or(1));
        }
    }
    value
}

fn kind_key(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Manual => "instructions",
        StepKind::Check => "check",
        StepKind::Action => "action",
        StepKind::Ask => "ask",
        StepKind::Wait => "wait",
        StepKind::Uses => "uses",
    }
}

fn join_keys(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The position of each optional key of a command that is present.
fn present_keys(command: &Command) -> Vec<(&'static str, Pos)> {
    let mut keys = Vec::new();
    let mut add = |key, pos: Option<Pos>| {
        if let Some(pos) = pos {
            keys.push((key, pos));
        }
    };
    add("name", command.name.as_ref().map(|v| v.pos));
    add("warn", command.warn.as_ref().map(|v| v.pos));
    add("timeout", command.timeout.as_ref().map(|v| v.pos));
    add("confirm", command.confirm.as_ref().map(|v| v.pos));
    add("rollback", command.rollback.as_ref().map(|v| v.pos));
    add("canary", command.canary.as_ref().map(|v| v.pos));
    add("capture", command.capture.as_ref().map(|v| v.pos));
    add("irreversible", command.irreversible.as_ref().map(|v| v.pos));
    add("for_each", command.for_each.as_ref().map(|v| v.pos));
    add("interactive", command.interactive.as_ref().map(|v| v.pos));
    add("approvers", command.approvers.as_ref().map(|v| v.pos));
    keys
}

fn check_command(lint: &mut FileLint<'_>, command: &Sp<Command>, context: CommandContext) {
    for (key, pos) in present_keys(command) {
        if let Some((_, hint)) = context.forbidden().iter().find(|(k, _)| *k == key) {
            lint.report(
                Rule::MisplacedKey,
                pos,
                format!("`{key}` is not allowed in {}; {hint}", context.describe()),
            );
        }
    }
    match (&command.run, &command.http) {
        (Some(_), Some(http)) => lint.report(
            Rule::CommandShape,
            http.pos,
            format!(
                "{} has both `run` and `http`; split it into two",
                context.describe()
            ),
        ),
        (None, None) => lint.report(
            Rule::CommandShape,
            command.pos,
            format!(
                "{} needs `run: COMMAND` or `http: {{url: …}}`",
                context.describe()
            ),
        ),
        _ => {}
    }
    if let (Some(expect), Some(_)) = (&command.expect, &command.http) {
        lint.report(Rule::MisplacedKey, expect.pos, "`expect` applies to `run`; an `http` request says what it expects with `status`, `body_contains` and `body_matches`");
    }
    if let Some(http) = &command.http {
        if let Some(status) = &http.status
            && !(100..=599).contains(&status.value)
        {
            lint.report(
                Rule::InvalidValue,
                status.pos,
                format!(
                    "`status: {}` is not an HTTP status code (100 to 599)",
                    status.value
                ),
            );
        }
        if let Some(method) = &http.method {
            const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
            if !METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                lint.report(
                    Rule::InvalidValue,
                    method.pos,
                    format!(
                        "`method: {}` is not an HTTP method; use one of {}",
                        method.value,
                        METHODS.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(capture) = &command.capture {
        for name in capture.names(capture.pos) {
            check_name(lint, &name, "capture");
        }
    }
    if let Some(approvers) = &command.approvers
        && approvers.value == 0
    {
        lint.report(
            Rule::InvalidValue,
            approvers.pos,
            "`approvers: 0` asks nobody; use 1 or more, or leave it out",
        );
    }
    for (key, value) in [
        ("parallel", &command.parallel),
        ("canary", &command.canary),
        ("max_failures", &command.max_failures),
    ] {
        if let Some(value) = value
            && value.value == 0
            && key != "max_failures"
        {
            lint.report(
                Rule::InvalidValue,
                value.pos,
                format!("`{key}: 0` would run nothing; use 1 or more"),
            );
        }
    }
}
