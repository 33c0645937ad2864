//! Reading runbooks: YAML into the model, every node keeping its line and column, and the
//! catalog — the folder of runbooks that ids and `uses` resolve against.
//!
//! All YAML parsing lives here, so that the YAML crate's API is met in one place only.

pub mod cache;
mod shape;
mod tree;

use std::path::{Path, PathBuf};

use crate::model::{Pos, Runbook};
use crate::schema::CommandContext;

/// The name of the folder a catalog is found by, walking up from a runbook.
pub const CATALOG_DIR_NAME: &str = "runbooks";

/// A runbook file as read from disk, parsed or not.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it or as it was found under a folder.
    pub path: PathBuf,
    pub text: String,
    pub parsed: Result<Runbook, LoadError>,
    /// Every structural mistake when it does not load (the first is `parsed`'s error).
    pub mistakes: Vec<LoadError>,
}

/// Why a file is not a runbook: one structural mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub pos: Pos,
    pub kind: LoadErrorKind,
    pub message: String,
    pub help: Option<String>,
}

/// The families of structural mistakes, each a lint rule of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    Syntax,
    UnknownKey,
    MissingKey,
    DuplicateKey,
    WrongType,
    /// An explicit YAML tag (`!!binary`, `!!str`, `!custom`).
    Tag,
}

impl SourceFile {
    /// Reads and parses one file; an unreadable file is an `Err` (the caller names it).
    pub fn read(path: &Path) -> std::io::Result<SourceFile> {
        let text = std::fs::read_to_string(path)?;
        Ok(SourceFile::from_text(path.to_path_buf(), text))
    }

    pub fn from_text(path: PathBuf, text: String) -> SourceFile {
        let (parsed, mistakes) = match parse_all(&text) {
            Ok(runbook) => (Ok(runbook), Vec::new()),
            Err(mistakes) => (
                Err(mistakes.first().cloned().unwrap_or_else(|| LoadError {
                    pos: Pos::START,
                    kind: LoadErrorKind::Syntax,
                    message: "the file is not a runbook".into(),
                    help: None,
                })),
                mistakes,
            ),
        };
        SourceFile {
            path,
            text,
            parsed,
            mistakes,
        }
    }
}

/// Parses a runbook from YAML text; the error is its first structural mistake.
pub fn parse(text: &str) -> Result<Runbook, LoadError> {
    parse_all(text).map_err(|mut mistakes| mistakes.swap_remove(0))
}

/// Parses a runbook from YAML text; the error lists every structural mistake found, in
/// document order, never empty.
pub fn parse_all(text: &str) -> Result<Runbook, Vec<LoadError>> {
    if text.trim().is_empty() {
        return Err(vec![LoadError {
            pos: Pos::START,
            kind: LoadErrorKind::MissingKey,
            message: "the file is empty; a runbook needs at least `runbook: 1`, `title`, `owner`, `reviewed`, `scope` and `steps`".into(),
            help: Some("`runbook new ID` writes a commented starter".into()),
        }]);
    }
    // A tag is written with `!`: without one in the text, none is refused, and a runbook
    // that deserializes is read once, not twice (the walk below only explains mistakes).
    if !text.contains('!')
        && let Ok(runbook) = serde_saphyr::from_str::<Runbook>(text)
    {
        return Ok(runbook);
    }
    let reading = tree::read(text);
    if !reading.tags.is_empty() {
        // A tag changes what a value means (`!!binary` turns base64 into the command that
        // runs): what a reviewer reads must be what runs, so no tag is accepted.
        return Err(reading
            .tags
            .into_iter()
            .map(|tag| LoadError {
                pos: tag_pos(text, &tag),
                kind: LoadErrorKind::Tag,
                message: format!(
                    "the YAML tag `{}` is not allowed: a runbook is read as it is written",
                    tag.tag
                ),
                help: Some(
                    "remove the tag and write the value itself (quote it to keep it text)".into(),
                ),
            })
            .collect());
    }
    // The parser is pure Rust, forbids unsafe and limits hostile input (alias bombs, depth)
    // with its default budget.
    let error = match serde_saphyr::from_str::<Runbook>(text) {
        Ok(runbook) => return Ok(runbook),
        Err(error) => explain(&error, text),
    };
    let Some(root) = &reading.tree else {
        return Err(vec![error]);
    };
    let shape = shape::check(root);
    // serde notices a missing key at the end of its mapping; the walk points at the
    // mapping's start. Same mistake: keep the walk's.
    let same_missing_key = shape.iter().any(|m| {
        error.kind == LoadErrorKind::MissingKey
            && m.kind == error.kind
            && m.message == error.message
            && m.pos <= error.pos
    });
    let mut mistakes = Vec::new();
    if same_missing_key {
        mistakes.extend(shape);
    } else {
        // serde's own words for the mistake it found; the walk adds the others.
        mistakes.extend(
            shape
                .into_iter()
                .filter(|m| !(m.kind == error.kind && m.pos.line == error.pos.line)),
        );
        mistakes.push(error);
    }
    mistakes.sort_by_key(|m| m.pos);
    Err(mistakes)
}

