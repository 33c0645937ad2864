//! `runbook render RUNBOOK`: the runbook as Markdown or as a self-contained HTML page.
//!
//! The runbook is linted first: errors are shown like `runbook lint` shows them and nothing is
//! rendered; warnings do not stop it.

use std::path::PathBuf;

use super::write_stdout;
use crate::cli::RenderFormat;
use crate::lint::{self, FileReport, LintOptions, LintReport, Severity};
use crate::{Error, ExitStatus, load, render};

pub fn render(
    runbook: &str,
    format: RenderFormat,
    catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    let (path, catalog_dir) = load::resolve_argument(runbook, catalog.as_deref())?;
    let options = LintOptions::new(Some(catalog_dir.clone()))?;
    let runbook = match lint::check_one(&path, &catalog_dir, &options) {
        Ok((runbook, _warnings, _text)) => runbook,
        Err((diagnostics, text)) => {
            let count = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let report = LintReport {
                files: vec![FileReport {
                    path: path.clone(),
                    text,
                    diagnostics,
                }],
            };
            write_stderr(&lint::report::human(&report, true));
            return Err(Error::InvalidRunbook { path, count });
        }
    };
    let text = match format {
        RenderFormat::Md => render::markdown(&runbook),
        RenderFormat::Html => render::html(&runbook),
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Success)
}

/// The findings go to stderr so that stdout only ever holds a document; failing to show
/// them is not worth a second error, the exit status says it all.
fn write_stderr(text: &str) {
    use std::io::Write as _;
    let _ = anstream::stderr().write_all(text.as_bytes());
}
