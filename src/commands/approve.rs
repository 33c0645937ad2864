//! `runbook approve TIMELINE STEP`: the second engineer's side of an approval. It reads the
//! request the run recorded (never taking the writer's lock), shows the command and its hash,
//! refuses the operator's own key or name, and signs the request with the approver's SSH key
//! into a new file beside the timeline, where the waiting run finds and verifies it.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use crate::execute::approval::{self, PublicKey};
use crate::sanitize::sanitize;
use crate::timeline::Event;
use crate::{Error, ExitStatus};

/// `runbook approve`, as plain settings.
#[derive(Debug, Clone)]
pub struct ApproveSettings {
    pub timeline: PathBuf,
    pub step: String,
    pub key: Option<PathBuf>,
    pub yes: bool,
}

/// The request a step waits on, as the timeline holds it.
struct Pending {
    incident: String,
    runbook: String,
    command: String,
    sha256: String,
    request: String,
    approvers: u32,
    operator: String,
    operator_keys: Vec<String>,
    approved_by: Vec<String>,
}

pub fn approve(settings: ApproveSettings) -> Result<ExitStatus, Error> {
    let invalid = |flag: &'static str, value: &str, reason: String| Error::InvalidFlag {
        flag,
        value: value.to_string(),
        reason,
    };
    let timeline = std::path::absolute(&settings.timeline).unwrap_or(settings.timeline.clone());
    let reading = crate::timeline::read(&timeline)?;
    let pending = pending(&reading.records, &settings.step)
        .map_err(|reason| invalid("STEP", &settings.step, reason))?;
    let text = |t: &str| sanitize(t).into_owned();
    // What the approver signs must be what the run recorded: a command changed in the file
    // after the request no longer matches its hash (and the run checks its own hash anyway).
    if crate::timeline::sha256_hex(pending.command.as_bytes()) != pending.sha256 {
        return Err(invalid(
            "TIMELINE",
            &timeline.display().to_string(),
            "the request's command does not match its sha256: the timeline was changed after the request; do not approve it".into(),
        ));
    }
    let key = match &settings.key {
        Some(key) => key.clone(),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(".ssh").join("id_ed25519"),
            None => {
                return Err(invalid(
                    "--key",
                    "",
                    "no `--key` and no `$HOME` to find `~/.ssh/id_ed25519` in".into(),
                ));
            }
        },
    };
    if !key.is_file() {
        return Err(invalid(
            "--key",
            &key.display().to_string(),
            "no such key file; give your SSH private key with `--key FILE`".into(),
        ));
    }
    let public = approval::public_key_of(&key).ok_or_else(|| {
        invalid(
            "--key",
            &key.display().to_string(),
            "its public key cannot be read (no `.pub` beside it, and it has a passphrase)".into(),
        )
    })?;

    let mut out = String::new();
    out.push_str(&format!(
        "Approval request · incident {} · runbook {}\n",
        text(&pending.incident),
        text(&pending.runbook)
    ));
    out.push_str(&format!(
        "  step      {}\n  operator  {}\n  needs     {} approval{}{}\n",
        text(&settings.step),
        text(&pending.operator),
        pending.approvers,
        if pending.approvers == 1 { "" } else { "s" },
        if pending.approved_by.is_empty() {
            String::new()
        } else {
            format!(" (approved so far by {})", pending.approved_by.join(", "))
        }
    ));
    out.push_str("  command:\n");
    for line in pending.command.lines() {
        out.push_str(&format!("    {}\n", text(line)));
    }
    out.push_str(&format!("  sha256    {}\n", pending.sha256));
    out.push_str(&format!(
        "  your key  {} ({})\n",
        public.fingerprint(),
        key.display()
    ));
    super::write_stdout(&out)?;

    if let Some(refusal) = own_request(&pending, &public) {
        eprintln!("✘ {refusal}");
        return Ok(ExitStatus::Failure);
    }
    if !settings.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "✘ approving needs a person: run it at a terminal, or give `--yes` once you have read the command above"
            );
            return Ok(ExitStatus::NeedsHuman);
        }
        let confirmed = inquire::Confirm::new("Sign this approval with your key?")
            .with_default(false)
            .prompt();
        match confirmed {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("not approved: nothing was written");
                return Ok(ExitStatus::Failure);
            }
            Err(_) => {
                eprintln!("not approved: nothing was written");
                return Ok(ExitStatus::Interrupted);
            }
        }
    }
    let signed_text = approval::request_text(
        &pending.incident,
        &settings.step,
        &pending.sha256,
        &pending.request,
    );
    let signature = match approval::sign(&signed_text, &key) {
        Ok(signature) => signature,
        Err(why) => {
            eprintln!(
                "✘ ssh-keygen could not sign with `{}`: {why}",
                key.display()
            );
            return Ok(ExitStatus::Failure);
        }
    };
    let path = approval::new_file_path(&timeline, &pending.request)
        .map_err(|reason| invalid("TIMELINE", &timeline.display().to_string(), reason))?;
    write_new(&path, &signature).map_err(|source| Error::WriteFile {
        path: path.clone(),
        source,
    })?;
    eprintln!(
        "✔ approval signed: {}\n  the run checks it against its allowed_signers and goes on when it holds",
        path.display()
    );
    Ok(ExitStatus::Success)
}

