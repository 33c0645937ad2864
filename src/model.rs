//! The runbook file format, version 1, as plain data.
//!
//! Every value a finding may point at is wrapped in [`Sp`], which keeps the line and column of
//! its YAML node. Durations, regexes and templates stay strings here: lint checks them (so every
//! mistake is reported with its rule, not just the first) and the executor compiles them.

use std::fmt;
use std::ops::Deref;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// A line and column in a runbook file, both counted from 1 (0 when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    /// The top of the file, for findings about something that is missing altogether.
    pub const START: Pos = Pos { line: 1, col: 1 };

    pub fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }
}

impl From<serde_saphyr::Location> for Pos {
    fn from(location: serde_saphyr::Location) -> Self {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Pos::new(clamp(location.line()), clamp(location.column()))
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A value with the position of the YAML node it was read from.
///
/// It dereferences to the value, serializes as the value and has the value's JSON Schema, so
/// the model reads like plain data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sp<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Sp<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        Sp { value, pos }
    }
}

impl<T> Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if KEEPING_POSITIONS.get() {
            let (value, line, col) = <(T, u32, u32)>::deserialize(deserializer)?;
            return Ok(Sp::new(value, Pos::new(line, col)));
        }
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Sp::new(spanned.value, spanned.referenced.into()))
    }
}

impl<T: Serialize> Serialize for Sp<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if KEEPING_POSITIONS.get() {
            return (&self.value, self.pos.line, self.pos.col).serialize(serializer);
        }
        self.value.serialize(serializer)
    }
}

thread_local! {
    /// Set while [`keeping_positions`] runs: an [`Sp`] is written and read as `(value, line,
    /// col)` instead of as its value (the JSON users see) or a YAML node (which carries its
    /// own position).
    static KEEPING_POSITIONS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every [`Sp`] (de)serialized with its position, on this thread: how the
/// loader's cache stores a parsed runbook exactly as the YAML parser made it.
pub fn keeping_positions<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            KEEPING_POSITIONS.set(self.0);
        }
    }
    let _restore = Restore(KEEPING_POSITIONS.replace(true));
    f()
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A string that is rendered with Jinja syntax before a person reads it or a shell runs it.
pub type Template = Sp<String>;

/// One runbook file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "runbook",
    description = "A runbook: scope, contacts, links and the steps that restore a service (format version 1)."
)]
pub struct Runbook {
    /// Format version of this file; must be 1.
    #[schemars(extend("const" = 1))]
    pub runbook: Sp<u32>,
    /// What this runbook restores, in a few words.
    pub title: Sp<String>,
    /// Markdown: what this restores and when to use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Template>,
    /// The team that answers for this runbook.
    pub owner: Sp<String>,
    /// Date of the last review, `YYYY-MM-DD`; lint warns when it is older than 180 days.
    #[schemars(with = "String", extend("format" = "date"))]
    #[schemars(extend("pattern" = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"))]
    pub reviewed: Sp<String>,
    /// Default priority of an incident handled with this runbook, P1 (most urgent) to P5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Sp<Priority>>,
    /// Which services, environments and alerts this runbook covers.
    pub scope: Sp<Scope>,
    /// Who to call, in escalation order.
    #[serde(default)]
    pub contacts: Vec<Sp<Contact>>,
    /// Dashboards, logs, docs and source.
    #[serde(default)]
    pub links: Vec<Sp<Link>>,
    /// Values asked at start unless given with `--set NAME=VALUE`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    pub inputs: IndexMap<Sp<String>, Sp<Input>>,
    /// Named groups of SSH destinations, as `ssh` itself accepts them.
    #[serde(default)]
    pub hosts: IndexMap<Sp<String>, Vec<Sp<String>>>,
    /// The morning check: safe checks only, run by `runbook status`.
    #[serde(default)]
    pub health: Vec<Sp<Command>>,
    /// The procedure; run in order unless `next` says otherwise.
    #[schemars(extend("minItems" = 1))]
    pub steps: Vec<Sp<Step>>,
    /// Settings every command of this runbook takes unless it says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Sp<Defaults>>,
    /// Static values (per-environment tables…), read as `data.*` in templates:
    /// `data.projects[inputs.env]`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub data: IndexMap<Sp<String>, serde_json::Value>,
    /// HTTP requests sent in the background when the run starts, a step fails, a contact is
    /// escalated to, the run pauses, is handed over or finishes (chat webhooks, a status
    /// page). A failed one is recorded and never stops the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<Sp<Notify>>,
}

