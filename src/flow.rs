//! Where a step leads (SPEC 7.1), decided in this one place for the executor, `--dry-run`,
//! the Mermaid chart and lint's reachability rules.
//!
//! A step that finishes ok goes to its `next`, else the step below; a decision goes to its
//! choice's `next`; a failed step follows `on_failure`; a skipped step goes to the step below.
//! Everything here is a pure function of the model.

use crate::model::{END, Sp, Step};

/// How a step finished, as far as where the run goes next is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepEnd<'a> {
    /// Manual done, check passed, action done (or rehearsed), wait passed, sub-procedure
    /// finished, free-text answer given.
    Ok,
    /// The step failed.
    Failed,
    /// Its `if` was false, or the engineer skipped it (a manual step, a declined action, a
    /// failure skipped from the menu): its `next` does not apply.
    Skipped,
    /// A decision's choice, by label.
    Chose(&'a str),
}

/// Where a run goes after a step, as written: the step's own words, not yet an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The step below, or the end after the last step.
    Below,
    /// The step with this id.
    Step(String),
    /// `end`: the run is over, resolved.
    End,
    /// `on_failure: stop`: the run is over, failed.
    Stop,
    /// `on_failure: ask`: the engineer picks from the failure menu (without a terminal, this
    /// is `stop`).
    AskEngineer,
}

impl Next {
    /// `next:` or a choice's `next`: absent is the step below.
    pub fn from_target(target: Option<&Sp<String>>) -> Next {
        match target.map(|t| t.as_str()) {
            None => Next::Below,
            Some(END) => Next::End,
            Some(id) => Next::Step(id.to_string()),
        }
    }
}

/// Where `step` leads when it ended as `end`.
pub fn next(step: &Step, end: StepEnd<'_>) -> Next {
    match end {
        StepEnd::Ok => Next::from_target(step.next.as_ref()),
        StepEnd::Skipped => Next::Below,
        StepEnd::Chose(label) => {
            let choice = step
                .ask
                .iter()
                .flat_map(|ask| ask.choices.iter().flatten())
                .find(|choice| choice.label.value == label);
            match choice {
                Some(choice) => Next::from_target(choice.next.as_ref()),
                // No such choice (lint rules it out): as if answered.
                None => Next::from_target(step.next.as_ref()),
            }
        }
        StepEnd::Failed => match step.on_failure.as_ref().map(|p| p.as_str()) {
            None | Some("ask") => Next::AskEngineer,
            Some("stop") => Next::Stop,
            // Going on as if it had passed.
            Some("continue") => Next::from_target(step.next.as_ref()),
            Some(id) => Next::Step(id.to_string()),
        },
    }
}

/// A place in the run: a step by index, or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The step at this index.
    Step(usize),
    /// The end of the run.
    End,
}

/// The index (or the end) a `Below`, `Step` or `End` means from step `index`; `None` for a
/// step id that names no step, and for `Stop` and `AskEngineer`, which are not places.
pub fn target(steps: &[Sp<Step>], index: usize, next: &Next) -> Option<Target> {
    match next {
        Next::Below if index + 1 < steps.len() => Some(Target::Step(index + 1)),
        Next::Below | Next::End => Some(Target::End),
        Next::Step(id) => steps
            .iter()
            .position(|s| s.id.value == *id)
            .map(Target::Step),
        Next::Stop | Next::AskEngineer => None,
    }
}

/// Why a run may follow an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeKind {
    /// The step finished ok: the step below, or the step `next` names.
    Then,
    /// A choice of an `ask`, with its label.
    Choice(String),
    /// The step's `if` was false: the run goes on with the step below.
    Skip,
    /// `on_failure: STEP`.
    OnFailure,
}

/// One way from a step to another (or to the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: Target,
    pub kind: EdgeKind,
}

/// The ways a run is designed to move on from step `index`, in the order a reader expects
/// them: how the step ends, then the skip of its `if`, then its failure path. Only what the
/// runbook says: the failure menu's "go to", a person's choice at 4 am, is no edge, and
/// `on_failure: continue` leads where `Then` does. Targets that name no step (lint reports
/// them) are left out.
pub fn successors(steps: &[Sp<Step>], index: usize) -> Vec<Edge> {
    let step = &steps[index];
    let edge = |next: Next, kind: EdgeKind| {
        target(steps, index, &next).map(|to| Edge {
            from: index,
            to,
            kind,
        })
    };
    let mut edges = Vec::new();
    match step.ask.as_ref().and_then(|ask| ask.choices.as_ref()) {
        // A decision's choices say where to go; its own `next` does not apply.
        Some(choices) => edges.extend(choices.iter().filter_map(|choice| {
            edge(
                next(step, StepEnd::Chose(&choice.label.value)),
                EdgeKind::Choice(choice.label.value.clone()),
            )
        })),
        None => edges.extend(edge(next(step, StepEnd::Ok), EdgeKind::Then)),
    }
    if step.condition.is_some() {
        edges.extend(edge(next(step, StepEnd::Skipped), EdgeKind::Skip));
    }
    if let failed @ Next::Step(_) = next(step, StepEnd::Failed) {
        edges.extend(edge(failed, EdgeKind::OnFailure));
    }
    edges
}

