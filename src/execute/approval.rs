//! Approvals: an action with `confirm: approve` (or `approvers: N`) runs only once N other
//! engineers have signed its request with their own SSH keys (`runbook approve`).
//!
//! The run records the request (`approval_requested`: the command as recorded, its sha256, a
//! random request id, the operator and the fingerprints of the operator's own keys), then
//! polls the timeline's folder for signature files named after the request. Each is checked
//! with `ssh-keygen -Y verify` (namespace `runbook`) against `allowed_signers`, over the text
//! the run itself built — never over what a file says — and refused when the operator signed
//! it: one of the operator's keys, a principal `allowed_signers` gives one of those keys, or
//! the operator's own name. The engine side is [`Engine::await_approvals`].

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::Error;
use crate::execute::engine::{Ending, Engine, Tried};
use crate::timeline::Event;
use crate::timeline::anchor::{SignatureProblem, run_with_stdin, verify_ssh_signature};

/// The signature namespace, as for the timeline's head.
pub const NAMESPACE: &str = crate::timeline::anchor::NAMESPACE;

/// The largest signature file read: an SSH signature is well under 4 KiB.
const MAX_SIGNATURE: u64 = 64 * 1024;

/// How often the folder is looked at while waiting.
const POLL: Duration = Duration::from_millis(200);

/// Where approvals come from, set on the engine by `runbook run`.
#[derive(Debug, Clone, Default)]
pub struct ApprovalSettings {
    /// `--allowed-signers FILE`, else the catalog's `.runbook/allowed_signers`.
    pub allowed_signers: Option<PathBuf>,
    /// `runbook test`: approvals are scripted (recorded as such), nothing is waited for.
    pub scripted: bool,
}

/// The exact text an approver signs: the incident, the step, the hash of the command as the
/// timeline records it, and the request's random id (so a signature of another request, of
/// this run or another, never counts).
pub fn request_text(incident: &str, step: &str, sha256: &str, request: &str) -> String {
    format!(
        "runbook approval request 1\nincident: {incident}\nstep: {step}\ncommand-sha256: {sha256}\nrequest: {request}\n"
    )
}

/// `INCIDENT.jsonl.approval.REQUEST.`: the start of the names of a request's signature files.
pub fn file_prefix(timeline: &Path, request: &str) -> String {
    let name = timeline
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name}.approval.{request}.")
}

/// A new signature file's path for `request`, beside `timeline`.
pub fn new_file_path(timeline: &Path, request: &str) -> Result<PathBuf, String> {
    let folder = timeline
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(folder.join(format!(
        "{}{}.sig",
        file_prefix(timeline, request),
        random_hex()?
    )))
}

/// 16 random hex digits.
pub fn random_hex() -> Result<String, String> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// An SSH public key: its type and its base64 blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kind: String,
    pub blob: String,
}

impl PublicKey {
    /// `ssh-ed25519 AAAA… comment` (the first two words).
    pub fn parse(line: &str) -> Option<PublicKey> {
        let mut words = line.split_whitespace();
        let kind = words.next()?;
        let blob = words.next()?;
        (is_key_type(kind) && decode_base64(blob).is_some()).then(|| PublicKey {
            kind: kind.to_string(),
            blob: blob.to_string(),
        })
    }

    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        let bytes = decode_base64(&self.blob).unwrap_or_default();
        format!("SHA256:{}", encode_base64_unpadded(&Sha256::digest(&bytes)))
    }
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-") || word.starts_with("sk-")
}

/// The public keys of the person running this: `RUNBOOK_SIGNING_KEY` (its `.pub`), the
/// agent's keys, and every `~/.ssh/*.pub`. They identify the operator, who cannot approve.
pub fn own_keys() -> Vec<PublicKey> {
    let mut keys = Vec::new();
    let mut add = |text: &str| {
        for key in text.lines().filter_map(PublicKey::parse) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    };
    if let Some(key) = std::env::var_os("RUNBOOK_SIGNING_KEY").filter(|k| !k.is_empty())
        && let Some(public) = public_key_of(Path::new(&key))
    {
        add(&format!("{} {}", public.kind, public.blob));
    }
    if std::env::var_os("SSH_AUTH_SOCK").is_some()
        && let Ok(listed) = run_with_stdin(Command::new("ssh-add").arg("-L"), &[])
    {
        add(&String::from_utf8_lossy(&listed));
    }
    if let Some(home) = std::env::var_os("HOME")
        && let Ok(entries) = std::fs::read_dir(PathBuf::from(home).join(".ssh"))
    {
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pub"))
            .collect();
        files.sort();
        for file in files {
            if let Ok(text) = std::fs::read_to_string(&file) {
                add(&text);
            }
        }
    }
    keys
}