/// One notification: an HTTP request sent on some events of a run.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// A name for the screen and the timeline (default: the URL's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Sp<String>>,
    /// The events that send it (default: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<Sp<NotifyOn>>,
    /// Address; a template (values percent-encoded).
    pub url: Template,
    /// HTTP method (default `POST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Sp<String>>,
    /// Request headers; values are templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<Sp<String>, Template>,
    /// Request body; a template over `event`, `incident`, `runbook`, `operator`, `inputs`,
    /// `data` and `timeline`. A body that starts with `{` or `[` is JSON: values are escaped
    /// as JSON strings, and `| tojson` writes a whole value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Template>,
    /// Longest time the request may take (default `5s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Sp<String>>,
}

/// The events of a run a notification can be sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOn {
    /// The run started (`run_started`).
    Started,
    /// A step failed.
    StepFailed,
    /// A contact was escalated to.
    Escalated,
    /// The run paused (Ctrl-C, quit, or a question nobody could answer).
    Paused,
    /// Another operator resumed the run.
    HandedOver,
    /// The run ended: resolved, failed or aborted.
    Finished,
}

impl NotifyOn {
    pub const ALL: [NotifyOn; 6] = [
        NotifyOn::Started,
        NotifyOn::StepFailed,
        NotifyOn::Escalated,
        NotifyOn::Paused,
        NotifyOn::HandedOver,
        NotifyOn::Finished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOn::Started => "started",
            NotifyOn::StepFailed => "step_failed",
            NotifyOn::Escalated => "escalated",
            NotifyOn::Paused => "paused",
            NotifyOn::HandedOver => "handed_over",
            NotifyOn::Finished => "finished",
        }
    }
}

/// Settings every command of a runbook takes unless it says otherwise.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The shell that runs `run` commands: `bash` (the default) or `sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Sp<Shell>>,
}

/// The shell that runs a `run` command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    /// `bash --noprofile --norc -eo pipefail`: the first failing line or pipeline stage fails
    /// the command, and a glob that matches nothing is an error.
    #[default]
    Bash,
    /// `sh -e`: the first failing line fails the command; a pipeline fails only by its last
    /// stage.
    Sh,
}

impl Shell {
    /// The program's name, as the target must have it on its `PATH`.
    pub fn program(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Sh => "sh",
        }
    }
}

/// The urgency of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
    P5,
}

/// What a runbook covers.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// At least one service, or the alerts it answers (`empty-list`). In `allOf`: the loader's
// shape walk reads a top-level `anyOf` as alternative shapes.
#[schemars(extend("allOf" = [{"anyOf": [
    {"required": ["services"], "properties": {"services": {"minItems": 1}}},
    {"required": ["alerts"], "properties": {"alerts": {"minItems": 1}}}
]}]))]
pub struct Scope {
    /// The services this runbook is for; at least one, unless `alerts` says which alerts
    /// it answers.
    #[serde(default)]
    pub services: Vec<Sp<String>>,
    /// The environments it applies to.
    #[serde(default)]
    pub environments: Vec<Sp<String>>,
    /// The alerts it answers, for `runbook triage`: a regex matched against the alert text,
    /// or a matcher on the alert's name, labels and text.
    #[serde(default)]
    pub alerts: Vec<Sp<AlertRule>>,
}

/// One entry of `scope.alerts`: a regex on the alert text, or a matcher.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AlertRule {
    /// A regex searched for in the alert text.
    Pattern(String),
    /// Conditions on the alert's name, labels and text, all of which must hold.
    Matcher(AlertMatcher),
}

impl AlertRule {
    /// The regex of the pattern form.
    pub fn pattern(&self) -> Option<&str> {
        match self {
            AlertRule::Pattern(pattern) => Some(pattern),
            AlertRule::Matcher(_) => None,
        }
    }

    /// The matcher form.
    pub fn matcher(&self) -> Option<&AlertMatcher> {
        match self {
            AlertRule::Pattern(_) => None,
            AlertRule::Matcher(matcher) => Some(matcher),
        }
    }
}

