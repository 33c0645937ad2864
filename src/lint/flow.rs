//! Rules about how a run moves through the steps: unique ids, targets of `next`, choices and
//! `on_failure` that exist, and steps that no path reaches (the paths of [`crate::flow`]).

use std::collections::HashMap;

use super::{FileLint, Rule};
use crate::load::did_you_mean;
use crate::model::{END, ON_FAILURE_POLICIES, Sp};

pub(super) fn check(lint: &mut FileLint<'_>) {
    let steps = &lint.runbook.steps;
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        if let Some(first) = index.get(step.id.as_str()) {
            let first_line = steps[*first].id.pos.line;
            lint.report(
                Rule::DuplicateName,
                step.id.pos,
                format!(
                    "step id `{}` is already used on line {first_line}; ids must be unique",
                    step.id.value
                ),
            );
        } else {
            index.insert(step.id.as_str(), i);
        }
    }
    let ids: Vec<String> = steps.iter().map(|s| s.id.value.clone()).collect();

    for step in steps {
        if let Some(next) = &step.next {
            check_target(lint, next, "`next`", &index, &ids);
        }
        for choice in step.ask.iter().flat_map(|a| a.choices.iter().flatten()) {
            if let Some(next) = &choice.next {
                check_target(lint, next, "this choice", &index, &ids);
            }
        }
        if let Some(policy) = &step.on_failure
            && !ON_FAILURE_POLICIES.contains(&policy.as_str())
            && !index.contains_key(policy.as_str())
        {
            let mut candidates: Vec<String> =
                ON_FAILURE_POLICIES.iter().map(|s| s.to_string()).collect();
            candidates.extend(ids.iter().cloned());
            let hint = did_you_mean(policy, &candidates)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            lint.report(
                Rule::UnknownStep,
                policy.pos,
                format!(
                    "`on_failure: {}` is neither `ask`, `stop`, `continue` nor a step id{hint}",
                    policy.value
                ),
            );
        }
    }

    if lint.has_errors() {
        // Reachability means little while targets are wrong.
        return;
    }
    for (i, reachable) in crate::flow::reachable(steps, 0).into_iter().enumerate() {
        if !reachable {
            let step = &steps[i];
            lint.report_with_help(
                Rule::UnreachableStep,
                step.id.pos,
                format!("no path from the first step leads to step `{}`", step.id.value),
                Some("point a `next` or a choice at it, or remove it (`runbook run --from` can still start there)"),
            );
        }
    }
}

fn check_target(
    lint: &mut FileLint<'_>,
    target: &Sp<String>,
    what: &str,
    index: &HashMap<&str, usize>,
    ids: &[String],
) {
    if target.as_str() == END || index.contains_key(target.as_str()) {
        return;
    }
    let hint = did_you_mean(target, ids)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    lint.report(
        Rule::UnknownStep,
        target.pos,
        format!(
            "{what} leads to `{}`, which is not a step id{hint}",
            target.value
        ),
    );
}
