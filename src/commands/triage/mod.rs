//! `runbook triage "ALERT TEXT" [PATH]`: which runbook answers this alert.
//!
//! The catalog is loaded — a runbook that does not load is skipped with a warning, so a broken
//! sibling never hides the right one —, ranked by [`rank`], and each match is given what the
//! engineer needs to act on it: contacts, links and the exact command that starts it.

mod rank;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::context;
use serde::Serialize;

use self::rank::{Candidate, Match, Reason, Tier};
use super::write_stdout;
use crate::cli::TriageFormat;
use crate::lint::{self, LintOptions, Severity};
use crate::load::{self, SourceFile};
use crate::model::{Contact, Runbook};
use crate::template::shell_quote;
use crate::{Error, ExitStatus};

/// Ranks the catalog at `path` against `alert` and prints the matches, best first.
pub fn triage(
    alert: &str,
    path: Option<&Path>,
    format: TriageFormat,
    catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    let alert_text = alert.trim();
    if alert_text.is_empty() {
        return Err(Error::InvalidFlag {
            flag: "ALERT TEXT",
            value: alert.to_string(),
            reason: "the alert text is empty; paste the alert as it arrived, e.g. \
                     `runbook triage \"[user-sync-service] creating user: POST /api/users: 500\"`"
                .into(),
        });
    }
    let place = CatalogPlace::new(path, catalog);
    let files = load::expand_paths(std::slice::from_ref(&place.searched))?;
    if files.is_empty() {
        return Err(Error::NoRunbooks {
            paths: vec![place.searched.clone()],
        });
    }
    let (loaded, skipped) = load_all(&files, &place.root);
    for skip in &skipped {
        report::warn_skipped(skip);
    }

    let candidates: Vec<Candidate<'_>> = loaded
        .iter()
        .map(|(id, _, runbook)| Candidate { id, runbook })
        .collect();
    let services = known_services(&candidates);
    let service = rank::named_service(alert_text, &services);
    let ranked = rank::rank(alert_text, service.as_deref(), &candidates);

    let lint_options = LintOptions::new(Some(place.root.clone()))?;
    let mut lint_catalog = lint::Catalog::new(place.root.clone());
    let matches: Vec<Found> = ranked
        .iter()
        .map(|ranked| {
            let (id, source, runbook) = &loaded[ranked.candidate];
            let lint_errors = lint::lint_source(source, &mut lint_catalog, &lint_options)
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            found(id, &source.path, runbook, ranked, &place, lint_errors)
        })
        .collect();

    let triage = Triage {
        alert: alert_text.to_string(),
        service,
        matches,
        skipped,
    };
    match format {
        TriageFormat::Text => write_stdout(&report::text(&triage, &services))?,
        TriageFormat::Json => write_stdout(
            &(serde_json::to_string_pretty(&triage).expect("a triage serializes") + "\n"),
        )?,
    }
    if triage.matches.is_empty() {
        report::no_match(&triage, &place, &services, loaded.len());
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

/// What triage found, as `--format json` prints it.
#[derive(Debug, Serialize)]
struct Triage {
    /// The alert, trimmed.
    alert: String,
    /// The service the alert names, if it names one.
    service: Option<String>,
    matches: Vec<Found>,
    /// Runbooks that could not be loaded and so were not ranked.
    skipped: Vec<Skipped>,
}

/// One matching runbook and what it takes to act on it.
#[derive(Debug, Serialize)]
struct Found {
    id: String,
    title: String,
    file: String,
    tier: Tier,
    reason: String,
    /// Words tier only: the sum of the shared words' rarity.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<String>,
    contacts: Vec<Contact>,
    links: Vec<ShownLink>,
    /// Pasted as is, it starts the runbook.
    command: String,
    /// Errors `runbook lint` finds in it; `runbook run` refuses it until they are fixed.
    lint_errors: usize,
    /// Inputs `runbook run` will ask for, as the text output hints at them.
    #[serde(skip)]
    asks_for: Vec<AskedInput>,
}

impl Found {
    fn is_weak(&self) -> bool {
        self.tier == Tier::Words
    }
}

/// A link with its template filled in where it could be.
#[derive(Debug, Serialize)]
struct ShownLink {
    name: String,
    url: String,
    /// Whether `url` is still a template (it names an input without default, say).
    #[serde(skip)]
    unfilled: bool,
}

/// An input without default or environment variable: `runbook run` asks for it.
#[derive(Debug)]
struct AskedInput {
    name: String,
    secret: bool,
    choices: Vec<String>,
}

/// A file of the catalog that did not load.
#[derive(Debug, Serialize)]
struct Skipped {
    file: String,
    line: u32,
    col: u32,
    message: String,
}

/// Where triage looks and how a catalog id found there is run.
#[derive(Debug)]
struct CatalogPlace {
    /// The folder or file searched.
    searched: PathBuf,
    /// The folder ids are relative to.
    root: PathBuf,
    /// `--catalog` (or `RUNBOOK_CATALOG`), which `runbook run` will use as well.
    explicit: Option<PathBuf>,
}

impl CatalogPlace {
    fn new(path: Option<&Path>, explicit: Option<PathBuf>) -> Self {
        // Without PATH: the catalog named with `--catalog` or `RUNBOOK_CATALOG`, else
        // `runbooks`.
        let searched = match (path, &explicit) {
            (Some(path), _) => path.to_path_buf(),
            (None, Some(catalog)) => catalog.clone(),
            (None, None) => PathBuf::from(load::CATALOG_DIR_NAME),
        };
        let under_explicit = explicit
            .as_deref()
            .is_some_and(|catalog| absolute(&searched).starts_with(absolute(catalog)));
        let root = if under_explicit {
            explicit.clone().unwrap_or_default()
        } else {
            load::catalog_for_path(&searched, None)
        };
        CatalogPlace {
            searched,
            root,
            explicit,
        }
    }

    /// The command that starts the runbook in `file` when pasted in this directory: by id
    /// when the id leads back to that file, with `--catalog` unless `runbook run` would find
    /// the catalog by itself; else by path.
    fn run_command(&self, id: &str, file: &Path, sets: &[(String, String)]) -> String {
        let mut words = vec!["runbook".to_string(), "run".to_string()];
        let by_id =
            load::resolve_id(&self.root, id).is_some_and(|p| absolute(&p) == absolute(file));
        if by_id {
            words.push(shell_quote(id));
            let found_by_itself = self.explicit.is_none()
                && absolute(&self.root) == absolute(Path::new(load::CATALOG_DIR_NAME));
            if !found_by_itself {
                words.push("--catalog".into());
                words.push(shell_quote(&shown_path(&self.root)));
            }
        } else {
            words.push(shell_quote(&shown_path(file)));
        }
        for (name, value) in sets {
            words.push("--set".into());
            // Input names are plain identifiers; only the value may need quoting.
            words.push(format!("{name}={}", shell_quote(value)));
        }
        words.join(" ")
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A path as short as it can be written from here: relative when under the current folder.
fn shown_path(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|here| {
            absolute(path)
                .strip_prefix(here)
                .ok()
                .map(Path::to_path_buf)
        })
        .filter(|p| !p.as_os_str().is_empty());
    match relative {
        Some(relative) if path.is_absolute() => relative.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// Loads every file: the runbooks with their ids, and the files that did not load.
fn load_all(
    files: &[load::FoundFile],
    root: &Path,
) -> (Vec<(String, SourceFile, Runbook)>, Vec<Skipped>) {
    let mut loaded = Vec::new();
    let mut skipped = Vec::new();
    for file in files {
        let shown = file.path.display().to_string();
        match SourceFile::read(&file.path) {
            Err(error) => skipped.push(Skipped {
                file: shown,
                line: 1,
                col: 1,
                message: format!("cannot read the file: {error}"),
            }),
            Ok(source) => match source.parsed.clone() {
                Err(error) => skipped.push(Skipped {
                    file: shown,
                    line: error.pos.line,
                    col: error.pos.col,
                    message: error.message,
                }),
                Ok(runbook) => loaded.push((load::runbook_id(root, &file.path), source, runbook)),
            },
        }
    }
    (loaded, skipped)
}

/// Every service of the catalog, once, sorted.
fn known_services<'a>(candidates: &[Candidate<'a>]) -> Vec<&'a str> {
    let mut services: Vec<&str> = candidates
        .iter()
        .flat_map(|c| c.runbook.scope.services.iter().map(|s| s.as_str()))
        .collect();
    services.sort_unstable();
    services.dedup();
    services
}

/// Everything printed about one match.
fn found(
    id: &str,
    file: &Path,
    runbook: &Runbook,
    ranked: &Match,
    place: &CatalogPlace,
    lint_errors: usize,
) -> Found {
    let reason = &ranked.reason;
    let given = given_inputs(runbook, reason);
    let asks_for = runbook
        .inputs
        .iter()
        .filter(|(name, input)| input.is_required() && !given.contains_key(name.as_str()))
        .map(|(name, input)| AskedInput {
            name: name.value.clone(),
            secret: input.secret,
            choices: input
                .choices
                .iter()
                .flatten()
                .map(|c| c.value.clone())
                .collect(),
        })
        .collect();
    let sets: Vec<(String, String)> = given.into_iter().collect();
    Found {
        id: id.to_string(),
        title: runbook.title.value.clone(),
        file: file.display().to_string(),
        tier: ranked.tier(),
        reason: describe(reason),
        score: match reason {
            Reason::Words { score, .. } => Some((score * 1000.0).round() / 1000.0),
            _ => None,
        },
        owner: runbook.owner.value.clone(),
        priority: runbook.priority.as_ref().map(|p| format!("{:?}", p.value)),
        contacts: runbook.contacts.iter().map(|c| c.value.clone()).collect(),
        links: shown_links(id, runbook, &sets),
        command: place.run_command(id, file, &sets),
        lint_errors,
        asks_for,
    }
}

/// One sentence on why a runbook matched.
fn describe(reason: &Reason) -> String {
    match reason {
        Reason::Pattern {
            index,
            pattern,
            count,
            ..
        } => {
            let others = match count.saturating_sub(1) {
                0 => String::new(),
                1 => " (and 1 other pattern)".into(),
                n => format!(" (and {n} other patterns)"),
            };
            format!("alert pattern `{pattern}` (scope.alerts[{index}]) matched{others}")
        }
        Reason::Service { service } => format!("service `{service}` named in the alert"),
        Reason::Words { shared, .. } => format!("shares words: {}", shared.join(", ")),
    }
}

/// Inputs the alert itself gives: named groups of the matching pattern that are inputs of the
/// runbook (never secret ones), kept only when the value is one the input accepts.
fn given_inputs(runbook: &Runbook, reason: &Reason) -> BTreeMap<String, String> {
    let Reason::Pattern { captures, .. } = reason else {
        return BTreeMap::new();
    };
    captures
        .iter()
        .filter(|(name, value)| {
            let Some((_, input)) = runbook.inputs.iter().find(|(n, _)| n.as_str() == name) else {
                return false;
            };
            let in_choices = input
                .choices
                .as_ref()
                .is_none_or(|choices| choices.iter().any(|c| c.as_str() == value));
            let fits_pattern = input.pattern.as_ref().is_none_or(|pattern| {
                regex::Regex::new(pattern).is_ok_and(|regex| regex.is_match(value))
            });
            !input.secret && in_choices && fits_pattern
        })
        .cloned()
        .collect()
}

/// Links with their templates filled in from the inputs' defaults and what the alert gave;
/// a link that needs more (an input without default, a step's result) stays as written.
fn shown_links(id: &str, runbook: &Runbook, given: &[(String, String)]) -> Vec<ShownLink> {
    // Owned: minijinja values hold on to what they are given.
    let mut inputs: BTreeMap<String, String> = runbook
        .inputs
        .iter()
        .filter(|(_, input)| !input.secret)
        .filter_map(|(name, input)| {
            Some((name.value.clone(), input.default.as_ref()?.value.clone()))
        })
        .collect();
    inputs.extend(given.iter().cloned());
    let env = crate::template::environment();
    let values = context! {
        inputs => inputs,
        runbook => context! {
            id => id.to_string(),
            title => runbook.title.value.clone(),
            owner => runbook.owner.value.clone(),
        },
    };
    runbook
        .links
        .iter()
        .map(|link| {
            let rendered = env.render_str(&link.url, values.clone()).ok();
            ShownLink {
                name: link.name.value.clone(),
                unfilled: rendered.is_none(),
                url: rendered.unwrap_or_else(|| link.url.value.clone()),
            }
        })
        .collect()
}