// By hand: a string is a pattern, a mapping a matcher. The mapping is read by the YAML
// deserializer itself (not buffered as serde's untagged enums are), so its values keep their
// positions.
impl<'de> Deserialize<'de> for AlertRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RuleVisitor;
        impl<'de> serde::de::Visitor<'de> for RuleVisitor {
            type Value = AlertRule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a regex, or a matcher `{alertname, labels, text}`")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<AlertRule, E> {
                Ok(AlertRule::Pattern(value.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, value: String) -> Result<AlertRule, E> {
                Ok(AlertRule::Pattern(value))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<AlertRule, A::Error> {
                AlertMatcher::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(AlertRule::Matcher)
            }
        }
        deserializer.deserialize_any(RuleVisitor)
    }
}

impl fmt::Display for AlertRule {
    /// The regex; a matcher as `alertname=~… labels.severity=~… text=~…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertRule::Pattern(pattern) => f.write_str(pattern),
            AlertRule::Matcher(matcher) => {
                let parts: Vec<String> = matcher
                    .regexes()
                    .iter()
                    .map(|(what, regex)| format!("{what}=~{}", regex.value))
                    .collect();
                f.write_str(&parts.join(" "))
            }
        }
    }
}

/// The matcher form of `scope.alerts`: each value is a regex that must match the whole value
/// (`^(…)$`), and every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertMatcher {
    /// A regex for the alert's `alertname` label, e.g. `KubePodCrashLooping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertname: Option<Sp<String>>,
    /// Label name → regex for its value, e.g. `severity: "critical|warning"`; the label must be
    /// there.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<Sp<String>, Sp<String>>,
    /// A regex for the alert text (its summary, description, title or message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Sp<String>>,
}

impl AlertMatcher {
    /// Every regex of the matcher, with what it is for (`alertname`, `labels.severity`,
    /// `text`).
    pub fn regexes(&self) -> Vec<(String, &Sp<String>)> {
        let mut found = Vec::new();
        if let Some(name) = &self.alertname {
            found.push(("alertname".to_string(), name));
        }
        for (label, regex) in &self.labels {
            found.push((format!("labels.{}", label.value), regex));
        }
        if let Some(text) = &self.text {
            found.push(("text".to_string(), text));
        }
        found
    }
}

/// Someone to call.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// A person or a team.
    pub name: Sp<String>,
    /// What they own or why to call them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Chat channel or handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// When to call them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// A dashboard, a log search, a document.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Name shown to the engineer, and the key in `links.NAME`.
    pub name: Sp<String>,
    /// Address; a template.
    pub url: Template,
}

/// A value the engineer gives at the start of a run.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// What to type, shown at the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Value used when the engineer just presses Enter; a list for a `type: list` input.
    #[serde(
        default,
        deserialize_with = "input_default",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<InputDefault>")]
    pub default: Option<Sp<String>>,
    /// The only values allowed; asked as a menu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Sp<String>>>,
    /// A regex the value must match; asked again if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Sp<String>>,
    /// Hidden when typed; never shown, never written to the timeline.
    #[serde(default)]
    pub secret: bool,
    /// Environment variable the value is taken from when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Sp<String>>,
    /// Alert label the value is taken from when a run or triage starts from an alert that
    /// has it (`namespace`, `pod`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Sp<String>>,
    /// Accept a value starting with `-` even where the input is a word of its own in a
    /// command (`ssh {{ inputs.host }}`), where such a value would be read as an option.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_dash: bool,
    /// `text` (the default), `number` (checked when given; a number in templates) or `list`
    /// (`--set ids=a,b,c`, typed the same way; a list in templates).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Sp<InputType>>,
}

/// The type of an input's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// Any text.
    #[default]
    Text,
    /// A number (`3`, `-1`, `2.5`); a number in templates.
    Number,
    /// Items separated by `,` (`a,b,c`); a list in templates. Its default may be a YAML list.
    List,
}

impl Input {
    /// The input's type: `text` unless it says otherwise.
    pub fn input_type(&self) -> InputType {
        self.kind.as_ref().map(|k| k.value).unwrap_or_default()
    }
}

/// The written forms of an input's `default` (for the schema).
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum InputDefault {
    /// A text or a number.
    Text(String),
    /// A list, for a `type: list` input: its items (without `,`).
    List(Vec<String>),
}

