//! Rules about templates: they compile; every name they use is defined where they stand
//! (inputs, vars captured by an earlier step, step ids, links, `host` inside a fan-out); every
//! filter, test and function exists in the executor's own environment; no tag loads another
//! template; captures are used as the shape they have; and values in a shell command are not
//! put where the shell's quoting does not protect them.

use std::collections::HashMap;

use minijinja::Environment;

use super::{FileLint, Rule};
use crate::load::did_you_mean;
use crate::model::{Capture, CaptureRule, Command, Confirm, Pos, Runbook, Sp};
use crate::template::{self, Callable, KNOWN_ROOTS, Lexeme, Piece, ShellSpot};

/// Filters that take text: a host → text map piped into one is a mistake.
const TEXT_FILTERS: [&str; 11] = [
    "lower",
    "upper",
    "trim",
    "int",
    "float",
    "split",
    "lines",
    "replace",
    "capitalize",
    "title",
    "indent",
];

/// Words of the expression language that a parenthesis may follow without being a call.
const OPERATOR_WORDS: [&str; 7] = ["not", "in", "and", "or", "is", "if", "else"];

/// The shape of what `capture` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Captured on this machine or on one destination: one text.
    Value,
    /// Captured on a group of hosts: a host → text map.
    Map,
    /// `on` is a template, or a `json:` capture keeps a JSON value: not known before the run.
    Unknown,
}

/// A captured var: the step that first captures it, and its shape.
#[derive(Debug, Clone, Copy)]
struct Captured {
    step: usize,
    shape: Shape,
}

/// How a template is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    /// A `run:` command: its values are shell-quoted, and where they stand matters.
    Shell,
    /// An `if:` expression, without braces.
    Expression,
    /// An `expect.that` expression: also sees the output (`exit`, `stdout`, `json`…).
    That,
}

/// The names `expect.that` sees beside the template names: one host's output.
const THAT_ROOTS: [&str; 6] = ["exit", "stdout", "stderr", "status", "body", "json"];

/// The fields of `steps.ID` a template may read.
const STEP_FIELDS: [&str; 11] = [
    "ok",
    "outcome",
    "exit",
    "stdout",
    "stderr",
    "status",
    "body",
    "failed_hosts",
    "hosts",
    "answer",
    "duration_ms",
];

/// What is defined where a template stands.
#[derive(Debug, Clone, Copy)]
struct Scope {
    /// Index of the step the template belongs to; `None` outside steps.
    step: Option<usize>,
    /// Inside a command that runs `on` hosts.
    host: bool,
    /// Inside a command with `for_each`: `item` is defined.
    item: bool,
}

pub(super) fn check(lint: &mut FileLint<'_>) {
    let env = template::environment();
    let runbook = lint.runbook;
    let top = Scope {
        step: None,
        host: false,
        item: false,
    };
    let vars = captured_vars(lint);
    let mut known = KnownCallables::default();

    if let Some(summary) = &runbook.summary {
        check_template(lint, &env, &mut known, &vars, summary, top);
    }
    for link in &runbook.links {
        check_template(lint, &env, &mut known, &vars, &link.url, top);
    }
    for health in &runbook.health {
        let host = health.on.as_ref().is_some_and(|on| on.as_str() != "local");
        check_command(
            lint,
            &env,
            &mut known,
            &vars,
            health,
            Scope {
                step: None,
                host,
                item: false,
            },
        );
    }
    for (i, step) in runbook.steps.iter().enumerate() {
        let scope = Scope {
            step: Some(i),
            host: false,
            item: false,
        };
        for text in [
            &step.instructions,
            &step.ask.as_ref().map(|a| a.question.clone()),
        ]
        .into_iter()
        .flatten()
        {
            check_template(lint, &env, &mut known, &vars, text, scope);
        }
        for item in step.checklist.iter().flat_map(|c| c.iter()) {
            check_template(lint, &env, &mut known, &vars, item, scope);
        }
        if let Some(condition) = &step.condition {
            check_names(
                lint,
                &env,
                &mut known,
                &vars,
                condition,
                scope,
                Kind::Expression,
            );
        }
        for value in step.with.iter().flat_map(|w| w.values()) {
            check_template(lint, &env, &mut known, &vars, value, scope);
        }
        let parent_on = step.action.as_ref().and_then(|a| a.on.as_ref());
        for (place, command) in step.commands() {
            let on = command
                .on
                .as_ref()
                .or(if place == "rollback" { parent_on } else { None });
            let host = on.is_some_and(|on| on.as_str() != "local");
            let item = command.for_each.is_some();
            check_command(
                lint,
                &env,
                &mut known,
                &vars,
                command,
                Scope {
                    host,
                    item,
                    ..scope
                },
            );
        }
    }
}

