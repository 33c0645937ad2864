//! Alerts as they arrive: one model ([`Alert`]) for every source — an Alertmanager webhook,
//! a single Prometheus alert, a Grafana, PagerDuty V3 or Opsgenie webhook, or plain text —,
//! and [`parse`], which recognises the source by its shape. A payload that is recognised but
//! malformed is a [`PayloadError`] naming the format and what is wrong in it.

mod parse;
pub mod subject;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use self::parse::parse;

/// One alert, whatever sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Alert {
    /// What a person reads: the `summary` (else `description`) annotation, the title or the
    /// message; the text itself for a plain-text alert.
    pub text: String,
    /// `alertname`, `namespace`, `pod`, `severity`…; for PagerDuty and Opsgenie, the fields
    /// that play that part (see docs/format.md).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// When it started firing, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// `firing`, `resolved`, `triggered`…, as the source says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Where the source shows it (Prometheus graph, Grafana rule, PagerDuty incident).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
    pub source: Source,
}

/// Which kind of payload an alert came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An Alertmanager webhook (version 4), one alert of its `alerts`.
    Alertmanager,
    /// A single Prometheus/Alertmanager alert (`labels`, `annotations`, `startsAt`).
    Prometheus,
    /// A Grafana alerting webhook, one alert of its `alerts`.
    Grafana,
    /// A PagerDuty V3 webhook (`event.data`, an incident).
    Pagerduty,
    /// An Opsgenie webhook (`alert`).
    Opsgenie,
    /// Plain text, pasted or piped.
    #[default]
    Text,
}

impl Source {
    /// The name a person knows the format by.
    pub fn name(self) -> &'static str {
        match self {
            Source::Alertmanager => "Alertmanager webhook",
            Source::Prometheus => "Prometheus alert",
            Source::Grafana => "Grafana alerting webhook",
            Source::Pagerduty => "PagerDuty V3 webhook",
            Source::Opsgenie => "Opsgenie webhook",
            Source::Text => "plain-text alert",
        }
    }
}

/// A payload of a known format that does not hold what that format promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// The format it was recognised as (`Alertmanager webhook`…), or `JSON`.
    pub format: &'static str,
    /// What is wrong, naming the JSON path.
    pub problem: String,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.format, self.problem)
    }
}

impl Alert {
    /// The `alertname` label, if any.
    pub fn name(&self) -> Option<&str> {
        self.labels.get("alertname").map(String::as_str)
    }

    /// The `runbook_url` annotation (or label), as alert rules write it.
    pub fn runbook_url(&self) -> Option<&str> {
        ["runbook_url", "runbook"]
            .iter()
            .find_map(|key| self.annotations.get(*key).or_else(|| self.labels.get(*key)))
            .map(String::as_str)
            .filter(|url| !url.trim().is_empty())
    }

    /// When it started, as epoch milliseconds.
    pub fn starts_at_ms(&self) -> Option<i64> {
        let at: jiff::Timestamp = self.starts_at.as_deref()?.parse().ok()?;
        Some(at.as_millisecond())
    }

    /// Everything of the alert a person would read, for the words of the weak tier: the
    /// text, the description, and the alert name split at its capitals
    /// (`KubePodCrashLooping` → `Kube Pod Crash Looping`).
    pub fn words_text(&self) -> String {
        let mut text = self.text.clone();
        for key in ["summary", "description", "message"] {
            if let Some(value) = self.annotations.get(key)
                && *value != self.text
            {
                text.push(' ');
                text.push_str(value);
            }
        }
        if let Some(name) = self.name() {
            text.push(' ');
            text.push_str(&split_camel_case(name));
        }
        text
    }

