//! Dynamic shell completions (clap_complete's engine, `RUNBOOK_COMPLETE=bash runbook`): runbook ids
//! of the catalog, the step ids of the runbook named earlier on the line (`--from`), its
//! input names (`--set NAME=`) and its choices (`--answer STEP=LABEL`). Also the one place
//! that suggests a runbook id or path for one that does not exist (did you mean …?).

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap_complete::engine::{CompletionCandidate, ValueCompleter as _};

use crate::model::Runbook;

thread_local! {
    /// The command line being completed, when it is not this process's own (tests, and
    /// [`complete_line`]). Per thread: completions run where they are asked for, and two at
    /// once (tests in parallel) must not see each other's line.
    static LINE: RefCell<Option<Vec<OsString>>> = const { RefCell::new(None) };
}

/// Completes the word at `index` of `words` (`words[0]` is `runbook`), as the shell would
/// ask: the candidates' values, in order.
pub fn complete_line(words: &[&str], index: usize) -> Vec<String> {
    let args: Vec<OsString> = words.iter().map(OsString::from).collect();
    LINE.set(Some(args.clone()));
    let mut command = crate::cli::Cli::command();
    let found = clap_complete::engine::complete(&mut command, args, index, None);
    LINE.set(None);
    found
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.get_value().to_string_lossy().into_owned())
        .collect()
}

/// The words of the line being completed: [`LINE`], else what the shell passed after `--`
/// (`RUNBOOK_COMPLETE=bash runbook -- runbook run ID --from …`).
fn line() -> Vec<OsString> {
    if let Some(line) = LINE.with_borrow(Clone::clone) {
        return line;
    }
    std::env::args_os()
        .skip_while(|arg| arg != "--")
        .skip(1)
        .collect()
}

/// What the line says so far, parsed as far as it goes: the catalog and the RUNBOOK.
fn on_the_line() -> (Option<PathBuf>, Option<String>) {
    let mut words = line();
    // The word being completed (and an option still waiting for its value) would not parse.
    while words.last().is_some_and(|w| {
        w.is_empty() || w.to_string_lossy().starts_with('-') || w.to_string_lossy().contains('=')
    }) {
        words.pop();
    }
    let matches = crate::cli::Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok();
    let Some(matches) = matches else {
        return (catalog_from_env(), None);
    };
    let catalog = matches
        .get_one::<PathBuf>("catalog")
        .cloned()
        .or_else(catalog_from_env);
    let runbook = matches
        .subcommand()
        .and_then(|(_, sub)| sub.try_get_one::<String>("runbook").ok().flatten().cloned());
    (catalog, runbook)
}

fn catalog_from_env() -> Option<PathBuf> {
    std::env::var_os("RUNBOOK_CATALOG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Every runbook id of `catalog` (test files left out), with its file.
fn catalog_ids(catalog: &Path) -> Vec<(String, PathBuf)> {
    let Ok((files, _)) = crate::load::find_runbooks_skipping(catalog) else {
        return Vec::new();
    };
    files
        .into_iter()
        .filter(|path| !crate::load::is_test_file(path))
        .map(|path| (crate::load::runbook_id(catalog, &path), path))
        .collect()
}

/// The runbook RUNBOOK names on the line, loaded; none when it does not load.
fn runbook_on_the_line() -> Option<Runbook> {
    let (catalog, argument) = on_the_line();
    let (path, _) = crate::load::resolve_argument(&argument?, catalog.as_deref()).ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    crate::load::parse(&text).ok()
}

fn starts_with(current: &OsStr) -> impl Fn(&str) -> bool + '_ {
    move |candidate| candidate.starts_with(current.to_string_lossy().as_ref())
}

/// RUNBOOK: the ids of the catalog (`--catalog`, `RUNBOOK_CATALOG`, else ./runbooks), then
/// runbook files and folders as paths.
pub fn runbook(current: &OsStr) -> Vec<CompletionCandidate> {
    let (catalog, _) = on_the_line();
    let catalog = crate::load::catalog_root(catalog.as_deref(), None);
    let matches = starts_with(current);
    let mut found: Vec<CompletionCandidate> = catalog_ids(&catalog)
        .into_iter()
        .filter(|(id, _)| matches(id))
        .map(|(id, path)| {
            let title = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| crate::load::parse(&text).ok())
                .map(|runbook| runbook.title.value.clone());
            CompletionCandidate::new(id).help(title.map(Into::into))
        })
        .collect();
    found.extend(
        clap_complete::engine::PathCompleter::any()
            .filter(|path| path.is_dir() || crate::load::is_runbook_file(path))
            .complete(current),
    );
    found
}

