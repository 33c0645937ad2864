//! Running one command where it belongs: on this machine, on every host of a group over SSH,
//! or as HTTP requests. The [`Runner`] renders a job per host, fans them out, records each
//! result in the timeline as it comes in, shows a line per host, and sums up the step.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use minijinja::value::ValueKind;
use minijinja::{Environment, Value};

use super::fanout;
use super::screen::{Running, Screen, human_duration};
use super::state::{HostResult, RunState, StepResult};
use super::transport::scripted::Scripted;
use super::transport::secret_env::{self, Secret};
use super::transport::{
    CommandOutput, HttpClient, HttpRequest, HttpResponse, Interrupt, Local, ShellCommand,
    SshSession, Target,
};
use super::transport::{interactive, live};
use crate::Error;
use crate::model::{Command, Runbook, Shell};
use crate::template::Escape;
use crate::timeline::{Event, Timeline};

/// Hosts at once in a fan-out unless `parallel` says otherwise.
pub const DEFAULT_PARALLEL: u32 = 32;

/// Where one job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Local,
    Ssh(String),
    /// One item of a `for_each`, run where `on` says: named by the item.
    Item {
        item: String,
        on: Box<Destination>,
    },
}

impl Destination {
    /// The name results, screen lines and timeline events go by: the host, or the item.
    pub fn name(&self) -> &str {
        match self {
            Destination::Local => "local",
            Destination::Ssh(host) => host,
            Destination::Item { item, .. } => item,
        }
    }

    /// Where the job really runs (an item's `on`).
    pub fn place(&self) -> &Destination {
        match self {
            Destination::Item { on, .. } => on.place(),
            other => other,
        }
    }
}

/// The hosts `on` names: `local` (or nothing), a group of the runbook, or one destination.
pub fn destinations(runbook: &Runbook, on: Option<&str>) -> Vec<Destination> {
    match on {
        None | Some("local" | "localhost") => vec![Destination::Local],
        Some(name) => match runbook.hosts.iter().find(|(group, _)| group.value == name) {
            Some((_, members)) => members
                .iter()
                .map(|m| Destination::Ssh(m.value.clone()))
                .collect(),
            None => vec![Destination::Ssh(name.to_string())],
        },
    }
}

/// A command rendered for one host.
#[derive(Debug, Clone)]
pub enum Job {
    Shell {
        destination: Destination,
        /// The rendered script, secrets replaced by references to `env` (as shown and
        /// recorded).
        script: String,
        shell: Shell,
        /// The variables the script refers to: the secrets it uses.
        env: Vec<(String, String)>,
    },
    Http {
        host: String,
        request: HttpRequest,
    },
}

impl Job {
    pub fn host(&self) -> &str {
        match self {
            Job::Shell { destination, .. } => destination.name(),
            Job::Http { host, .. } => host,
        }
    }

    /// The command as shown and recorded.
    pub fn shown(&self) -> String {
        match self {
            Job::Shell { script, .. } => script.clone(),
            // Everything the request sends: the engineer confirms what goes out. Secret
            // values are masked by the screen and the timeline like any other text.
            Job::Http { request, .. } => {
                let mut shown = format!("{} {}", request.method, request.url);
                for (name, value) in &request.headers {
                    shown.push_str(&format!("\n{name}: {value}"));
                }
                if let Some(body) = request.body.as_ref().filter(|b| !b.is_empty()) {
                    shown.push_str(&format!("\n\n{body}"));
                }
                shown
            }
        }
    }
}

/// A command rendered for every host it runs on.
#[derive(Debug, Clone)]
pub struct Plan {
    pub jobs: Vec<Job>,
    /// `on` named hosts: results are per host, captures a host → text map.
    pub fan_out: bool,
    /// How the target is named on screen: `local`, the group or the destination.
    pub target: String,
    /// A `for_each`: one job per item, results by item.
    pub each: bool,
}

impl Plan {
    /// What one job is called on screen: `host` or `item`.
    pub fn unit(&self) -> &'static str {
        if self.each { "item" } else { "host" }
    }

    /// The command, when every job runs the same one (as shown); `None` when they differ (a
    /// `for_each`'s items, `{{ host }}` in a fan-out's command): then each host's line on
    /// the screen carries its own.
    pub fn one_command(&self) -> Option<String> {
        let first = self.jobs.first()?.shown();
        self.jobs
            .iter()
            .skip(1)
            .all(|job| job.shown() == first)
            .then_some(first)
    }
}

/// Where a templated `on:` may lead: the name of a group of the runbook, a destination of one,
/// or a value a capture produced (a capture's text, one of its lines, or a value of a host →
/// text map). Never `local`: a template cannot turn a remote command into one on this machine.
fn check_rendered_on(runbook: &Runbook, state: &RunState, rendered: &str) -> Result<(), String> {
    let name = rendered.trim();
    if name.is_empty() || name == "local" || name == "localhost" {
        return Err(format!(
            "`on:` rendered to `{name}`: a template may name only a group of `hosts`, one of its \
             destinations or a captured host, never this machine (write `on: local` instead)"
        ));
    }
    let declared = runbook
        .hosts
        .iter()
        .any(|(group, members)| group.value == name || members.iter().any(|m| m.value == name));
    let captured = state.vars.values().any(|value| produced(value, name));
    if declared || captured {
        Ok(())
    } else {
        Err(format!(
            "`on:` rendered to `{name}`, which is neither a group of `hosts`, one of their \
             destinations, nor a host a capture produced"
        ))
    }
}

/// Whether a captured value holds `name`: as its text, one of its lines, or an item.
fn produced(value: &serde_json::Value, name: &str) -> bool {
    match value {
        serde_json::Value::String(text) => {
            text.trim() == name || text.lines().any(|line| line.trim() == name)
        }
        serde_json::Value::Array(items) => items.iter().any(|item| produced(item, name)),
        serde_json::Value::Object(map) => map.values().any(|item| produced(item, name)),
        _ => false,
    }
}

/// The secrets of the run, as variables for [`secret_env::extract`].
fn secrets(runbook: &Runbook, state: &RunState) -> Vec<Secret> {
    runbook
        .inputs
        .iter()
        .filter(|(_, input)| input.secret)
        .filter_map(|(name, _)| {
            state
                .inputs
                .get(&name.value)
                .map(|value| Secret::input(name, value))
        })
        .collect()
}

