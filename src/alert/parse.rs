//! One reader per source, and the detection that picks it from the payload's shape:
//!
//! | shape | source |
//! |---|---|
//! | an object with `alerts` and `orgId` | Grafana alerting webhook |
//! | an object with `alerts` (or `groupKey`) | Alertmanager webhook |
//! | an object with `event.data` (or `event.event_type`) | PagerDuty V3 webhook |
//! | an object with `alert` and `action` (or `alert.alertId`) | Opsgenie webhook |
//! | an object with `labels` (or an array of them) | Prometheus alert(s) |
//! | anything not starting with `{` | plain text |

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Alert, PayloadError, Source, subject};

/// Reads every alert of `input`. Text that does not start with `{` (or is not a JSON array)
/// is a plain-text alert.
pub fn parse(input: &str) -> Result<Vec<Alert>, PayloadError> {
    let trimmed = input.trim();
    if trimmed.starts_with('[')
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(trimmed)
    {
        return prometheus_list(&items);
    }
    if !trimmed.starts_with('{') {
        return Ok(vec![text_alert(trimmed)]);
    }
    let value: Value = serde_json::from_str(trimmed).map_err(|error| PayloadError {
        format: "JSON",
        problem: format!(
            "the alert starts with `{{` but is not valid JSON ({error}); paste the payload \
             whole, or the alert's text"
        ),
    })?;
    let Value::Object(object) = value else {
        unreachable!("text starting with `{{` parses to an object")
    };
    if object.contains_key("alerts") && object.contains_key("orgId") {
        group(&object, Source::Grafana)
    } else if object.contains_key("alerts") || object.contains_key("groupKey") {
        group(&object, Source::Alertmanager)
    } else if object
        .get("event")
        .is_some_and(|e| e.get("data").is_some() || e.get("event_type").is_some())
    {
        pagerduty(&object).map(|alert| vec![alert])
    } else if object.get("alert").is_some()
        && (object.contains_key("action") || object["alert"].get("alertId").is_some())
    {
        opsgenie(&object).map(|alert| vec![alert])
    } else if object.contains_key("labels") {
        prometheus(&object, "", Source::Prometheus).map(|alert| vec![alert])
    } else {
        let keys: Vec<String> = object.keys().take(6).map(|k| format!("`{k}`")).collect();
        Err(PayloadError {
            format: "JSON",
            problem: format!(
                "a JSON object with {} is none of the payloads triage reads (Alertmanager or \
                 Grafana webhook: `alerts`; PagerDuty V3: `event.data`; Opsgenie: `alert`; \
                 a Prometheus alert: `labels`)",
                if keys.is_empty() {
                    "no keys".to_string()
                } else {
                    format!("the keys {}", keys.join(", "))
                }
            ),
        })
    }
}

/// A plain-text alert; an Alertmanager subject gives its status and alert name.
fn text_alert(text: &str) -> Alert {
    let mut alert = Alert {
        text: text.to_string(),
        source: Source::Text,
        ..Alert::default()
    };
    if let Some(subject) = subject::parse(text) {
        alert.status = Some(subject.status);
        if let Some(name) = subject.alertname {
            alert.labels.insert("alertname".into(), name);
        }
    }
    alert
}

fn error(source: Source, problem: String) -> PayloadError {
    PayloadError {
        format: source.name(),
        problem,
    }
}

/// Alertmanager and Grafana webhooks: every alert of `alerts`, each on its own.
fn group(object: &Map<String, Value>, source: Source) -> Result<Vec<Alert>, PayloadError> {
    let Some(alerts) = object.get("alerts") else {
        return Err(error(source, "there is no `alerts` list".into()));
    };
    let Value::Array(alerts) = alerts else {
        return Err(error(
            source,
            format!("`alerts` is {}, not a list", kind_of(alerts)),
        ));
    };
    if alerts.is_empty() {
        return Err(error(
            source,
            "`alerts` is empty: there is no alert in it".into(),
        ));
    }
    alerts
        .iter()
        .enumerate()
        .map(|(index, alert)| {
            let path = format!("alerts[{index}]");
            let Value::Object(alert) = alert else {
                return Err(error(
                    source,
                    format!("`{path}` is {}, not an object", kind_of(alert)),
                ));
            };
            prometheus(alert, &format!("{path}."), source)
        })
        .collect()
}