/// An input's `default` as text: a YAML list (of a `type: list` input) is kept as its items
/// joined with `,`, the way `--set` gives them; an item with a `,` in it is an error.
fn input_default<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Sp<String>>, D::Error> {
    struct DefaultText(String);

    impl<'de> Deserialize<'de> for DefaultText {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct TextVisitor;
            impl<'de> serde::de::Visitor<'de> for TextVisitor {
                type Value = DefaultText;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a text, a number or a list of texts")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DefaultText, E> {
                    Ok(DefaultText(v.to_string()))
                }
                fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<DefaultText, E> {
                    Ok(DefaultText(v.to_string()))
                }
                fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DefaultText, E> {
                    Ok(DefaultText(v.to_string()))
                }
                fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DefaultText, E> {
                    Ok(DefaultText(v.to_string()))
                }
                fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<DefaultText, E> {
                    Ok(DefaultText(v.to_string()))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<DefaultText, A::Error> {
                    let mut items = Vec::new();
                    while let Some(item) = seq.next_element::<String>()? {
                        if item.contains(',') {
                            return Err(serde::de::Error::custom(format!(
                                "the list item `{item}` has a `,` in it: list inputs are given as items separated by `,`, so it would read as several"
                            )));
                        }
                        items.push(item);
                    }
                    Ok(DefaultText(items.join(",")))
                }
            }
            deserializer.deserialize_any(TextVisitor)
        }
    }

    let text = Option::<Sp<DefaultText>>::deserialize(deserializer)?;
    Ok(text.map(|t| Sp::new(t.value.0, t.pos)))
}

impl Input {
    /// An input that has to be given: no default and no environment variable to fall back on.
    pub fn is_required(&self) -> bool {
        self.default.is_none() && self.env.is_none()
    }
}

/// One step of the procedure. Its kind is which of `check`, `action`, `ask`, `wait` or `uses`
/// is present (none: a manual step); lint makes sure there is at most one.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// One kind per step (`two-kinds`), instructions on a manual step, `checklist` on a manual step
// only, `with` only beside `uses`. In `allOf`, which the loader's shape walk leaves to lint.
#[schemars(extend("allOf" = [
    {"not": {"required": ["check", "action"]}},
    {"not": {"required": ["check", "ask"]}},
    {"not": {"required": ["check", "wait"]}},
    {"not": {"required": ["check", "uses"]}},
    {"not": {"required": ["action", "ask"]}},
    {"not": {"required": ["action", "wait"]}},
    {"not": {"required": ["action", "uses"]}},
    {"not": {"required": ["ask", "wait"]}},
    {"not": {"required": ["ask", "uses"]}},
    {"not": {"required": ["wait", "uses"]}},
    {"anyOf": [
        {"required": ["instructions"]}, {"required": ["check"]}, {"required": ["action"]},
        {"required": ["ask"]}, {"required": ["wait"]}, {"required": ["uses"]}
    ]},
    {"if": {"required": ["checklist"]}, "then": {"not": {"anyOf": [
        {"required": ["check"]}, {"required": ["action"]}, {"required": ["ask"]},
        {"required": ["wait"]}, {"required": ["uses"]}
    ]}}},
    {"if": {"required": ["with"]}, "then": {"required": ["uses"]}}
]))]
pub struct Step {
    /// Unique within the runbook: lowercase letters, digits and `-`.
    #[schemars(extend("pattern" = "^[a-z0-9][a-z0-9-]*$", "not" = {"const": "end"}))]
    pub id: Sp<String>,
    /// Short name shown in the step header.
    pub name: Sp<String>,
    /// Markdown shown to the engineer; a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Template>,
    /// A safe command that runs by itself and passes or fails by its `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Sp<Command>>,
    /// A command that changes something: shown in full and confirmed first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Sp<Command>>,
    /// A decision: a menu of choices, or free text kept in `vars`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<Sp<Ask>>,
    /// Repeats a check until it passes or the timeout ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Sp<Wait>>,
    /// Another runbook of the catalog, run as a sub-procedure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<Sp<String>>,
    /// Inputs of the `uses` runbook; templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Sp<IndexMap<Sp<String>, Template>>>,
    /// An expression; the step is skipped (and recorded so) when it is false.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Sp<String>>,
    /// The step to go to after this one, or `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Sp<String>>,
    /// Longest time one command of this step may take (default `60s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = r"^\s*([0-9]+(ms|s|m|h)\s*)+$"))]
    pub timeout: Option<Sp<String>>,
    /// What to do when the step fails: `ask` (default when interactive), `stop`, `continue`,
    /// or a step id to go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Sp<String>>,
    /// Manual steps only: items the engineer ticks or leaves; the timeline records which.
    /// Each item is a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist: Option<Sp<Vec<Template>>>,
}