/// Renders `command` for each of its hosts; `inherited_on` is the action's `on` for a
/// rollback that has none of its own. Secret values leave the rendered script for the job's
/// `env` (see [`secret_env`]); a templated `on:` must name a declared or captured host.
pub fn plan(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    command: &Command,
    inherited_on: Option<&str>,
    timeout: Duration,
) -> Result<Plan, String> {
    let written_on = command
        .on
        .as_ref()
        .map(|o| o.value.as_str())
        .or(inherited_on);
    let (on, hosts, mut fan_out) = match written_on {
        Some(on) if is_template(on) => match rendered_on(runbook, state, env, on)? {
            // A list fans out over its destinations, groups expanded, as over a group.
            RenderedOn::List(names) => {
                let mut hosts: Vec<Destination> = Vec::new();
                for name in &names {
                    for host in destinations(runbook, Some(name)) {
                        if !hosts.contains(&host) {
                            hosts.push(host);
                        }
                    }
                }
                (Some(names.join(", ")), hosts, true)
            }
            RenderedOn::One(name) => {
                let hosts = destinations(runbook, Some(&name));
                let group = is_group(runbook, &name);
                (Some(name), hosts, group)
            }
        },
        other => {
            let hosts = destinations(runbook, other);
            // A group fans out: per-host results, a host → value map for captures. One
            // destination is one command: a value, as on this machine.
            (
                other.map(str::to_string),
                hosts,
                other.is_some_and(|name| is_group(runbook, name)),
            )
        }
    };
    let shell = command
        .shell
        .as_ref()
        .map(|s| s.value)
        .or_else(|| {
            runbook
                .defaults
                .as_ref()
                .and_then(|d| d.shell.as_ref().map(|s| s.value))
        })
        .unwrap_or_default();
    let secrets = secrets(runbook, state);
    // `for_each`: one job per item, on the one destination of `on`.
    let mut items: Vec<Option<(String, Value)>> = vec![None];
    let mut hosts = hosts;
    if let Some(expression) = &command.for_each {
        let each = loop_items(runbook, state, env, expression)?;
        let [place] = hosts.as_slice() else {
            return Err(format!(
                "`for_each` runs its items on one destination, but `on:` gave {} hosts; \
                 loop over the hosts with `on:` alone",
                hosts.len()
            ));
        };
        let place = place.clone();
        hosts = each
            .iter()
            .map(|(label, _)| Destination::Item {
                item: label.clone(),
                on: Box::new(place.clone()),
            })
            .collect();
        items = each.into_iter().map(Some).collect();
        fan_out = true;
    }
    let mut jobs = Vec::new();
    for (index, destination) in hosts.into_iter().enumerate() {
        let host = match destination.place() {
            Destination::Ssh(host) => Some(host.clone()),
            _ => None,
        };
        let host = host.as_deref();
        let item = items
            .get(index)
            .and_then(|i| i.as_ref())
            .map(|(_, value)| value);
        if let Some(run) = &command.run {
            let rendered = match item {
                None => state.render(runbook, env, run, true, host)?,
                Some(item) => render_item(runbook, state, env, run, Escape::Shell, host, item)?,
            };
            let extracted = secret_env::extract(&rendered, &secrets);
            jobs.push(Job::Shell {
                destination,
                script: extracted.script,
                shell,
                env: extracted.env,
            });
        } else if let Some(http) = &command.http {
            let render = |text: &str, escape| match item {
                None => state.render_as(runbook, env, text, escape, host),
                Some(item) => render_item(runbook, state, env, text, escape, host, item),
            };
            let mut headers = Vec::new();
            for (name, value) in &http.headers {
                headers.push((name.value.clone(), render(value, Escape::Text)?));
            }
            // Values in a JSON body are escaped as JSON strings; other bodies are sent as
            // rendered.
            let body_escape = if headers.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("content-type")
                    && value.to_ascii_lowercase().contains("json")
            }) {
                Escape::JsonString
            } else {
                Escape::Text
            };
            let request = HttpRequest {
                method: http
                    .method
                    .as_ref()
                    .map_or_else(|| "GET".to_string(), |m| m.to_ascii_uppercase()),
                url: render_url(&http.url, |text, escape| render(text, escape))?,
                headers,
                body: http
                    .body
                    .as_ref()
                    .map(|b| render(b, body_escape))
                    .transpose()?,
                timeout: http
                    .timeout
                    .as_ref()
                    .and_then(|t| crate::model::parse_duration(t).ok())
                    .unwrap_or(timeout),
            };
            jobs.push(Job::Http {
                host: destination.name().to_string(),
                request,
            });
        }
    }
    Ok(Plan {
        each: command.for_each.is_some(),
        jobs,
        fan_out,
        target: on.unwrap_or_else(|| "local".to_string()),
    })
}

/// Whether `on` is a template, rendered at run time.
fn is_template(on: &str) -> bool {
    on.contains("{{") || on.contains("{%")
}

fn is_group(runbook: &Runbook, name: &str) -> bool {
    runbook.hosts.iter().any(|(group, _)| group.value == name)
}

/// What a templated `on:` gave: one name (a group, a destination), or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RenderedOn {
    One(String),
    List(Vec<String>),
}

/// Renders a templated `on:`. A template that is one `{{ EXPRESSION }}` keeps the value's
/// kind: a list is a list of destinations. Any other value must be one name: text with a
/// space or a line break in it is refused, never taken as a host named `a b`. Every name must
/// be declared or captured ([`check_rendered_on`]); an empty list has no hosts.
fn rendered_on(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    on: &str,
) -> Result<RenderedOn, String> {
    let value = match whole_expression(on) {
        Some(expression) => evaluate(runbook, state, env, expression)?,
        None => Value::from(state.render(runbook, env, on, false, None)?),
    };
    let rendered = if value.kind() == ValueKind::String || value.is_number() {
        let text = value.to_string();
        let name = text.trim();
        if name.contains(char::is_whitespace) {
            return Err(format!(
                "`on:` rendered to `{}`, which is neither one name nor a list; a capture with \
                 one host per line is split with `{{{{ vars.NAME | lines }}}}`",
                name.replace('\n', "\\n")
            ));
        }
        RenderedOn::One(name.to_string())
    } else if matches!(value.kind(), ValueKind::Seq | ValueKind::Iterable) {
        let mut names = Vec::new();
        for item in value.try_iter().map_err(|e| e.to_string())? {
            if item.kind() != ValueKind::String && !item.is_number() {
                return Err(format!(
                    "`on:` gave a list with `{item}` in it; its items must be host names"
                ));
            }
            let text = item.to_string();
            let name = text.trim();
            if name.is_empty() {
                continue;
            }
            if name.contains(char::is_whitespace) {
                return Err(format!(
                    "`on:` gave a list with `{name}` in it, which is not one host name"
                ));
            }
            names.push(name.to_string());
        }
        if names.is_empty() {
            return Err("`on:` rendered to an empty list: no hosts to run on".into());
        }
        RenderedOn::List(names)
    } else {
        return Err(format!(
            "`on:` rendered to `{value}` ({}), which is neither one name nor a list of names",
            value.kind()
        ));
    };
    let names = match &rendered {
        RenderedOn::One(name) => std::slice::from_ref(name),
        RenderedOn::List(names) => names.as_slice(),
    };
    for name in names {
        check_rendered_on(runbook, state, name)?;
    }
    Ok(rendered)
}