/// Parses another YAML document of the project (a test file, `NAME.test.yaml`) with the
/// runbook's parser and its explanations: the error is one sentence at `line:col`.
pub fn parse_document<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, LoadError> {
    let reading = tree::read(text);
    if let Some(tag) = reading.tags.first() {
        return Err(LoadError {
            pos: tag_pos(text, tag),
            kind: LoadErrorKind::Tag,
            message: format!("the YAML tag `{}` is not allowed", tag.tag),
            help: None,
        });
    }
    serde_saphyr::from_str::<T>(text).map_err(|error| explain(&error, text))
}

/// A test file (`NAME.test.yaml`, `runbook test`), not a runbook: catalog walks skip it.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// Where a tag is written: the parser places the node after it, on the same line or the
/// next.
fn tag_pos(text: &str, tag: &tree::TagUse) -> Pos {
    for line_number in [tag.pos.line, tag.pos.line.saturating_sub(1)] {
        let Some(line) = text.lines().nth(line_number.saturating_sub(1) as usize) else {
            continue;
        };
        let before: String = if line_number == tag.pos.line {
            line.chars()
                .take(tag.pos.col.saturating_sub(1) as usize)
                .collect()
        } else {
            line.to_string()
        };
        if let Some(at) = before.rfind(&tag.tag) {
            let col = before[..at].chars().count() + 1;
            return Pos::new(line_number, u32::try_from(col).unwrap_or(1));
        }
    }
    tag.pos
}

/// Turns serde's error into one plain sentence with a rule and, where it helps, a suggestion.
fn explain(error: &serde_saphyr::Error, text: &str) -> LoadError {
    let pos = error
        .location()
        .map(Pos::from)
        .filter(|p| p.line > 0)
        .unwrap_or(Pos::START);
    let raw = raw_message(error);

    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let (key, expected) = split_backticked(rest);
        return unknown_key(pos, key, &parse_expected(expected), parent_key(text, pos));
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let (key, _) = split_backticked(rest);
        return LoadError {
            pos,
            kind: LoadErrorKind::MissingKey,
            message: format!(
                "missing required key `{key}`{}",
                owner_of(key, parent_key(text, pos).as_deref())
            ),
            help: None,
        };
    }
    if let Some(rest) = raw.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return LoadError {
            pos,
            kind: LoadErrorKind::DuplicateKey,
            message: format!("key `{key}` appears twice in the same mapping; keep one"),
            help: None,
        };
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (value, expected) = split_backticked(rest);
        let expected = parse_expected(expected);
        let suggestion = did_you_mean(value, &expected)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return LoadError {
            pos,
            kind: LoadErrorKind::WrongType,
            message: format!(
                "`{value}` is not allowed here; write one of {}{suggestion}",
                backticked_list(&expected)
            ),
            help: None,
        };
    }
    if is_type_error(&raw) {
        return LoadError {
            pos,
            kind: LoadErrorKind::WrongType,
            message: type_sentence(&raw),
            help: None,
        };
    }
    if raw.contains('`') && raw.contains("list inputs are given") {
        // From an input `default`'s deserializer: already a sentence.
        return LoadError {
            pos,
            kind: LoadErrorKind::WrongType,
            message: raw,
            help: None,
        };
    }
    if raw.contains('`') && raw.contains("confirm") {
        // Our own messages from `Confirm`'s deserializer are already sentences.
        return LoadError {
            pos,
            kind: LoadErrorKind::WrongType,
            message: raw,
            help: None,
        };
    }
    LoadError {
        pos,
        kind: LoadErrorKind::Syntax,
        message: format!("YAML syntax error: {raw}"),
        help: Some("YAML reports where it noticed the problem: look just above too (an unclosed `[`, `{` or quote, a wrong indent)".into()),
    }
}