/// `vars.NAME` → the first step that captures it (`capture` or `ask.input`) and its shape.
fn captured_vars(lint: &FileLint<'_>) -> HashMap<String, Captured> {
    let runbook = lint.runbook;
    let mut vars = HashMap::new();
    for (i, step) in runbook.steps.iter().enumerate() {
        let mut names: Vec<(String, Shape)> = step
            .commands()
            .iter()
            .flat_map(|(_, c)| {
                let shape = if c.for_each.is_some() {
                    // One value per item: an item → value map.
                    Shape::Map
                } else {
                    shape_on(runbook, c.on.as_deref().map(String::as_str))
                };
                c.capture
                    .as_ref()
                    .map(|capture| capture_shapes(capture, shape))
                    .unwrap_or_default()
            })
            .collect();
        if let Some(input) = step.ask.as_ref().and_then(|a| a.input.as_ref()) {
            names.push((input.value.clone(), Shape::Value));
        }
        for (name, shape) in names {
            vars.entry(name).or_insert(Captured { step: i, shape });
        }
    }
    vars
}

/// The names a capture sets and the shape of each. On one destination a `json:` rule keeps
/// what the query selects with its JSON type — a list, a mapping or a number as well as a
/// text —, so its shape is not known before the run (`vars.pods[0]` is right for a list).
fn capture_shapes(capture: &Sp<Capture>, shape: Shape) -> Vec<(String, Shape)> {
    match &capture.value {
        Capture::Whole(name) => vec![(name.clone(), shape)],
        Capture::Each(rules) => rules
            .iter()
            .map(|(name, rule)| {
                let json = matches!(&rule.value, CaptureRule::Find(find) if find.json.is_some());
                let shape = if json && shape == Shape::Value {
                    Shape::Unknown
                } else {
                    shape
                };
                (name.value.clone(), shape)
            })
            .collect(),
    }
}

/// What a capture on `on` holds, as the executor makes it (`runner::plan`): a host → text
/// map on a group; one text locally or on one destination; unknown when `on` is a template
/// (it may render to a group).
fn shape_on(runbook: &Runbook, on: Option<&str>) -> Shape {
    match on {
        None => Shape::Value,
        Some(on) if runbook.hosts.keys().any(|group| group.value == on) => Shape::Map,
        Some(on) if on.contains("{{") => Shape::Unknown,
        Some(_) => Shape::Value,
    }
}

/// Filters, tests and functions already asked of the environment.
#[derive(Debug, Default)]
struct KnownCallables(HashMap<(Callable, String), bool>);

impl KnownCallables {
    fn has(&mut self, env: &Environment<'_>, kind: Callable, name: &str) -> bool {
        *self
            .0
            .entry((kind, name.to_string()))
            .or_insert_with(|| template::env_has(env, kind, name))
    }
}

fn check_command(
    lint: &mut FileLint<'_>,
    env: &Environment<'_>,
    known: &mut KnownCallables,
    vars: &HashMap<String, Captured>,
    command: &Command,
    scope: Scope,
) {
    if let Some(run) = &command.run {
        check_names(lint, env, known, vars, run, scope, Kind::Shell);
        if template::uses_safe_filter(run) {
            lint.report_with_help(
                Rule::UnsafeTemplate,
                run.pos,
                "`| safe` turns off shell quoting: a value with a quote or `;` in it will run as shell code",
                Some("remove `| safe` unless the value is a trusted piece of shell syntax"),
            );
        }
    }
    if let Some(on) = command.on.as_ref().filter(|on| on.contains("{{")) {
        check_template(
            lint,
            env,
            known,
            vars,
            on,
            Scope {
                host: false,
                item: false,
                ..scope
            },
        );
    }
    // `for_each` is evaluated once, before any item exists.
    if let Some(each) = command.for_each.as_ref().filter(|e| !e.contains("{{")) {
        check_names(
            lint,
            env,
            known,
            vars,
            each,
            Scope {
                host: false,
                item: false,
                ..scope
            },
            Kind::Expression,
        );
    }
    if let Some(http) = &command.http {
        check_template(lint, env, known, vars, &http.url, scope);
        for text in http
            .headers
            .values()
            .chain(&http.body)
            .chain(&http.body_contains)
        {
            check_template(lint, env, known, vars, text, scope);
        }
    }
    if let Some(expect) = &command.expect {
        for text in expect
            .stdout_contains
            .iter()
            .chain(&expect.stdout_not_contains)
        {
            check_template(lint, env, known, vars, text, scope);
        }
        if let Some(that) = &expect.that {
            check_names(
                lint,
                env,
                known,
                vars,
                that,
                Scope {
                    host: false,
                    ..scope
                },
                Kind::That,
            );
        }
    }
    // `confirm: {type: TEXT}` is rendered before the engineer types it: it is a template.
    if let Some(confirm) = &command.confirm
        && let Confirm::Text { text } = &confirm.value
    {
        let text = Sp::new(text.clone(), confirm.pos);
        check_template(
            lint,
            env,
            known,
            vars,
            &text,
            Scope {
                host: false,
                item: false,
                ..scope
            },
        );
    }
}

