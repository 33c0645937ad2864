//! `runbook status [PATH]`: the morning check. Every runbook's `health` checks are expanded
//! into one job per host up front and run through one bounded pool ([`check`]); the results
//! become one row per runbook, green, orange or red ([`report`]), shown as a table, JSON or one
//! self-contained HTML page ([`html`]).

mod check;
mod html;
mod report;

/// How a service stands, for `runbook watch`.
pub(crate) use self::report::State as ServiceState;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use self::report::{Report, ServiceStatus};
use super::write_stdout;
use crate::cli::StatusFormat;
use crate::execute::transport::Interrupt;
use crate::lint::{self, Catalog, LintOptions, Severity};
use crate::load::{self, SourceFile};
use crate::model::Runbook;
use crate::{Error, ExitStatus};

/// What `runbook status` was asked to do.
#[derive(Debug)]
pub struct StatusSettings {
    pub path: PathBuf,
    pub format: StatusFormat,
    pub output: Option<PathBuf>,
    pub parallel: usize,
    pub ssh_config: Option<PathBuf>,
    pub catalog: Option<PathBuf>,
}

/// One runbook file of the catalog, loaded and linted.
pub(crate) struct Entry {
    pub id: String,
    pub path: PathBuf,
    /// The runbook, when it parses (even with lint errors: its title and services still show).
    pub runbook: Option<Runbook>,
    /// Why its checks are not run: its first lint error as `file:line:col: message`.
    pub error: Option<String>,
}

impl Entry {
    /// The runbook whose checks run: one that loaded without a lint error.
    pub fn checkable(&self) -> Option<&Runbook> {
        self.runbook.as_ref().filter(|_| self.error.is_none())
    }
}

