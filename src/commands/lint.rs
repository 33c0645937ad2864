//! `runbook lint [PATH…]`.

use std::path::PathBuf;

use super::write_stdout;
use crate::cli::LintFormat;
use crate::lint::{self, LintOptions, Severity};
use crate::{Error, ExitStatus, load};

pub fn lint(
    paths: &[PathBuf],
    format: LintFormat,
    deny_warnings: bool,
    catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    lint_checked(paths, format, deny_warnings, catalog, false)
}

/// `runbook lint`; `require_tests` (`--require-tests`) adds the rule `untested-branch`.
pub fn lint_checked(
    paths: &[PathBuf],
    format: LintFormat,
    deny_warnings: bool,
    catalog: Option<PathBuf>,
    require_tests: bool,
) -> Result<ExitStatus, Error> {
    let files = load::expand_paths(paths)?;
    if files.is_empty() {
        return Err(Error::NoRunbooks {
            paths: paths.to_vec(),
        });
    }
    let mut report = lint::lint_files(&files, &LintOptions::new(catalog)?);
    if require_tests {
        for file in &mut report.files {
            if let Ok(runbook) = load::parse(&file.text) {
                file.diagnostics
                    .extend(lint::untested::check(&file.path, &runbook));
                file.diagnostics.sort_by_key(|d| (d.line, d.col));
            }
        }
    }
    let text = match format {
        LintFormat::Human => lint::report::human(&report, true),
        LintFormat::Github => {
            lint::report::append_step_summary(&lint::report::github_summary(
                &report,
                "runbook lint",
            ));
            lint::report::github(&report)
        }
        LintFormat::Json => lint::report::json(&report),
        LintFormat::Sarif => lint::report::sarif(&report),
    };
    write_stdout(&text)?;
    let failed =
        report.count(Severity::Error) > 0 || (deny_warnings && report.count(Severity::Warning) > 0);
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