/// `EXPRESSION` when `template` is `{{ EXPRESSION }}` and nothing else.
fn whole_expression(template: &str) -> Option<&str> {
    let inner = template.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

/// Evaluates an expression over the run's names.
fn evaluate(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    expression: &str,
) -> Result<Value, String> {
    env.compile_expression(expression)
        .and_then(|compiled| compiled.eval(state.context(runbook, env, expression, None)))
        .map_err(|e| describe_error(&e))
}

fn describe_error(error: &minijinja::Error) -> String {
    error
        .detail()
        .map_or_else(|| error.to_string(), |d| format!("{d} ({})", error.kind()))
}

/// The items of a `for_each`, each with its label: its text (a number or a string), else its
/// JSON; a label seen before gets `#2`, `#3`… so that each item keeps its own result.
fn loop_items(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    expression: &str,
) -> Result<Vec<(String, Value)>, String> {
    let value = evaluate(runbook, state, env, expression)?;
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {}
        ValueKind::String => {
            return Err(format!(
                "`for_each: {expression}` gave text, not a list; split it with `| lines` or \
                 `| split(\",\")`"
            ));
        }
        ValueKind::Map => {
            return Err(format!(
                "`for_each: {expression}` gave a map, not a list; loop over `.keys()`, \
                 `.values()` or `.items()`"
            ));
        }
        kind => {
            return Err(format!(
                "`for_each: {expression}` gave {kind} `{value}`, not a list"
            ));
        }
    }
    let mut items: Vec<(String, Value)> = Vec::new();
    for item in value.try_iter().map_err(|e| e.to_string())? {
        let base = if item.kind() == ValueKind::String || item.is_number() {
            item.to_string()
        } else {
            serde_json::to_string(&item).unwrap_or_else(|_| item.to_string())
        };
        let mut label = base.clone();
        let mut n = 1;
        while items.iter().any(|(seen, _)| *seen == label) {
            n += 1;
            label = format!("{base}#{n}");
        }
        items.push((label, item));
    }
    if items.is_empty() {
        return Err(format!(
            "`for_each: {expression}` gave an empty list: nothing to run"
        ));
    }
    Ok(items)
}

/// Renders a template for one item of a `for_each`: the run's names and `item`.
fn render_item(
    runbook: &Runbook,
    state: &RunState,
    env: &Environment<'_>,
    source: &str,
    escape: Escape,
    host: Option<&str>,
    item: &Value,
) -> Result<String, String> {
    let template = env
        .template_from_named_str(escape.template_name(), source)
        .map_err(|e| describe_error(&e))?;
    let base = state.context(runbook, env, source, host);
    template
        .render(minijinja::context! { item => item.clone(), ..base })
        .map_err(|e| describe_error(&e))
}

/// Renders an http `url`. Every value is percent-encoded, so it cannot change the scheme,
/// host, port, path segments or query; except a value that *starts* the URL
/// (`{{ inputs.base_url }}/api/health`): the author made it the base, so it is taken as
/// written, and must be an absolute `http://` or `https://` URL without a query or fragment.
pub(crate) fn render_url(
    source: &str,
    render: impl Fn(&str, Escape) -> Result<String, String>,
) -> Result<String, String> {
    let trimmed = source.trim_start();
    let base_end = trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.find("}}"))
        .map(|end| end + 4);
    let Some(base_end) = base_end else {
        return render(source, Escape::Url);
    };
    let (base_source, rest) = trimmed.split_at(base_end);
    let base = render(base_source, Escape::Text)?;
    let base = base.trim();
    let scheme_ok = ["http://", "https://"].iter().any(|scheme| {
        base.len() > scheme.len() && base[..scheme.len()].eq_ignore_ascii_case(scheme)
    });
    if !scheme_ok || base.contains(['?', '#', ' ', '\n']) {
        return Err(format!(
            "the URL's base `{base}` must be an absolute http:// or https:// URL without `?` or `#`"
        ));
    }
    Ok(format!("{base}{}", render(rest, Escape::Url)?))
}

/// What one host's job gave.
#[derive(Debug, Clone)]
pub enum Output {
    Shell(CommandOutput),
    Http(HttpResponse),
}

impl Output {
    fn interrupted(&self) -> bool {
        match self {
            Output::Shell(output) => output.interrupted,
            Output::Http(response) => response.error.as_deref() == Some("interrupted"),
        }
    }

    fn duration(&self) -> Duration {
        match self {
            Output::Shell(output) => output.duration,
            Output::Http(response) => response.duration,
        }
    }

    /// What the command printed (or the response body).
    pub fn text(&self) -> &str {
        match self {
            Output::Shell(output) => &output.stdout,
            Output::Http(response) => &response.body,
        }
    }
}

/// One host's run: the job, what it gave, and its verdict.
#[derive(Debug, Clone)]
pub struct HostRun {
    pub host: String,
    pub output: Output,
    /// `(expected, happened)` when it failed.
    pub failure: Option<(String, String)>,
}

/// Every host's run of one command.
#[derive(Debug, Clone)]
pub struct Execution {
    pub runs: Vec<HostRun>,
    /// Hosts never started because too many had failed.
    pub not_started: Vec<String>,
    pub fan_out: bool,
    /// What one job is: `host`, or `item` in a `for_each`.
    pub unit: &'static str,
}

impl Execution {
    pub fn ok(&self) -> bool {
        self.not_started.is_empty() && self.runs.iter().all(|r| r.failure.is_none())
    }

    pub fn interrupted(&self) -> bool {
        self.runs.iter().any(|r| r.output.interrupted())
    }

    /// What was expected and what happened, over all hosts.
    /// The hosts that ran and failed, in the order they finished.
    fn failed(&self) -> impl Iterator<Item = &HostRun> {
        self.runs.iter().filter(|r| r.failure.is_some())
    }

    pub fn failure(&self) -> Option<(String, String)> {
        let failed: Vec<&HostRun> = self.failed().collect();
        let (expected, happened) = failed.first()?.failure.clone()?;
        if !self.fan_out {
            return Some((expected, happened));
        }
        let hosts: Vec<String> = failed
            .iter()
            .map(|r| {
                let why = r.failure.as_ref().map_or("", |(_, h)| h.as_str());
                format!("{}: {why}", r.host)
            })
            .collect();
        let total = self.runs.len() + self.not_started.len();
        let unit = self.unit;
        let mut happened = format!(
            "{} of {total} {unit}{} failed — {}",
            failed.len(),
            if total == 1 { "" } else { "s" },
            hosts.join("; ")
        );
        if !self.not_started.is_empty() {
            happened.push_str(&format!(
                "; not started after too many failures: {}",
                self.not_started.join(", ")
            ));
        }
        Some((format!("{expected} on every {unit}"), happened))
    }