/// The public half of a key file: `KEY.pub` beside it, the file itself when it is a public
/// key, else what `ssh-keygen -y` derives (without a passphrase prompt).
pub fn public_key_of(key: &Path) -> Option<PublicKey> {
    let mut public = key.as_os_str().to_owned();
    public.push(".pub");
    if let Ok(text) = std::fs::read_to_string(PathBuf::from(public))
        && let Some(key) = text.lines().find_map(PublicKey::parse)
    {
        return Some(key);
    }
    if let Ok(text) = std::fs::read_to_string(key)
        && let Some(key) = text.lines().find_map(PublicKey::parse)
    {
        return Some(key);
    }
    let derived = run_with_stdin(
        Command::new("ssh-keygen")
            .args(["-y", "-P", "", "-f"])
            .arg(key),
        &[],
    )
    .ok()?;
    String::from_utf8_lossy(&derived)
        .lines()
        .find_map(PublicKey::parse)
}

/// The principals `allowed_signers` gives to any of `keys`.
pub fn principals_of(allowed_signers: &str, keys: &[PublicKey]) -> BTreeSet<String> {
    let mut principals = BTreeSet::new();
    for line in allowed_signers.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| is_key_type(w)) else {
            continue;
        };
        let Some(blob) = words.get(at + 1) else {
            continue;
        };
        if keys.iter().any(|k| k.blob == *blob) {
            principals.extend(words[0].split(',').map(|p| p.trim_matches('"').to_string()));
        }
    }
    principals
}

/// A verified approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub principal: String,
    pub fingerprint: String,
}

/// Who asked for the approval: they cannot give it.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    /// `user@host` or `RUNBOOK_OPERATOR`.
    pub operator: String,
    /// The operator's public keys.
    pub keys: Vec<PublicKey>,
}

/// Checks one signature file of a request: a good signature, over `text`, by a key of
/// `allowed_signers`, not the operator's. The error says why it does not count.
pub fn verify(
    text: &str,
    signature: &Path,
    allowed_signers: &Path,
    requester: &Requester,
) -> Result<Approval, String> {
    let (principal, said) = match verify_ssh_signature(signature, allowed_signers, text.as_bytes())
    {
        Ok(verified) => verified,
        Err(SignatureProblem::NotListed(why)) => {
            return Err(format!(
                "it is not signed by a key of `{}`{}",
                allowed_signers.display(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                }
            ));
        }
        Err(SignatureProblem::DoesNotHold(why)) => {
            return Err(format!(
                "the signature does not hold for this request (signed for another request, another command, or changed): {why}"
            ));
        }
    };
    let fingerprint = said
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap_or_default()
        .to_string();
    let own: Vec<String> = requester.keys.iter().map(PublicKey::fingerprint).collect();
    if own.contains(&fingerprint) {
        return Err(format!(
            "it is signed by the operator's own key ({fingerprint}): the operator cannot approve their own request"
        ));
    }
    let allowed = std::fs::read_to_string(allowed_signers).unwrap_or_default();
    if principal == requester.operator
        || principals_of(&allowed, &requester.keys).contains(principal.as_str())
    {
        return Err(format!(
            "it is signed by `{principal}`, the operator: the operator cannot approve their own request"
        ));
    }
    Ok(Approval {
        principal,
        fingerprint,
    })
}

/// Signs `text` with `key` (`ssh-keygen -Y sign -n runbook`): the armoured signature.
pub fn sign(text: &str, key: &Path) -> Result<Vec<u8>, String> {
    run_with_stdin(
        Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
            .arg(key),
        text.as_bytes(),
    )
}