/// The error's own words, without the location prefix and the source snippet.
fn raw_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "line 4 column 5: message"
    let message = match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, m)| m),
        None => first,
    };
    strip_location(message.trim()).to_string()
}

/// Drops a trailing " at line 7, column 13": the finding already says where.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains("column") => &message[..at],
        _ => message,
    }
}

fn split_backticked(text: &str) -> (&str, &str) {
    match text.split_once('`') {
        Some((name, rest)) => (name, rest),
        None => (text, ""),
    }
}

/// `, expected one of run, http, on` → `["run", "http", "on"]`.
fn parse_expected(text: &str) -> Vec<String> {
    let list = text
        .trim_start_matches(',')
        .trim()
        .trim_start_matches("expected one of")
        .trim_start_matches("expected")
        .trim();
    if list.starts_with("nothing") || list.is_empty() {
        return Vec::new();
    }
    list.split(',')
        .map(|s| s.trim().trim_matches('`').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn backticked_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.len() {
        0 => "nothing".into(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// The closest candidate to a misspelt word, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.as_str())
}

/// Which mapping a set of allowed keys describes, to name it in messages.
fn context_of(expected: &[String]) -> &'static str {
    let has = |k: &str| expected.iter().any(|e| e == k);
    if has("runbook") && has("steps") {
        "the runbook"
    } else if has("services") {
        "`scope`"
    } else if has("id") && has("instructions") {
        "a step"
    } else if has("run") && has("http") {
        "a command"
    } else if has("stdout_contains") {
        "`expect`"
    } else if has("method") && has("url") {
        "`http`"
    } else if has("question") {
        "`ask`"
    } else if has("alertname") {
        "an alert matcher"
    } else if has("label") && has("secret") {
        "an input"
    } else if has("label") {
        "a choice"
    } else if has("until") {
        "`wait`"
    } else if has("role") {
        "a contact"
    } else if has("url") {
        "a link"
    } else if has("pattern") && has("secret") {
        "an input"
    } else {
        "this mapping"
    }
}

/// Keys that are valid somewhere else, with where they belong: a misplaced key gets a hint
/// instead of a bare "unknown".
fn home_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "if" | "next" | "on_failure" | "instructions" | "uses" | "with" => {
            "it is a step key: put it beside `id` and `name`"
        }
        "check" | "action" | "ask" | "wait" => "it is a step kind: put it directly under the step",
        "run" | "http" | "on" | "expect" | "capture" | "parallel" => {
            "it is a command key: put it inside `check`, `action`, `wait.until` or a health check"
        }
        "confirm" | "rollback" | "canary" | "max_failures" | "approvers" => {
            "it belongs to an `action`"
        }
        "stdout_contains" | "stdout_matches" | "stdout_not_contains" | "exit" => {
            "it belongs inside `expect`"
        }
        "url" | "method" | "headers" | "body" | "status" | "body_contains" | "body_matches" => {
            "it belongs inside `http`"
        }
        "services" | "environments" | "alerts" => "it belongs inside `scope`",
        "every" | "until" => "it belongs inside `wait`",
        "choices" | "question" | "input" => "it belongs inside `ask`",
        _ => return None,
    })
}

/// Words people write for a key the format spells differently.
const ALIASES: [(&str, &str); 17] = [
    ("command", "run"),
    ("cmd", "run"),
    ("shell", "run"),
    ("script", "run"),
    ("exec", "run"),
    ("host", "on"),
    ("hosts", "on"),
    ("target", "on"),
    ("description", "instructions"),
    ("title", "name"),
    ("condition", "if"),
    ("when", "if"),
    ("then", "next"),
    ("goto", "next"),
    ("undo", "rollback"),
    ("revert", "rollback"),
    ("request", "http"),
];

/// The allowed key a misspelt or synonymous key most likely means.
fn suggestion_for(key: &str, expected: &[String]) -> Option<String> {
    if let Some(close) = did_you_mean(key, expected) {
        return Some(close.to_string());
    }
    let aliases: Vec<String> = ALIASES.iter().map(|(alias, _)| alias.to_string()).collect();
    let alias = did_you_mean(key, &aliases)?;
    let (_, meant) = ALIASES.iter().find(|(a, _)| *a == alias)?;
    expected
        .iter()
        .any(|e| e == meant)
        .then(|| meant.to_string())
}