    /// The step's result as templates see it.
    pub fn step_result(&self) -> StepResult {
        let single = (!self.fan_out).then(|| self.runs.first()).flatten();
        let mut result = StepResult {
            ok: self.ok(),
            outcome: if self.ok() { "passed" } else { "failed" }.into(),
            failed_hosts: self
                .failed()
                .map(|r| r.host.clone())
                .chain(self.not_started.iter().cloned())
                .collect(),
            duration_ms: self
                .runs
                .iter()
                .map(|r| millis(r.output.duration()))
                .max()
                .unwrap_or(0),
            ..StepResult::default()
        };
        for run in &self.runs {
            let (exit, stdout) = match &run.output {
                Output::Shell(output) => (output.exit, output.stdout.clone()),
                Output::Http(response) => (None, response.body.clone()),
            };
            result.hosts.insert(
                run.host.clone(),
                HostResult {
                    ok: run.failure.is_none(),
                    exit,
                    stdout,
                },
            );
        }
        if let Some(run) = single {
            match &run.output {
                Output::Shell(output) => {
                    result.exit = output.exit;
                    result.stdout = output.stdout.clone();
                    result.stderr = output.stderr.clone();
                }
                Output::Http(response) => {
                    result.status = response.status;
                    result.body = response.body.clone();
                }
            }
        }
        result
    }

    /// What `capture:` keeps: the trimmed output, or a host → text map under fan-out.
    pub fn capture(&self) -> serde_json::Value {
        if self.fan_out {
            let map: BTreeMap<String, serde_json::Value> = self
                .runs
                .iter()
                .map(|r| (r.host.clone(), r.output.text().trim().into()))
                .collect();
            serde_json::Value::Object(map.into_iter().collect())
        } else {
            self.runs
                .first()
                .map_or_else(|| "".into(), |r| r.output.text().trim().into())
        }
    }
}

/// Runs commands for a whole run: one SSH session (a master connection per host) and one
/// HTTP client, opened when first needed.
pub struct Runner {
    targets: Targets,
    pub interrupt: Interrupt,
    /// What the commands of the current try of a step gave, whole: each host, the command
    /// as shown, its output (the failure menu shows them on demand).
    outputs: Vec<(String, String, Output)>,
}

/// Says whether a host's output passes: `Err((expected, happened))` when it does not.
pub type Judge<'a> = dyn Fn(&Output) -> Result<(), (String, String)> + 'a;

/// What a passing host's output was judged on, to show on its line (what a passing
/// `expect.that` read).
pub type Reads<'a> = dyn Fn(&Output) -> Option<String> + 'a;

/// How one step runs its command.
pub struct Limits {
    pub timeout: Duration,
    pub parallel: usize,
    pub max_failures: Option<usize>,
    /// When the hosts (or items) run different commands, each host's line shows its own
    /// (a check; an action showed them before it was confirmed).
    pub each_command: bool,
}

/// Where jobs run: this machine, SSH (one session, so one connection per host, for as long as
/// this lives) and HTTP (one client, so one connection pool). The SSH session and the HTTP
/// client are made when a job first needs them; when one cannot be made, its jobs fail with
/// the reason, and the next [`Targets::prepare`] tries again.
pub struct Targets {
    local: Local,
    ssh_config: Option<PathBuf>,
    ssh: Option<Result<SshSession, String>>,
    http: Option<Result<HttpClient, String>>,
    /// `runbook test`: every job is answered by the script; nothing runs.
    scripted: Option<std::sync::Arc<Scripted>>,
}

impl Targets {
    /// `ssh_config` is passed to ssh as `-F`.
    pub fn new(ssh_config: Option<PathBuf>) -> Self {
        Targets {
            local: Local,
            ssh_config,
            ssh: None,
            http: None,
            scripted: None,
        }
    }

    /// Runs `job` of step `step`: on its target, or, scripted, nowhere.
    pub fn run_step(
        &self,
        step: &str,
        job: &Job,
        timeout: Duration,
        interrupt: &Interrupt,
    ) -> Output {
        let Some(scripted) = &self.scripted else {
            return self.run(job, timeout, interrupt);
        };
        match job {
            Job::Shell { script, .. } => Output::Shell(scripted.shell(step, job.host(), script)),
            Job::Http { .. } => Output::Http(scripted.http(step, job.host(), &job.shown())),
        }
    }

    /// Makes the SSH session and the HTTP client that `jobs` need, if not made yet.
    pub fn prepare<'a>(&mut self, jobs: impl IntoIterator<Item = &'a Job>) {
        if self.scripted.is_some() {
            return;
        }
        let (mut needs_ssh, mut needs_http) = (false, false);
        for job in jobs {
            match job {
                Job::Shell { destination, .. } => {
                    needs_ssh |= matches!(destination.place(), Destination::Ssh(_));
                }
                Job::Http { .. } => needs_http = true,
            }
        }
        if needs_ssh && !matches!(self.ssh, Some(Ok(_))) {
            self.ssh = Some(
                SshSession::new(self.ssh_config.clone())
                    .map_err(|e| format!("cannot prepare SSH: {e}")),
            );
        }
        if needs_http && !matches!(self.http, Some(Ok(_))) {
            self.http = Some(HttpClient::new());
        }
    }

    /// Runs one job (prepared first) with `timeout`; any failure to run it is in the output.
    pub fn run(&self, job: &Job, timeout: Duration, interrupt: &Interrupt) -> Output {
        match job {
            Job::Shell {
                destination,
                script,
                shell,
                env,
            } => {
                let command = ShellCommand {
                    script: script.clone(),
                    timeout,
                    shell: *shell,
                    env: env.clone(),
                };
                Output::Shell(match (destination.place(), &self.ssh) {
                    (Destination::Local | Destination::Item { .. }, _) => {
                        self.local.run(&command, interrupt)
                    }
                    (Destination::Ssh(host), Some(Ok(ssh))) => {
                        ssh.target(host).run(&command, interrupt)
                    }
                    (Destination::Ssh(_), Some(Err(reason))) => CommandOutput {
                        error: Some(reason.clone()),
                        ..CommandOutput::default()
                    },
                    (Destination::Ssh(_), None) => CommandOutput {
                        error: Some("SSH was not prepared".into()),
                        ..CommandOutput::default()
                    },
                })
            }
            Job::Http { request, .. } => Output::Http(match &self.http {
                Some(Ok(client)) => client.send(request, interrupt),
                Some(Err(reason)) => HttpResponse {
                    error: Some(reason.clone()),
                    ..HttpResponse::default()
                },
                None => HttpResponse {
                    error: Some("HTTP was not prepared".into()),
                    ..HttpResponse::default()
                },
            }),
        }
    }

    /// The SSH session, when every one of `jobs` is a shell command over SSH that runs for
    /// real (not scripted): such a fan-out runs its hosts as tasks.
    fn ssh_fleet(&self, jobs: &[Job]) -> Option<&SshSession> {
        let all_ssh = jobs.iter().all(|job| {
            matches!(job, Job::Shell { destination, .. }
                if matches!(destination.place(), Destination::Ssh(_)))
        });
        match &self.ssh {
            Some(Ok(ssh)) if all_ssh && self.scripted.is_none() => Some(ssh),
            _ => None,
        }
    }

    /// One SSH job as a task of its own (see [`Self::ssh_fleet`]).
    fn ssh_task(
        ssh: &SshSession,
        job: &Job,
        timeout: Duration,
        interrupt: &Interrupt,
    ) -> impl std::future::Future<Output = Output> + Send + use<> {
        let task = match job {
            Job::Shell {
                destination,
                script,
                shell,
                env,
            } => match destination.place() {
                Destination::Ssh(host) => Some(ssh.target(host).run_task(
                    ShellCommand {
                        script: script.clone(),
                        timeout,
                        shell: *shell,
                        env: env.clone(),
                    },
                    interrupt.clone(),
                )),
                _ => None,
            },
            Job::Http { .. } => None,
        };
        async move {
            Output::Shell(match task {
                Some(task) => task.await,
                None => CommandOutput {
                    error: Some("not an SSH command".into()),
                    ..CommandOutput::default()
                },
            })
        }
    }

    /// Closes the SSH master connections.
    pub fn close(&mut self) {
        if let Some(Ok(ssh)) = self.ssh.take() {
            ssh.close();
        }
    }
}