fn prometheus_list(items: &[Value]) -> Result<Vec<Alert>, PayloadError> {
    let source = Source::Prometheus;
    if items.is_empty() {
        return Err(error(
            source,
            "the list is empty: there is no alert in it".into(),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Object(alert) => prometheus(alert, &format!("[{index}]."), source),
            other => Err(error(
                source,
                format!("`[{index}]` is {}, not an alert object", kind_of(other)),
            )),
        })
        .collect()
}

/// One Prometheus/Alertmanager alert: `labels`, `annotations`, `startsAt`, `status`,
/// `generatorURL`. `path` prefixes the keys named in errors (`alerts[2].`).
fn prometheus(
    alert: &Map<String, Value>,
    path: &str,
    source: Source,
) -> Result<Alert, PayloadError> {
    let labels = match alert.get("labels") {
        Some(labels) => string_map(labels, &format!("{path}labels"), source)?,
        None => return Err(error(source, format!("`{path}labels` is missing"))),
    };
    let annotations = match alert.get("annotations") {
        Some(Value::Null) | None => BTreeMap::new(),
        Some(annotations) => string_map(annotations, &format!("{path}annotations"), source)?,
    };
    let starts_at = optional_time(alert.get("startsAt"), &format!("{path}startsAt"), source)?;
    let text = ["summary", "description", "message"]
        .iter()
        .find_map(|key| annotations.get(*key).filter(|v| !v.trim().is_empty()))
        .or_else(|| labels.get("alertname"))
        .cloned()
        .unwrap_or_default();
    Ok(Alert {
        text: text.trim().to_string(),
        labels,
        annotations,
        starts_at,
        status: optional_string(alert.get("status")),
        generator_url: optional_string(alert.get("generatorURL")).filter(|u| !u.is_empty()),
        source,
    })
}

/// A PagerDuty V3 webhook: the incident in `event.data`. Its service, urgency, priority,
/// status and incident key play the part of labels.
fn pagerduty(object: &Map<String, Value>) -> Result<Alert, PayloadError> {
    let source = Source::Pagerduty;
    let event = &object["event"];
    let Some(Value::Object(data)) = event.get("data") else {
        return Err(error(
            source,
            match event.get("data") {
                None => "`event.data` is missing".to_string(),
                Some(other) => format!("`event.data` is {}, not an object", kind_of(other)),
            },
        ));
    };
    let title = match data.get("title").or_else(|| data.get("summary")) {
        Some(Value::String(title)) if !title.trim().is_empty() => title.trim().to_string(),
        Some(other @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => {
            return Err(error(
                source,
                format!("`event.data.title` is {}, not text", kind_of(other)),
            ));
        }
        _ => {
            return Err(error(
                source,
                "`event.data.title` is missing or empty: the incident has no title".into(),
            ));
        }
    };
    let mut labels = BTreeMap::new();
    let summary_of = |key: &str| {
        data.get(key)
            .and_then(|v| v.get("summary"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let Some(service) = summary_of("service") {
        labels.insert("service".to_string(), service);
    }
    if let Some(priority) = summary_of("priority") {
        labels.insert("priority".to_string(), priority);
    }
    if let Some(policy) = summary_of("escalation_policy") {
        labels.insert("escalation_policy".to_string(), policy);
    }
    for key in ["urgency", "incident_key", "status", "type"] {
        if let Some(Value::String(value)) = data.get(key) {
            labels.insert(key.to_string(), value.clone());
        }
    }
    if let Some(Value::String(kind)) = event.get("event_type") {
        labels.insert("event_type".to_string(), kind.clone());
    }
    let starts_at = optional_time(
        data.get("created_at").or_else(|| event.get("occurred_at")),
        "event.data.created_at",
        source,
    )?;
    let mut annotations = BTreeMap::new();
    if let Some(Value::String(body)) = data.get("body").and_then(|b| b.get("details")) {
        annotations.insert("description".to_string(), body.clone());
    }
    Ok(Alert {
        text: title,
        labels,
        annotations,
        starts_at,
        status: optional_string(data.get("status")),
        generator_url: optional_string(data.get("html_url")),
        source,
    })
}

/// An Opsgenie webhook: the alert in `alert`. Its `details` are its labels, with `priority`,
/// `entity`, `alias`, `source` and `team`, and `key:value` tags.
fn opsgenie(object: &Map<String, Value>) -> Result<Alert, PayloadError> {
    let source = Source::Opsgenie;
    let Value::Object(alert) = &object["alert"] else {
        return Err(error(
            source,
            format!("`alert` is {}, not an object", kind_of(&object["alert"])),
        ));
    };
    let message = match alert.get("message") {
        Some(Value::String(message)) if !message.trim().is_empty() => message.trim().to_string(),
        _ => {
            return Err(error(
                source,
                "`alert.message` is missing or empty: the alert has no message".into(),
            ));
        }
    };
    let mut labels = match alert.get("details") {
        Some(Value::Null) | None => BTreeMap::new(),
        Some(details) => string_map(details, "alert.details", source)?,
    };
    match alert.get("tags") {
        Some(Value::Array(tags)) => {
            for tag in tags.iter().filter_map(Value::as_str) {
                if let Some((key, value)) = tag.split_once(':')
                    && !key.trim().is_empty()
                {
                    labels
                        .entry(key.trim().to_string())
                        .or_insert_with(|| value.trim().to_string());
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(other) => {
            return Err(error(
                source,
                format!("`alert.tags` is {}, not a list", kind_of(other)),
            ));
        }
    }
    for key in ["priority", "entity", "alias", "source", "team"] {
        if let Some(Value::String(value)) = alert.get(key)
            && !value.is_empty()
        {
            labels.entry(key.to_string()).or_insert(value.clone());
        }
    }
    let starts_at = match alert.get("createdAt") {
        None | Some(Value::Null) => None,
        Some(Value::Number(ms)) => {
            let at = ms
                .as_i64()
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .ok_or_else(|| {
                    error(
                        source,
                        format!("`alert.createdAt` is {ms}, not a time in epoch milliseconds"),
                    )
                })?;
            Some(at.to_string())
        }
        Some(other) => {
            return Err(error(
                source,
                format!(
                    "`alert.createdAt` is {}, not a time in epoch milliseconds",
                    kind_of(other)
                ),
            ));
        }
    };
    let mut annotations = BTreeMap::new();
    if let Some(Value::String(description)) = alert.get("description")
        && !description.is_empty()
    {
        annotations.insert("description".to_string(), description.clone());
    }
    Ok(Alert {
        text: message,
        labels,
        annotations,
        starts_at,
        status: optional_string(object.get("action")),
        generator_url: None,
        source,
    })
}

/// A map of text values; numbers and booleans are taken as their text.
fn string_map(
    value: &Value,
    path: &str,
    source: Source,
) -> Result<BTreeMap<String, String>, PayloadError> {
    let Value::Object(map) = value else {
        return Err(error(
            source,
            format!(
                "`{path}` is {}, not an object of names and values",
                kind_of(value)
            ),
        ));
    };
    map.iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                other => {
                    return Err(error(
                        source,
                        format!("`{path}.{key}` is {}, not text", kind_of(other)),
                    ));
                }
            };
            Ok((key.clone(), text))
        })
        .collect()
}

/// An RFC 3339 time; Go's zero time (`0001-01-01T00:00:00Z`, "not set") is no time.
fn optional_time(
    value: Option<&Value>,
    path: &str,
    source: Source,
) -> Result<Option<String>, PayloadError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() || text.starts_with("0001-01-01") => Ok(None),
        Some(Value::String(text)) => match text.parse::<jiff::Timestamp>() {
            Ok(at) => Ok(Some(at.to_string())),
            Err(_) => Err(error(
                source,
                format!("`{path}` is `{text}`, not an RFC 3339 time such as 2026-11-21T03:58:00Z"),
            )),
        },
        Some(other) => Err(error(
            source,
            format!("`{path}` is {}, not an RFC 3339 time", kind_of(other)),
        )),
    }
}

fn optional_string(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
