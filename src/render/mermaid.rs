//! The Mermaid flow chart of a runbook's steps: one node per step and one edge per way a run
//! can move on, as [`crate::flow`] decides it (the step below, `next`, each choice, an `if`
//! that skips, an `on_failure` step). Labels are the step names as written; templates are
//! never rendered.

use std::fmt::Write as _;

use crate::flow::{EdgeKind, Target, edges};
use crate::model::{Sp, Step, StepKind};

/// The `flowchart TD` source, without the Markdown fence.
pub fn flowchart(steps: &[Sp<Step>]) -> String {
    let edges = edges(steps);
    let mut out = String::from("flowchart TD\n");
    for (i, step) in steps.iter().enumerate() {
        let label = escape_label(&format!("{}. {}{}", i + 1, step.name.value, marks(step)));
        let (open, close) = match step.kind() {
            StepKind::Ask => ("{", "}"),
            StepKind::Wait => ("([", "])"),
            StepKind::Uses => ("[[", "]]"),
            StepKind::Manual | StepKind::Check | StepKind::Action => ("[", "]"),
        };
        let _ = writeln!(out, "    {}{open}\"{label}\"{close}", node_id(i));
    }
    if edges.iter().any(|e| e.to == Target::End) {
        let _ = writeln!(out, "    {END_NODE}((\"end\"))");
    }
    for edge in &edges {
        let (from, to) = (node_id(edge.from), target_id(edge.to));
        let _ = match &edge.kind {
            EdgeKind::Then => writeln!(out, "    {from} --> {to}"),
            EdgeKind::Choice(label) => {
                writeln!(out, "    {from} -- \"{}\" --> {to}", escape_label(label))
            }
            EdgeKind::Skip => writeln!(out, "    {from} -. skip .-> {to}"),
            EdgeKind::OnFailure => writeln!(out, "    {from} -. on failure .-> {to}"),
        };
    }
    out
}

/// What a node's name alone does not say: a loop, a session, a checklist.
fn marks(step: &Step) -> String {
    let command = step.check.as_ref().or(step.action.as_ref());
    let mut marks = Vec::new();
    if let Some(for_each) = command.and_then(|c| c.for_each.as_ref()) {
        marks.push(format!("for each of {}", for_each.value));
    }
    if command.is_some_and(|c| c.interactive.as_ref().is_some_and(|i| i.value)) {
        marks.push("interactive".to_string());
    }
    if let Some(checklist) = &step.checklist {
        let n = checklist.len();
        marks.push(format!(
            "checklist of {n} item{}",
            if n == 1 { "" } else { "s" }
        ));
    }
    marks.iter().map(|m| format!(" · {m}")).collect()
}

/// The id of the end node; `end` itself is a Mermaid keyword.
const END_NODE: &str = "done";

/// Step ids may hold `-`, which Mermaid reads as part of an arrow: nodes are named by index.
fn node_id(index: usize) -> String {
    format!("s{index}")
}

fn target_id(target: Target) -> String {
    match target {
        Target::Step(index) => node_id(index),
        Target::End => END_NODE.to_string(),
    }
}