    /// One line naming the alert: `KubePodCrashLooping (namespace=prod pod=api-7f…)`, or
    /// its text.
    pub fn headline(&self) -> String {
        let Some(name) = self.name() else {
            return first_line(&self.text, 100);
        };
        // A pod's alert is told by its pod; a node's by its instance; others by workload.
        let keys: &[&str] = if self.labels.contains_key("pod") {
            &["namespace", "pod", "container"]
        } else if self.labels.contains_key("instance") {
            &["instance", "mountpoint", "device", "job"]
        } else {
            IDENTIFYING
        };
        let shown: Vec<String> = keys
            .iter()
            .filter_map(|key| Some(format!("{key}={}", self.labels.get(*key)?)))
            .take(3)
            .collect();
        if shown.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({})", shown.join(" "))
        }
    }
}

/// Labels that tell one alert of a group from another when it names neither a pod nor an
/// instance, in the order they are shown (the first three the alert has).
const IDENTIFYING: &[&str] = &[
    "namespace",
    "deployment",
    "statefulset",
    "daemonset",
    "horizontalpodautoscaler",
    "job_name",
    "node",
    "service",
    "job",
    "severity",
];

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

/// `KubePodCrashLooping` → `Kube Pod Crash Looping`; `NodeFilesystemSpaceFillingUp` →
/// `Node Filesystem Space Filling Up`; runs of capitals stay together (`HTTPErrors` →
/// `HTTP Errors`).
pub fn split_camel_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && c.is_uppercase() {
            let previous = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if previous.is_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_uppercase() && next_lower)
            {
                out.push(' ');
            }
        }
        out.push(if *c == '_' { ' ' } else { *c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_is_split_into_words() {
        assert_eq!(
            split_camel_case("KubePodCrashLooping"),
            "Kube Pod Crash Looping"
        );
        assert_eq!(split_camel_case("HTTPErrorsHigh"), "HTTP Errors High");
        assert_eq!(split_camel_case("node_down"), "node down");
    }
}

/// Where an alert was read from, for messages and for the command triage prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Given on the command line as text.
    Argument,
    /// Piped in (`-`, or no argument and stdin not a terminal).
    Stdin,
    /// A payload file.
    File(std::path::PathBuf),
}

impl Origin {
    /// How messages name it.
    pub fn shown(&self) -> String {
        match self {
            Origin::Argument => "the alert argument".into(),
            Origin::Stdin => "-".into(),
            Origin::File(path) => path.display().to_string(),
        }
    }
}

/// The most an alert payload may weigh: a webhook of thousands of alerts is a few MiB.
const MAX_PAYLOAD: u64 = 32 << 20;

/// Reads stdin to its end (at most 32 MiB).
pub fn read_stdin(flag: &'static str) -> Result<String, crate::Error> {
    use std::io::Read as _;
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_PAYLOAD + 1)
        .read_to_string(&mut text)
        .map_err(|error| crate::Error::InvalidFlag {
            flag,
            value: "-".into(),
            reason: format!("cannot read the alert from stdin: {error}"),
        })?;
    if text.len() as u64 > MAX_PAYLOAD {
        return Err(crate::Error::InvalidFlag {
            flag,
            value: "-".into(),
            reason: "the alert on stdin is larger than 32 MiB".into(),
        });
    }
    Ok(text)
}