/// The kind of a step, from the key that is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Manual,
    Check,
    Action,
    Ask,
    Wait,
    Uses,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Manual => "manual",
            StepKind::Check => "check",
            StepKind::Action => "action",
            StepKind::Ask => "decision",
            StepKind::Wait => "wait",
            StepKind::Uses => "sub-procedure",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Step {
    /// Every kind key present, with its position; more than one is a lint error.
    pub fn kinds(&self) -> Vec<(StepKind, Pos)> {
        let mut kinds = Vec::new();
        if let Some(c) = &self.check {
            kinds.push((StepKind::Check, c.pos));
        }
        if let Some(a) = &self.action {
            kinds.push((StepKind::Action, a.pos));
        }
        if let Some(a) = &self.ask {
            kinds.push((StepKind::Ask, a.pos));
        }
        if let Some(w) = &self.wait {
            kinds.push((StepKind::Wait, w.pos));
        }
        if let Some(u) = &self.uses {
            kinds.push((StepKind::Uses, u.pos));
        }
        kinds
    }

    /// The step's kind; the first one present when lint has not ruled out several.
    pub fn kind(&self) -> StepKind {
        self.kinds()
            .first()
            .map_or(StepKind::Manual, |(kind, _)| *kind)
    }

    /// The commands this step runs, with where each one sits (`check`, `action.rollback`…).
    pub fn commands(&self) -> Vec<(&'static str, &Sp<Command>)> {
        let mut commands = Vec::new();
        if let Some(check) = &self.check {
            commands.push(("check", check));
        }
        if let Some(action) = &self.action {
            commands.push(("action", action));
            if let Some(rollback) = &action.rollback {
                commands.push(("rollback", rollback.as_ref()));
            }
        }
        if let Some(until) = self.wait.as_ref().and_then(|w| w.until.as_ref()) {
            commands.push(("wait.until", until));
        }
        commands
    }
}

/// A shell command or an HTTP request, with where it runs and what it must show.
///
/// The same shape serves checks, actions, `wait.until`, rollbacks and health checks; keys
/// that belong to one of them only (`confirm`, `canary`, `name`…) are checked by lint.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// Exactly one of `run` and `http` (`command-shape`); `irreversible` never beside a
// `rollback`; `interactive` never with `capture` or `for_each`.
#[schemars(extend("allOf" = [
    {"anyOf": [{"required": ["run"]}, {"required": ["http"]}]},
    {"not": {"required": ["run", "http"]}},
    {"not": {"required": ["irreversible", "rollback"]}},
    {"not": {"required": ["interactive", "capture"]}},
    {"not": {"required": ["interactive", "for_each"]}}
]))]
pub struct Command {
    /// Health checks only: what this check verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Sp<String>>,
    /// A shell command, run by `bash --noprofile --norc -eo pipefail` (or `sh -e`, see `shell`)
    /// locally or over SSH; a template whose values are shell-quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Template>,
    /// An HTTP request, always sent from the local machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Sp<Http>>,
    /// Where to run: `local` (default), a group of `hosts`, or one SSH destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Sp<String>>,
    /// The shell that runs `run`: `bash` (the default, with `-eo pipefail`) or `sh` (with `-e`),
    /// for hosts without bash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Sp<Shell>>,
    /// Most hosts at once in a fan-out (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<Sp<u32>>,
    /// Actions only: run on the first N hosts, show their results, and ask before the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Sp<u32>>,
    /// Stop starting new hosts once N have failed (default: no limit for checks, 1 for actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<Sp<u32>>,
    /// What a `run` command must show to pass (default: exit code 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Sp<Expect>>,
    /// `NAME`: keep stdout (or the response body), trimmed, as `vars.NAME`. Or a mapping of
    /// names to what each keeps: `{ json: "$.path" }`, `{ regex: '...' }` (either with a
    /// `default`), or `stdout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<Sp<Capture>>,
    /// Actions only: how to confirm: `yes` (y/N, the default), `type` (type the target),
    /// `{type: TEXT}` (type TEXT), or `approve` (y/N, then a signed approval by another
    /// engineer: `runbook approve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Sp<Confirm>>,
    /// Actions only: the command that undoes this one, offered when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Box<Sp<Command>>>,
    /// Actions only: why this cannot be undone, instead of a `rollback`; shown in the
    /// confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irreversible: Option<Sp<String>>,
    /// Health checks only: longest time the check may take (default `60s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = r"^\s*([0-9]+(ms|s|m|h)\s*)+$"))]
    pub timeout: Option<Sp<String>>,
    /// Health checks only: a failure shows orange, not red.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<Sp<bool>>,
    /// Checks and actions: an expression giving a list; the command runs once per item, with
    /// `{{ item }}` set, with the limits and per-item results of a fan-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<Sp<String>>,
    /// Actions only: the terminal is handed to the command (`ssh -t` on a destination); its
    /// start, end and exit are recorded, not its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Sp<bool>>,
    /// Actions only: how many other engineers must sign an approval (`runbook approve`)
    /// before it runs, each with their own SSH key; `confirm: approve` is `approvers: 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Sp<u32>>,
}