/// The key of the mapping that holds the line at `pos`, read from the text: the nearest line
/// above that is indented less (`check`, `action`, `until`…).
fn parent_key(text: &str, pos: Pos) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let line = *lines.get((pos.line as usize).checked_sub(1)?)?;
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '-']).len();
    let own = indent(line);
    for above in lines[..pos.line as usize - 1].iter().rev() {
        let trimmed = above.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent(above) < own {
            let key = trimmed
                .trim_start_matches(['-', ' '])
                .split(':')
                .next()?
                .trim();
            return Some(key.to_string());
        }
    }
    None
}

fn unknown_key(pos: Pos, key: &str, expected: &[String], parent: Option<String>) -> LoadError {
    let context = match (context_of(expected), parent.as_deref()) {
        ("a command", Some("check")) => "a check",
        ("a command", Some("action")) => "an action",
        ("a command", Some("until")) => "`wait.until`",
        ("a command", Some("rollback")) => "a rollback",
        ("a command", Some("health" | "name")) => "a health check",
        (context, _) => context,
    };
    // Keys valid elsewhere but not here are not worth suggesting.
    let place = match context {
        "a check" | "`wait.until`" => Some(CommandContext::Check),
        "an action" => Some(CommandContext::Action),
        "a rollback" => Some(CommandContext::Rollback),
        "a health check" => Some(CommandContext::Health),
        _ => None,
    };
    let expected: Vec<String> = expected
        .iter()
        .filter(|key| place.is_none_or(|place| !place.forbidden().iter().any(|(k, _)| k == key)))
        .cloned()
        .collect();
    let expected = expected.as_slice();
    let mut message = format!("unknown key `{key}` in {context}");
    if let Some(suggestion) = suggestion_for(key, expected) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    } else if let Some(home) = home_of(key) {
        message.push_str(&format!("; {home}"));
    }
    LoadError {
        pos,
        kind: LoadErrorKind::UnknownKey,
        message,
        help: (!expected.is_empty())
            .then(|| format!("allowed here: {}", backticked_list(expected))),
    }
}

/// The mapping a required key belongs to, when its name tells.
fn owner_of(key: &str, parent: Option<&str>) -> &'static str {
    match (key, parent) {
        (_, Some("steps")) => return " in a step",
        (_, Some("contacts")) => return " in a contact",
        (_, Some("links")) => return " in a link",
        (_, Some("health")) => return " in a health check",
        (_, Some("choices")) => return " in a choice",
        _ => {}
    }
    match key {
        "runbook" | "title" | "owner" | "reviewed" | "scope" | "steps" => " in the runbook",
        "id" => " in a step",
        "services" => " in `scope`",
        "question" => " in `ask`",
        "label" => " in a choice",
        "until" => " in `wait`",
        _ => "",
    }
}

fn is_type_error(raw: &str) -> bool {
    raw.starts_with("invalid ")
        || raw.starts_with("expected ")
        || raw.starts_with("invalid type")
        || raw.contains("cannot deserialize")
        || raw.starts_with("null ")
}

fn type_sentence(raw: &str) -> String {
    let wanted =
        if raw.contains("u32") || raw.contains("u16") || raw.contains("i32") || raw.contains("u64")
        {
            Some("a whole number")
        } else if raw.contains("bool") {
            Some("`true` or `false`")
        } else if raw.contains("sequence") {
            Some("a list")
        } else if raw.contains("mapping") || raw.contains("map") || raw.contains("struct") {
            Some("a mapping of keys to values")
        } else if raw.contains("string") {
            Some("a single text value")
        } else {
            None
        };
    match wanted {
        Some(wanted) => format!("wrong type: expected {wanted} here"),
        None => format!("wrong type: {raw}"),
    }
}

/// Where catalog ids resolve: the folder given, else the nearest `runbooks` folder above
/// `near`, else `./runbooks`.
pub fn catalog_root(explicit: Option<&Path>, near: Option<&Path>) -> PathBuf {
    catalog_root_or(explicit, near, Path::new(CATALOG_DIR_NAME))
}