/// The signature files of `request` beside `timeline`, oldest name first.
fn signature_files(timeline: &Path, request: &str) -> Vec<PathBuf> {
    let folder = timeline
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = file_prefix(timeline, request);
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with(&prefix) && name.ends_with(".sig")
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A signature file as read: a regular file (never a link), not too large.
fn readable_signature(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.file_type().is_file() {
        return Err("it is not a regular file (a link is never followed)".into());
    }
    if meta.len() > MAX_SIGNATURE {
        return Err(format!("it is {} bytes: not an SSH signature", meta.len()));
    }
    Ok(())
}

/// The request id of an earlier request of this step for the same command that was neither
/// approved and run nor finished: a resumed run comes back to the same wait, and approvals
/// signed meanwhile count; a retry after the command ran needs new approvals.
fn earlier_request(timeline: &Path, step: &str, sha256: &str) -> Option<String> {
    let reading = crate::timeline::read(timeline).ok()?;
    let mut found = None;
    for record in &reading.records {
        let here = record.step.as_deref() == Some(step);
        match &record.event {
            Event::ApprovalRequested {
                sha256: hash,
                request,
                ..
            } if here && hash == sha256 => found = Some(request.clone()),
            // Approved and run (a retry from the failure menu asks again), or finished.
            Event::Confirmed { .. } | Event::StepFinished { .. } if here => found = None,
            _ => {}
        }
    }
    found
}

impl Engine {
    /// Waits until `needed` other engineers approved `shown` (the command confirmed for step
    /// `id`); `Ok(Err(tried))` when the step ends here instead (paused, or it cannot wait).
    pub(crate) fn await_approvals(
        &mut self,
        id: &str,
        shown: &str,
        needed: u32,
    ) -> Result<Result<(), Tried>, Error> {
        let recorded = self.timeline.masker().mask(shown).into_owned();
        let sha256 = crate::timeline::sha256_hex(recorded.as_bytes());
        let operator = super::operator();
        if self.approval.scripted {
            let request = "scripted".to_string();
            self.record(
                Some(id),
                Event::ApprovalRequested {
                    command: recorded,
                    sha256,
                    request: request.clone(),
                    approvers: needed,
                    operator,
                    operator_keys: Vec::new(),
                },
            )?;
            self.record(
                Some(id),
                Event::Approved {
                    principal: "runbook test (scripted)".into(),
                    fingerprint: "scripted".into(),
                    request,
                    file: String::new(),
                },
            )?;
            return Ok(Ok(()));
        }
        let allowed = self.approval.allowed_signers.clone().unwrap_or_else(|| {
            self.settings
                .catalog
                .join(".runbook")
                .join("allowed_signers")
        });
        if !allowed.is_file() {
            self.screen.fail(&format!(
                "this action needs an approval, and there is no `{}` to check one against",
                allowed.display()
            ));
            return Ok(Err(Tried::failed_before_running(
                "an `allowed_signers` file to check approvals against",
                format!(
                    "`{}` does not exist: give `--allowed-signers FILE`, or write the catalog's `.runbook/allowed_signers`",
                    allowed.display()
                ),
            )));
        }
        let timeline = self.timeline.path().to_path_buf();
        let request = match earlier_request(&timeline, id, &sha256) {
            Some(request) => request,
            None => match random_hex() {
                Ok(request) => request,
                Err(why) => {
                    return Ok(Err(Tried::failed_before_running(
                        "a random request id",
                        why,
                    )));
                }
            },
        };
        let requester = Requester {
            operator: operator.clone(),
            keys: own_keys(),
        };
        self.record(
            Some(id),
            Event::ApprovalRequested {
                command: recorded,
                sha256: sha256.clone(),
                request: request.clone(),
                approvers: needed,
                operator: operator.clone(),
                operator_keys: requester.keys.iter().map(PublicKey::fingerprint).collect(),
            },
        )?;
        let text = request_text(self.timeline.incident(), id, &sha256, &request);
        self.screen.warn(&format!(
            "approval needed: {needed} other engineer{} must approve this command before it runs",
            if needed == 1 { "" } else { "s" }
        ));
        self.screen.info(&format!(
            "incident {} · step {id}",
            self.timeline.incident()
        ));
        self.screen.info(&format!("command sha256 {sha256}"));
        self.screen.info(&format!(
            "to approve, from another terminal: runbook approve {} {id}",
            timeline.display()
        ));
        if self.prompter.yes() {
            self.screen
                .info("--yes does not approve: waiting for a signed approval");
        }
        self.screen.info(&format!(
            "waiting; signatures are checked against {} (Ctrl-C pauses the run)",
            allowed.display()
        ));
        let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
        let mut approvals: Vec<Approval> = Vec::new();
        loop {
            for file in signature_files(&timeline, &request) {
                if !seen.insert(file.clone()) {
                    continue;
                }
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let verdict = readable_signature(&file)
                    .and_then(|()| verify(&text, &file, &allowed, &requester))
                    .and_then(|approval| {
                        if approvals.iter().any(|a| a.principal == approval.principal) {
                            Err(format!(
                                "`{}` approved this already: each approver counts once",
                                approval.principal
                            ))
                        } else if approvals
                            .iter()
                            .any(|a| a.fingerprint == approval.fingerprint)
                        {
                            Err(format!(
                                "the key {} approved this already: each approver counts once",
                                approval.fingerprint
                            ))
                        } else {
                            Ok(approval)
                        }
                    });
                match verdict {
                    Ok(approval) => {
                        self.record(
                            Some(id),
                            Event::Approved {
                                principal: approval.principal.clone(),
                                fingerprint: approval.fingerprint.clone(),
                                request: request.clone(),
                                file: name,
                            },
                        )?;
                        approvals.push(approval.clone());
                        self.screen.ok(&format!(
                            "approved by {} ({}) — {} of {needed}",
                            approval.principal,
                            approval.fingerprint,
                            approvals.len()
                        ));
                    }
                    Err(reason) => {
                        self.record(
                            Some(id),
                            Event::ApprovalRefused {
                                request: request.clone(),
                                file: name.clone(),
                                reason: reason.clone(),
                            },
                        )?;
                        self.screen
                            .fail(&format!("approval `{name}` refused: {reason}"));
                        self.screen.info("still waiting for a valid approval");
                    }
                }
            }
            if approvals.len() >= needed as usize {
                return Ok(Ok(()));
            }
            if self.interrupt.is_set() {
                self.interrupt.clear();
                return Ok(Err(Tried::Stop(Ending::Paused {
                    step: id.to_string(),
                })));
            }
            std::thread::sleep(POLL);
        }
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64, padding optional; `None` on any other character.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.trim_end_matches('=').bytes() {
        let value = BASE64.iter().position(|b| *b == byte)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Standard base64 without padding, as SSH fingerprints are written.
fn encode_base64_unpadded(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_those_ssh_keygen_prints() {
        // `ssh-keygen -lf` of this key says SHA256:mVCp+8kc0EAERxopYztICUx3NRaBJ24wgOTj6jw+b+c.
        let key = PublicKey::parse(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJmAOUfDUPtutSYH/UylKXSRhMSpI5aX3v5szZYBYNy a",
        )
        .expect("a public key");
        assert_eq!(
            key.fingerprint(),
            "SHA256:mVCp+8kc0EAERxopYztICUx3NRaBJ24wgOTj6jw+b+c"
        );
        assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(encode_base64_unpadded(b"hello"), "aGVsbG8");
        assert_eq!(encode_base64_unpadded(b"hi!"), "aGkh");
    }

    #[test]
    fn principals_of_keys_come_from_allowed_signers() {
        let allowed = "# team\nalice@example.com,al ssh-ed25519 AAAAC3Nz alice\nbob namespaces=\"runbook\" ssh-ed25519 AAAAB3Nz\n";
        let keys = [PublicKey {
            kind: "ssh-ed25519".into(),
            blob: "AAAAC3Nz".into(),
        }];
        let found: Vec<String> = principals_of(allowed, &keys).into_iter().collect();
        assert_eq!(found, ["al", "alice@example.com"]);
    }

    #[test]
    fn the_signed_text_names_everything_that_must_match() {
        let text = request_text("inc-1", "drain", "abc", "0123");
        assert_eq!(
            text,
            "runbook approval request 1\nincident: inc-1\nstep: drain\ncommand-sha256: abc\nrequest: 0123\n"
        );
    }
}
