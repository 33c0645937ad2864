//! Notifications (`notify:`): HTTP requests sent when a run starts, a step fails, a contact is
//! escalated to, the run pauses, is handed over or finishes — chat webhooks, a status page.
//!
//! Each request is rendered on the run's thread through the one template environment (URL
//! values percent-encoded, JSON bodies escaped, `| tojson` for whole values), then sent by a
//! background thread with a timeout: the run never waits for one, and a failure comes back as
//! a [`Failure`] the engine records. The event a template sees has the run's secrets masked;
//! a secret input is sent only when the template names it (`inputs.token`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use minijinja::Environment;

use crate::model::{NotifyOn, Runbook};
use crate::secrets::Masker;
use crate::template::Escape;
use crate::timeline::{Event, Outcome};

/// How long a request may take unless its `timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the end of a run waits for requests still on their way.
pub const FLUSH: Duration = Duration::from_secs(3);

/// A notification that was not sent, or not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub on: NotifyOn,
    pub name: String,
    pub error: String,
}

/// A rendered request on its way.
struct Job {
    on: NotifyOn,
    name: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    timeout: Duration,
}

/// The event that sends notifications `on`, if any.
pub fn trigger(event: &Event) -> Option<NotifyOn> {
    Some(match event {
        Event::RunStarted { .. } => NotifyOn::Started,
        Event::StepFinished {
            outcome: Outcome::Failed,
            ..
        } => NotifyOn::StepFailed,
        Event::Escalated { .. } => NotifyOn::Escalated,
        Event::RunPaused { .. } => NotifyOn::Paused,
        Event::HandedOver { .. } => NotifyOn::HandedOver,
        Event::RunFinished { .. } => NotifyOn::Finished,
        _ => return None,
    })
}

/// The runbook's notifications for one run, and the thread that sends them.
pub struct Notifier {
    runbook: Runbook,
    env: Environment<'static>,
    /// What every template sees besides `event` and `inputs`.
    base: BTreeMap<&'static str, serde_json::Value>,
    /// The inputs, secrets included (given to a template only when it names them).
    inputs: BTreeMap<String, serde_json::Value>,
    /// Names of the secret inputs.
    secret_inputs: Vec<String>,
    masker: Masker,
    title: String,
    jobs: Option<mpsc::Sender<Job>>,
    failures: mpsc::Receiver<Failure>,
    failed_here: mpsc::Sender<Failure>,
    pending: Arc<AtomicUsize>,
    worker: Option<std::thread::JoinHandle<()>>,
}

/// Who and what a notification is about.
pub struct About<'a> {
    pub runbook_id: &'a str,
    pub incident: &'a str,
    pub operator: &'a str,
    pub timeline: &'a Path,
    pub inputs: &'a IndexMap<String, String>,
}

impl Notifier {
    /// The notifier of `runbook`, `None` when it has no `notify:`.
    pub fn new(runbook: &Runbook, about: &About<'_>, masker: Masker) -> Option<Notifier> {
        if runbook.notify.is_empty() {
            return None;
        }
        let mut base = BTreeMap::new();
        base.insert(
            "runbook",
            serde_json::json!({
                "id": about.runbook_id,
                "title": runbook.title.value,
                "owner": runbook.owner.value,
                "priority": runbook.priority.as_ref().map(|p| format!("{:?}", p.value)),
            }),
        );
        base.insert("incident", serde_json::json!({ "id": about.incident }));
        base.insert("operator", serde_json::json!(about.operator));
        base.insert(
            "timeline",
            serde_json::json!(about.timeline.display().to_string()),
        );
        let data: serde_json::Map<String, serde_json::Value> = runbook
            .data
            .iter()
            .map(|(k, v)| (k.value.clone(), v.clone()))
            .collect();
        base.insert("data", serde_json::Value::Object(data));
        let inputs = crate::execute::inputs::typed_values(runbook, about.inputs)
            .map(|(name, value)| (name.clone(), value))
            .collect();
        let secret_inputs = runbook
            .inputs
            .iter()
            .filter(|(_, input)| input.secret)
            .map(|(name, _)| name.value.clone())
            .collect();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (failed, failures) = mpsc::channel::<Failure>();
        let pending = Arc::new(AtomicUsize::new(0));
        let worker = {
            let failed = failed.clone();
            let pending = Arc::clone(&pending);
            std::thread::Builder::new()
                .name("notify".into())
                .spawn(move || send_all(queue, failed, pending))
                .ok()
        };
        Some(Notifier {
            runbook: runbook.clone(),
            env: crate::template::environment(),
            base,
            inputs,
            secret_inputs,
            masker,
            title: runbook.title.value.clone(),
            jobs: worker.as_ref().map(|_| jobs),
            failures,
            failed_here: failed,
            pending,
            worker,
        })
    }

