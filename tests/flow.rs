//! The path a run takes is the path `runbook::flow` predicts. Runbooks are generated — manual
//! steps, checks that pass (`exit 0`) or fail (`exit 1`), decisions — with random `next`,
//! choices, `on_failure` and `if`; every target points further down (or at `end`), so runs
//! always finish. Each is run by the real binary without a terminal (`--yes`, `--answer`), and
//! the steps its timeline finished are compared with the flow module's walk of the model.

use std::fmt::Write as _;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use runbook::flow::{self, Next, StepEnd, Target};
use serde_json::Value;

/// A generated step, before it is written as YAML.
#[derive(Debug, Clone)]
struct StepPlan {
    kind: Kind,
    /// Raw choices of targets, turned into a step further down or `end` by [`forward`].
    next: Option<u8>,
    on_failure: Option<Policy>,
    condition: Option<bool>,
}

#[derive(Debug, Clone)]
enum Kind {
    Manual,
    Check {
        passes: bool,
    },
    /// Each choice's target (`None`: no `next`, the step below), and which one is answered.
    Decision {
        choices: Vec<Option<u8>>,
        pick: usize,
    },
}

#[derive(Debug, Clone)]
enum Policy {
    Stop,
    Continue,
    Step(u8),
}

fn step_plan() -> impl Strategy<Value = StepPlan> {
    let kind = prop_oneof![
        Just(Kind::Manual),
        any::<bool>().prop_map(|passes| Kind::Check { passes }),
        (
            prop::collection::vec(any::<Option<u8>>(), 1..4),
            any::<prop::sample::Index>()
        )
            .prop_map(|(choices, pick)| Kind::Decision {
                pick: pick.index(choices.len()),
                choices,
            }),
    ];
    let policy = prop_oneof![
        Just(Policy::Stop),
        Just(Policy::Continue),
        any::<u8>().prop_map(Policy::Step),
    ];
    (
        kind,
        any::<Option<u8>>(),
        prop::option::of(policy),
        any::<Option<bool>>(),
    )
        .prop_map(|(kind, next, on_failure, condition)| StepPlan {
            kind,
            next,
            on_failure,
            condition,
        })
}

/// A target below step `index` of `total`: `end`, or one of the steps after it.
fn forward(raw: u8, index: usize, total: usize) -> String {
    let options = total - index; // `end` and the steps index+1 … total-1
    match raw as usize % options {
        0 => "end".to_string(),
        k => format!("s{}", index + k),
    }
}

fn yaml(plans: &[StepPlan]) -> String {
    let total = plans.len();
    let mut out = String::from(
        "runbook: 1\ntitle: Generated\nowner: tests\nreviewed: 2026-11-01\nscope: { services: [gen] }\nsteps:\n",
    );
    for (index, plan) in plans.iter().enumerate() {
        let _ = writeln!(out, "  - id: s{index}\n    name: Step {index}");
        let _ = writeln!(out, "    instructions: Step {index}.");
        match &plan.kind {
            Kind::Manual => {}
            Kind::Check { passes } => {
                let code = if *passes { 0 } else { 1 };
                let _ = writeln!(out, "    check: {{ run: 'exit {code}' }}");
                match &plan.on_failure {
                    None => {}
                    Some(Policy::Stop) => out.push_str("    on_failure: stop\n"),
                    Some(Policy::Continue) => out.push_str("    on_failure: continue\n"),
                    Some(Policy::Step(raw)) => {
                        let to = forward(*raw, index, total);
                        // `end` is no `on_failure` value: stop instead.
                        let to = if to == "end" { "stop".into() } else { to };
                        let _ = writeln!(out, "    on_failure: {to}");
                    }
                }
            }
            Kind::Decision { choices, .. } => {
                out.push_str("    ask:\n      question: Which way?\n      choices:\n");
                for (n, target) in choices.iter().enumerate() {
                    match target {
                        Some(raw) => {
                            let to = forward(*raw, index, total);
                            let _ = writeln!(out, "        - {{ label: c{n}, next: {to} }}");
                        }
                        None => {
                            let _ = writeln!(out, "        - {{ label: c{n} }}");
                        }
                    }
                }
            }
        }
        if !matches!(plan.kind, Kind::Decision { .. })
            && let Some(raw) = plan.next
        {
            let _ = writeln!(out, "    next: {}", forward(raw, index, total));
        }
        if let Some(condition) = plan.condition {
            let _ = writeln!(out, "    if: '{condition}'");
        }
    }
    out
}

