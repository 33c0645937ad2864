//! How test results are printed: a line per test, then `N passed, M failed` alone on a line;
//! a failing test shows why, and the expected and actual paths side by side. `github` and
//! `json` as lint prints them.

use std::fmt::Write as _;

use super::verdict::Verdict;

/// `N passed, M failed`.
pub fn summary(verdicts: &[Verdict]) -> String {
    let passed = verdicts.iter().filter(|v| v.passed()).count();
    format!("{passed} passed, {} failed", verdicts.len() - passed)
}

pub fn human(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for verdict in verdicts {
        let mark = if verdict.passed() { "✔" } else { "✘" };
        let _ = writeln!(out, "{mark} {}: {}", verdict.file.display(), verdict.name);
        if verdict.passed() {
            continue;
        }
        let _ = writeln!(out, "    at {}:{}", verdict.file.display(), verdict.pos);
        for problem in &verdict.problems {
            let _ = writeln!(out, "    {problem}");
        }
        if verdict.expected_path.is_some() {
            out.push_str(&side_by_side(verdict));
        } else {
            let _ = writeln!(out, "    path: {}", verdict.actual_path.join(" → "));
        }
    }
    let _ = writeln!(out, "{}", summary(verdicts));
    out
}

/// The expected and actual paths in two columns, the first divergence marked.
fn side_by_side(verdict: &Verdict) -> String {
    let expected = verdict.expected_path.as_deref().unwrap_or_default();
    let actual = &verdict.actual_path;
    let width = expected
        .iter()
        .map(|s| s.chars().count())
        .chain(std::iter::once("expected".len()))
        .max()
        .unwrap_or(8);
    let divergence = verdict.divergence();
    let mut out = String::new();
    let _ = writeln!(out, "       {:<width$}   actual", "expected");
    for i in 0..expected.len().max(actual.len()) {
        let left = expected.get(i).map_or("·", String::as_str);
        let right = actual.get(i).map_or("·", String::as_str);
        let marker = if Some(i) == divergence { "✘" } else { " " };
        let note = if Some(i) == divergence {
            "   ← first divergence"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "    {marker} {:>2} {left:<width$}   {right}{note}",
            i + 1
        );
    }
    let _ = writeln!(out, "    outcome: {}", verdict.outcome);
    out
}

/// GitHub Actions workflow commands: one `::error` per failing test, at its name.
pub fn github(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for verdict in verdicts.iter().filter(|v| !v.passed()) {
        let mut message = verdict.problems.join("\n");
        if let Some(expected) = &verdict.expected_path {
            let _ = write!(
                message,
                "\nexpected path: {}\nactual path:   {}",
                expected.join(" → "),
                verdict.actual_path.join(" → ")
            );
        }
        let _ = writeln!(
            out,
            "::error file={},line={},col={},title={}::{}",
            escape_property(&verdict.file.display().to_string()),
            verdict.pos.line,
            verdict.pos.col,
            escape_property(&format!("runbook test: {}", verdict.name)),
            escape_data(&message),
        );
    }
    let _ = writeln!(out, "{}", summary(verdicts));
    out
}

/// A Markdown job summary for `$GITHUB_STEP_SUMMARY`: a row per test, failures first, with
/// why each failed (GitHub shows only ten annotations of a kind per step).
pub fn github_summary(verdicts: &[Verdict]) -> String {
    use crate::lint::report::markdown_cell;
    let mut out = format!("### runbook test\n\n{}\n", summary(verdicts));
    if verdicts.is_empty() {
        return out;
    }
    out.push_str("\n| Test | Where | Result |\n|---|---|---|\n");
    let (failed, passed): (Vec<&Verdict>, Vec<&Verdict>) =
        verdicts.iter().partition(|v| !v.passed());
    for verdict in failed.into_iter().chain(passed) {
        let result = if verdict.passed() {
            "✔ passed".to_string()
        } else {
            format!("✘ {}", verdict.problems.join("; "))
        };
        let _ = writeln!(
            out,
            "| {} | `{}:{}` | {} |",
            markdown_cell(&verdict.name),
            markdown_cell(&verdict.file.display().to_string()).replace('`', "'"),
            verdict.pos,
            markdown_cell(&result),
        );
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Machine-readable results.
pub fn json(verdicts: &[Verdict]) -> String {
    #[derive(serde::Serialize)]
    struct Test<'a> {
        file: String,
        line: u32,
        col: u32,
        name: &'a str,
        passed: bool,
        problems: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        expected_path: Option<&'a [String]>,
        actual_path: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        first_divergence: Option<usize>,
        outcome: &'a str,
        commands: &'a [String],
    }
    #[derive(serde::Serialize)]
    struct Output<'a> {
        passed: usize,
        failed: usize,
        tests: Vec<Test<'a>>,
    }
    let passed = verdicts.iter().filter(|v| v.passed()).count();
    let output = Output {
        passed,
        failed: verdicts.len() - passed,
        tests: verdicts
            .iter()
            .map(|v| Test {
                file: v.file.display().to_string(),
                line: v.pos.line,
                col: v.pos.col,
                name: &v.name,
                passed: v.passed(),
                problems: &v.problems,
                expected_path: v.expected_path.as_deref(),
                actual_path: &v.actual_path,
                first_divergence: v.divergence().map(|i| i + 1),
                outcome: &v.outcome,
                commands: &v.commands,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&output).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}