impl Command {
    /// `interactive: true`.
    pub fn is_interactive(&self) -> bool {
        self.interactive.as_ref().is_some_and(|i| i.value)
    }

    /// How many signed approvals the action waits for: `approvers: N`, else 1 for
    /// `confirm: approve`, else none.
    pub fn approvals_needed(&self) -> u32 {
        match (&self.approvers, self.confirm.as_ref().map(|c| &c.value)) {
            (Some(n), _) => n.value,
            (None, Some(Confirm::Word(ConfirmWord::Approve))) => 1,
            _ => 0,
        }
    }
}

/// What the output of a `run` command must show.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Expected exit code (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<Sp<i32>>,
    /// Text stdout must contain; a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_contains: Option<Template>,
    /// A regex stdout must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_matches: Option<Sp<String>>,
    /// Text stdout must not contain; a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_not_contains: Option<Template>,
    /// An expression that must be true, over `exit`, `stdout`, `stderr`, `status`, `body`,
    /// `json` (stdout or the body parsed as JSON, when it parses), `vars`, `inputs`, `steps`
    /// and `data`: `json.status.availableReplicas | default(0) >= json.spec.replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub that: Option<Sp<String>>,
}

/// What `capture` keeps: one var with the whole output, or several, each found in it.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(untagged)]
pub enum Capture {
    /// `capture: NAME`: stdout (or the response body), trimmed, as `vars.NAME`.
    Whole(String),
    /// `capture: {NAME: …}`: each name gets what its rule finds.
    Each(IndexMap<Sp<String>, Sp<CaptureRule>>),
}

impl Capture {
    /// The vars this capture sets, with where each is named.
    pub fn names(&self, pos: Pos) -> Vec<Sp<String>> {
        match self {
            Capture::Whole(name) => vec![Sp::new(name.clone(), pos)],
            Capture::Each(rules) => rules.keys().cloned().collect(),
        }
    }
}

/// How one named capture finds its value.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(untagged)]
pub enum CaptureRule {
    /// `stdout`: the whole output, trimmed.
    Whole(CaptureWord),
    /// `{ json: … }` or `{ regex: … }`, with an optional `default`.
    Find(CaptureFind),
}

/// The word form of a capture rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureWord {
    /// The whole stdout (or response body), trimmed.
    Stdout,
}

// By hand: derived, a one-word enum is a `const`, which editors and the loader's shape check
// read less well than an `enum` of one.
impl JsonSchema for CaptureWord {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CaptureWord".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["stdout"],
            "description": "`stdout`: the whole stdout (or response body), trimmed."
        })
    }
}

/// A value found in the output: by JSONPath or by regex (exactly one of them).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    {"anyOf": [{"required": ["json"]}, {"required": ["regex"]}]},
    {"not": {"required": ["json", "regex"]}}
]))]
pub struct CaptureFind {
    /// A JSONPath (RFC 9535) over stdout (or the body) parsed as JSON: `$.spec.replicas`.
    /// The value keeps its JSON type; a query that can select several nodes (`*`, `..`,
    /// filters, slices, unions) gives a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Sp<String>>,
    /// A regex over stdout (or the body): the group named `value`, else group 1, else the
    /// whole match, of the first match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<Sp<String>>,
    /// The value when nothing is found; without it, finding nothing fails the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Sp<serde_json::Value>>,
}