/// Text that is safe inside a quoted Mermaid label: quotes and the characters Mermaid or its
/// HTML labels would interpret become entity codes, and the label stays on one line.
fn escape_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in not_a_list(text).chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '\r' | '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Recent Mermaid reads labels as Markdown, and a label that starts like a list item
/// (`1. Restart`, `- foo`) is drawn as "Unsupported markdown: list". A no-break space after
/// the marker looks the same and starts no list; a backslash would show in older versions.
fn not_a_list(text: &str) -> std::borrow::Cow<'_, str> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let marker = match text[digits..].chars().next() {
        Some('.' | ')') if (1..=9).contains(&digits) => digits + 1,
        Some('-' | '*' | '+') if digits == 0 => 1,
        _ => return text.into(),
    };
    match text[marker..].strip_prefix(' ') {
        Some(rest) => format!("{}\u{a0}{rest}", &text[..marker]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Vec<Sp<Step>> {
        serde_saphyr::from_str(yaml).expect("test steps are valid YAML")
    }

    /// The chart's edge lines, without indentation.
    #[track_caller]
    fn case(yaml: &str, expected: &[&str]) {
        let chart = flowchart(&steps(yaml));
        let lines: Vec<&str> = chart
            .lines()
            .map(str::trim)
            .filter(|line| line.contains("--") || line.contains("-."))
            .collect();
        assert_eq!(lines, expected, "chart:\n{chart}");
    }

    #[test]
    fn sequence_falls_through_to_the_end() {
        case(
            "[{id: a, name: A}, {id: b, name: B}]",
            &["s0 --> s1", "s1 --> done"],
        );
    }

    #[test]
    fn next_replaces_the_step_below() {
        case(
            "[{id: a, name: A, next: c}, {id: b, name: B, next: end}, {id: c, name: C, next: b}]",
            &["s0 --> s2", "s1 --> done", "s2 --> s1"],
        );
    }

    #[test]
    fn choices_are_labelled_and_ignore_next() {
        case(
            r#"
- id: pick
  name: Pick
  next: b
  ask:
    question: Which?
    choices:
      - { label: 'Say "stop"', next: end }
      - { label: '- Below' }
      - { label: Last, next: c }
- { id: b, name: B }
- { id: c, name: C }
"#,
            &[
                "s0 -- \"Say #quot;stop#quot;\" --> done",
                "s0 -- \"-\u{a0}Below\" --> s1",
                "s0 -- \"Last\" --> s2",
                "s1 --> s2",
                "s2 --> done",
            ],
        );
    }

    #[test]
    fn if_adds_a_skip_to_the_step_below_even_with_next() {
        case(
            "[{id: a, name: A, if: 'true', next: end}, {id: b, name: B, if: 'false'}]",
            &[
                "s0 --> done",
                "s0 -. skip .-> s1",
                "s1 --> done",
                "s1 -. skip .-> done",
            ],
        );
    }

    #[test]
    fn on_failure_step_is_an_edge_and_policies_are_not() {
        case(
            "[{id: a, name: A, on_failure: c}, {id: b, name: B, on_failure: stop}, {id: c, name: C}]",
            &[
                "s0 --> s1",
                "s0 -. on failure .-> s2",
                "s1 --> s2",
                "s2 --> done",
            ],
        );
    }

    #[test]
    fn labels_that_look_like_lists_are_not() {
        for (label, expected) in [
            ("1. Restart", "1.\u{a0}Restart"),
            ("12) Restart", "12)\u{a0}Restart"),
            ("- all", "-\u{a0}all"),
            ("* all", "*\u{a0}all"),
            ("1.5 hosts", "1.5 hosts"),
            ("All of them", "All of them"),
            ("-1 host", "-1 host"),
            ("", ""),
        ] {
            assert_eq!(not_a_list(label), expected, "{label:?}");
        }
    }

    #[test]
    fn unknown_targets_are_left_out() {
        case(
            "[{id: a, name: A, next: nowhere}, {id: b, name: B}]",
            &["s1 --> done"],
        );
    }

    #[test]
    fn loops_sessions_and_checklists_are_marked_on_their_nodes() {
        let chart = flowchart(&steps(
            r#"
- { id: a, name: Pods, check: { run: "k {{ item }}", for_each: vars.pods } }
- { id: b, name: Shell, action: { run: sh, interactive: true, irreversible: x } }
- { id: c, name: Before, instructions: x, checklist: [one, two] }
"#,
        ));
        assert!(
            chart.contains(r#"Pods · for each of vars.pods"]"#),
            "{chart}"
        );
        assert!(chart.contains(r#"Shell · interactive"]"#), "{chart}");
        assert!(
            chart.contains(r#"Before · checklist of 2 items"]"#),
            "{chart}"
        );
    }

    #[test]
    fn nodes_are_named_by_index_with_shapes_and_escaped_labels() {
        let chart = flowchart(&steps(
            r#"
- { id: first-step, name: 'Look at <the> "dashboard" #1' }
- { id: pick, name: Pick, ask: { question: Q, input: x } }
- { id: poll, name: Poll, wait: { until: { run: "true" } } }
- { id: sub, name: Sub, uses: common/restart }
"#,
        ));
        assert_eq!(
            chart,
            "flowchart TD
    s0[\"1.\u{a0}Look at #lt;the#gt; #quot;dashboard#quot; #35;1\"]
    s1{\"2.\u{a0}Pick\"}
    s2([\"3.\u{a0}Poll\"])
    s3[[\"4.\u{a0}Sub\"]]
    done((\"end\"))
    s0 --> s1
    s1 --> s2
    s2 --> s3
    s3 --> done
"
        );
    }
}