impl Runner {
    pub fn new(ssh_config: Option<PathBuf>, interrupt: Interrupt) -> Self {
        Runner {
            targets: Targets::new(ssh_config),
            interrupt,
            outputs: Vec::new(),
        }
    }

    /// Closes the SSH master connections.
    pub fn close(&mut self) {
        self.targets.close();
    }

    /// Runs a shell job with the terminal handed to it (`interactive: true`).
    pub fn session(&mut self, job: &Job) -> interactive::SessionEnd {
        let Job::Shell {
            destination,
            script,
            shell,
            env,
        } = job
        else {
            return interactive::SessionEnd {
                error: Some("an interactive command is a `run` command".into()),
                ..Default::default()
            };
        };
        self.targets.prepare([job]);
        let command = ShellCommand {
            script: script.clone(),
            timeout: Duration::MAX,
            shell: *shell,
            env: env.clone(),
        };
        let config = self.targets.ssh_config.clone();
        let place = match (destination.place(), &self.targets.ssh) {
            (Destination::Ssh(host), Some(Ok(ssh))) => interactive::Place::Ssh {
                destination: host,
                control_dir: ssh.control_dir(),
                config: config.as_deref(),
            },
            (Destination::Ssh(_), Some(Err(reason))) => {
                return interactive::SessionEnd {
                    error: Some(reason.clone()),
                    ..Default::default()
                };
            }
            _ => interactive::Place::Local,
        };
        interactive::run(&place, &command, &self.interrupt)
    }

    /// An interactive session of step `step` (`interactive: true`): handed the terminal, or,
    /// scripted (`runbook test`), answered by the script as any command is — its exit is
    /// what the person did; an unmatched one cannot start.
    pub fn session_of(&mut self, step: &str, job: &Job) -> interactive::SessionEnd {
        let Some(scripted) = &self.targets.scripted else {
            return self.session(job);
        };
        let output = match job {
            Job::Shell { script, .. } => scripted.shell(step, job.host(), script),
            Job::Http { .. } => CommandOutput {
                error: Some("an interactive command is a `run` command".into()),
                ..CommandOutput::default()
            },
        };
        interactive::SessionEnd {
            exit: output.exit,
            duration: output.duration,
            error: output.error,
        }
    }

    /// A runner whose every job is answered by `scripted` (`runbook test`).
    pub fn scripted(scripted: std::sync::Arc<Scripted>, interrupt: Interrupt) -> Self {
        let mut targets = Targets::new(None);
        targets.scripted = Some(scripted);
        Runner {
            targets,
            interrupt,
            outputs: Vec::new(),
        }
    }

    /// A step's try starts: the outputs kept are of its commands only.
    pub fn forget_outputs(&mut self) {
        self.outputs.clear();
    }

    /// The whole outputs of the current try's commands, as text to read: per host, the
    /// command, how it ended, stdout and stderr. Empty when no command ran.
    pub fn outputs_text(&self) -> String {
        let mut text = String::new();
        for (host, command, output) in &self.outputs {
            let ended = describe(output, None);
            text.push_str(&format!(
                "── {host} · {ended} ({}) ──\n$ {}\n",
                human_duration(output.duration()),
                command.trim_end().replace('\n', "\n  ")
            ));
            let parts: Vec<(&str, &str)> = match output {
                Output::Shell(o) => {
                    vec![("stdout", o.stdout.as_str()), ("stderr", o.stderr.as_str())]
                }
                Output::Http(r) => vec![("body", r.body.as_str())],
            };
            for (name, part) in parts {
                if part.trim().is_empty() {
                    text.push_str(&format!("{name}: (nothing)\n"));
                } else {
                    text.push_str(&format!("{name}:\n{}\n", part.trim_end()));
                }
            }
        }
        text
    }

    /// Whether nothing runs for real (`runbook test`).
    pub fn is_scripted(&self) -> bool {
        self.targets.scripted.is_some()
    }

