//! Printing lint findings: `text` (the source line and a caret, coloured on a terminal),
//! `github` (workflow commands that annotate a pull request, and a job summary), `json` and
//! `sarif` (SARIF 2.1.0, for GitHub code scanning and other static-analysis viewers).

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

/// GitHub Actions workflow commands: one `::error`/`::warning` line per finding, spanning the
/// key or value it points at (`col`..=`endColumn`, the characters the caret of the text
/// format underlines).
pub fn github(report: &LintReport) -> String {
    let mut out = String::new();
    for file in &report.files {
        for d in &file.diagnostics {
            let _ = writeln!(
                out,
                "::{} file={},line={},endLine={},col={},endColumn={},title={}::{}",
                d.severity.as_str(),
                escape_property(&file.path.display().to_string()),
                d.line,
                d.line,
                d.col,
                (end_column(&file.text, d) - 1).max(d.col),
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

/// The column just after the word a finding underlines (1-based, in characters, exclusive as
/// SARIF's `endColumn`); the finding's own column plus one when its line is not in the text.
pub fn end_column(text: &str, diagnostic: &Diagnostic) -> u32 {
    match line_span(text, diagnostic) {
        Some((line, span)) => {
            let chars = line[..span.end].chars().count();
            u32::try_from(chars + 1)
                .unwrap_or(u32::MAX)
                .max(diagnostic.col + 1)
        }
        None => diagnostic.col + 1,
    }
}

/// A Markdown job summary for `$GITHUB_STEP_SUMMARY`: GitHub shows only ten annotations of a
/// kind per step, so every finding is listed here too, under a table of counts per file.
pub fn github_summary(report: &LintReport, title: &str) -> String {
    let mut out = format!("### {title}\n\n{}\n", markdown_cell(&summary(report)));
    let with_findings: Vec<&FileReport> = report
        .files
        .iter()
        .filter(|f| !f.diagnostics.is_empty())
        .collect();
    if with_findings.is_empty() {
        return out;
    }
    out.push_str("\n| File | Errors | Warnings |\n|---|---:|---:|\n");
    for file in &with_findings {
        let count = |severity| {
            file.diagnostics
                .iter()
                .filter(|d| d.severity == severity)
                .count()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            markdown_code(&file.path.display().to_string()),
            count(Severity::Error),
            count(Severity::Warning)
        );
    }
    out.push_str("\n<details open><summary>Every finding</summary>\n\n");
    out.push_str("| Where | Level | Rule | Finding |\n|---|---|---|---|\n");
    for file in &with_findings {
        for d in &file.diagnostics {
            let _ = writeln!(
                out,
                "| `{}:{}:{}` | {} | `{}` | {} |",
                markdown_code(&file.path.display().to_string()),
                d.line,
                d.col,
                d.severity.as_str(),
                d.rule.code(),
                markdown_cell(&match &d.help {
                    Some(help) => format!("{} ({help})", d.message),
                    None => d.message.clone(),
                }),
            );
        }
    }
    out.push_str("\n</details>\n");
    out
}

/// Text for one cell of a Markdown table: on one line, its pipes and HTML escaped.
pub fn markdown_cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Text inside backticks of a table cell: no backtick or pipe can end it early.
fn markdown_code(text: &str) -> String {
    text.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Appends `text` to the file GitHub names in `$GITHUB_STEP_SUMMARY`, when it is set; a
/// summary that cannot be written is a warning, never a failed lint.
pub fn append_step_summary(text: &str) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let result = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, format!("{text}\n").as_bytes()));
    if let Err(error) = result {
        crate::commands::warn(&format!(
            "cannot write the job summary to `{}` ($GITHUB_STEP_SUMMARY): {error}",
            std::path::Path::new(&path).display()
        ));
    }
}

/// SARIF 2.1.0 (OASIS): one run of the tool `runbook`, every rule in `tool.driver.rules`
/// with its description and help, every finding a result pointing at its file, line and
/// columns (counted in Unicode code points, as the text format counts them).
pub fn sarif(report: &LintReport) -> String {
    let log = sarif::Log::new(report);
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

mod sarif {
    //! The part of SARIF 2.1.0 that lint fills in, as serde types: ~70 lines written from
    //! the standard instead of a crate (serde-sarif and its builders and enums for the whole
    //! format are more than a dozen types we would never fill in).

    use serde::Serialize;

    use super::{LintReport, Severity};
    use crate::lint::Rule;

    #[derive(Serialize)]
    pub struct Log {
        #[serde(rename = "$schema")]
        schema: &'static str,
        version: &'static str,
        runs: [Run; 1],
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Run {
        tool: Tool,
        column_kind: &'static str,
        original_uri_base_ids: serde_json::Value,
        results: Vec<SarifResult>,
    }

    #[derive(Serialize)]
    struct Tool {
        driver: Driver,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Driver {
        name: &'static str,
        version: &'static str,
        semantic_version: &'static str,
        information_uri: &'static str,
        rules: Vec<RuleDescriptor>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct RuleDescriptor {
        id: &'static str,
        name: String,
        short_description: Text,
        full_description: Text,
        help: Help,
        help_uri: String,
        default_configuration: Configuration,
    }

    #[derive(Serialize)]
    struct Text {
        text: String,
    }

    #[derive(Serialize)]
    struct Help {
        text: String,
        markdown: String,
    }

    #[derive(Serialize)]
    struct Configuration {
        level: &'static str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct SarifResult {
        rule_id: &'static str,
        rule_index: usize,
        level: &'static str,
        message: Text,
        locations: [Location; 1],
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Location {
        physical_location: PhysicalLocation,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct PhysicalLocation {
        artifact_location: ArtifactLocation,
        region: Region,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ArtifactLocation {
        uri: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        uri_base_id: Option<&'static str>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Region {
        start_line: u32,
        start_column: u32,
        end_line: u32,
        end_column: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        snippet: Option<Text>,
    }

    fn level(severity: Severity) -> &'static str {
        match severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    /// The format reference's section on lint rules, where every rule has a row.
    fn docs_uri() -> String {
        format!(
            "{}/blob/main/docs/format.md#9-lint-rules",
            env!("CARGO_PKG_REPOSITORY")
        )
    }

    /// `runbooks/a b.yaml` → `runbooks/a%20b.yaml`: a relative URI reference (RFC 3986)
    /// resolved against the folder lint ran in; an absolute path becomes a `file://` URI.
    pub fn uri(path: &std::path::Path) -> (String, Option<&'static str>) {
        let text = path.to_string_lossy().replace('\\', "/");
        let mut encoded = String::new();
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                    encoded.push(byte as char);
                }
                _ => encoded.push_str(&format!("%{byte:02X}")),
            }
        }
        if path.is_absolute() {
            (format!("file://{encoded}"), None)
        } else {
            let relative = encoded.strip_prefix("./").unwrap_or(&encoded).to_string();
            (relative, Some("%SRCROOT%"))
        }
    }

    impl Log {
        pub fn new(report: &LintReport) -> Log {
            let rules = Rule::ALL
                .iter()
                .map(|rule| {
                    let description = rule.description().to_string();
                    RuleDescriptor {
                        id: rule.code(),
                        name: rule
                            .code()
                            .split('-')
                            .map(|word| {
                                let mut chars = word.chars();
                                chars.next().map_or_else(String::new, |first| {
                                    first.to_uppercase().chain(chars).collect()
                                })
                            })
                            .collect(),
                        short_description: Text {
                            text: description.clone(),
                        },
                        full_description: Text {
                            text: description.clone(),
                        },
                        help: Help {
                            text: format!(
                                "{description} Every rule is described in docs/format.md, section 9 (Lint rules)."
                            ),
                            markdown: format!(
                                "{description}\n\nEvery rule is described in [the format reference]({}).",
                                docs_uri()
                            ),
                        },
                        help_uri: docs_uri(),
                        default_configuration: Configuration {
                            level: level(rule.severity()),
                        },
                    }
                })
                .collect();
            let mut results = Vec::new();
            for file in &report.files {
                let (uri, uri_base_id) = uri(&file.path);
                for d in &file.diagnostics {
                    let text = match &d.help {
                        Some(help) => format!("{}\n{help}", d.message),
                        None => d.message.clone(),
                    };
                    let snippet = file
                        .text
                        .split('\n')
                        .nth((d.line as usize).saturating_sub(1))
                        .map(|line| Text {
                            text: line.trim_end_matches('\r').to_string(),
                        });
                    results.push(SarifResult {
                        rule_id: d.rule.code(),
                        rule_index: Rule::ALL.iter().position(|r| *r == d.rule).unwrap_or(0),
                        level: level(d.severity),
                        message: Text { text },
                        locations: [Location {
                            physical_location: PhysicalLocation {
                                artifact_location: ArtifactLocation {
                                    uri: uri.clone(),
                                    uri_base_id,
                                },
                                region: Region {
                                    start_line: d.line.max(1),
                                    start_column: d.col.max(1),
                                    end_line: d.line.max(1),
                                    end_column: super::end_column(&file.text, d).max(2),
                                    snippet,
                                },
                            },
                        }],
                    });
                }
            }
            Log {
                schema: "https://json.schemastore.org/sarif-2.1.0.json",
                version: "2.1.0",
                runs: [Run {
                    tool: Tool {
                        driver: Driver {
                            name: "runbook",
                            version: env!("CARGO_PKG_VERSION"),
                            semantic_version: env!("CARGO_PKG_VERSION"),
                            information_uri: env!("CARGO_PKG_REPOSITORY"),
                            rules,
                        },
                    },
                    column_kind: "unicodeCodePoints",
                    original_uri_base_ids: serde_json::json!({
                        "%SRCROOT%": { "description": { "text": "The folder `runbook lint` ran in." } }
                    }),
                    results,
                }],
            }
        }
    }
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