/// Like [`catalog_root`], with another last resort: a folder given to `lint` or `list` is a
/// catalog of its own even when it is not named `runbooks`.
pub fn catalog_root_or(explicit: Option<&Path>, near: Option<&Path>, fallback: &Path) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    if let Some(near) = near {
        let absolute = std::path::absolute(near).unwrap_or_else(|_| near.to_path_buf());
        for dir in absolute.ancestors() {
            if dir.file_name().is_some_and(|n| n == CATALOG_DIR_NAME) && dir.is_dir() {
                return dir.to_path_buf();
            }
        }
    }
    fallback.to_path_buf()
}

/// The catalog a command that walks PATH (`list`, `status`, `triage`) works in: `explicit`
/// (`--catalog`), else the nearest `runbooks` folder at or above PATH, else PATH itself when
/// it is a folder (a folder is a catalog of its own), else `runbooks`.
pub fn catalog_for_path(path: &Path, explicit: Option<&Path>) -> PathBuf {
    let fallback = if path.is_dir() {
        path
    } else {
        Path::new(CATALOG_DIR_NAME)
    };
    catalog_root_or(explicit, Some(path), fallback)
}

/// The id of a runbook file: its path under the catalog, without extension, with `/`.
/// A file outside the catalog is known by its file stem.
pub fn runbook_id(catalog: &Path, file: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (catalog, file) = (absolute(catalog), absolute(file));
    let relative = file
        .strip_prefix(&catalog)
        .unwrap_or_else(|_| Path::new(file.file_name().unwrap_or_default()));
    let without_ext = relative.with_extension("");
    without_ext
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The file of a catalog id, if it exists (`.yaml` preferred over `.yml`).
pub fn resolve_id(catalog: &Path, id: &str) -> Option<PathBuf> {
    if id.is_empty()
        || id
            .split('/')
            .any(|part| part.is_empty() || part == ".." || part == ".")
    {
        return None;
    }
    ["yaml", "yml"]
        .iter()
        .map(|ext| catalog.join(format!("{id}.{ext}")))
        .find(|p| p.is_file())
}

/// The file a RUNBOOK argument names — a path, or else a catalog id — and its catalog.
pub fn resolve_argument(
    argument: &str,
    explicit_catalog: Option<&Path>,
) -> Result<(PathBuf, PathBuf), crate::Error> {
    let as_path = Path::new(argument);
    if as_path.is_file() {
        return Ok((
            as_path.to_path_buf(),
            catalog_root(explicit_catalog, Some(as_path)),
        ));
    }
    let catalog = catalog_root(explicit_catalog, None);
    match resolve_id(
        &catalog,
        argument.trim_end_matches(".yaml").trim_end_matches(".yml"),
    ) {
        Some(path) => Ok((path, catalog)),
        None if is_runbook_file(as_path) => Err(crate::Error::NoSuchPath {
            path: as_path.to_path_buf(),
        }),
        None => Err(crate::Error::UnknownRunbook {
            id: argument.to_string(),
            catalog,
        }),
    }
}

/// Whether a path names a runbook file by its extension.
pub fn is_runbook_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// Every runbook file under `dir`, sorted, following no symlinked folders. Only `dir` itself
/// must be readable: a sub-folder that cannot be read is skipped with a warning naming it on
/// stderr, so one folder with the wrong permissions does not hide the whole catalog.
pub fn find_runbooks(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let (found, skipped) = find_runbooks_skipping(dir)?;
    for (folder, error) in skipped {
        let _ = std::io::Write::write_all(
            &mut anstream::stderr(),
            format!(
                "warning: cannot read `{}`: {error}; its runbooks are skipped\n",
                folder.display()
            )
            .as_bytes(),
        );
    }
    Ok(found)
}

/// A folder that could not be read, and why.
pub type Skipped = (PathBuf, std::io::Error);

/// Like [`find_runbooks`], returning the sub-folders it could not read instead of saying so.
pub fn find_runbooks_skipping(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<Skipped>)> {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if folder == dir => return Err(error),
            Err(error) => {
                skipped.push((folder, error));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    skipped.push((folder.clone(), error));
                    continue;
                }
            };
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if file_type.is_dir() && !hidden {
                pending.push(path);
            } else if !hidden
                && is_runbook_file(&path)
                && !is_test_file(&path)
                && (file_type.is_file() || path.is_file())
            {
                found.push(path);
            }
        }
    }
    found.sort();
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((found, skipped))
}