fn check_template(
    lint: &mut FileLint<'_>,
    env: &Environment<'_>,
    known: &mut KnownCallables,
    vars: &HashMap<String, Captured>,
    text: &Sp<String>,
    scope: Scope,
) {
    check_names(lint, env, known, vars, text, scope, Kind::Text);
}

fn check_names(
    lint: &mut FileLint<'_>,
    env: &Environment<'_>,
    known: &mut KnownCallables,
    vars: &HashMap<String, Captured>,
    text: &Sp<String>,
    scope: Scope,
    kind: Kind,
) {
    let expression = matches!(kind, Kind::Expression | Kind::That);
    // Most strings are plain text: skip the compiler for them.
    if !expression && !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return;
    }
    let compiled = if expression {
        template::names_in_expression(env, text)
    } else {
        template::names_in_template(env, text)
    };
    let names = match compiled {
        Ok(names) => names,
        Err(error) => {
            let pos = pos_of_line(lint.text, text.pos, error.line);
            let what = if kind == Kind::That {
                "`expect.that` expression"
            } else if expression {
                "`if` expression"
            } else {
                "template"
            };
            lint.report(
                Rule::TemplateSyntax,
                pos,
                format!("{what} does not compile: {}", error.message),
            );
            return;
        }
    };
    for path in &names.paths {
        // `range(…)`, `dict(…)`: functions of the environment are not names to define.
        let root = path.split('.').next().unwrap_or_default();
        if known.has(env, Callable::Function, root) {
            continue;
        }
        if kind == Kind::That && THAT_ROOTS.contains(&root) {
            continue;
        }
        if let Some(mut problem) = undefined(lint, vars, path, scope) {
            if kind == Kind::That && !KNOWN_ROOTS.contains(&root) && root != "data" {
                let close = did_you_mean(root, &THAT_ROOTS.map(String::from))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                problem.push_str(&format!(
                    "; `expect.that` also sees `exit`, `stdout`, `stderr`, `status`, `body` and `json`{close}"
                ));
            }
            lint.report(Rule::UndefinedName, text.pos, problem);
        }
    }
    // It compiled, so it lexes.
    let Ok(lexemes) = template::lex(text, expression) else {
        return;
    };
    let at = |lint: &FileLint<'_>, line: u32, col: u32| {
        if expression {
            Pos::new(text.pos.line, text.pos.col + col.saturating_sub(1))
        } else {
            pos_in_template(lint.text, text.pos, line, col)
        }
    };
    for used in template::callables(&lexemes) {
        // `not (a and b)`, `x in (y | items)`: an operator before a parenthesis is no call.
        if used.kind == Callable::Function && OPERATOR_WORDS.contains(&used.name.as_str()) {
            continue;
        }
        if !known.has(env, used.kind, &used.name) {
            let names = template::env_names(env, used.kind);
            let hint = did_you_mean(&used.name, &names)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            let pos = at(lint, used.line, used.col);
            lint.report(
                Rule::UnknownFilter,
                pos,
                format!(
                    "unknown {} `{}`: the executor has no {} of that name{hint}",
                    used.kind.as_str(),
                    used.name,
                    used.kind.as_str()
                ),
            );
        }
    }
    check_method_calls(lint, env, known, &lexemes, &at);
    for (tag, line, col) in template::block_tags(&lexemes) {
        if template::LOADING_TAGS.contains(&tag.as_str()) {
            let pos = at(lint, line, col);
            lint.report_with_help(
                Rule::UnsupportedTag,
                pos,
                format!("`{{% {tag} %}}` cannot work: runbook templates have no other templates to load"),
                Some("write the text in place, or move shared steps into a runbook called with `uses`"),
            );
        }
    }
    check_capture_shapes(lint, vars, &lexemes, &at);
    if kind == Kind::Shell {
        for finding in template::read_shell(&lexemes).findings {
            let (message, help) = shell_advice(finding.spot);
            let pos = at(lint, finding.line, finding.col);
            lint.report_with_help(Rule::ShellContext, pos, message, Some(help));
        }
    }
}