impl Serialize for Capture {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Capture::Whole(name) => name.serialize(serializer),
            Capture::Each(rules) => rules.serialize(serializer),
        }
    }
}

impl Serialize for CaptureRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CaptureRule::Whole(word) => word.serialize(serializer),
            CaptureRule::Find(find) => find.serialize(serializer),
        }
    }
}

// Written by hand: serde's untagged enums lose the positions of what is inside them.
impl<'de> Deserialize<'de> for Capture {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CaptureVisitor;
        impl<'de> serde::de::Visitor<'de> for CaptureVisitor {
            type Value = Capture;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a name, or a mapping of names to `{json: …}`, `{regex: …}` or `stdout`",
                )
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Capture, E> {
                Ok(Capture::Whole(value.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Capture, A::Error> {
                let mut rules = IndexMap::new();
                while let Some(name) = map.next_key::<Sp<String>>()? {
                    let rule = map.next_value::<Sp<CaptureRule>>()?;
                    rules.insert(name, rule);
                }
                Ok(Capture::Each(rules))
            }
        }
        deserializer.deserialize_any(CaptureVisitor)
    }
}

impl<'de> Deserialize<'de> for CaptureRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RuleVisitor;
        impl<'de> serde::de::Visitor<'de> for RuleVisitor {
            type Value = CaptureRule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`{json: …}`, `{regex: …}` or `stdout`")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<CaptureRule, E> {
                match value {
                    "stdout" => Ok(CaptureRule::Whole(CaptureWord::Stdout)),
                    other => Err(E::unknown_variant(other, &["stdout"])),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<CaptureRule, A::Error> {
                CaptureFind::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(CaptureRule::Find)
            }
        }
        deserializer.deserialize_any(RuleVisitor)
    }
}

/// An HTTP request and what its response must show.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Address; a template (`{{ host }}` in a fan-out).
    pub url: Template,
    /// HTTP method (default `GET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Sp<String>>,
    /// Request headers; values are templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<Sp<String>, Template>,
    /// Request body; a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Template>,
    /// Expected status code (default: any 2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Sp<u16>>,
    /// Text the response body must contain; a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<Template>,
    /// A regex the response body must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_matches: Option<Sp<String>>,
    /// Longest time the request may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = r"^\s*([0-9]+(ms|s|m|h)\s*)+$"))]
    pub timeout: Option<Sp<String>>,
}

/// How the engineer confirms an action.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(untagged)]
pub enum Confirm {
    /// `yes`: a y/N question, No by default; `type`: the engineer types the target (the
    /// host or group of `on`, or `local`).
    Word(ConfirmWord),
    /// `{type: TEXT}`: the engineer types TEXT.
    Text {
        #[serde(rename = "type")]
        text: String,
    },
}

/// The word forms of `confirm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmWord {
    Yes,
    Type,
    /// y/N, then wait for an approval signed by another engineer (`runbook approve`).
    Approve,
}

impl Serialize for Confirm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Confirm::Word(word) => word.serialize(serializer),
            Confirm::Text { text } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("type", text)?;
                map.end()
            }
        }
    }
}

// Written by hand so that a wrong value gets one clear message instead of serde's
// "data did not match any variant".
impl<'de> Deserialize<'de> for Confirm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConfirmVisitor;
        const EXPECTED: &str = "`yes`, `type`, `approve` or `{type: TEXT}`";

        impl<'de> serde::de::Visitor<'de> for ConfirmVisitor {
            type Value = Confirm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Confirm, E> {
                if value {
                    Ok(Confirm::Word(ConfirmWord::Yes))
                } else {
                    Err(E::custom(format!(
                        "`confirm: false` is not allowed: an action is always confirmed; write {EXPECTED}"
                    )))
                }
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Confirm, E> {
                match value {
                    "yes" | "true" => Ok(Confirm::Word(ConfirmWord::Yes)),
                    "type" => Ok(Confirm::Word(ConfirmWord::Type)),
                    "approve" => Ok(Confirm::Word(ConfirmWord::Approve)),
                    other => Err(E::custom(format!(
                        "`confirm: {other}` is not a way to confirm; write {EXPECTED}"
                    ))),
                }
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Confirm, A::Error> {
                let mut text = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "type" && text.is_none() {
                        text = Some(map.next_value::<String>()?);
                    } else {
                        return Err(serde::de::Error::custom(format!(
                            "unknown key `{key}` in `confirm`; write {EXPECTED}"
                        )));
                    }
                }
                text.map(|text| Confirm::Text { text }).ok_or_else(|| {
                    serde::de::Error::custom(format!("empty `confirm`; write {EXPECTED}"))
                })
            }
        }

        deserializer.deserialize_any(ConfirmVisitor)
    }
}

