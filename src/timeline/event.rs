//! The events of a timeline, as they are written: one JSON object per line, tagged by `event`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Something that happened during a run. Field names are the JSON keys of SPEC section 6.
/// Absent optional fields are left out of the line, and read back as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run began (or a rehearsal of it).
    RunStarted {
        /// The runbook id.
        runbook: String,
        /// The runbook file, as given.
        path: String,
        /// Hex sha256 of the runbook file.
        sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        git_commit: Option<String>,
        /// `user@host`.
        operator: String,
        /// The inputs, secrets as `***`.
        #[serde(default)]
        inputs: BTreeMap<String, String>,
        /// When the alert fired (`--alerted-at`), RFC 3339.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alerted_at: Option<String>,
        #[serde(default)]
        rehearsal: bool,
        /// The step the run started at (`--from`), when not the first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// The flags `--resume` restores (absolute paths); absent in older timelines.
        #[serde(default, skip_serializing_if = "RunFlags::is_empty")]
        flags: RunFlags,
        /// The timeline keeps a head sidecar (`INCIDENT.jsonl.head`): `timeline verify` fails
        /// when it is gone, so deleting it cannot hide a dropped tail. Absent in older ones.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        anchored: bool,
        /// The alert the run started from (`--alert`): text, labels, annotations, start
        /// time. Absent when started without one, and in older timelines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert: Option<Box<crate::alert::Alert>>,
    },
    StepStarted {
        /// The step kind: `manual`, `check`, `action`, `decision`, `wait`, `sub-procedure`.
        kind: String,
        name: String,
    },
    /// A shell command finished (or could not start) on one host.
    Command {
        host: String,
        /// The rendered command.
        command: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<i32>,
        duration_ms: u64,
        /// The last 4 KiB.
        #[serde(default)]
        stdout: String,
        /// The last 4 KiB.
        #[serde(default)]
        stderr: String,
        #[serde(default)]
        timed_out: bool,
    },
    /// An HTTP request finished (or failed) for one host.
    Http {
        host: String,
        method: String,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        duration_ms: u64,
        /// The last 4 KiB of the response body.
        #[serde(default)]
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    Confirmed {
        command: String,
    },
    Declined {
        command: String,
    },
    /// The answer to an `ask` step: a choice's label, or a free-text value.
    Answer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        choice: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    Note {
        text: String,
    },
    StepFinished {
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// What later steps can read once this step finished: its result and the vars it set,
        /// whole (no 4 KiB cut), secrets masked and flagged. `--resume` rebuilds the run from
        /// it (`execute::resume::StepRecord`); absent in older timelines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<serde_json::Value>,
    },
    Escalated {
        contact: String,
    },
    /// The engineer went to another step from the failure menu.
    Jumped {
        to: String,
    },
    RunPaused {
        at_step: String,
    },
    RunResumed {
        at_step: String,
        /// The bytes of a torn last line cut off before resuming.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dropped_bytes: Option<u64>,
        /// Inputs given again with `--set` on resuming (secrets as `***`): they replace the
        /// recorded ones from here on.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        inputs: BTreeMap<String, String>,
    },
    RunFinished {
        outcome: RunOutcome,
        duration_ms: u64,
        /// Failed steps the run went past (`on_failure: continue`, or skipped from the
        /// failure menu).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skipped_failures: Vec<String>,
    },
    /// The items of a manual step's `checklist`: those the engineer ticked, and those left.
    Checklist {
        #[serde(default)]
        ticked: Vec<String>,
        #[serde(default)]
        left: Vec<String>,
    },
    /// An `interactive` action was handed the terminal (written before it starts).
    SessionStarted {
        host: String,
        /// The rendered command.
        command: String,
    },
    /// An `interactive` action gave the terminal back; its output is not recorded.
    SessionEnded {
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<i32>,
        duration_ms: u64,
        /// Why it could not start or was cut short, when it did not end by itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An input asked when a step first needed it, after `run_started` (which holds the
    /// inputs known at the start). Only inputs that are not secret are asked late.
    InputGiven {
        name: String,
        /// The value; `***` for a secret.
        value: String,
    },
    /// `runbook run --resume` by another operator than the one who ran it last.
    HandedOver {
        /// The operator before (`user@host`).
        from: String,
        /// The operator from here on.
        to: String,
    },
    /// `runbook watch --timeline`: a service turned worse than it was when the watch began.
    ServiceWorse {
        /// The runbook whose health checks say so.
        runbook: String,
        /// Its state when the watch began: `green`, `orange`, `red`.
        from: String,
        /// Its state now.
        to: String,
        /// What failed, in one line.
        detail: String,
    },
    /// An action with `confirm: approve` (or `approvers: N`) waits for approvals signed by
    /// other engineers (`runbook approve TIMELINE STEP`).
    ApprovalRequested {
        /// The command as shown and recorded (secrets masked).
        command: String,
        /// Hex sha256 of `command`: what the approver signs, with the incident, the step
        /// and `request`.
        sha256: String,
        /// A random id of this request: an approval of another request never counts.
        request: String,
        /// How many approvals it needs.
        approvers: u32,
        /// Who asked (`user@host` or `RUNBOOK_OPERATOR`).
        operator: String,
        /// The SHA256 fingerprints of the operator's own SSH keys: they cannot approve.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        operator_keys: Vec<String>,
    },
    /// An approval signed by another engineer was verified against `allowed_signers`.
    Approved {
        /// The signer's principal in `allowed_signers`.
        principal: String,
        /// The SHA256 fingerprint of the key that signed.
        fingerprint: String,
        /// The request it approves.
        request: String,
        /// The signature file, beside the timeline (empty when scripted by `runbook test`).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        file: String,
    },
    /// A signature file for a request that does not count, and why; the run keeps waiting.
    ApprovalRefused {
        request: String,
        file: String,
        reason: String,
    },
    /// A notification (`notify:`) could not be sent; the run went on.
    NotifyFailed {
        /// The event that sent it: `started`, `step_failed`…
        on: String,
        /// The notification's name (else the URL's host).
        name: String,
        /// Why, in one line.
        error: String,
    },
}

impl Event {
    /// The `event` tag: `run_started`, `command`…
    pub fn name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::StepStarted { .. } => "step_started",
            Event::Command { .. } => "command",
            Event::Http { .. } => "http",
            Event::Confirmed { .. } => "confirmed",
            Event::Declined { .. } => "declined",
            Event::Answer { .. } => "answer",
            Event::Note { .. } => "note",
            Event::StepFinished { .. } => "step_finished",
            Event::Escalated { .. } => "escalated",
            Event::Jumped { .. } => "jumped",
            Event::RunPaused { .. } => "run_paused",
            Event::RunResumed { .. } => "run_resumed",
            Event::RunFinished { .. } => "run_finished",
            Event::Checklist { .. } => "checklist",
            Event::SessionStarted { .. } => "session_started",
            Event::SessionEnded { .. } => "session_ended",
            Event::HandedOver { .. } => "handed_over",
            Event::InputGiven { .. } => "input_given",
            Event::ServiceWorse { .. } => "service_worse",
            Event::ApprovalRequested { .. } => "approval_requested",
            Event::Approved { .. } => "approved",
            Event::ApprovalRefused { .. } => "approval_refused",
            Event::NotifyFailed { .. } => "notify_failed",
        }
    }
}