/// Why the approver is the operator, if they are: the same key, or the same name.
fn own_request(pending: &Pending, public: &PublicKey) -> Option<String> {
    let fingerprint = public.fingerprint();
    if pending.operator_keys.contains(&fingerprint) {
        return Some(format!(
            "this key ({fingerprint}) is one of the operator's own keys: the operator cannot approve their own request; ask another engineer"
        ));
    }
    let me = crate::execute::operator();
    if me == pending.operator {
        return Some(format!(
            "you are the operator of this run (`{me}`): the operator cannot approve their own request; ask another engineer (`RUNBOOK_OPERATOR` names the person on a shared account)"
        ));
    }
    None
}

/// The latest approval request of `step`, unless the step or the run ended since.
fn pending(records: &[crate::timeline::Record], step: &str) -> Result<Pending, String> {
    let (mut incident, mut runbook) = (String::new(), String::new());
    let mut found: Option<Pending> = None;
    let mut requested: Vec<String> = Vec::new();
    for record in records {
        let here = record.step.as_deref() == Some(step);
        match &record.event {
            Event::RunStarted { runbook: id, .. } => {
                incident = record.incident.clone();
                runbook = id.clone();
            }
            Event::ApprovalRequested {
                command,
                sha256,
                request,
                approvers,
                operator,
                operator_keys,
            } => {
                if let Some(s) = &record.step
                    && !requested.contains(s)
                {
                    requested.push(s.clone());
                }
                if here {
                    let approved_by = match &found {
                        Some(p) if p.request == *request => p.approved_by.clone(),
                        _ => Vec::new(),
                    };
                    found = Some(Pending {
                        incident: incident.clone(),
                        runbook: runbook.clone(),
                        command: command.clone(),
                        sha256: sha256.clone(),
                        request: request.clone(),
                        approvers: *approvers,
                        operator: operator.clone(),
                        operator_keys: operator_keys.clone(),
                        approved_by,
                    });
                }
            }
            Event::Approved {
                principal, request, ..
            } if here => {
                if let Some(p) = found.as_mut().filter(|p| p.request == *request) {
                    p.approved_by.push(principal.clone());
                }
            }
            // Approved and run, or the step ended: nothing waits any more.
            Event::Confirmed { .. } | Event::StepFinished { .. } if here => found = None,
            Event::RunFinished { outcome, .. } => {
                return Err(format!(
                    "this run already finished ({}): there is nothing to approve",
                    outcome.as_str()
                ));
            }
            _ => {}
        }
    }
    found.ok_or_else(|| {
        if requested.is_empty() {
            "no step of this run waits for an approval".to_string()
        } else {
            format!(
                "step `{step}` waits for no approval; steps that asked for one: {}",
                requested
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    })
}

/// Writes a new file (never over another, never through a link), readable by the run.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = crate::files::create_new(path, crate::files::SHARED)?;
    file.write_all(bytes)?;
    file.sync_all()
}
