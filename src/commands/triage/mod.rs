//! `runbook triage [ALERT] [PATH]`: which runbook answers this alert — or each alert of a
//! payload (Alertmanager, Grafana, PagerDuty, Opsgenie; see [`crate::alert`]).
//!
//! The catalog is loaded — a runbook that does not load is skipped with a warning, so a broken
//! sibling never hides the right one —, ranked by [`rank`], and each match is given what the
//! engineer needs to act on it: contacts, links and the exact command that starts it.

mod rank;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use minijinja::context;
use serde::Serialize;

use self::rank::{Candidate, Match, Ranker, Reason, Tier};
use super::parallel::{par_map, par_shares, pretty_array_items};
use super::write_stdout;
use crate::alert::{Alert, Origin, Source};
use crate::cli::TriageFormat;
use crate::lint::{self, LintOptions, Severity};
use crate::load::{self, SourceFile};
use crate::model::{Contact, Runbook};
use crate::template::shell_quote;
use crate::{Error, ExitStatus};

/// Ranks the catalog at `path` against each alert of the input and prints the matches, best
/// first, alerts that lead to the same runbook together.
pub fn triage(
    alert: Option<&str>,
    path: Option<&Path>,
    format: TriageFormat,
    catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    let (text, origin) = read_input(alert)?;
    let alerts = crate::alert::parse_from("ALERT", &text, &origin)?;
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
        .map(|loaded| Candidate {
            id: &loaded.id,
            runbook: loaded.runbook(),
        })
        .collect();
    let services = known_services(&candidates);
    let ranker = Ranker::new(&candidates);

    let lint_options = LintOptions::new(Some(place.root.clone()))?;
    let env = crate::template::environment();
    // `--alert FILE` gives `runbook run` the whole alert; only a file of one alert says
    // which one.
    let payload_file = match (&origin, alerts.len()) {
        (Origin::File(file), 1) if alerts[0].source != Source::Text => Some(file.clone()),
        _ => None,
    };
    let payload_flags: Option<Vec<String>> = payload_file
        .as_deref()
        .map(|file| vec!["--alert".into(), shell_quote(&shown_path(file))]);

    // Every alert ranked, on every core: the ranker only reads.
    let ranked: Vec<(Option<String>, Vec<Match>)> = par_map(&alerts, |alert| {
        let service = rank::alert_service(alert, &services);
        let ranked = ranker.rank_top(alert, service.as_deref(), MAX_MATCHES);
        (service, ranked)
    });
    // The matches shown in full: the best of each alert in the text, all of them in JSON.
    let detailed = |rank: usize| rank == 0 || format == TriageFormat::Json;
    // What every such match of a runbook shares (its lint errors, its command's head, its
    // links' compiled templates) is made once per runbook, on every core.
    let mut shown_in_full: Vec<usize> = ranked
        .iter()
        .flat_map(|(_, matches)| matches.iter().enumerate())
        .filter(|(rank, _)| detailed(*rank))
        .map(|(_, m)| m.candidate)
        .collect();
    shown_in_full.sort_unstable();
    shown_in_full.dedup();
    let prepared: HashMap<usize, Prepared<'_>> = par_shares(&shown_in_full, |share| {
        // A lint catalog per share: it caches the runbooks `uses` names, and is not Sync.
        let mut catalog = lint::Catalog::new(place.root.clone());
        share
            .iter()
            .map(|&candidate| {
                let loaded = &loaded[candidate];
                let lint_errors = lint::lint_source(&loaded.source, &mut catalog, &lint_options)
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count();
                let prepared = Prepared::new(
                    &env,
                    &place,
                    &loaded.id,
                    &loaded.source.path,
                    loaded.runbook(),
                    lint_errors,
                );
                (candidate, prepared)
            })
            .collect()
    })
    .into_iter()
    .collect();

    let items: Vec<(&Alert, &Vec<Match>)> = alerts
        .iter()
        .zip(&ranked)
        .map(|(alert, (_, matches))| (alert, matches))
        .collect();
    let founds: Vec<Vec<Found>> = par_map(&items, |&(alert, matches)| {
        let alert_value = crate::alert::template_value(Some(alert));
        matches
            .iter()
            .enumerate()
            .map(|(rank, ranked)| {
                let loaded = &loaded[ranked.candidate];
                if !detailed(rank) {
                    return brief(&loaded.id, &loaded.source.path, loaded.runbook(), ranked);
                }
                let shown = Shown {
                    id: &loaded.id,
                    file: &loaded.source.path,
                    runbook: loaded.runbook(),
                    prepared: &prepared[&ranked.candidate],
                    payload_flags: payload_flags.as_deref(),
                    alert_value: &alert_value,
                };
                found(&shown, ranked, alert)
            })
            .collect()
    });
    let triaged: Vec<AlertTriage> = alerts
        .into_iter()
        .zip(ranked)
        .zip(founds)
        .map(|((alert, (service, _)), matches)| AlertTriage {
            alert,
            service,
            matches,
        })
        .collect();

    let triage = Triage {
        groups: groups(&triaged),
        alerts: triaged,
        skipped,
    };
    match format {
        TriageFormat::Text => write_stdout(&report::text(&triage, &services))?,
        TriageFormat::Json => {
            for piece in triage_json(&triage) {
                write_stdout(&piece)?;
            }
        }
    }
    // A words match is a suggestion, not an answer: exit 0 says every alert has a runbook
    // that claims it (runbook_url, matcher, regex, service).
    let mut answered = true;
    for alert in &triage.alerts {
        match alert.matches.first() {
            None => report::no_match(alert, &place, &services, loaded.len(), triage.alerts.len()),
            Some(best) if best.is_weak() => report::weak_only(alert, triage.alerts.len()),
            Some(_) => continue,
        }
        answered = false;
    }
    if !answered && triage.alerts.len() > 1 {
        report::unanswered_hint(&place);
    }
    // The process ends after this command: freeing the catalog and the matches one
    // allocation at a time took a tenth of a large group's time, and the system takes the
    // memory back at once.
    std::mem::forget(triage);
    std::mem::forget(prepared);
    std::mem::forget(ranker);
    std::mem::forget(candidates);
    std::mem::forget(loaded);
    Ok(if answered {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The triage as `serde_json::to_string_pretty` writes it, and a newline, in pieces to write
/// one after the other, the alerts (each with up to 20 matches) serialised on every core.
fn triage_json(triage: &Triage) -> Vec<String> {
    if triage.alerts.is_empty() {
        return vec![serde_json::to_string_pretty(triage).expect("a triage serializes") + "\n"];
    }
    let mut pieces = vec!["{\n  \"alerts\": [\n".to_string()];
    pieces.extend(pretty_array_items(&triage.alerts));
    pieces.push(format!(
        "\n  ],\n  \"groups\": {},\n  \"skipped\": {}\n}}\n",
        nested(&triage.groups),
        nested(&triage.skipped)
    ));
    pieces
}

/// A value as `serde_json::to_string_pretty` writes it as a top-level field.
fn nested<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .expect("the value serializes")
        .replace('\n', "\n  ")
}

/// The most matches shown for one alert, best first (`--format json` included): past the
/// best few, a long tail of weak matches helps nobody, and a group of hundreds of alerts
/// against a large catalog would print megabytes.
const MAX_MATCHES: usize = 20;

/// The alert as given: the argument (text or a payload file), or stdin when it is `-` or
/// absent and stdin is not a terminal.
fn read_input(alert: Option<&str>) -> Result<(String, Origin), Error> {
    match alert {
        None if std::io::stdin().is_terminal() => Err(Error::InvalidFlag {
            flag: "ALERT",
            value: String::new(),
            reason: "no alert given: paste the alert text (`runbook triage \"[FIRING:1] \
                     KubePodCrashLooping …\"`), name a payload file, or pipe the payload in \
                     (`… | runbook triage -`)"
                .into(),
        }),
        None | Some("-") => Ok((crate::alert::read_stdin("ALERT")?, Origin::Stdin)),
        Some(argument) if looks_like_payload_file(argument) => {
            let path = PathBuf::from(argument);
            Ok((crate::alert::read_file("ALERT", &path)?, Origin::File(path)))
        }
        Some(argument) => Ok((argument.to_string(), Origin::Argument)),
    }
}

/// An argument is a payload file when it is one line naming an existing file: alert texts
/// are not file names.
fn looks_like_payload_file(argument: &str) -> bool {
    !argument.contains('\n') && !argument.trim().is_empty() && Path::new(argument).is_file()
}

/// Alerts that lead to the same runbook, in the order they came; the alerts nothing answers
/// make a group of their own.
fn groups(alerts: &[AlertTriage]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (index, alert) in alerts.iter().enumerate() {
        let runbook = alert.matches.first().map(|m| m.id.clone());
        match groups.iter_mut().find(|g| g.runbook == runbook) {
            Some(group) => group.alerts.push(index),
            None => groups.push(Group {
                runbook,
                alerts: vec![index],
            }),
        }
    }
    groups
}

/// What triage found, as `--format json` prints it.
#[derive(Debug, Serialize)]
struct Triage {
    /// Each alert of the input, with its matches.
    alerts: Vec<AlertTriage>,
    /// The alerts by the runbook that answers them best (`runbook` null: none does).
    groups: Vec<Group>,
    /// Runbooks that could not be loaded and so were not ranked.
    skipped: Vec<Skipped>,
}

/// One alert and the runbooks that answer it, best first.
#[derive(Debug, Serialize)]
struct AlertTriage {
    alert: Alert,
    /// The service the alert names, if it names one.
    service: Option<String>,
    matches: Vec<Found>,
}

/// Alerts whose best match is the same runbook.
#[derive(Debug, Serialize)]
struct Group {
    runbook: Option<String>,
    /// Indexes into `alerts`.
    alerts: Vec<usize>,
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
    /// The alert's labels that matched (a matcher's conditions) or filled an input.
    matched_labels: BTreeMap<String, String>,
    /// The step a `runbook_url` ending in `#step-ID` points at.
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<String>,
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

    /// `runbook run ID [--catalog DIR]` or `runbook run FILE`, the head of the command that
    /// starts the runbook in `file` when pasted in this directory: by id when the id leads
    /// back to that file, with `--catalog` unless `runbook run` would find the catalog by
    /// itself; else by path. [`with_arguments`] completes it.
    fn command_head(&self, id: &str, file: &Path) -> Vec<String> {
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
        words
    }
}

/// The command of [`CatalogPlace::command_head`] with the alert's flags and `--set`s.
fn with_arguments(head: Vec<String>, sets: &[(String, String)], alert: &[String]) -> String {
    let mut words = head;
    words.extend(alert.iter().cloned());
    for (name, value) in sets {
        words.push("--set".into());
        // Input names are plain identifiers; only the value may need quoting.
        words.push(format!("{name}={}", shell_quote(value)));
    }
    words.join(" ")
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
fn load_all(files: &[load::FoundFile], root: &Path) -> (Vec<Loaded>, Vec<Skipped>) {
    let mut loaded = Vec::new();
    let mut skipped = Vec::new();
    // Read and parsed on every core, in the files' order, through the parse cache.
    let paths: Vec<&Path> = files.iter().map(|file| file.path.as_path()).collect();
    let read: Vec<std::io::Result<SourceFile>> = load::cache::read_all(root, &paths);
    for (file, read) in files.iter().zip(read) {
        let shown = file.path.display().to_string();
        match read {
            Err(error) => skipped.push(Skipped {
                file: shown,
                line: 1,
                col: 1,
                message: format!("cannot read the file: {error}"),
            }),
            Ok(source) => match &source.parsed {
                Err(error) => skipped.push(Skipped {
                    file: shown,
                    line: error.pos.line,
                    col: error.pos.col,
                    message: error.message.clone(),
                }),
                Ok(_) => loaded.push(Loaded {
                    id: load::runbook_id(root, &file.path),
                    source,
                }),
            },
        }
    }
    (loaded, skipped)
}

/// A runbook of the catalog that loaded, with its id.
struct Loaded {
    id: String,
    /// Its `parsed` is `Ok` ([`load_all`] keeps no other).
    source: SourceFile,
}

impl Loaded {
    fn runbook(&self) -> &Runbook {
        match &self.source.parsed {
            Ok(runbook) => runbook,
            Err(_) => unreachable!("load_all keeps only the runbooks that loaded"),
        }
    }
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

/// What is the same for every match of a runbook, and where the command is run from.
struct Shown<'a> {
    id: &'a str,
    file: &'a Path,
    runbook: &'a Runbook,
    prepared: &'a Prepared<'a>,
    /// `--alert FILE` for `runbook run`, when the input was a file of one alert.
    payload_flags: Option<&'a [String]>,
    /// The alert as templates see it (`alert.*`).
    alert_value: &'a minijinja::Value,
}

/// What every match of one runbook shares, made once.
struct Prepared<'a> {
    /// `runbook run ID [--catalog DIR]`.
    command_head: Vec<String>,
    /// Each link's URL as a template; `None` when it does not compile (it is shown as
    /// written).
    links: Vec<Option<minijinja::Template<'a, 'a>>>,
    /// Errors `runbook lint` finds in it.
    lint_errors: usize,
}

impl<'a> Prepared<'a> {
    fn new(
        env: &'a minijinja::Environment<'static>,
        place: &CatalogPlace,
        id: &str,
        file: &Path,
        runbook: &'a Runbook,
        lint_errors: usize,
    ) -> Self {
        Prepared {
            lint_errors,
            command_head: place.command_head(id, file),
            links: runbook
                .links
                .iter()
                .map(|link| env.template_from_str(&link.url).ok())
                .collect(),
        }
    }
}

/// Everything printed about one match.
fn found(shown: &Shown<'_>, ranked: &Match, alert: &Alert) -> Found {
    let runbook = shown.runbook;
    let reason = &ranked.reason;
    let given = given_inputs(runbook, ranked, alert);
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
    let mut matched_labels: BTreeMap<String, String> = match reason {
        Reason::Matcher { labels, .. } => labels.iter().cloned().collect(),
        _ => BTreeMap::new(),
    };
    for given in given.values() {
        if let Some((label, value)) = &given.label {
            matched_labels.insert(label.clone(), value.clone());
        }
    }
    let all_sets: Vec<(String, String)> = given
        .iter()
        .map(|(name, given)| (name.clone(), given.value.clone()))
        .collect();
    // With `--alert FILE`, `runbook run` fills the label inputs and `alerted_at` itself;
    // otherwise the command says them.
    let (alert_flags, sets): (Vec<String>, Vec<(String, String)>) = match shown.payload_flags {
        Some(flags) => (
            flags.to_vec(),
            given
                .iter()
                .filter(|(_, given)| given.label.is_none())
                .map(|(name, given)| (name.clone(), given.value.clone()))
                .collect(),
        ),
        None => (
            alert
                .starts_at
                .iter()
                .flat_map(|at| ["--alerted-at".to_string(), shell_quote(at)])
                .collect(),
            all_sets.clone(),
        ),
    };
    Found {
        matched_labels,
        step: match reason {
            Reason::RunbookUrl { step, .. } => step.clone(),
            _ => None,
        },
        owner: runbook.owner.value.clone(),
        priority: runbook.priority.as_ref().map(|p| format!("{:?}", p.value)),
        contacts: runbook.contacts.iter().map(|c| c.value.clone()).collect(),
        links: shown_links(shown, &all_sets),
        command: with_arguments(shown.prepared.command_head.clone(), &sets, &alert_flags),
        lint_errors: shown.prepared.lint_errors,
        asks_for,
        ..brief(shown.id, shown.file, runbook, ranked)
    }
}

/// What the text shows of a match past the best: which runbook and why. The rest (links,
/// command, contacts) is left empty, and costs nothing: a group of hundreds of alerts has
/// thousands of these.
fn brief(id: &str, file: &Path, runbook: &Runbook, ranked: &Match) -> Found {
    let reason = &ranked.reason;
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
        matched_labels: BTreeMap::new(),
        step: None,
        owner: String::new(),
        priority: None,
        contacts: Vec::new(),
        links: Vec::new(),
        command: String::new(),
        lint_errors: 0,
        asks_for: Vec::new(),
    }
}

