//! Rules about templates: they compile, and every name they use is defined where they stand
//! (inputs, vars captured by an earlier step, step ids, links, `host` inside a fan-out).

use std::collections::HashMap;

use minijinja::Environment;

use super::{FileLint, Rule};
use crate::load::did_you_mean;
use crate::model::{Command, Pos, Sp};
use crate::template::{self, KNOWN_ROOTS};

/// The fields of `steps.ID` a template may read.
const STEP_FIELDS: [&str; 11] = [
    "ok",
    "outcome",
    "exit",
    "stdout",
    "stderr",
    "status",
    "body",
    "failed_hosts",
    "hosts",
    "answer",
    "duration_ms",
];

/// What is defined where a template stands.
#[derive(Debug, Clone, Copy)]
struct Scope {
    /// Index of the step the template belongs to; `None` outside steps.
    step: Option<usize>,
    /// Inside a command that runs `on` hosts.
    host: bool,
}

pub(super) fn check(lint: &mut FileLint<'_>) {
    let env = template::environment();
    let runbook = lint.runbook;
    let top = Scope {
        step: None,
        host: false,
    };
    let vars = captured_vars(lint);

    if let Some(summary) = &runbook.summary {
        check_template(lint, &env, &vars, summary, top);
    }
    for link in &runbook.links {
        check_template(lint, &env, &vars, &link.url, top);
    }
    for health in &runbook.health {
        let host = health.on.as_ref().is_some_and(|on| on.as_str() != "local");
        check_command(lint, &env, &vars, health, Scope { step: None, host });
    }
    for (i, step) in runbook.steps.iter().enumerate() {
        let scope = Scope {
            step: Some(i),
            host: false,
        };
        for text in [
            &step.instructions,
            &step.ask.as_ref().map(|a| a.question.clone()),
        ]
        .into_iter()
        .flatten()
        {
            check_template(lint, &env, &vars, text, scope);
        }
        if let Some(condition) = &step.condition {
            check_names(lint, &env, &vars, condition, scope, true);
        }
        for value in step.with.iter().flat_map(|w| w.values()) {
            check_template(lint, &env, &vars, value, scope);
        }
        let parent_on = step.action.as_ref().and_then(|a| a.on.as_ref());
        for (place, command) in step.commands() {
            let on = command
                .on
                .as_ref()
                .or(if place == "rollback" { parent_on } else { None });
            let host = on.is_some_and(|on| on.as_str() != "local");
            check_command(lint, &env, &vars, command, Scope { host, ..scope });
        }
    }
}

/// `vars.NAME` → the index of the first step that captures it (`capture` or `ask.input`).
fn captured_vars(lint: &FileLint<'_>) -> HashMap<String, usize> {
    let mut vars = HashMap::new();
    for (i, step) in lint.runbook.steps.iter().enumerate() {
        let mut names: Vec<&String> = step
            .commands()
            .iter()
            .filter_map(|(_, c)| c.capture.as_ref().map(|c| &c.value))
            .collect();
        if let Some(input) = step.ask.as_ref().and_then(|a| a.input.as_ref()) {
            names.push(&input.value);
        }
        for name in names {
            vars.entry(name.clone()).or_insert(i);
        }
    }
    vars
}

fn check_command(
    lint: &mut FileLint<'_>,
    env: &Environment<'_>,
    vars: &HashMap<String, usize>,
    command: &Command,
    scope: Scope,
) {
    if let Some(run) = &command.run {
        check_template(lint, env, vars, run, scope);
        if template::uses_safe_filter(run) {
            lint.report_with_help(
                Rule::UnsafeTemplate,
                run.pos,
                "`| safe` turns off shell quoting: a value with a quote or `;` in it will run as shell code",
                Some("remove `| safe` unless the value is a trusted piece of shell syntax"),
            );
        }
    }
    if let Some(on) = command.on.as_ref().filter(|on| on.contains("{{")) {
        check_template(
            lint,
            env,
            vars,
            on,
            Scope {
                host: false,
                ..scope
            },
        );
    }
    if let Some(http) = &command.http {
        check_template(lint, env, vars, &http.url, scope);
        for text in http
            .headers
            .values()
            .chain(&http.body)
            .chain(&http.body_contains)
        {
            check_template(lint, env, vars, text, scope);
        }
    }
    if let Some(expect) = &command.expect {
        for text in expect
            .stdout_contains
            .iter()
            .chain(&expect.stdout_not_contains)
        {
            check_template(lint, env, vars, text, scope);
        }
    }
}

fn check_template(
    lint: &mut FileLint<'_>,
    env: &Environment<'_>,
    vars: &HashMap<String, usize>,
    text: &Sp<String>,
    scope: Scope,
) {
    check_names(lint, env, vars, text, scope, false);
}

