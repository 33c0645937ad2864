//! Lint: every mistake in a runbook, each with `file:line:col`, a rule and one sentence.
//!
//! A file that does not load gets a finding per structural mistake (every one, not just the
//! first); a file that loads goes through every rule family below, and all findings are kept.

mod alerts;
mod catalog;
mod data;
mod flow;
mod loops;
mod notify;
pub mod report;
mod rule;
mod structure;
mod templates;
pub mod untested;
mod values;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use self::catalog::Catalog;
pub use self::rule::{Rule, Severity};
use crate::load::{LoadError, LoadErrorKind, SourceFile};
use crate::model::{Pos, Runbook};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub line: u32,
    #[serde(rename = "col")]
    pub col: u32,
    pub severity: Severity,
    #[serde(serialize_with = "serialize_rule")]
    pub rule: Rule,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

fn serialize_rule<S: serde::Serializer>(rule: &Rule, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(rule.code())
}

impl Diagnostic {
    /// The one finding of a file that cannot be read at all.
    fn unreadable(error: &std::io::Error) -> Diagnostic {
        Diagnostic {
            line: 1,
            col: 1,
            severity: Severity::Error,
            rule: Rule::YamlSyntax,
            message: format!("cannot read the file: {error}"),
            help: None,
        }
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }
}

/// The findings of one file, with its text for quoting.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// The findings of a whole lint run.
#[derive(Debug, Default)]
pub struct LintReport {
    pub files: Vec<FileReport>,
}

impl LintReport {
    pub fn count(&self, severity: Severity) -> usize {
        self.files
            .iter()
            .flat_map(|f| &f.diagnostics)
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// Settings of a lint run.
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// `--catalog`: where `uses` ids resolve; else found from each file.
    pub catalog: Option<PathBuf>,
    /// Today, for the review-age rule.
    pub today: jiff::civil::Date,
}

impl LintOptions {
    pub fn new(catalog: Option<PathBuf>) -> Result<Self, crate::Error> {
        Ok(LintOptions {
            catalog,
            today: crate::today()?,
        })
    }
}

/// Lints files, spreading them over the machine's cores; findings come back in file order.
pub fn lint_files(files: &[crate::load::FoundFile], options: &LintOptions) -> LintReport {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let chunk = files.len().div_ceil(workers).max(1);
    let files = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    let mut catalogs = catalog::Catalogs::default();
                    chunk
                        .iter()
                        .map(|file| lint_path(file, options, &mut catalogs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    LintReport { files }
}

fn lint_path(
    file: &crate::load::FoundFile,
    options: &LintOptions,
    catalogs: &mut catalog::Catalogs,
) -> FileReport {
    let path = file.path.as_path();
    let source = match SourceFile::read(path) {
        Ok(source) => source,
        Err(error) => {
            return FileReport {
                path: path.to_path_buf(),
                text: String::new(),
                diagnostics: vec![Diagnostic::unreadable(&error)],
            };
        }
    };
    let fallback = file
        .under
        .as_deref()
        .unwrap_or(Path::new(crate::load::CATALOG_DIR_NAME));
    let catalog_dir =
        crate::load::catalog_root_or(options.catalog.as_deref(), Some(path), fallback);
    let catalog = catalogs.get(&catalog_dir);
    let diagnostics = lint_source(&source, catalog, options);
    FileReport {
        path: source.path,
        text: source.text,
        diagnostics,
    }
}

/// Lints one loaded file against its catalog.
pub fn lint_source(
    source: &SourceFile,
    catalog: &mut Catalog,
    options: &LintOptions,
) -> Vec<Diagnostic> {
    let mut lint = match &source.parsed {
        Err(first) => {
            let mistakes = if source.mistakes.is_empty() {
                std::slice::from_ref(first)
            } else {
                source.mistakes.as_slice()
            };
            return mistakes.iter().map(load_diagnostic).collect();
        }
        Ok(runbook) => FileLint {
            path: &source.path,
            text: &source.text,
            runbook,
            diagnostics: Vec::new(),
        },
    };
    structure::check(&mut lint, options);
    flow::check(&mut lint);
    values::check(&mut lint);
    alerts::check(&mut lint);
    templates::check(&mut lint);
    data::check(&mut lint);
    loops::check(&mut lint);
    notify::check(&mut lint);
    catalog.check(&mut lint);
    let mut diagnostics = lint.diagnostics;
    diagnostics.sort_by_key(|d| (d.line, d.col));
    diagnostics.dedup();
    diagnostics
}

/// A runbook under lint and the findings so far; every rule family reports through it.
pub(crate) struct FileLint<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub runbook: &'a Runbook,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileLint<'_> {
    pub fn report(&mut self, rule: Rule, pos: Pos, message: impl Into<String>) {
        self.report_with_help(rule, pos, message, None::<String>);
    }

    pub fn report_with_help(
        &mut self,
        rule: Rule,
        pos: Pos,
        message: impl Into<String>,
        help: Option<impl Into<String>>,
    ) {
        let pos = if pos.line == 0 { Pos::START } else { pos };
        self.diagnostics.push(Diagnostic {
            line: pos.line,
            col: pos.col,
            severity: rule.severity(),
            rule,
            message: message.into(),
            help: help.map(Into::into),
        });
    }

    /// Whether any error has been found so far.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Loads and lints one runbook before it is used (render, run): the runbook and its text when
/// it has no error; otherwise its findings go to stderr, as `runbook lint` shows them, and the
/// error says how many there were. Warnings do not stop it.
pub fn checked_runbook(path: &Path, catalog_dir: &Path) -> Result<(Runbook, String), crate::Error> {
    let options = LintOptions::new(Some(catalog_dir.to_path_buf()))?;
    let source = match SourceFile::read(path) {
        Ok(source) => source,
        Err(source) => {
            return Err(crate::Error::ReadFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut catalog = Catalog::new(catalog_dir.to_path_buf());
    let diagnostics = lint_source(&source, &mut catalog, &options);
    let count = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match source.parsed {
        Ok(runbook) if count == 0 => Ok((runbook, source.text)),
        _ => {
            let report = LintReport {
                files: vec![FileReport {
                    path: path.to_path_buf(),
                    text: source.text,
                    diagnostics,
                }],
            };
            // Failing to show them is not worth a second error: the exit status says it all.
            let _ = std::io::Write::write_all(
                &mut anstream::stderr(),
                report::human(&report, true).as_bytes(),
            );
            Err(crate::Error::InvalidRunbook {
                path: path.to_path_buf(),
                count,
            })
        }
    }
}

/// A structural mistake of loading, as lint shows it (also for `runbook test`'s files).
pub fn load_diagnostic(error: &LoadError) -> Diagnostic {
    let rule = match error.kind {
        LoadErrorKind::Syntax => Rule::YamlSyntax,
        LoadErrorKind::UnknownKey => Rule::UnknownKey,
        LoadErrorKind::MissingKey => Rule::MissingKey,
        LoadErrorKind::DuplicateKey => Rule::DuplicateKey,
        LoadErrorKind::WrongType => Rule::WrongType,
        LoadErrorKind::Tag => Rule::YamlTag,
    };
    let pos = if error.pos.line == 0 {
        Pos::START
    } else {
        error.pos
    };
    Diagnostic {
        line: pos.line,
        col: pos.col.max(1),
        severity: rule.severity(),
        rule,
        message: error.message.clone(),
        help: error.help.clone(),
    }
}
