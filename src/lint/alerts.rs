//! Rules about what ties a runbook to alerts: the matcher form of `scope.alerts` and
//! `inputs.NAME.label`.

use super::{FileLint, Rule};
use crate::model::{AlertMatcher, Pos};

/// A matcher must say something: with no condition it would answer every alert.
pub(super) fn check_matcher(lint: &mut FileLint<'_>, pos: Pos, matcher: &AlertMatcher) {
    if matcher.regexes().is_empty() {
        lint.report(
            Rule::InvalidValue,
            pos,
            "this alert matcher has no condition, so it would answer every alert; give \
             `alertname`, `labels` or `text`",
        );
    }
}

/// `label:` names an alert label: `[a-zA-Z_][a-zA-Z0-9_]*`, as Prometheus spells them.
pub(super) fn check(lint: &mut FileLint<'_>) {
    let runbook = lint.runbook;
    for (name, input) in &runbook.inputs {
        let Some(label) = &input.label else {
            continue;
        };
        let valid = label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            lint.report(
                Rule::InvalidValue,
                label.pos,
                format!(
                    "`{}` is not an alert label name (letters, digits and `_`, not starting \
                     with a digit), so input `{}` would never be filled from an alert",
                    label.value, name.value
                ),
            );
        }
    }
}