/// `--from STEP`: the step ids of the runbook on the line, with their names.
pub fn step(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(runbook) = runbook_on_the_line() else {
        return Vec::new();
    };
    let matches = starts_with(current);
    runbook
        .steps
        .iter()
        .filter(|step| matches(&step.id))
        .map(|step| {
            CompletionCandidate::new(step.id.value.clone())
                .help(Some(step.name.value.clone().into()))
        })
        .collect()
}

/// `--set NAME=VALUE`: `NAME=` for each input of the runbook on the line; after the `=`, the
/// input's choices.
pub fn set(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(runbook) = runbook_on_the_line() else {
        return Vec::new();
    };
    let current = current.to_string_lossy();
    if let Some((name, value)) = current.split_once('=') {
        let Some((_, input)) = runbook.inputs.iter().find(|(n, _)| n.value == name) else {
            return Vec::new();
        };
        return input
            .choices
            .iter()
            .flatten()
            .map(|choice| choice.to_string())
            .filter(|choice| choice.starts_with(value))
            .map(|choice| CompletionCandidate::new(format!("{name}={choice}")))
            .collect();
    }
    runbook
        .inputs
        .iter()
        .filter(|(name, _)| name.starts_with(current.as_ref()))
        .map(|(name, input)| {
            CompletionCandidate::new(format!("{}=", name.value))
                .help(input.description.clone().map(Into::into))
        })
        .collect()
}

/// `--answer STEP=LABEL`: `STEP=` for each `ask` step with choices; after the `=`, its labels.
pub fn answer(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(runbook) = runbook_on_the_line() else {
        return Vec::new();
    };
    let current = current.to_string_lossy();
    let asks = runbook
        .steps
        .iter()
        .filter_map(|step| Some((step.id.value.clone(), step.ask.as_ref()?)));
    let mut found = Vec::new();
    for (id, ask) in asks {
        let labels: Vec<String> = ask
            .choices
            .iter()
            .flatten()
            .map(|choice| choice.label.value.clone())
            .collect();
        match current.split_once('=') {
            Some((step, label)) if step == id => found.extend(
                labels
                    .into_iter()
                    .filter(|l| l.starts_with(label))
                    .map(|l| CompletionCandidate::new(format!("{id}={l}"))),
            ),
            None if id.starts_with(current.as_ref()) && !labels.is_empty() => {
                found.push(CompletionCandidate::new(format!("{id}=")));
            }
            _ => {}
        }
    }
    found
}

/// ` (did you mean `ID`?)` for a RUNBOOK that is neither a file nor an id of `catalog`: the
/// closest id of the catalog, or the closest runbook file beside a path that does not exist.
pub fn suggestion(argument: &str, catalog: &Path) -> Option<String> {
    let ids: Vec<String> = catalog_ids(catalog).into_iter().map(|(id, _)| id).collect();
    let trimmed = argument.trim_end_matches(".yaml").trim_end_matches(".yml");
    if let Some(id) = crate::load::did_you_mean(trimmed, &ids) {
        return Some(id.to_string());
    }
    path_suggestion(Path::new(argument))
}

/// The closest file name beside `path` (in its folder, which must exist).
pub fn path_suggestion(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let names: Vec<String> = std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    let near = crate::load::did_you_mean(&name, &names)?;
    Some(match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(near).display().to_string(),
        _ => near.to_string(),
    })
}

/// `; did you mean `X`?`, or nothing.
pub fn did_you_mean(suggestion: Option<String>) -> String {
    suggestion
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}