/// Reads a payload file (at most 32 MiB).
pub fn read_file(flag: &'static str, path: &std::path::Path) -> Result<String, crate::Error> {
    let invalid = |reason: String| crate::Error::InvalidFlag {
        flag,
        value: path.display().to_string(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|error| invalid(format!("cannot read the alert file: {error}")))?
        .len();
    if size > MAX_PAYLOAD {
        return Err(invalid("the alert file is larger than 32 MiB".into()));
    }
    std::fs::read_to_string(path)
        .map_err(|error| invalid(format!("cannot read the alert file: {error}")))
}

/// Parses what was read, an error naming where it came from and the format.
pub fn parse_from(
    flag: &'static str,
    text: &str,
    origin: &Origin,
) -> Result<Vec<Alert>, crate::Error> {
    if text.trim().is_empty() {
        return Err(crate::Error::InvalidFlag {
            flag,
            value: origin.shown(),
            reason: "the alert is empty; give the alert text or payload as it arrived".into(),
        });
    }
    parse(text).map_err(|error| crate::Error::InvalidFlag {
        flag,
        value: origin.shown(),
        reason: error.to_string(),
    })
}

/// `alert` as templates see it: `text`, `labels`, `annotations`, `starts_at` and
/// `starts_at_ms`. Without an alert, or for a label the alert does not have, every value is
/// empty rather than an error: a runbook answers alerts that carry different labels, and is
/// also run by hand.
pub fn template_value(alert: Option<&Alert>) -> minijinja::Value {
    use minijinja::Value;
    let empty = Alert::default();
    let alert = alert.unwrap_or(&empty);
    let starts_at_ms = alert
        .starts_at_ms()
        .map_or_else(|| Value::from(""), Value::from);
    let fields: BTreeMap<&str, Value> = BTreeMap::from([
        ("text", Value::from(alert.text.clone())),
        (
            "labels",
            Value::from_object(LenientMap(alert.labels.clone())),
        ),
        (
            "annotations",
            Value::from_object(LenientMap(alert.annotations.clone())),
        ),
        (
            "starts_at",
            Value::from(alert.starts_at.clone().unwrap_or_default()),
        ),
        ("starts_at_ms", starts_at_ms),
    ]);
    Value::from(fields)
}

/// A map in which a missing key is the empty text.
#[derive(Debug)]
struct LenientMap(BTreeMap<String, String>);

impl minijinja::value::Object for LenientMap {
    fn get_value(self: &std::sync::Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let key = key.as_str()?;
        Some(minijinja::Value::from(
            self.0.get(key).cloned().unwrap_or_default(),
        ))
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(
            self.0
                .keys()
                .map(|k| minijinja::Value::from(k.clone()))
                .collect(),
        )
    }
}

/// The inputs of `runbook` that name a `label` the alert has, with the label's value — never
/// a secret input, and only a value the input accepts (its `choices`, its `pattern`).
pub fn label_inputs(runbook: &crate::model::Runbook, alert: &Alert) -> Vec<(String, String)> {
    runbook
        .inputs
        .iter()
        .filter_map(|(name, input)| {
            let label = input.label.as_ref()?;
            let value = alert.labels.get(label.as_str())?;
            (!value.is_empty() && accepts(input, value))
                .then(|| (name.value.clone(), value.clone()))
        })
        .collect()
}

/// Whether an input takes `value` from an alert: not a secret, among its choices, matching
/// its pattern.
pub fn accepts(input: &crate::model::Input, value: &str) -> bool {
    let in_choices = input
        .choices
        .as_ref()
        .is_none_or(|choices| choices.iter().any(|c| c.as_str() == value));
    let fits_pattern = input
        .pattern
        .as_ref()
        .is_none_or(|pattern| pattern_matches(pattern, value));
    !input.secret && in_choices && fits_pattern
}

/// An input's pattern, compiled once per process: triage checks the same few patterns for
/// every alert of a group.
fn pattern_matches(pattern: &str, value: &str) -> bool {
    type Cache = std::collections::HashMap<String, Option<regex::Regex>>;
    thread_local! {
        static COMPILED: std::cell::RefCell<Cache> = std::cell::RefCell::new(Cache::new());
    }
    COMPILED.with(|compiled| {
        compiled
            .borrow_mut()
            .entry(pattern.to_string())
            .or_insert_with(|| regex::Regex::new(pattern).ok())
            .as_ref()
            .is_some_and(|regex| regex.is_match(value))
    })
}

/// `runbook run --alert FILE|-`: the alert to start from, and how many the payload held (a
/// group's first alert is taken).
pub fn read_for_run(argument: &str) -> Result<(Alert, usize), crate::Error> {
    let (text, origin) = if argument == "-" {
        (read_stdin("--alert")?, Origin::Stdin)
    } else {
        let path = std::path::PathBuf::from(argument);
        (read_file("--alert", &path)?, Origin::File(path))
    };
    let mut alerts = parse_from("--alert", &text, &origin)?;
    let count = alerts.len();
    Ok((alerts.swap_remove(0), count))
}