    /// How many requests the runbook sends on `on`.
    pub fn count(&self, on: NotifyOn) -> usize {
        self.runbook
            .notify
            .iter()
            .filter(|n| n.on.is_empty() || n.on.iter().any(|o| o.value == on))
            .count()
    }

    /// Renders and queues the requests `event` sends (none for most events); never waits.
    pub fn event(&self, step: Option<&str>, event: &Event) {
        let Some(on) = trigger(event) else {
            return;
        };
        let payload = self.payload(on, step, event);
        for notify in &self.runbook.notify {
            if !(notify.on.is_empty() || notify.on.iter().any(|o| o.value == on)) {
                continue;
            }
            let name = notify
                .name
                .as_ref()
                .map(|n| n.value.clone())
                .unwrap_or_else(|| host_of(&notify.url.value));
            match self.render(notify, &payload) {
                Ok((url, headers, body)) => {
                    let job = Job {
                        on,
                        name,
                        method: notify
                            .method
                            .as_ref()
                            .map_or_else(|| "POST".to_string(), |m| m.value.to_ascii_uppercase()),
                        url,
                        headers,
                        body,
                        timeout: notify
                            .timeout
                            .as_ref()
                            .and_then(|t| crate::model::parse_duration(&t.value).ok())
                            .unwrap_or(DEFAULT_TIMEOUT),
                    };
                    match &self.jobs {
                        Some(jobs) => {
                            self.pending.fetch_add(1, Ordering::SeqCst);
                            if jobs.send(job).is_err() {
                                self.pending.fetch_sub(1, Ordering::SeqCst);
                            }
                        }
                        None => {
                            let _ = self.failed_here.send(Failure {
                                on,
                                name: job.name,
                                error: "the sending thread could not start".into(),
                            });
                        }
                    }
                }
                Err(error) => {
                    let _ = self.failed_here.send(Failure {
                        on,
                        name,
                        error: format!("template error: {error}"),
                    });
                }
            }
        }
    }

    /// The failures known so far, without waiting.
    pub fn failures(&self) -> Vec<Failure> {
        self.failures.try_iter().collect()
    }

    /// Waits up to `limit` for the requests on their way, then returns every failure known;
    /// a request still unanswered then is a failure too.
    pub fn flush(&self, limit: Duration) -> Vec<Failure> {
        let until = Instant::now() + limit;
        while self.pending.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut failures = self.failures();
        let left = self.pending.load(Ordering::SeqCst);
        if left > 0 {
            failures.push(Failure {
                on: NotifyOn::Finished,
                name: format!("{left} notification{}", if left == 1 { "" } else { "s" }),
                error: format!(
                    "still unanswered {} s after the run ended: left behind",
                    limit.as_secs()
                ),
            });
        }
        failures
    }

    /// The `event` a template sees: what happened, masked.
    fn payload(&self, on: NotifyOn, step: Option<&str>, event: &Event) -> serde_json::Value {
        let mut fields = serde_json::to_value(event).unwrap_or_default();
        if let Some(map) = fields.as_object_mut() {
            map.remove("state");
            map.remove("alert");
            map.remove("flags");
        }
        let mut payload = serde_json::json!({
            "name": on.as_str(),
            "step": step,
            "at": jiff::Timestamp::now().to_string(),
            "text": self.text(on, step, event),
        });
        if let (Some(payload), Some(fields)) = (payload.as_object_mut(), fields.as_object()) {
            for (key, value) in fields {
                if key != "event" {
                    payload.entry(key.clone()).or_insert(value.clone());
                }
            }
            payload.insert("event".into(), serde_json::json!(event.name()));
        }
        mask_value(&self.masker, &mut payload);
        payload
    }