/// A runbook file found from the command line, with the folder argument it was found in.
#[derive(Debug, Clone)]
pub struct FoundFile {
    pub path: PathBuf,
    /// The folder given on the command line that holds it, if it came from one.
    pub under: Option<PathBuf>,
}

/// Turns the command line's PATHs into files: folders are searched, files taken as they are.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<FoundFile>, crate::Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = find_runbooks(path).map_err(|source| crate::Error::ReadDir {
                path: path.clone(),
                source,
            })?;
            files.extend(found.into_iter().map(|file| FoundFile {
                path: file,
                under: Some(path.clone()),
            }));
        } else if path.is_file() {
            files.push(FoundFile {
                path: path.clone(),
                under: None,
            });
        } else {
            return Err(crate::Error::NoSuchPath { path: path.clone() });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn error_of(yaml: &str) -> LoadError {
        parse(yaml).expect_err("should not parse")
    }

    const MINIMAL: &str = "runbook: 1\ntitle: T\nowner: team\nreviewed: 2026-10-01\nscope: { services: [svc] }\nsteps:\n  - id: a\n    name: A\n    instructions: do it\n";

    #[test]
    fn minimal_runbook_parses_with_positions() {
        let runbook = parse(MINIMAL).unwrap();
        assert_eq!(*runbook.title, "T");
        assert_eq!(runbook.title.pos, Pos::new(2, 8));
        assert_eq!(runbook.steps[0].id.pos, Pos::new(7, 9));
        assert_eq!(runbook.reviewed.value, "2026-10-01");
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let yaml = MINIMAL.replace(
            "    instructions: do it\n",
            "    instructions: x\n    check:\n      comand: ls\n",
        );
        let error = error_of(&yaml);
        assert_eq!(error.kind, LoadErrorKind::UnknownKey);
        assert_eq!(error.pos, Pos::new(11, 7));
        assert_eq!(
            error.message,
            "unknown key `comand` in a check; did you mean `run`?"
        );
    }

    #[test]
    fn misplaced_key_says_where_it_belongs() {
        let yaml = MINIMAL.replace(
            "    instructions: do it\n",
            "    instructions: x\n    check:\n      run: ls\n      on_failure: stop\n",
        );
        let error = error_of(&yaml);
        assert_eq!(error.kind, LoadErrorKind::UnknownKey);
        assert!(
            error.message.contains("it is a step key"),
            "{}",
            error.message
        );
    }

    #[test]
    fn missing_and_duplicate_keys() {
        assert_eq!(error_of("runbook: 1\n").kind, LoadErrorKind::MissingKey);
        let error = error_of(&MINIMAL.replace("owner: team\n", "owner: team\nowner: other\n"));
        assert_eq!(
            (error.kind, error.pos.line),
            (LoadErrorKind::DuplicateKey, 4)
        );
    }

    #[test]
    fn wrong_types_and_syntax() {
        let error = error_of(&MINIMAL.replace("runbook: 1", "runbook: one"));
        assert_eq!(
            (error.kind, error.pos),
            (LoadErrorKind::WrongType, Pos::new(1, 10))
        );
        let error =
            error_of(&MINIMAL.replace("scope: { services: [svc] }", "scope: { services: [svc }"));
        assert_eq!(error.kind, LoadErrorKind::Syntax);
        assert_eq!(error_of("").kind, LoadErrorKind::MissingKey);
    }

    #[test]
    fn confirm_forms() {
        for (form, ok) in [
            ("yes", true),
            ("type", true),
            ("{type: web}", true),
            ("maybe", false),
            ("false", false),
        ] {
            let yaml = MINIMAL.replace(
                "    instructions: do it\n",
                &format!("    action:\n      run: ls\n      confirm: {form}\n"),
            );
            assert_eq!(
                parse(&yaml).is_ok(),
                ok,
                "confirm: {form}: {:?}",
                parse(&yaml).err()
            );
        }
    }

    #[test]
    fn ids_are_paths_under_the_catalog() {
        assert_eq!(
            runbook_id(
                Path::new("runbooks"),
                Path::new("runbooks/user-sync/push.yaml")
            ),
            "user-sync/push"
        );
        assert_eq!(
            runbook_id(Path::new("runbooks"), Path::new("/elsewhere/x.yml")),
            "x"
        );
        assert_eq!(resolve_id(Path::new("runbooks"), "../etc/passwd"), None);
    }
}