    /// Runs `jobs`, recording each result and showing a line per host as it comes in;
    /// `judge` says whether a host's output passes.
    #[allow(clippy::too_many_arguments)]
    pub fn execute(
        &mut self,
        plan: &Plan,
        jobs: &[Job],
        limits: &Limits,
        judge: &Judge<'_>,
        reads: &Reads<'_>,
        timeline: &mut Timeline,
        screen: &Screen,
        step: &str,
    ) -> Result<Execution, Error> {
        self.targets.prepare(jobs);
        if let Some(Ok(ssh)) = &self.targets.ssh
            && jobs.iter().any(|job| {
                matches!(job, Job::Shell { destination, .. }
                    if matches!(destination.place(), Destination::Ssh(_)))
            })
        {
            // The masters are closed at the end at most as many at once as a step ran.
            ssh.set_parallel(limits.parallel.min(jobs.len()));
        }
        let (targets, interrupt) = (&self.targets, &self.interrupt);
        let run = |job: &Job| targets.run_step(step, job, limits.timeout, interrupt);
        // A fan-out shows a live line per running host; a single command a spinner; a quiet
        // screen neither.
        let (spinner, hosts) = if screen.is_quiet() {
            (None, None)
        } else if plan.fan_out {
            (
                None,
                Some(screen.hosts_progress(jobs.len(), limits.timeout)),
            )
        } else {
            // What runs, in the spinner: `local$ sleep 30 · 12s / 1m`.
            let running = jobs
                .first()
                .map(|job| {
                    let shown = job.shown();
                    let first = shown.trim().lines().next().unwrap_or_default().to_string();
                    let cut: String = first.chars().take(60).collect();
                    let cut = if cut.len() < first.len() {
                        format!("{cut}…")
                    } else {
                        cut
                    };
                    format!("{}$ {cut} ·", plan.target)
                })
                .unwrap_or_else(|| "running".into());
            (Some(screen.running(&running, limits.timeout)), None)
        };
        let run = |job: &Job| match &hosts {
            Some(hosts) => {
                let line = hosts.start(job.host());
                let output = run(job);
                hosts.stop(line);
                output
            }
            None => run(job),
        };
        // Each host's line says what ran there when the hosts run different commands.
        let each_command = limits.each_command && plan.fan_out && plan.one_command().is_none();
        let mut runs: Vec<Option<HostRun>> = vec![None; jobs.len()];
        let mut error = None;
        let mut judged = |index: usize, output: Output| {
            let job = &jobs[index];
            let failure = judge(&output).err();
            // A passing `that` shows what it read, as a failing one does.
            let read = if failure.is_none() && !screen.is_quiet() {
                reads(&output)
            } else {
                None
            };
            if error.is_none()
                && let Err(e) = record(timeline, step, job, &output)
            {
                error = Some(e);
            }
            let print = || {
                let shown = each_command.then(|| job.shown());
                show(
                    screen,
                    plan.fan_out,
                    job,
                    shown.as_deref(),
                    &output,
                    failure.as_ref(),
                    read.as_deref(),
                );
            };
            match (&spinner, &hosts) {
                (_, Some(hosts)) => hosts.print(print),
                (Some(spinner), None) => spinner.suspend(print),
                (None, None) => print(),
            }
            let failed = failure.is_some();
            runs[index] = Some(HostRun {
                host: job.host().to_string(),
                output,
                failure,
            });
            failed
        };
        // A single command at a live terminal: its last lines under the spinner while it runs.
        let tap = spinner
            .as_ref()
            .filter(|running| running.is_live() && !self.is_scripted())
            .map(|_| live::watch());
        let stop = std::sync::atomic::AtomicBool::new(false);
        let outcome = std::thread::scope(|scope| {
            if let (Some(running), Some(tap)) = (&spinner, &tap) {
                let stop = &stop;
                scope.spawn(move || show_live_tail(running, tap, stop));
            }
            let outcome = match self.targets.ssh_fleet(jobs) {
                // Every job over SSH: each host a task on the SSH runtime, not a thread.
                Some(ssh) => {
                    let lines = std::cell::RefCell::new(vec![None; jobs.len()]);
                    fanout::run_all_tasks(
                        ssh.runtime(),
                        jobs,
                        limits.parallel,
                        limits.max_failures,
                        |index, job| {
                            if let Some(hosts) = &hosts {
                                lines.borrow_mut()[index] = Some(hosts.start(job.host()));
                            }
                            Targets::ssh_task(ssh, job, limits.timeout, interrupt)
                        },
                        |index, output| {
                            if let (Some(hosts), Some(line)) =
                                (&hosts, lines.borrow_mut()[index].take())
                            {
                                hosts.stop(line);
                            }
                            judged(index, output)
                        },
                    )
                }
                // Scripted jobs take no time: on this thread, in a fixed order.
                None if self.targets.scripted.is_some() => fanout::run_all_in_order(
                    jobs,
                    limits.parallel,
                    limits.max_failures,
                    run,
                    &mut judged,
                ),
                None => fanout::run_all(
                    jobs.to_vec(),
                    limits.parallel,
                    limits.max_failures,
                    run,
                    &mut judged,
                ),
            };
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            outcome
        });
        if tap.is_some() {
            live::unwatch();
        }
        if let Some(spinner) = spinner {
            spinner.finish();
        }
        if let Some(hosts) = hosts {
            hosts.finish();
        }
        if let Some(error) = error {
            return Err(error);
        }
        for run in runs.iter().flatten() {
            let command = jobs
                .iter()
                .find(|job| job.host() == run.host)
                .map(Job::shown)
                .unwrap_or_default();
            self.outputs
                .push((run.host.clone(), command, run.output.clone()));
        }
        let not_started: Vec<String> = outcome
            .not_started
            .iter()
            .map(|&i| jobs[i].host().to_string())
            .collect();
        let execution = Execution {
            runs: runs.into_iter().flatten().collect(),
            not_started,
            fan_out: plan.fan_out,
            unit: plan.unit(),
        };
        if plan.fan_out {
            let passed = execution.runs.len() - execution.failed().count();
            let total = jobs.len();
            let summary = format!(
                "{passed} of {total} {}{} passed",
                plan.unit(),
                if total == 1 { "" } else { "s" }
            );
            if execution.interrupted() {
                screen.warn(&format!("interrupted: {summary} before Ctrl-C"));
            } else if screen.is_live()
                && execution.not_started.is_empty()
                && total <= super::screen::LIVE_HOST_LINES
            {
                // Every host's own ✔ or ✘ line said it, just above (and the failure block
                // that follows says what was expected).
            } else if execution.ok() {
                screen.ok(&summary);
            } else {
                let failed: Vec<&str> = execution.failed().map(|r| r.host.as_str()).collect();
                let mut line = format!("{summary}; failed: {}", failed.join(", "));
                if !execution.not_started.is_empty() {
                    line += &format!("; not started: {}", execution.not_started.join(", "));
                }
                screen.fail(&line);
            }
        }
        Ok(execution)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.close();
    }
}

fn record(timeline: &mut Timeline, step: &str, job: &Job, output: &Output) -> Result<(), Error> {
    let event = match (job, output) {
        (Job::Http { host, request }, Output::Http(response)) => Event::Http {
            host: host.clone(),
            method: request.method.clone(),
            url: request.url.clone(),
            status: response.status,
            duration_ms: millis(response.duration),
            body: response.body.clone(),
            error: response.error.clone(),
        },
        (_, Output::Shell(output)) => Event::Command {
            host: job.host().to_string(),
            command: job.shown(),
            exit: output.exit,
            duration_ms: millis(output.duration),
            // Whole outputs: the timeline masks secrets first, then keeps the last 4 KiB, so
            // that no secret is cut in half before it is masked.
            stdout: output.stdout.clone(),
            stderr: match &output.error {
                Some(error) => format!("{}{error}", output.stderr),
                None => output.stderr.clone(),
            },
            timed_out: output.timed_out,
        },
        (_, Output::Http(_)) => return Ok(()),
    };
    timeline.record(Some(step), event).map_err(Error::from)
}

