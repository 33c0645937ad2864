//! Whether a command's output passes: a shell command's `expect` (the exit code, then what
//! stdout must (not) contain or match), or an HTTP request's expectations. Shared by the
//! engine's steps and `runbook status`.

use std::time::Duration;

use minijinja::Environment;

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
            )
        }
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
    let Some(expect) = expect else { return Ok(()) };
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
        && let Ok(regex) = regex::Regex::new(pattern)
        // Against the output without its final newline, so that `^…$` matches a one-line answer.
        && !regex.is_match(output.stdout.trim_end_matches(['\n', '\r']))
    {
        return Err((
            format!("stdout matches `{}`", pattern.value),
            format!("stdout does not match{}", last_line("", &output.stdout)),
        ));
    }
    Ok(())
}

/// `: <last line>` of stderr, else of stdout, for a one-line reason.
fn last_line(stderr: &str, stdout: &str) -> String {
    [stderr, stdout]
        .iter()
        .find_map(|s| s.trim_end().lines().last().filter(|l| !l.trim().is_empty()))
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default()
}
