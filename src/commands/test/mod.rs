//! `runbook test [PATH…]`: runs the tests beside runbooks (`NAME.test.yaml`, SPEC 7.8) without
//! touching anything. Each test is one run of the same engine as `runbook run`, against a
//! scripted target ([`crate::execute::transport::scripted`]) and scripted answers; its path,
//! outcome and rendered commands are then compared with what the test expects.

mod file;
mod report;
mod verdict;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use self::file::{TestFile, runbook_of, tests_of};
use self::verdict::Verdict;
use crate::cli::LintFormat;
use crate::commands::parallel::par_map;
use crate::lint::{FileReport, LintReport};
use crate::load::SourceFile;
use crate::model::Runbook;
use crate::{Error, ExitStatus};

/// `runbook test`, as plain settings.
#[derive(Debug, Clone)]
pub struct TestSettings {
    pub paths: Vec<PathBuf>,
    pub format: LintFormat,
    pub catalog: Option<PathBuf>,
}

/// A test file, loaded and checked, with its runbook.
struct Suite {
    path: PathBuf,
    file: TestFile,
    runbook: Arc<Runbook>,
    id: String,
    catalog: PathBuf,
    /// Every step a test can name (see [`file::steps_of`]).
    steps: file::Steps,
}

pub fn test(settings: &TestSettings) -> Result<ExitStatus, Error> {
    if settings.format == LintFormat::Sarif {
        return Err(Error::InvalidFlag {
            flag: "--format",
            value: "sarif".into(),
            reason: "SARIF is for `runbook lint`; `runbook test` prints text, github or json"
                .into(),
        });
    }
    let files = test_files(&settings.paths)?;
    if files.is_empty() {
        return Err(Error::InvalidFlag {
            flag: "PATH",
            value: settings
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            reason: "no test file (`NAME.test.yaml` beside `NAME.yaml`) there".into(),
        });
    }
    let mut suites = Vec::new();
    let mut invalid = LintReport::default();
    for loaded in load_all(&files, settings.catalog.as_deref()) {
        match loaded? {
            Ok(suite) => suites.push(suite),
            Err(report) => invalid.files.push(report),
        }
    }
    if !invalid.files.is_empty() {
        let _ = std::io::Write::write_all(
            &mut anstream::stderr(),
            crate::lint::report::human(&invalid, true).as_bytes(),
        );
        return Ok(ExitStatus::Invalid);
    }
    let verdicts = run_all(&suites)?;
    let text = match settings.format {
        LintFormat::Human => report::human(&verdicts),
        LintFormat::Github => {
            crate::lint::report::append_step_summary(&report::github_summary(&verdicts));
            report::github(&verdicts)
        }
        LintFormat::Json | LintFormat::Sarif => report::json(&verdicts),
    };
    super::write_stdout(&text)?;
    Ok(if verdicts.iter().all(Verdict::passed) {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The test files PATHs name: a test file as it is, a runbook's test file beside it, every
/// test file under a folder.
fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut under = Vec::new();
            walk(path, &mut under).map_err(|source| Error::ReadDir {
                path: path.clone(),
                source,
            })?;
            under.sort();
            found.extend(under);
        } else if path.is_file() && crate::load::is_test_file(path) {
            found.push(path.clone());
        } else if path.is_file() {
            match tests_of(path) {
                Some(tests) => found.push(tests),
                None => {
                    return Err(Error::InvalidFlag {
                        flag: "PATH",
                        value: path.display().to_string(),
                        reason: "this runbook has no test file beside it (`NAME.test.yaml`)".into(),
                    });
                }
            }
        } else {
            return Err(Error::NoSuchPath { path: path.clone() });
        }
    }
    found.dedup();
    Ok(found)
}

/// Every test file under `dir`, not following hidden or linked folders.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, found)?;
        } else if crate::load::is_test_file(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// [`load`] for every file, spread over the machine's cores; results in file order.
fn load_all(
    files: &[PathBuf],
    catalog: Option<&Path>,
) -> Vec<Result<Result<Suite, FileReport>, Error>> {
    par_map(files, |path| load(path, catalog))
}

/// Reads a test file and its runbook; `Ok(Err(findings))` when the test file has mistakes.
/// A runbook with errors is reported as `run` reports it (exit 2).
fn load(path: &Path, catalog: Option<&Path>) -> Result<Result<Suite, FileReport>, Error> {
    let source = SourceFile::read(path).map_err(|source| Error::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let text = source.text;
    let invalid = |diagnostics| FileReport {
        path: path.to_path_buf(),
        text: text.clone(),
        diagnostics,
    };
    let Some(runbook_path) = runbook_of(path) else {
        return Ok(Err(invalid(vec![file::finding(
            crate::model::Pos::START,
            "no runbook beside this test file: `NAME.test.yaml` tests `NAME.yaml`".into(),
        )])));
    };
    let parsed: TestFile = match crate::load::parse_document(&text) {
        Ok(parsed) => parsed,
        Err(error) => return Ok(Err(invalid(vec![file::load_diagnostic(&error)]))),
    };
    let catalog = crate::load::catalog_root(catalog, Some(&runbook_path));
    let (runbook, _) = crate::lint::checked_runbook(&runbook_path, &catalog)?;
    let steps = file::steps_of(&runbook, &catalog);
    let findings = file::check(&parsed, &runbook, &steps);
    if !findings.is_empty() {
        return Ok(Err(invalid(findings)));
    }
    let id = crate::load::runbook_id(&catalog, &runbook_path);
    Ok(Ok(Suite {
        path: path.to_path_buf(),
        file: parsed,
        runbook: Arc::new(runbook),
        id,
        catalog,
        steps,
    }))
}

/// Runs every test, spread over the machine's cores (a free core takes the next test);
/// verdicts come back in file order.
fn run_all(suites: &[Suite]) -> Result<Vec<Verdict>, Error> {
    let jobs: Vec<(&Suite, usize)> = suites
        .iter()
        .flat_map(|suite| (0..suite.file.tests.len()).map(move |i| (suite, i)))
        .collect();
    par_map(&jobs, |(suite, index)| {
        verdict::run(
            &suite.path,
            &suite.runbook,
            &suite.id,
            &suite.catalog,
            &suite.steps,
            &suite.file.tests[*index],
        )
    })
    .into_iter()
    .collect()
}