/// One host's result: the full tail for a single command, one line per host in a fan-out
/// (with the command it ran, when `command` gives it: the hosts ran different ones).
fn show(
    screen: &Screen,
    fan_out: bool,
    job: &Job,
    command: Option<&str>,
    output: &Output,
    failure: Option<&(String, String)>,
    read: Option<&str>,
) {
    let ok = failure.is_none();
    let mut what = describe(output, failure);
    if let Some(read) = read {
        what.push_str(&format!(", and that holds: {read}"));
    }
    if fan_out {
        let last = output
            .text()
            .trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .trim();
        let tail = if last.is_empty() {
            String::new()
        } else {
            format!(" │ {last}")
        };
        let ran = command.map_or_else(String::new, |command| {
            format!(" $ {} →", one_line(command, COMMAND_IN_LINE))
        });
        let line = format!(
            "{}{ran} {what} ({}){tail}",
            job.host(),
            human_duration(output.duration())
        );
        // Under a failing host, what it said (stderr first): the reason, on the screen.
        let said = match output {
            Output::Shell(o) if !o.stderr.trim().is_empty() => o.stderr.as_str(),
            Output::Shell(o) if o.stdout.trim().lines().count() > 1 => o.stdout.as_str(),
            _ => "",
        };
        screen.host_outcome(ok, &line, said);
    } else {
        let text = match output {
            Output::Shell(o) if !o.stderr.trim().is_empty() => format!("{}{}", o.stdout, o.stderr),
            other => other.text().to_string(),
        };
        screen.outcome(ok, &what, output.duration(), &text);
    }
}

/// Once a command has run this long, its last lines show under its spinner.
const LIVE_AFTER: Duration = Duration::from_secs(1);

/// Shows the last lines the watched command wrote under its spinner, as they change, until
/// `stop`.
fn show_live_tail(running: &Running, tap: &live::Tap, stop: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering;
    let started = std::time::Instant::now();
    let mut shown: Vec<String> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() < LIVE_AFTER {
            continue;
        }
        let lines = live::last_lines(tap, super::screen::LIVE_TAIL_LINES);
        if lines != shown {
            running.show_tail(&lines);
            shown = lines;
        }
    }
}

/// How much of a command a host's line shows (its whole command is in the timeline).
const COMMAND_IN_LINE: usize = 60;

/// The first line of `text`, cut to `max` characters with `…` (and `…` when more lines
/// follow).
pub fn one_line(text: &str, max: usize) -> String {
    let mut lines = text.trim().lines();
    let first = lines.next().unwrap_or_default().trim_end();
    let cut: String = first.chars().take(max).collect();
    if cut.len() < first.len() || lines.next().is_some() {
        format!("{}…", cut.trim_end())
    } else {
        cut
    }
}

/// `exit 0`, `exit 0, but stdout does not match…`, `status 503`, `connection refused`…
fn describe(output: &Output, failure: Option<&(String, String)>) -> String {
    match output {
        Output::Shell(o) => {
            let exit = describe_exit(o);
            match failure {
                Some((_, happened)) if o.exit == Some(0) => format!("{exit}, but {happened}"),
                _ => exit,
            }
        }
        Output::Http(response) => match (&response.error, response.status, failure) {
            (Some(error), _, _) => error.clone(),
            (None, Some(status), Some((_, happened))) if !happened.starts_with("status") => {
                format!("status {status}, but {happened}")
            }
            (None, Some(status), _) => format!("status {status}"),
            (None, None, _) => "no response".into(),
        },
    }
}

pub fn describe_exit(output: &CommandOutput) -> String {
    if let Some(error) = &output.error {
        return error.clone();
    }
    if output.timed_out {
        return "timed out and was killed".into();
    }
    if output.interrupted {
        return "stopped by Ctrl-C".into();
    }
    match output.exit {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".into(),
    }
}

pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    const RUNBOOK: &str = r#"runbook: 1
title: t
owner: o
reviewed: 2026-11-01
scope: { services: [s] }
inputs:
  target: { description: where }
  token: { description: token, secret: true }
hosts:
  web: [web-1, web-2]
steps:
  - { id: a, name: a, instructions: x }