/// Every edge of the runbook, step by step.
pub fn edges(steps: &[Sp<Step>]) -> Vec<Edge> {
    (0..steps.len())
        .flat_map(|index| successors(steps, index))
        .collect()
}

/// Which steps some path from `start` reaches, by index.
pub fn reachable(steps: &[Sp<Step>], start: usize) -> Vec<bool> {
    let mut reached = vec![false; steps.len()];
    let mut pending = vec![start];
    while let Some(index) = pending.pop() {
        if index >= steps.len() || reached[index] {
            continue;
        }
        reached[index] = true;
        for edge in successors(steps, index) {
            if let Target::Step(to) = edge.to {
                pending.push(to);
            }
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Vec<Sp<Step>> {
        serde_saphyr::from_str(yaml).expect("test steps are valid YAML")
    }

    #[track_caller]
    fn case(yaml: &str, index: usize, end: StepEnd<'_>, expected: Next) {
        let steps = steps(yaml);
        assert_eq!(next(&steps[index], end), expected, "step {index}, {end:?}");
    }

    #[test]
    fn every_kind_that_finishes_ok_follows_its_next() {
        for kind in [
            "",
            ", check: {run: 'true'}",
            ", action: {run: 'true'}",
            ", wait: {until: {run: 'true'}}",
            ", uses: common/x",
            ", ask: {question: Q, input: v}",
        ] {
            let yaml = format!(
                "[{{id: a, name: A, next: c{kind}}}, {{id: b, name: B}}, {{id: c, name: C}}]"
            );
            case(&yaml, 0, StepEnd::Ok, Next::Step("c".into()));
        }
    }

    #[test]
    fn without_next_a_step_leads_below_and_the_last_one_to_the_end() {
        let steps = steps("[{id: a, name: A}, {id: b, name: B}]");
        assert_eq!(next(&steps[0], StepEnd::Ok), Next::Below);
        assert_eq!(target(&steps, 0, &Next::Below), Some(Target::Step(1)));
        assert_eq!(target(&steps, 1, &Next::Below), Some(Target::End));
        assert_eq!(target(&steps, 0, &Next::Step("zz".into())), None);
    }

    #[test]
    fn a_skipped_step_goes_below_whatever_its_next() {
        case(
            "[{id: a, name: A, if: 'false', next: end}, {id: b, name: B}]",
            0,
            StepEnd::Skipped,
            Next::Below,
        );
    }

    #[test]
    fn a_choice_leads_where_it_says() {
        let yaml = "[{id: a, name: A, next: end, ask: {question: Q, choices: [{label: X, next: c}, {label: Y}]}}, {id: b, name: B}, {id: c, name: C}]";
        case(yaml, 0, StepEnd::Chose("X"), Next::Step("c".into()));
        case(yaml, 0, StepEnd::Chose("Y"), Next::Below);
    }

    #[test]
    fn a_failure_follows_on_failure() {
        let yaml =
            "[{id: a, name: A, next: c, on_failure: POLICY}, {id: b, name: B}, {id: c, name: C}]";
        for (policy, expected) in [
            ("ask", Next::AskEngineer),
            ("stop", Next::Stop),
            ("continue", Next::Step("c".into())),
            ("b", Next::Step("b".into())),
        ] {
            case(
                &yaml.replace("POLICY", policy),
                0,
                StepEnd::Failed,
                expected,
            );
        }
        case("[{id: a, name: A}]", 0, StepEnd::Failed, Next::AskEngineer);
    }

    #[test]
    fn successors_are_the_designed_ways_only() {
        let steps = steps(
            "[{id: a, name: A, if: x, next: c, on_failure: b}, {id: b, name: B, on_failure: continue, next: end}, {id: c, name: C}]",
        );
        assert_eq!(
            successors(&steps, 0),
            vec![
                Edge {
                    from: 0,
                    to: Target::Step(2),
                    kind: EdgeKind::Then
                },
                Edge {
                    from: 0,
                    to: Target::Step(1),
                    kind: EdgeKind::Skip
                },
                Edge {
                    from: 0,
                    to: Target::Step(1),
                    kind: EdgeKind::OnFailure
                },
            ]
        );
        assert_eq!(
            successors(&steps, 1),
            vec![Edge {
                from: 1,
                to: Target::End,
                kind: EdgeKind::Then
            }]
        );
        assert_eq!(reachable(&steps, 0), vec![true, true, true]);
        assert_eq!(reachable(&steps, 1), vec![false, true, false]);
    }
}
