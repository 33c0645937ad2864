//! Printing lint findings: `human` (the source line and a caret, coloured on a terminal),
//! `github` (workflow commands that annotate a pull request) and `json`.

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Diagnostic, FileReport, LintReport, Severity};

/// Findings as a person reads them; `styled` adds colour (anstream strips it off a terminal).
pub fn human(report: &LintReport, styled: bool) -> String {
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for file in &report.files {
        for diagnostic in &file.diagnostics {
            out.push_str(&render_one(&renderer, file, diagnostic));
            out.push_str("\n\n");
        }
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

fn render_one(renderer: &Renderer, file: &FileReport, diagnostic: &Diagnostic) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let path = file.path.display().to_string();
    let title = level
        .primary_title(&diagnostic.message)
        .id(diagnostic.rule.code());
    let mut groups = Vec::new();
    match line_span(&file.text, diagnostic) {
        Some((line_text, span)) => {
            groups.push(
                title.element(
                    Snippet::source(line_text)
                        .line_start(diagnostic.line as usize)
                        .path(path.clone())
                        .annotation(AnnotationKind::Primary.span(span)),
                ),
            );
        }
        None => groups.push(
            title.element(
                annotate_snippets::Origin::path(path.clone())
                    .line(diagnostic.line as usize)
                    .char_column(diagnostic.col as usize),
            ),
        ),
    }
    if let Some(help) = &diagnostic.help {
        groups.push(Group::with_title(Level::HELP.secondary_title(help)));
    }
    renderer.render(&groups)
}

/// The line a finding points at and the byte span of the word under its column. The column
/// counts characters; the span is in bytes and always falls on character boundaries (a
/// non-breaking space or U+3000 is two or three bytes).
fn line_span<'a>(
    text: &'a str,
    diagnostic: &Diagnostic,
) -> Option<(&'a str, std::ops::Range<usize>)> {
    let line = text
        .split('\n')
        .nth((diagnostic.line as usize).checked_sub(1)?)?
        .trim_end_matches('\r');
    let start = line
        .char_indices()
        .nth((diagnostic.col as usize).saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    let rest = &line[start..];
    // Underline up to the end of the key or value: stop at `:` followed by a space, or at
    // the end of the line; at least one character.
    let len = rest
        .find(": ")
        .or_else(|| rest.strip_suffix(':').map(str::len))
        .unwrap_or(rest.trim_end().len());
    let first_char = rest.chars().next().map_or(0, char::len_utf8);
    let mut end = start + len.max(first_char);
    while !line.is_char_boundary(end) {
        end += 1;
    }
    Some((line, start..end))
}

/// One line: how many errors and warnings in how many files.
pub fn summary(report: &LintReport) -> String {
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let files = report.files.len();
    let with_findings = report
        .files
        .iter()
        .filter(|f| !f.diagnostics.is_empty())
        .count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors == 0 && warnings == 0 {
        format!("✔ {} checked: no problems", plural(files, "runbook"))
    } else {
        format!(
            "{} {} and {} in {} of {} checked",
            if errors > 0 { "✘" } else { "!" },
            plural(errors, "error"),
            plural(warnings, "warning"),
            with_findings,
            plural(files, "runbook"),
        )
    }
}

/// GitHub Actions workflow commands: one `::error`/`::warning` line per finding.
pub fn github(report: &LintReport) -> String {
    let mut out = String::new();
    for file in &report.files {
        for d in &file.diagnostics {
            let _ = writeln!(
                out,
                "::{} file={},line={},col={},title={}::{}",
                d.severity.as_str(),
                escape_property(&file.path.display().to_string()),
                d.line,
                d.col,
                escape_property(d.rule.code()),
                escape_data(&match &d.help {
                    Some(help) => format!("{}\n{help}", d.message),
                    None => d.message.clone(),
                }),
            );
        }
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

/// Machine-readable findings.
pub fn json(report: &LintReport) -> String {
    #[derive(serde::Serialize)]
    struct Finding<'a> {
        file: String,
        #[serde(flatten)]
        diagnostic: &'a Diagnostic,
    }
    #[derive(serde::Serialize)]
    struct Output<'a> {
        files: usize,
        errors: usize,
        warnings: usize,
        diagnostics: Vec<Finding<'a>>,
    }
    let output = Output {
        files: report.files.len(),
        errors: report.count(Severity::Error),
        warnings: report.count(Severity::Warning),
        diagnostics: report
            .files
            .iter()
            .flat_map(|f| {
                f.diagnostics.iter().map(|d| Finding {
                    file: f.path.display().to_string(),
                    diagnostic: d,
                })
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&output).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::Rule;

    /// `lint` panicked inside annotate-snippets on a non-breaking space, U+2028 or U+3000: a
    /// column counted in characters was used as a byte offset.
    #[test]
    fn wide_spaces_do_not_break_the_caret() {
        for space in ['\u{a0}', '\u{2028}', '\u{3000}'] {
            for text in [
                format!("  services: [svc]{space}\n"),
                format!("{space}{space}x: y\n"),
                format!("a{space}: {space}\n"),
            ] {
                for col in 1..=20 {
                    let diagnostic = Diagnostic {
                        line: 1,
                        col,
                        severity: Severity::Error,
                        rule: Rule::WrongType,
                        message: "m".into(),
                        help: None,
                    };
                    let report = LintReport {
                        files: vec![FileReport {
                            path: "a.yaml".into(),
                            text: text.clone(),
                            diagnostics: vec![diagnostic],
                        }],
                    };
                    assert!(human(&report, false).contains("a.yaml:1:"));
                }
            }
        }
    }
}