/// A decision: a menu of choices, or free text.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// A menu (`choices`, at least one) or free text (`input`), not both.
#[schemars(extend("allOf" = [
    {"anyOf": [{"required": ["choices"]}, {"required": ["input"]}]},
    {"not": {"required": ["choices", "input"]}},
    {"properties": {"choices": {"minItems": 1}}}
]))]
pub struct Ask {
    /// The question; a template.
    pub question: Template,
    /// The answers to pick from, each with where it leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Sp<Choice>>>,
    /// Free text instead of a menu, kept in `vars.NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Sp<String>>,
}

/// One answer of an `ask`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// What the engineer picks; also the value for `--answer STEP=LABEL`.
    pub label: Sp<String>,
    /// The step to go to, or `end`; the step below when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Sp<String>>,
}

/// Repeats a check until it passes, or pauses for a while (`for`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// `until` (with `every`, `timeout`) or `for`, not both.
#[schemars(extend("allOf" = [
    {"anyOf": [{"required": ["until"]}, {"required": ["for"]}]},
    {"not": {"required": ["until", "for"]}},
    {"not": {"required": ["for", "every"]}},
    {"not": {"required": ["for", "timeout"]}}
]))]
pub struct Wait {
    /// The check to repeat; a wait has either `until` or `for`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Sp<Command>>,
    /// A pause of this long, with a countdown and no check (`30s`, `5m`).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = r"^\s*([0-9]+(ms|s|m|h)\s*)+$"))]
    pub pause: Option<Sp<String>>,
    /// Time between two tries (default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = r"^\s*([0-9]+(ms|s|m|h)\s*)+$"))]
    pub every: Option<Sp<String>>,
    /// When to give up (default `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = r"^\s*([0-9]+(ms|s|m|h)\s*)+$"))]
    pub timeout: Option<Sp<String>>,
}

/// Where a `next`, a choice or `on_failure` leads.
pub const END: &str = "end";

/// The words of `on_failure` that are not step ids.
pub const ON_FAILURE_POLICIES: [&str; 3] = ["ask", "stop", "continue"];

/// A duration as a runbook writes it — `500ms`, `2s`, `1.5s` — so that a message about a
/// `timeout: 1s` says `1s`.
pub fn written_duration(duration: std::time::Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

/// Parses a duration written `500ms`, `30s`, `5m`, `1h` (or combined: `1h 30m`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let trimmed = text.trim();
    let invalid =
        || format!("`{trimmed}` is not a duration; write it like `500ms`, `30s`, `5m` or `1h`");
    // jiff's friendly format also takes words like `5 minutes` and signs; keep to what the
    // format documents: digits followed by a unit, optionally several.
    let mut total = std::time::Duration::ZERO;
    let mut rest = trimmed;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let millis = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(invalid()),
        };
        total += std::time::Duration::from_millis(number.saturating_mul(millis));
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[track_caller]
    fn case(text: &str, expected: Option<Duration>) {
        assert_eq!(parse_duration(text).ok(), expected, "parsing `{text}`");
    }

    #[test]
    fn written_durations() {
        assert_eq!(written_duration(Duration::from_secs(2)), "2s");
        assert_eq!(written_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(written_duration(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn durations() {
        case("500ms", Some(Duration::from_millis(500)));
        case("30s", Some(Duration::from_secs(30)));
        case("5m", Some(Duration::from_secs(300)));
        case("1h", Some(Duration::from_secs(3600)));
        case("1h 30m", Some(Duration::from_secs(5400)));
        case("1h30m", Some(Duration::from_secs(5400)));
        case("", None);
        case("30", None);
        case("s", None);
        case("5 minutes", None);
        case("-5s", None);
        case("5d", None);
    }
}
