//! Whether a command's output passes: a shell command's `expect` (the exit code, then what
//! stdout must (not) contain or match), or an HTTP request's expectations. Shared by the
//! engine's steps and `runbook status`.

use std::collections::BTreeMap;
use std::time::Duration;

use minijinja::{Environment, Value};

use super::runner::{self, Output};
use super::state::RunState;
use super::transport::{self, CommandOutput};
use crate::model::{Command, Runbook, Sp, written_duration};

/// One host's output of `command`, shell or HTTP: passes, or says what was expected and what
/// happened.
pub(crate) fn judge_output(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    command: &Command,
    output: &Output,
    timeout: Duration,
) -> Result<(), (String, String)> {
    match output {
        Output::Shell(output) => judge(runbook, state, env, command, output, timeout),
        Output::Http(response) => {
            let Some(http) = &command.http else {
                return Ok(());
            };
            let contains = http.body_contains.as_ref().map(|text| {
                state
                    .render(runbook, env, text, false, None)
                    .unwrap_or_else(|_| text.value.clone())
            });
            transport::judge(
                response,
                http.status.as_ref().map(|s| s.value),
                contains.as_deref(),
                http.body_matches.as_ref().map(|m| m.value.as_str()),
            )?;
            let mut facts = BTreeMap::from([
                ("status", Value::from(response.status)),
                ("body", Value::from(response.body.as_str())),
            ]);
            add_json(&mut facts, &response.body);
            judge_that(runbook, state, env, command, facts)?;
            super::capture::check(command, &response.body)
        }
    }
}

/// What a passing `expect.that` read, for the host's line on the screen (`json.ready = 3,
/// data.limit = 3`); `None` without a `that`, or when it reads nothing.
pub(crate) fn that_read(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    command: &Command,
    output: &Output,
) -> Option<String> {
    let that = command.expect.as_ref().and_then(|e| e.that.as_ref())?;
    let (mut facts, text) = match output {
        Output::Shell(output) => (
            BTreeMap::from([
                ("exit", Value::from(output.exit)),
                ("stdout", Value::from(output.stdout.as_str())),
                ("stderr", Value::from(output.stderr.as_str())),
            ]),
            output.stdout.as_str(),
        ),
        Output::Http(response) => (
            BTreeMap::from([
                ("status", Value::from(response.status)),
                ("body", Value::from(response.body.as_str())),
            ]),
            response.body.as_str(),
        ),
    };
    add_json(&mut facts, text);
    let read = state.that_reads(runbook, env, that, facts);
    (!read.is_empty()).then_some(read)
}

/// `json`: the output parsed as JSON, when it parses; else left undefined.
fn add_json(facts: &mut BTreeMap<&'static str, Value>, text: &str) {
    if let Ok(json) = super::capture::parse_json(text) {
        facts.insert("json", Value::from(minijinja::value::Serde(&json)));
    }
}

/// `expect.that`: true passes; false fails with the values it read; an expression that cannot
/// be evaluated fails with the error (the step fails, never the run).
fn judge_that(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    command: &Command,
    facts: BTreeMap<&'static str, Value>,
) -> Result<(), (String, String)> {
    let Some(that) = command.expect.as_ref().and_then(|e| e.that.as_ref()) else {
        return Ok(());
    };
    let expected = format!("that `{}`", that.value.trim());
    match state.that(runbook, env, that, facts) {
        Ok(None) => Ok(()),
        Ok(Some(seen)) if seen.is_empty() => Err((expected, "it is false".into())),
        Ok(Some(seen)) => Err((expected, format!("it is false: {seen}"))),
        Err(error) => Err((expected, format!("it cannot be evaluated: {error}"))),
    }
}

/// A shell command's output: passes, or says what was expected and what happened.
pub(crate) fn judge(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    command: &Command,
    output: &CommandOutput,
    timeout: Duration,
) -> Result<(), (String, String)> {
    if let Some(error) = &output.error {
        return Err(("the command runs".into(), error.clone()));
    }
    let expect = command.expect.as_ref();
    let wanted_exit = expect.and_then(|e| e.exit.as_ref()).map_or(0, |e| e.value);
    if output.timed_out {
        return Err((
            format!("exit {wanted_exit} within {}", written_duration(timeout)),
            format!("timed out after {}; killed", written_duration(timeout)),
        ));
    }
    if output.exit != Some(wanted_exit) {
        return Err((
            format!("exit {wanted_exit}"),
            runner::describe_exit(output) + &last_line(&output.stderr, &output.stdout),
        ));
    }
    let Some(expect) = expect else {
        return super::capture::check(command, &output.stdout);
    };
    let render = |text: &Sp<String>| {
        state
            .render(runbook, env, text, false, None)
            .unwrap_or_else(|_| text.value.clone())
    };
    if let Some(text) = &expect.stdout_contains {
        let text = render(text);
        if !output.stdout.contains(&text) {
            return Err((
                format!("stdout contains `{text}`"),
                format!(
                    "stdout does not contain it{}",
                    last_line("", &output.stdout)
                ),
            ));
        }
    }
    if let Some(text) = &expect.stdout_not_contains {
        let text = render(text);
        if output.stdout.contains(&text) {
            return Err((
                format!("stdout does not contain `{text}`"),
                "stdout contains it".into(),
            ));
        }
    }
    if let Some(pattern) = &expect.stdout_matches
        && let Ok(regex) = super::compiled::regex(pattern)
        // Against the output without its final newline, so that `^…$` matches a one-line answer.
        && !regex.is_match(output.stdout.trim_end_matches(['\n', '\r']))
    {
        return Err((
            format!("stdout matches `{}`", pattern.value),
            format!("stdout does not match{}", last_line("", &output.stdout)),
        ));
    }
    if expect.that.is_some() {
        let mut facts = BTreeMap::from([
            ("exit", Value::from(output.exit)),
            ("stdout", Value::from(output.stdout.as_str())),
            ("stderr", Value::from(output.stderr.as_str())),
        ]);
        add_json(&mut facts, &output.stdout);
        judge_that(runbook, state, env, command, facts)?;
    }
    super::capture::check(command, &output.stdout)
}

/// `: <last line>` of stderr, else of stdout, for a one-line reason.
fn last_line(stderr: &str, stdout: &str) -> String {
    [stderr, stdout]
        .iter()
        .find_map(|s| s.trim_end().lines().last().filter(|l| !l.trim().is_empty()))
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default()
}