/// The flags of the first run that `--resume` restores, so that `runbook run --resume FILE`
/// needs nothing else. Paths are absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFlags {
    /// `--ssh-config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_config: Option<String>,
    /// `--catalog` (or `RUNBOOK_CATALOG`), else the catalog the runbook was found in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// `--allowed-signers`: what approvals are checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_signers: Option<String>,
}

impl RunFlags {
    pub fn is_empty(&self) -> bool {
        *self == RunFlags::default()
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A manual step, an action or a decision was carried out.
    Done,
    /// A check or a wait passed.
    Passed,
    Failed,
    Skipped,
    /// An action shown but not run (`--rehearse`).
    Rehearsed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Rehearsed => "rehearsed",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Service restored.
    Resolved,
    Failed,
    Aborted,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Resolved => "resolved",
            RunOutcome::Failed => "failed",
            RunOutcome::Aborted => "aborted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_serde_tag() {
        let events = [
            Event::StepStarted {
                kind: "check".into(),
                name: "n".into(),
            },
            Event::Answer {
                choice: Some("All".into()),
                value: None,
            },
            Event::StepFinished {
                outcome: Outcome::Rehearsed,
                reason: None,
                state: Some(serde_json::json!({"vars": {"x": "1"}})),
            },
            Event::RunResumed {
                at_step: "s".into(),
                dropped_bytes: Some(3),
                inputs: BTreeMap::from([("env".into(), "prod".into())]),
            },
            Event::RunFinished {
                outcome: RunOutcome::Resolved,
                duration_ms: 5,
                skipped_failures: vec!["disk".into()],
            },
            Event::Jumped {
                to: "verify".into(),
            },
            Event::InputGiven {
                name: "service".into(),
                value: "web".into(),
            },
        ];
        for event in events {
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["event"], event.name());
            assert_eq!(serde_json::from_value::<Event>(value).unwrap(), event);
        }
    }

    #[test]
    fn absent_options_are_left_out() {
        let json = serde_json::to_string(&Event::Answer {
            choice: None,
            value: Some("x".into()),
        })
        .unwrap();
        assert_eq!(json, r#"{"event":"answer","value":"x"}"#);
        let json = serde_json::to_string(&Event::StepFinished {
            outcome: Outcome::Passed,
            reason: None,
            state: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"event":"step_finished","outcome":"passed"}"#);
    }
}