"#;

    #[track_caller]
    fn url(source: &str, value: &str) -> Result<String, String> {
        let env = crate::template::environment();
        let runbook = crate::load::parse(RUNBOOK).unwrap();
        let state = state(value);
        render_url(source, |text, escape| {
            state.render_as(&runbook, &env, text, escape, None)
        })
    }

    /// `{{ inputs.iam_url }}/api/health` was percent-encoded whole (`http%3A%2F%2F…`).
    #[test]
    fn a_value_that_starts_the_url_is_its_base_and_the_others_are_encoded() {
        assert_eq!(
            url(
                "{{ inputs.target }}/api/{{ inputs.target }}",
                "http://127.0.0.1:8080"
            ),
            Ok("http://127.0.0.1:8080/api/http%3A%2F%2F127.0.0.1%3A8080".into())
        );
        assert_eq!(
            url(
                "https://api.example.com/u/{{ inputs.target }}",
                "x@evil.com/?a=b#"
            ),
            Ok("https://api.example.com/u/x%40evil.com%2F%3Fa%3Db%23".into())
        );
        for base in [
            "evil.com",
            "file:///etc/passwd",
            "http://h/?x=1",
            "http://h/#f",
        ] {
            assert!(url("{{ inputs.target }}/x", base).is_err(), "{base}");
        }
    }

    fn state(target: &str) -> RunState {
        let inputs = IndexMap::from([
            ("target".to_string(), target.to_string()),
            ("token".to_string(), "s3cr3t value".to_string()),
        ]);
        let mut state = RunState::new("t", "i", inputs);
        state.vars.insert("found".into(), "db-1\ndb-2\n".into());
        state
    }

    fn plan_of(runbook: &str, command: &str, target: &str) -> Result<Plan, String> {
        let runbook = crate::load::parse(runbook).unwrap();
        let command: Command = serde_saphyr::from_str(command).unwrap();
        let env = crate::template::environment();
        plan(
            &runbook,
            &state(target),
            &env,
            &command,
            None,
            Duration::from_secs(1),
        )
    }

    #[track_caller]
    fn on_refused(target: &str) {
        let refused = plan_of(
            RUNBOOK,
            "{ run: 'true', on: '{{ inputs.target }}' }",
            target,
        );
        assert!(
            refused.is_err(),
            "`on:` rendered to {target:?} was accepted"
        );
    }

    #[track_caller]
    fn on_accepted(target: &str, hosts: &[&str]) {
        let plan = plan_of(
            RUNBOOK,
            "{ run: 'true', on: '{{ inputs.target }}' }",
            target,
        )
        .unwrap_or_else(|e| panic!("{target}: {e}"));
        let planned: Vec<&str> = plan.jobs.iter().map(Job::host).collect();
        assert_eq!(planned, hosts);
    }

    #[test]
    fn a_templated_on_names_only_declared_or_captured_hosts_never_this_machine() {
        on_refused("local");
        on_refused("localhost");
        on_refused(" local ");
        on_refused("");
        on_refused("evil.example.com");
        on_accepted("web", &["web-1", "web-2"]);
        on_accepted("web-2", &["web-2"]);
        on_accepted("db-2", &["db-2"]);
        // Written as such, `local` is the author's choice.
        let plan = plan_of(RUNBOOK, "{ run: 'true', on: local }", "x").unwrap();
        assert_eq!(plan.jobs[0].host(), "local");
    }

    fn state_with(vars: &[(&str, serde_json::Value)]) -> RunState {
        let mut state = state("x");
        for (name, value) in vars {
            state.vars.insert(name.to_string(), value.clone());
        }
        state
    }

    fn plan_with(command: &str, vars: &[(&str, serde_json::Value)]) -> Result<Plan, String> {
        let runbook = crate::load::parse(RUNBOOK).unwrap();
        let command: Command = serde_saphyr::from_str(command).unwrap();
        let env = crate::template::environment();
        plan(
            &runbook,
            &state_with(vars),
            &env,
            &command,
            None,
            Duration::from_secs(1),
        )
    }

    /// SPEC 7.4: `on: "{{ vars.x | lines }}"` became one host named "a\nb"; a list fans out
    /// over its destinations (groups expanded, each once), text with a space is refused, an
    /// empty list has no hosts.
    #[test]
    fn a_templated_on_that_gives_a_list_fans_out_and_anything_else_is_one_name() {
        let found = ("found", serde_json::json!("db-1\ndb-2\n\n"));
        let plan = plan_with(
            "{ run: 'true', on: '{{ vars.found | lines }}' }",
            std::slice::from_ref(&found),
        )
        .unwrap();
        let hosts: Vec<&str> = plan.jobs.iter().map(Job::host).collect();
        assert_eq!(hosts, ["db-1", "db-2"]);
        assert!(plan.fan_out);

        let list = ("list", serde_json::json!(["web", "web-2", "db-1"]));
        let plan = plan_with(
            "{ run: 'true', on: '{{ vars.list }}' }",
            &[list, found.clone()],
        )
        .unwrap();
        let hosts: Vec<&str> = plan.jobs.iter().map(Job::host).collect();
        assert_eq!(hosts, ["web-1", "web-2", "db-1"]);

        let refused = plan_with(
            "{ run: 'true', on: '{{ vars.found }}' }",
            std::slice::from_ref(&found),
        );
        assert!(refused.unwrap_err().contains("neither one name nor a list"));
        let empty = ("empty", serde_json::json!([]));
        let refused = plan_with("{ run: 'true', on: '{{ vars.empty }}' }", &[empty]);
        assert!(refused.unwrap_err().contains("no hosts"));
        // Names that no group declares and no capture produced are refused, `local` always.
        for list in ["['web-1', 'evil.example.com']", "['local']"] {
            let command = format!("{{ run: 'true', on: \"{{{{ {list} }}}}\" }}");
            assert!(plan_with(&command, &[]).is_err(), "{list}");
        }
    }

    #[test]
    fn for_each_makes_a_job_per_item_with_item_set_and_refuses_what_is_not_a_list() {
        let items = ("items", serde_json::json!("a b\nc\na b\n"));
        let plan = plan_with(
            "{ run: 'echo {{ item }}', for_each: 'vars.items | lines' }",
            std::slice::from_ref(&items),
        )
        .unwrap();
        let labels: Vec<&str> = plan.jobs.iter().map(Job::host).collect();
        assert_eq!(labels, ["a b", "c", "a b#2"]);
        assert_eq!(plan.jobs[0].shown(), "echo 'a b'");
        assert!(plan.fan_out && plan.each);

        for (each, said) in [
            ("vars.items", "gave text"),
            ("[]", "empty list"),
            ("{'a': 1}", "gave a map"),
            ("3", "not a list"),
        ] {
            let error = plan_with(
                &format!("{{ run: 'true', for_each: \"{each}\" }}"),
                std::slice::from_ref(&items),
            )
            .unwrap_err();
            assert!(error.contains(said), "{each}: {error}");
        }
        let error = plan_with("{ run: 'true', on: web, for_each: '[1]' }", &[]).unwrap_err();
        assert!(error.contains("one destination"), "{error}");
    }

    /// SPEC 7.3: a capture on one destination is a value, on a group a host → value map.
    /// One SSH destination used to count as a fan-out, so its capture was a one-entry map.
    #[test]
    fn one_destination_is_one_command_and_a_group_fans_out() {
        for (on, fan_out) in [
            ("web", true),
            ("web-2", false),
            ("db-9", false),
            ("local", false),
        ] {
            let command = format!("{{ run: 'true', on: {on} }}");
            let plan = plan_of(RUNBOOK, &command, "x").unwrap();
            assert_eq!(plan.fan_out, fan_out, "on: {on}");
            let execution = Execution {
                runs: vec![HostRun {
                    host: plan.jobs[0].host().to_string(),
                    output: Output::Shell(CommandOutput {
                        exit: Some(0),
                        stdout: "42\n".into(),
                        ..CommandOutput::default()
                    }),
                    failure: None,
                }],
                not_started: Vec::new(),
                fan_out: plan.fan_out,
                unit: plan.unit(),
            };
            assert_eq!(execution.capture().is_string(), !fan_out, "on: {on}");
        }
    }

    #[test]
    fn secrets_leave_the_script_for_the_environment_and_the_shell_follows_defaults() {
        let plan = plan_of(RUNBOOK, "{ run: 'curl -H {{ inputs.token }}' }", "x").unwrap();
        let Job::Shell {
            script, env, shell, ..
        } = &plan.jobs[0]
        else {
            panic!("not a shell job")
        };
        assert_eq!(script, "curl -H \"${RUNBOOK_SECRET_TOKEN}\"");
        assert_eq!(plan.jobs[0].shown(), *script);
        assert_eq!(
            env,
            &[(
                "RUNBOOK_SECRET_TOKEN".to_string(),
                "s3cr3t value".to_string()
            )]
        );
        assert_eq!(*shell, Shell::Bash);
        let with_defaults = format!("{RUNBOOK}defaults: {{ shell: sh }}\n");
        let plan = plan_of(&with_defaults, "{ run: 'true' }", "x").unwrap();
        assert!(matches!(
            &plan.jobs[0],
            Job::Shell {
                shell: Shell::Sh,
                ..
            }
        ));
        let plan = plan_of(&with_defaults, "{ run: 'true', shell: bash }", "x").unwrap();
        assert!(matches!(
            &plan.jobs[0],
            Job::Shell {
                shell: Shell::Bash,
                ..
            }
        ));
    }
}