/// `x.upper()`, `vars.load.values()`: the executor's values have no methods (only `loop` has
/// `cycle` and `changed`), so a method call fails the step at run time with "… has no method
/// named …". Lint says so, with the filter or test that does it.
fn check_method_calls(
    lint: &mut FileLint<'_>,
    env: &Environment<'_>,
    known: &mut KnownCallables,
    lexemes: &[Lexeme],
    at: &dyn Fn(&FileLint<'_>, u32, u32) -> Pos,
) {
    let piece = |i: usize| lexemes.get(i).map(|l| &l.piece);
    for (i, lexeme) in lexemes.iter().enumerate() {
        let Piece::Ident(method) = &lexeme.piece else {
            continue;
        };
        if i == 0 || piece(i - 1) != Some(&Piece::Dot) || piece(i + 1) != Some(&Piece::ParenOpen) {
            continue;
        }
        let on_loop = i >= 2 && piece(i - 2) == Some(&Piece::Ident("loop".into()));
        if on_loop && (method == "cycle" || method == "changed") {
            continue;
        }
        let instead = match method.as_str() {
            "values" => "`| items` gives (key, value) pairs: `{% for key, value in x | items %}`"
                .to_string(),
            "keys" => "`| list` gives the keys of a mapping".to_string(),
            "items" => "`| items` gives (key, value) pairs".to_string(),
            "get" => "`x[KEY] | default(…)`".to_string(),
            "startswith" => "the test `x is startingwith(…)`".to_string(),
            "endswith" => "the test `x is endingwith(…)`".to_string(),
            "strip" => "the filter `| trim`".to_string(),
            "format" => "the filter `| format(…)`".to_string(),
            name if known.has(env, Callable::Filter, name) => format!("the filter `| {name}`"),
            _ => "a filter (`| lower`, `| items`…)".to_string(),
        };
        let pos = at(lint, lexeme.line, lexeme.col);
        lint.report_with_help(
            Rule::UnknownFilter,
            pos,
            format!(
                "`.{method}()` is a method call, and values have no methods in runbook templates: the step would fail with \"has no method named {method}\""
            ),
            Some(format!("use {instead}")),
        );
    }
}

/// What is wrong with a value at a place in a shell command, and the fix.
fn shell_advice(spot: ShellSpot) -> (&'static str, &'static str) {
    match spot {
        ShellSpot::DoubleQuotes => (
            "a value inside `\"…\"`: its quoting is undone there, and `$(…)` or a backquote in it runs",
            "remove the quotes around `{{ … }}`: every value is already quoted as one word",
        ),
        ShellSpot::SingleQuotes => (
            "a value inside `'…'`: its own quotes end yours, and what follows runs as shell code",
            "remove the quotes around `{{ … }}`: every value is already quoted as one word",
        ),
        ShellSpot::Heredoc => (
            "a value inside a heredoc: it is not a shell word there, so its quoting does not protect it",
            "pass it outside the heredoc, e.g. `VALUE={{ … }} cmd <<'EOF'` and use \"$VALUE\" inside",
        ),
        ShellSpot::NestedShell => (
            "a value inside the script of a nested `sh -c`: it is parsed as shell code a second time",
            "pass it as an argument: `sh -c 'echo \"$1\"' sh {{ … }}`",
        ),
        ShellSpot::QuotingOff => (
            "`{% autoescape false %}` turns off shell quoting: a value with a quote or `;` in it will run as shell code",
            "remove the `autoescape` block; use `| safe` on the one trusted value if you must",
        ),
    }
}

/// `vars.NAME` used as the other shape: an attribute of one value, or a host → text map
/// piped into a filter that takes text.
fn check_capture_shapes(
    lint: &mut FileLint<'_>,
    vars: &HashMap<String, Captured>,
    lexemes: &[Lexeme],
    at: &dyn Fn(&FileLint<'_>, u32, u32) -> Pos,
) {
    let piece = |i: usize| lexemes.get(i).map(|l| &l.piece);
    for (i, lexeme) in lexemes.iter().enumerate() {
        if lexeme.piece != Piece::Ident("vars".into()) || piece(i + 1) != Some(&Piece::Dot) {
            continue;
        }
        let Some(Piece::Ident(name)) = piece(i + 2) else {
            continue;
        };
        let Some(captured) = vars.get(name) else {
            continue;
        };
        let by = &lint.runbook.steps[captured.step].id.value;
        let problem = match (captured.shape, piece(i + 3), piece(i + 4)) {
            (Shape::Value, Some(Piece::Dot | Piece::BracketOpen), _) => Some(format!(
                "`vars.{name}` is one value (step `{by}` captures it on this machine or one destination), not a host → text map: it has no fields"
            )),
            (Shape::Map, Some(Piece::Pipe), Some(Piece::Ident(filter)))
                if TEXT_FILTERS.contains(&filter.as_str()) =>
            {
                Some(format!(
                    "`vars.{name}` is a host → text map (step `{by}` captures it on a group), but `{filter}` takes text; use `vars.{name}[HOST]` for one host, or `vars.{name} | items` for its (host, text) pairs"
                ))
            }
            _ => None,
        };
        if let Some(problem) = problem {
            let pos = at(lint, lexeme.line, lexeme.col);
            lint.report(Rule::CaptureShape, pos, problem);
        }
    }
}

/// What templates see of the alert a run started from (`--alert`); all empty without one.
const ALERT_FIELDS: [&str; 5] = ["text", "labels", "annotations", "starts_at", "starts_at_ms"];

/// Why a dotted name is not defined here, or `None` when it is.
fn undefined(
    lint: &FileLint<'_>,
    vars: &HashMap<String, Captured>,
    path: &str,
    scope: Scope,
) -> Option<String> {
    let runbook = lint.runbook;
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or_default();
    let second = parts.next();
    let third = parts.next();
    let suggest = |word: &str, candidates: Vec<String>| {
        did_you_mean(word, &candidates)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default()
    };
    match root {
        "inputs" => {
            let second = second?;
            let names: Vec<String> = runbook.inputs.keys().map(|k| k.value.clone()).collect();
            (!names.iter().any(|n| n == second)).then(|| format!("`inputs.{second}` is not defined: the runbook has no input `{second}`{}", suggest(second, names)))
        }
        "vars" => {
            let Some(step) = scope.step else {
                return Some(format!("`{path}` is not available here: `vars` exist only inside steps"));
            };
            let second = second?;
            match vars.get(second).map(|c| c.step) {
                Some(at) if at < step => None,
                Some(at) => Some(format!("`vars.{second}` is captured by step `{}`, which does not run before this one", runbook.steps[at].id.value)),
                None => Some(format!("`vars.{second}` is not defined: no step captures `{second}` (with `capture:` or `ask.input`){}", suggest(second, vars.keys().cloned().collect()))),
            }
        }
        "steps" => {
            if scope.step.is_none() {
                return Some(format!("`{path}` is not available here: step results exist only inside steps"));
            }
            let second = second?;
            let ids: Vec<String> = runbook.steps.iter().map(|s| s.id.value.clone()).collect();
            if !ids.iter().any(|id| id == second) {
                let hyphen_hint = ids
                    .iter()
                    .find(|id| id.starts_with(&format!("{second}-")))
                    .map(|id| format!("; an id with `-` is written `steps['{id}']`"))
                    .unwrap_or_else(|| suggest(second, ids.clone()));
                return Some(format!("`steps.{second}` is not defined: there is no step `{second}`{hyphen_hint}"));
            }
            let third = third?;
            (!STEP_FIELDS.contains(&third)).then(|| {
                format!("`steps.{second}.{third}` is not a step result; use one of {}", STEP_FIELDS.map(|f| format!("`{f}`")).join(", "))
            })
        }
        "host" => (!scope.host).then(|| "`host` is defined only inside a command that runs `on` hosts".to_string()),
        "item" => (!scope.item).then(|| "`item` is defined only inside a command with `for_each`".to_string()),
        "links" => {
            let second = second?;
            let names: Vec<String> = runbook.links.iter().map(|l| l.name.value.clone()).collect();
            (!names.iter().any(|n| n == second)).then(|| format!("`links.{second}` is not defined: no link is named `{second}`{}", suggest(second, names)))
        }
        "runbook" => second
            .filter(|s| !["id", "title", "owner"].contains(s))
            .map(|s| format!("`runbook.{s}` is not defined; use `runbook.id`, `runbook.title` or `runbook.owner`")),
        "incident" => second.filter(|s| *s != "id").map(|s| format!("`incident.{s}` is not defined; use `incident.id`")),
        "contacts" => None,
        "data" => undefined_data(runbook, path),
        "alert" => {
            let second = second?;
            if !ALERT_FIELDS.contains(&second) {
                return Some(format!(
                    "`alert.{second}` is not defined; use one of {}",
                    ALERT_FIELDS.map(|f| format!("`alert.{f}`")).join(", ")
                ));
            }
            match (second, third) {
                ("labels" | "annotations", _) | (_, None) => None,
                (field, Some(more)) => Some(format!("`alert.{field}` is text: it has no `{more}`")),
            }
        }
        other => {
            let known: Vec<String> = KNOWN_ROOTS.iter().map(|s| s.to_string()).collect();
            Some(format!(
                "`{other}` is not defined{}; templates can use {}",
                suggest(other, known.clone()),
                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ))
        }
    }
}

/// Why `data.A.B…` is not in the runbook's `data`, or `None` when it is (or cannot be known:
/// below a list or a value, or past a dynamic index).
fn undefined_data(runbook: &Runbook, path: &str) -> Option<String> {
    let mut parts = path.split('.').skip(1);
    let first = parts.next()?;
    let keys: Vec<String> = runbook.data.keys().map(|k| k.value.clone()).collect();
    let Some((_, mut node)) = runbook.data.iter().find(|(k, _)| k.value == first) else {
        let hint = did_you_mean(first, &keys)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        let what = if keys.is_empty() {
            "the runbook has no `data`".to_string()
        } else {
            format!("`data` has no key `{first}`")
        };
        return Some(format!("`data.{first}` is not defined: {what}{hint}"));
    };
    let mut walked = format!("data.{first}");
    for part in parts {
        let serde_json::Value::Object(map) = node else {
            return None;
        };
        match map.get(part) {
            Some(child) => node = child,
            None => {
                let keys: Vec<String> = map.keys().cloned().collect();
                let hint = did_you_mean(part, &keys)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Some(format!(
                    "`{walked}.{part}` is not defined: `{walked}` has no key `{part}`{hint}"
                ));
            }
        }
        walked = format!("{walked}.{part}");
    }
    None
}

/// Where line `line` of a template sits in the file. A block scalar (`|`, `>`) starts on the
/// line below its indicator; a plain or quoted one on the line of the value.
fn pos_of_line(text: &str, start: Pos, line: usize) -> Pos {
    if line <= 1 {
        return start;
    }
    let first = text
        .lines()
        .nth(start.line.saturating_sub(1) as usize)
        .unwrap_or_default();
    let value = first
        .chars()
        .skip(start.col.saturating_sub(1) as usize)
        .collect::<String>();
    let block = value.starts_with('|') || value.starts_with('>');
    let offset = if block { line } else { line - 1 };
    let target_line = start.line as usize + offset;
    let col = text
        .lines()
        .nth(target_line.saturating_sub(1))
        .map_or(1, |l| l.len() - l.trim_start().len() + 1);
    Pos::new(
        u32::try_from(target_line).unwrap_or(start.line),
        u32::try_from(col).unwrap_or(1),
    )
}

/// Where line `line`, column `col` of a template (both from 1) sits in the file. A quoted
/// scalar starts one column after its quote; a block scalar (`|`, `>`) on the line below
/// its indicator, after the indentation.
fn pos_in_template(text: &str, start: Pos, line: u32, col: u32) -> Pos {
    let first = text
        .lines()
        .nth(start.line.saturating_sub(1) as usize)
        .unwrap_or_default();
    let value: String = first
        .chars()
        .skip(start.col.saturating_sub(1) as usize)
        .collect();
    let block = value.starts_with('|') || value.starts_with('>');
    if !block && line <= 1 {
        let quote = u32::from(value.starts_with(['"', '\'']));
        return Pos::new(start.line, start.col + quote + col.saturating_sub(1));
    }
    let target = start.line + if block { line } else { line - 1 };
    let indent = text
        .lines()
        .nth(target.saturating_sub(1) as usize)
        .map_or(0, |l| l.chars().take_while(|c| c.is_whitespace()).count());
    let indent = u32::try_from(indent).unwrap_or(0);
    Pos::new(target, indent + col.max(1))
}