    /// One line a person reads in a chat.
    fn text(&self, on: NotifyOn, step: Option<&str>, event: &Event) -> String {
        let incident = self.base["incident"]["id"].as_str().unwrap_or_default();
        let title = &self.title;
        let step = step.unwrap_or_default();
        match event {
            Event::RunStarted { operator, .. } => {
                format!("{title}: incident {incident} started by {operator}")
            }
            Event::StepFinished { reason, .. } => format!(
                "{title}: step `{step}` failed{} (incident {incident})",
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            Event::Escalated { contact } => {
                format!("{title}: escalated to {contact} (incident {incident})")
            }
            Event::RunPaused { at_step } => {
                format!("{title}: paused at step `{at_step}` (incident {incident})")
            }
            Event::HandedOver { from, to } => {
                format!("{title}: handed over from {from} to {to} (incident {incident})")
            }
            Event::RunFinished { outcome, .. } => {
                format!("{title}: {} (incident {incident})", outcome.as_str())
            }
            _ => format!("{title}: {} (incident {incident})", on.as_str()),
        }
    }

    /// URL, headers and body of one notification.
    #[allow(clippy::type_complexity)]
    fn render(
        &self,
        notify: &crate::model::Notify,
        payload: &serde_json::Value,
    ) -> Result<(String, Vec<(String, String)>, Option<String>), String> {
        let render = |source: &str, escape: Escape| -> Result<String, String> {
            let template = self
                .env
                .template_from_named_str(escape.template_name(), source)
                .map_err(|e| e.to_string())?;
            template
                .render(self.context(source, payload))
                .map_err(|e| e.to_string())
        };
        let url = crate::execute::runner::render_url(&notify.url.value, render)?;
        let mut headers = Vec::new();
        for (name, value) in &notify.headers {
            headers.push((name.value.clone(), render(&value.value, Escape::Text)?));
        }
        let body = match &notify.body {
            Some(body) => {
                let json = headers.iter().any(|(name, value)| {
                    name.eq_ignore_ascii_case("content-type")
                        && value.to_ascii_lowercase().contains("json")
                }) || body.value.trim_start().starts_with(['{', '[']);
                if json
                    && !headers
                        .iter()
                        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                let escape = if json {
                    Escape::JsonString
                } else {
                    Escape::Text
                };
                Some(render(&body.value, escape)?)
            }
            None => None,
        };
        Ok((url, headers, body))
    }

    /// The names a template sees; a secret input is itself only where `source` names it.
    fn context(&self, source: &str, payload: &serde_json::Value) -> minijinja::Value {
        let mut context: BTreeMap<&str, serde_json::Value> = self.base.clone();
        let inputs: serde_json::Map<String, serde_json::Value> = self
            .inputs
            .iter()
            .map(|(name, value)| {
                let shown = if self.secret_inputs.contains(name) && !names_input(source, name) {
                    serde_json::json!("***")
                } else {
                    value.clone()
                };
                (name.clone(), shown)
            })
            .collect();
        context.insert("inputs", serde_json::Value::Object(inputs));
        context.insert("event", payload.clone());
        minijinja::Value::from(minijinja::value::Serde(&context))
    }

    /// Stops the sending thread once the queue is empty (after [`Notifier::flush`]).
    pub fn close(mut self) {
        self.jobs = None;
        if let Some(worker) = self.worker.take()
            && self.pending.load(Ordering::SeqCst) == 0
        {
            let _ = worker.join();
        }
    }
}

/// Whether `source` names the input itself: `inputs.NAME`, `inputs['NAME']`, `inputs["NAME"]`.
fn names_input(source: &str, name: &str) -> bool {
    let dotted = format!("inputs.{name}");
    let by_dot = source.match_indices(&dotted).any(|(at, _)| {
        !source[at + dotted.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    });
    by_dot
        || source.contains(&format!("inputs['{name}']"))
        || source.contains(&format!("inputs[\"{name}\"]"))
}

/// Every string inside `value`, masked.
fn mask_value(masker: &Masker, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let std::borrow::Cow::Owned(masked) = masker.mask(text) {
                *text = masked;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| mask_value(masker, v)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| mask_value(masker, v)),
        _ => {}
    }
}

/// The host of a URL as written (a template's text when it is one).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

/// The sending thread: one request after another, each with its timeout.
fn send_all(queue: mpsc::Receiver<Job>, failed: mpsc::Sender<Failure>, pending: Arc<AtomicUsize>) {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build();
    for job in queue {
        let outcome = match &client {
            Ok(client) => send_one(client, &job),
            Err(error) => Err(format!("no HTTP client: {error}")),
        };
        if let Err(error) = outcome {
            let _ = failed.send(Failure {
                on: job.on,
                name: job.name.clone(),
                error,
            });
        }
        pending.fetch_sub(1, Ordering::SeqCst);
    }
}

fn send_one(client: &reqwest::blocking::Client, job: &Job) -> Result<(), String> {
    let method = reqwest::Method::from_bytes(job.method.as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", job.method))?;
    let mut request = client.request(method, &job.url).timeout(job.timeout);
    for (name, value) in &job.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &job.body {
        request = request.body(body.clone());
    }
    let response = request.send().map_err(|error| {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        if error.is_timeout() {
            format!("no answer within {} s ({text})", job.timeout.as_secs_f32())
        } else {
            text
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body: String = response
            .text()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        Err(format!("HTTP {}: {}", status.as_u16(), body.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_sent_only_where_the_template_names_it() {
        assert!(names_input("Bearer {{ inputs.token }}", "token"));
        assert!(names_input("{{ inputs['token'] }}", "token"));
        assert!(!names_input("{{ inputs.token_id }}", "token"));
        assert!(!names_input("{{ inputs | tojson }}", "token"));
    }

    #[test]
    fn hosts_name_unnamed_notifications() {
        assert_eq!(
            host_of("https://hooks.slack.com/services/T/B/x"),
            "hooks.slack.com"
        );
        assert_eq!(host_of("{{ data.hook }}"), "{{ data.hook }}");
    }
}