/// Runs every runbook's health checks and reports one row per runbook, red first.
pub fn status(settings: StatusSettings) -> Result<ExitStatus, Error> {
    if let Some(config) = &settings.ssh_config {
        // Checked now rather than at the first SSH check, so a typo is an invalid invocation
        // and not a page of red.
        crate::execute::check_ssh_config(config)?;
    }
    if let Some(output) = &settings.output {
        check_output(output)?;
    }
    let files = load::expand_paths(std::slice::from_ref(&settings.path))?;
    if files.is_empty() {
        return Err(Error::NoRunbooks {
            paths: vec![settings.path.clone()],
        });
    }
    let catalog_dir = load::catalog_for_path(&settings.path, settings.catalog.as_deref());
    let options = LintOptions::new(Some(catalog_dir.clone()))?;
    let mut catalog = Catalog::new(catalog_dir.clone());
    let entries: Vec<Entry> = files
        .iter()
        .map(|file| load_entry(&catalog_dir, &file.path, &mut catalog, &options))
        .collect();

    let interrupt = Interrupt::install().map_err(Error::Output)?;
    let checked_at = jiff::Timestamp::now();
    let started = Instant::now();
    let checked = check::run(
        &entries,
        &check::Settings {
            parallel: settings.parallel,
            ssh_config: settings.ssh_config.clone(),
        },
        &interrupt,
    );
    if interrupt.is_set() {
        // A half-checked catalog would show unfinished checks as failures: no report at all.
        let _ = writeln!(
            anstream::stderr(),
            "interrupted: the checks were stopped and no report was written"
        );
        return Ok(ExitStatus::Interrupted);
    }
    let report = Report::new(
        checked_at,
        started.elapsed(),
        settings.parallel,
        checked.jobs,
        entries
            .iter()
            .zip(checked.services)
            .map(|(entry, checks)| ServiceStatus::new(entry, checks, &checked.masker))
            .collect(),
    );
    let text = match settings.format {
        StatusFormat::Table => report::table(&report),
        StatusFormat::Json => report::json(&report),
        StatusFormat::Html => html::page(&report),
    };
    match &settings.output {
        Some(path) => {
            // A file gets no colour, whatever the terminal.
            let text = match settings.format {
                StatusFormat::Table => anstream::adapter::strip_str(&text).to_string(),
                StatusFormat::Json | StatusFormat::Html => text,
            };
            write_atomically(path, &text)?;
            let _ = writeln!(
                anstream::stderr(),
                "{} → {}",
                report::counts_line(&report),
                path.display()
            );
        }
        None => write_stdout(&text)?,
    }
    Ok(if report.counts.red > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// One runbook's standing after one round of `runbook watch`.
pub(crate) struct Watched {
    pub id: String,
    /// `user-sync-service`, or the id.
    pub label: String,
    pub state: report::State,
    /// How many checks failed (red ones and warnings).
    pub failed: usize,
    /// `2 of 3 checks failed`…
    pub summary: String,
    /// The first failed check and why, in one line; empty when none failed.
    pub detail: String,
}

/// The runbooks of `path` loaded and linted as `runbook status` does, for `runbook watch`.
pub(crate) fn watch_entries(path: &Path, catalog: Option<&Path>) -> Result<Vec<Entry>, Error> {
    let files = load::expand_paths(std::slice::from_ref(&path.to_path_buf()))?;
    if files.is_empty() {
        return Err(Error::NoRunbooks {
            paths: vec![path.to_path_buf()],
        });
    }
    let catalog_dir = load::catalog_for_path(path, catalog);
    let options = LintOptions::new(Some(catalog_dir.clone()))?;
    let mut catalog = Catalog::new(catalog_dir.clone());
    Ok(files
        .iter()
        .map(|file| load_entry(&catalog_dir, &file.path, &mut catalog, &options))
        .collect())
}

/// One round of health checks over `entries`, through the same pool as `runbook status`;
/// `None` when Ctrl-C stopped it half-way (a half round would show unfinished checks as
/// failures).
pub(crate) fn watch_round(
    entries: &[Entry],
    parallel: usize,
    ssh_config: Option<PathBuf>,
    interrupt: &Interrupt,
) -> Option<Vec<Watched>> {
    let checked = check::run(
        entries,
        &check::Settings {
            parallel,
            ssh_config,
        },
        interrupt,
    );
    if interrupt.is_set() {
        return None;
    }
    Some(
        entries
            .iter()
            .zip(checked.services)
            .map(|(entry, checks)| {
                let status = ServiceStatus::new(entry, checks, &checked.masker);
                let detail = match (&status.error, status.failed().next()) {
                    (Some(error), _) => error.clone(),
                    (None, Some(check)) => match &check.reason {
                        Some(reason) => format!("{}: {reason}", check.name),
                        None => check.name.clone(),
                    },
                    (None, None) => String::new(),
                };
                Watched {
                    id: status.id.clone(),
                    label: status.label(),
                    state: status.state,
                    failed: status.failed().count(),
                    summary: status.summary(),
                    detail,
                }
            })
            .collect(),
    )
}

/// Reads, parses and lints one file: a runbook with lint errors is not checked, since
/// `runbook run` would refuse it too.
fn load_entry(
    catalog_dir: &Path,
    path: &Path,
    catalog: &mut Catalog,
    options: &LintOptions,
) -> Entry {
    let id = load::runbook_id(catalog_dir, path);
    let shown = path.display();
    let source = match SourceFile::read(path) {
        Ok(source) => source,
        Err(error) => {
            return Entry {
                id,
                path: path.to_path_buf(),
                runbook: None,
                error: Some(format!("cannot read `{shown}`: {error}")),
            };
        }
    };
    let errors: Vec<lint::Diagnostic> = lint::lint_source(&source, catalog, options)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let error = errors.first().map(|first| {
        let more = match errors.len() - 1 {
            0 => String::new(),
            1 => " (1 more error)".to_string(),
            n => format!(" ({n} more errors)"),
        };
        format!(
            "{shown}:{}:{}: {}{more} — not checked; `runbook lint {shown}` lists every error",
            first.line, first.col, first.message
        )
    });
    Entry {
        id,
        path: path.to_path_buf(),
        runbook: source.parsed.ok(),
        error,
    }
}

/// Writes the report beside its destination under a random name, then renames it over it: a
/// reader (a browser reloading the page, a web server) never sees half a page, and a link
/// planted at a guessable temporary name cannot redirect the write ([`crate::files`]).
fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    crate::files::write_atomically(path, text.as_bytes(), crate::files::SHARED).map_err(|source| {
        Error::WriteFile {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// `--output FILE` must be writable where it is: its folder exists, and it is not a folder
/// itself. Checked before the checks run, so a typo costs nothing.
fn check_output(path: &Path) -> Result<(), Error> {
    let invalid = |reason: String| Error::InvalidFlag {
        flag: "--output",
        value: path.display().to_string(),
        reason,
    };
    if path.is_dir() {
        return Err(invalid("a folder; name the file to write".into()));
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(invalid(format!(
            "the folder `{}` does not exist",
            parent.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_replaces_the_file_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("status.html");
        std::fs::write(&page, "old").unwrap();
        write_atomically(&page, "new page").unwrap();
        assert_eq!(std::fs::read_to_string(&page).unwrap(), "new page");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        let missing = dir.path().join("no-such-dir/status.html");
        assert!(write_atomically(&missing, "x").is_err());
    }
}