/// What the flow module says: the steps finished, in order; the run's outcome; the failed
/// steps the run went past.
fn predict(text: &str, plans: &[StepPlan]) -> (Vec<String>, &'static str, Vec<String>) {
    let runbook = runbook::load::parse(text).expect("the generated runbook loads");
    let steps = &runbook.steps;
    let (mut path, mut skipped_failures) = (Vec::new(), Vec::new());
    let mut index = 0;
    loop {
        let step = &steps[index];
        let id = step.id.value.clone();
        path.push(id.clone());
        let label;
        let end = match (&plans[index].kind, plans[index].condition) {
            (_, Some(false)) => StepEnd::Skipped,
            (Kind::Manual, _) | (Kind::Check { passes: true }, _) => StepEnd::Ok,
            (Kind::Check { passes: false }, _) => StepEnd::Failed,
            (Kind::Decision { pick, .. }, _) => {
                label = format!("c{pick}");
                StepEnd::Chose(&label)
            }
        };
        let next = flow::next(step, end);
        match next {
            // Without a terminal, the failure menu is `stop`.
            Next::Stop | Next::AskEngineer => return (path, "failed", skipped_failures),
            _ if end == StepEnd::Failed
                && step.on_failure.as_ref().map(|p| p.as_str()) == Some("continue") =>
            {
                skipped_failures.push(id)
            }
            _ => {}
        }
        match flow::target(steps, index, &next) {
            Some(Target::Step(to)) => {
                assert!(to > index, "generated targets point down");
                index = to;
            }
            Some(Target::End) => return (path, "resolved", skipped_failures),
            None => panic!("{next:?} names no step"),
        }
    }
}

/// What the binary did: the steps its timeline finished, its outcome, its skipped failures.
fn run(text: &str, plans: &[StepPlan]) -> (Vec<String>, String, Vec<String>, i32) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("generated.yaml");
    std::fs::write(&file, text).expect("the runbook is written");
    let timeline = dir.path().join("timeline.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_CATALOG")
        .arg("run")
        .arg(&file)
        .arg("--timeline")
        .arg(&timeline)
        .arg("--yes")
        .stdin(Stdio::null());
    for (index, plan) in plans.iter().enumerate() {
        if let Kind::Decision { pick, .. } = plan.kind {
            command.arg("--answer").arg(format!("s{index}=c{pick}"));
        }
    }
    let output = command.output().expect("runbook runs");
    let code = output.status.code().unwrap_or(-1);
    let events: Vec<Value> = std::fs::read_to_string(&timeline)
        .unwrap_or_else(|e| {
            panic!(
                "no timeline ({e}); stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let path = events
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .map(|e| e["step"].as_str().expect("a step id").to_string())
        .collect();
    let finished = events
        .iter()
        .find(|e| e["event"] == "run_finished")
        .expect("the run finished");
    let skipped = finished["skipped_failures"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .map(|id| id.as_str().expect("an id").to_string())
                .collect()
        })
        .unwrap_or_default();
    let outcome = finished["outcome"]
        .as_str()
        .expect("an outcome")
        .to_string();
    (path, outcome, skipped, code)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_takes_the_path_the_flow_module_predicts(
        plans in prop::collection::vec(step_plan(), 1..7)
    ) {
        let text = yaml(&plans);
        let (path, outcome, skipped) = predict(&text, &plans);
        let (ran, ran_outcome, ran_skipped, code) = run(&text, &plans);
        prop_assert_eq!(&ran, &path, "runbook:\n{}", text);
        prop_assert_eq!(ran_outcome.as_str(), outcome, "runbook:\n{}", text);
        prop_assert_eq!(&ran_skipped, &skipped, "runbook:\n{}", text);
        prop_assert_eq!(code, if outcome == "resolved" { 0 } else { 1 }, "runbook:\n{}", text);
    }
}