/// One sentence on why a runbook matched.
fn describe(reason: &Reason) -> String {
    match reason {
        Reason::RunbookUrl { url, step } => {
            let step = step
                .as_ref()
                .map(|s| format!(", at step `{s}`"))
                .unwrap_or_default();
            format!("the alert's runbook_url `{url}` names it{step}")
        }
        Reason::Matcher {
            index,
            matcher,
            labels,
            ..
        } => {
            let labels = if labels.is_empty() {
                String::new()
            } else {
                let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(" on {}", shown.join(", "))
            };
            format!("alert matcher `{matcher}` (scope.alerts[{index}]) holds{labels}")
        }
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

/// A value the alert gives an input, and the label it came from, if it came from one.
#[derive(Debug, Clone)]
struct Given {
    value: String,
    label: Option<(String, String)>,
}

/// Inputs the alert itself gives: named groups of the pattern or matcher that matched, and
/// the inputs whose `label` the alert has — never secret ones, and only when the value is
/// one the input accepts.
fn given_inputs(runbook: &Runbook, ranked: &Match, alert: &Alert) -> BTreeMap<String, Given> {
    let mut given: BTreeMap<String, Given> = BTreeMap::new();
    for (name, input) in &runbook.inputs {
        if let Some(label) = &input.label
            && let Some(value) = alert.labels.get(label.as_str())
            && !value.is_empty()
        {
            given.insert(
                name.value.clone(),
                Given {
                    value: value.clone(),
                    label: Some((label.value.clone(), value.clone())),
                },
            );
        }
    }
    for (name, value) in ranked.captures() {
        given.insert(
            name.clone(),
            Given {
                value: value.clone(),
                label: None,
            },
        );
    }
    given.retain(|name, given| {
        let Some((_, input)) = runbook.inputs.iter().find(|(n, _)| n.as_str() == name) else {
            return false;
        };
        crate::alert::accepts(input, &given.value)
    });
    given
}

/// Links with their templates filled in from the inputs' defaults and what the alert gave;
/// a link that needs more (an input without default, a step's result) stays as written.
fn shown_links(shown: &Shown<'_>, given: &[(String, String)]) -> Vec<ShownLink> {
    let (id, runbook) = (shown.id, shown.runbook);
    if runbook.links.is_empty() {
        return Vec::new();
    }
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
    let values = context! {
        alert => shown.alert_value.clone(),
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
        .zip(&shown.prepared.links)
        .map(|(link, template)| {
            let rendered = template
                .as_ref()
                .and_then(|template| template.render(values.clone()).ok());
            ShownLink {
                name: link.name.value.clone(),
                unfilled: rendered.is_none(),
                url: rendered.unwrap_or_else(|| link.url.value.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The triage's JSON, built on every core, is byte for byte what serde_json's pretty
    /// printer writes: with no alerts, one, many; with and without skipped files; with
    /// strings that need escaping.
    #[test]
    fn the_triage_json_is_serde_jsons_pretty_print() {
        let found = |n: usize| Found {
            id: format!("web/restart-{n}"),
            title: "Restart \"web\" é".into(),
            file: "runbooks/web/restart.yaml".into(),
            tier: Tier::Matcher,
            reason: "alertname=\"X\"\nand more".into(),
            score: n.is_multiple_of(2).then_some(n as f64 / 3.0),
            matched_labels: BTreeMap::from([("pod".to_string(), format!("api-{n}"))]),
            step: n.is_multiple_of(3).then(|| "drain".to_string()),
            owner: "team".into(),
            priority: None,
            contacts: Vec::new(),
            links: vec![ShownLink {
                name: "Dashboard".into(),
                url: "https://grafana/d?x=\u{1b}[31m".into(),
                unfilled: false,
            }],
            command: format!("runbook run web/restart-{n} --set 'pod=api-{n}'"),
            lint_errors: n % 2,
            asks_for: Vec::new(),
        };
        let alert = |n: usize| AlertTriage {
            alert: Alert {
                text: format!("[FIRING:1] KubePodCrashLooping \"{n}\"\t"),
                ..Alert::default()
            },
            service: n.is_multiple_of(2).then(|| "api".to_string()),
            matches: (0..n % 4).map(found).collect(),
        };
        for count in [0, 1, 2, 7, 40] {
            for skipped in [
                vec![],
                vec![Skipped {
                    file: "runbooks/broken \"one\".yaml".into(),
                    line: 3,
                    col: 7,
                    message: "a tab\there".into(),
                }],
            ] {
                let alerts: Vec<AlertTriage> = (0..count).map(alert).collect();
                let triage = Triage {
                    groups: groups(&alerts),
                    alerts,
                    skipped,
                };
                let expected = serde_json::to_string_pretty(&triage).unwrap() + "\n";
                assert_eq!(triage_json(&triage).concat(), expected);
            }
        }
    }
}
