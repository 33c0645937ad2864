//! `untested-branch` (off by default, on with `lint --require-tests`): a decision choice no
//! test of the runbook's `NAME.test.yaml` takes, and an `on_failure` step no test's path goes
//! to. A branch nobody has tested is found at 4 am otherwise.

use std::path::Path;

use super::{Diagnostic, Rule};
use crate::commands::test::{TestFile, tests_of};
use crate::model::{Pos, Runbook, Sp};

/// The findings for the runbook at `path`; a test file that does not load is `runbook
/// test`'s to report, and counts as no test here.
pub fn check(path: &Path, runbook: &Runbook) -> Vec<Diagnostic> {
    let tests: Option<TestFile> = tests_of(path)
        .and_then(|file| std::fs::read_to_string(file).ok())
        .and_then(|text| crate::load::parse_document(&text).ok());
    let tests = tests.map(|t| t.tests).unwrap_or_default();
    let where_tests = if tests.is_empty() {
        " (there is no test file beside the runbook: `NAME.test.yaml`)"
    } else {
        ""
    };
    let mut found = Vec::new();
    for step in &runbook.steps {
        let id = &step.id.value;
        if let Some(choices) = step.ask.as_ref().and_then(|a| a.choices.as_ref()) {
            for choice in choices {
                // Answered, by a test whose path (when it says one) reaches the decision.
                let taken = tests.iter().any(|test| {
                    let reaches = test
                        .expect
                        .path
                        .as_ref()
                        .is_none_or(|path| path.iter().any(|s| s.value == *id));
                    reaches
                        && test.answers.iter().any(|(step, answer)| {
                            step.value == *id && answer.0.trim().eq_ignore_ascii_case(&choice.label)
                        })
                });
                if !taken {
                    found.push(finding(
                        "add a test that answers it to the runbook's `NAME.test.yaml` (`runbook test`)",
                        choice.label.pos,
                        format!(
                            "no test takes the choice `{}` of `{id}`{where_tests}",
                            choice.label.value
                        ),
                    ));
                }
            }
        }
        if let Some(target) = &step.on_failure
            && !crate::model::ON_FAILURE_POLICIES.contains(&target.as_str())
            && !tests
                .iter()
                .any(|test| goes(test.expect.path.as_deref(), id, target))
        {
            found.push(finding(
                "add a test whose scripted commands fail that step, with the path through both, to the runbook's `NAME.test.yaml`",
                target.pos,
                format!(
                    "no test's path goes from a failed `{id}` to `{}`{where_tests}",
                    target.value
                ),
            ));
        }
    }
    found
}

/// Whether `path` has `from` followed by `to`.
fn goes(path: Option<&[Sp<String>]>, from: &str, to: &str) -> bool {
    path.unwrap_or_default()
        .windows(2)
        .any(|pair| pair[0].value == from && pair[1].value == to)
}

fn finding(help: &str, pos: Pos, message: String) -> Diagnostic {
    let pos = if pos.line == 0 { Pos::START } else { pos };
    Diagnostic {
        line: pos.line,
        col: pos.col.max(1),
        severity: Rule::UntestedBranch.severity(),
        rule: Rule::UntestedBranch,
        message,
        help: Some(help.into()),
    }
}