fn check_names(
    lint: &mut FileLint<'_>,
    env: &Environment<'_>,
    vars: &HashMap<String, usize>,
    text: &Sp<String>,
    scope: Scope,
    expression: bool,
) {
    // Most strings are plain text: skip the compiler for them.
    if !expression && !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return;
    }
    let compiled = if expression {
        template::names_in_expression(env, text)
    } else {
        template::names_in_template(env, text)
    };
    let names = match compiled {
        Ok(names) => names,
        Err(error) => {
            let pos = pos_of_line(lint.text, text.pos, error.line);
            let what = if expression {
                "`if` expression"
            } else {
                "template"
            };
            lint.report(
                Rule::TemplateSyntax,
                pos,
                format!("{what} does not compile: {}", error.message),
            );
            return;
        }
    };
    for path in &names.paths {
        if let Some(problem) = undefined(lint, vars, path, scope) {
            lint.report(Rule::UndefinedName, text.pos, problem);
        }
    }
}

/// Why a dotted name is not defined here, or `None` when it is.
fn undefined(
    lint: &FileLint<'_>,
    vars: &HashMap<String, usize>,
    path: &str,
    scope: Scope,
) -> Option<String> {
    let runbook = lint.runbook;
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or_default();
    let second = parts.next();
    let third = parts.next();
    let suggest = |word: &str, candidates: Vec<String>| {
        did_you_mean(word, &candidates)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default()
    };
    match root {
        "inputs" => {
            let second = second?;
            let names: Vec<String> = runbook.inputs.keys().map(|k| k.value.clone()).collect();
            (!names.iter().any(|n| n == second)).then(|| format!("`inputs.{second}` is not defined: the runbook has no input `{second}`{}", suggest(second, names)))
        }
        "vars" => {
            let Some(step) = scope.step else {
                return Some(format!("`{path}` is not available here: `vars` exist only inside steps"));
            };
            let second = second?;
            match vars.get(second) {
                Some(&at) if at < step => None,
                Some(&at) => Some(format!("`vars.{second}` is captured by step `{}`, which does not run before this one", runbook.steps[at].id.value)),
                None => Some(format!("`vars.{second}` is not defined: no step captures `{second}` (with `capture:` or `ask.input`){}", suggest(second, vars.keys().cloned().collect()))),
            }
        }
        "steps" => {
            if scope.step.is_none() {
                return Some(format!("`{path}` is not available here: step results exist only inside steps"));
            }
            let second = second?;
            let ids: Vec<String> = runbook.steps.iter().map(|s| s.id.value.clone()).collect();
            if !ids.iter().any(|id| id == second) {
                let hyphen_hint = ids
                    .iter()
                    .find(|id| id.starts_with(&format!("{second}-")))
                    .map(|id| format!("; an id with `-` is written `steps['{id}']`"))
                    .unwrap_or_else(|| suggest(second, ids.clone()));
                return Some(format!("`steps.{second}` is not defined: there is no step `{second}`{hyphen_hint}"));
            }
            let third = third?;
            (!STEP_FIELDS.contains(&third)).then(|| {
                format!("`steps.{second}.{third}` is not a step result; use one of {}", STEP_FIELDS.map(|f| format!("`{f}`")).join(", "))
            })
        }
        "host" => (!scope.host).then(|| "`host` is defined only inside a command that runs `on` hosts".to_string()),
        "links" => {
            let second = second?;
            let names: Vec<String> = runbook.links.iter().map(|l| l.name.value.clone()).collect();
            (!names.iter().any(|n| n == second)).then(|| format!("`links.{second}` is not defined: no link is named `{second}`{}", suggest(second, names)))
        }
        "runbook" => second
            .filter(|s| !["id", "title", "owner"].contains(s))
            .map(|s| format!("`runbook.{s}` is not defined; use `runbook.id`, `runbook.title` or `runbook.owner`")),
        "incident" => second.filter(|s| *s != "id").map(|s| format!("`incident.{s}` is not defined; use `incident.id`")),
        "contacts" => None,
        other => {
            let known: Vec<String> = KNOWN_ROOTS.iter().map(|s| s.to_string()).collect();
            Some(format!(
                "`{other}` is not defined{}; templates can use {}",
                suggest(other, known.clone()),
                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ))
        }
    }
}

/// Where line `line` of a template sits in the file. A block scalar (`|`, `>`) starts on the
/// line below its indicator; a plain or quoted one on the line of the value.
fn pos_of_line(text: &str, start: Pos, line: usize) -> Pos {
    if line <= 1 {
        return start;
    }
    let first = text
        .lines()
        .nth(start.line.saturating_sub(1) as usize)
        .unwrap_or_default();
    let value = first
        .chars()
        .skip(start.col.saturating_sub(1) as usize)
        .collect::<String>();
    let block = value.starts_with('|') || value.starts_with('>');
    let offset = if block { line } else { line - 1 };
    let target_line = start.line as usize + offset;
    let col = text
        .lines()
        .nth(target_line.saturating_sub(1))
        .map_or(1, |l| l.len() - l.trim_start().len() + 1);
    Pos::new(
        u32::try_from(target_line).unwrap_or(start.line),
        u32::try_from(col).unwrap_or(1),
    )
}
