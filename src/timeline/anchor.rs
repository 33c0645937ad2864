//! The anchor of a timeline's chain: the hash of its last line kept outside the file, in a
//! private sidecar (`INCIDENT.jsonl.head`), and at the end of a run and at each pause signed
//! with the operator's SSH key (`INCIDENT.jsonl.head.sig`, `ssh-keygen -Y sign -n runbook`)
//! when a key or an agent is at hand.
//!
//! The head is always [`HEAD_BYTES`] long: its JSON, padded with spaces, then a newline. A run
//! writes it once by replacement (a new file renamed over the old one, [`write_head`]), then
//! overwrites it in place ([`overwrite_head`]): one write at offset 0 and a data sync, no
//! rename, no new file, no folder sync, and since its length never changes the sync has no
//! metadata to commit. (The writer leaves the commit of a line unsynced until the next
//! announcement, the end or pause of the run, or the timeline's close: see its docs.) A killed
//! run leaves the last write whole (the write returned, or it did not happen); the head fits in
//! one disk sector, which a power cut does not tear.
//!
//! The chain alone proves that no line in the middle changed; the head proves that the file
//! still ends where the run left it (no dropped tail, no edited last line, no appended
//! event); the signature proves that the head itself is the operator's.
//!
//! A line is announced in the head (`pending`) before it is written and committed after, so
//! that a run killed in between leaves a head that tells a crash from a change.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::TimelineError;
use crate::files;

/// The signature namespace: a signature made for something else never passes for a head.
pub const NAMESPACE: &str = "runbook";

/// The last line of a timeline, as recorded beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The last line's `seq` (its line number); 0 before the first.
    pub seq: u64,
    /// Hex sha256 of the last line, without its newline; `""` before the first.
    pub sha256: String,
    /// The line being written when the head was: present only between announcing a line and
    /// committing it, so only after a crash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Line>,
}

/// A line of the timeline by number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub seq: u64,
    pub sha256: String,
}

/// Whether the file ends where its head says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchoring {
    /// The last line is the head's.
    Anchored,
    /// The run stopped while writing the last line (it is whole and announced, or torn).
    Interrupted,
    /// The file no longer ends where the head says: (line, why).
    Moved(usize, String),
}

/// Compares the whole lines of a file (without their newlines) with its head.
pub fn compare(head: &Head, lines: &[&[u8]]) -> Anchoring {
    let count = lines.len() as u64;
    let hash_of = |seq: u64| -> Option<String> {
        let index = usize::try_from(seq).ok()?.checked_sub(1)?;
        lines.get(index).map(|line| super::sha256_hex(line))
    };
    let is = |seq: u64, sha256: &str| {
        if seq == 0 {
            sha256.is_empty()
        } else {
            hash_of(seq).as_deref() == Some(sha256)
        }
    };
    if count == head.seq && is(head.seq, &head.sha256) {
        return Anchoring::Anchored;
    }
    if let Some(pending) = &head.pending
        && count == pending.seq
        && is(pending.seq, &pending.sha256)
        && is(head.seq, &head.sha256)
    {
        return Anchoring::Interrupted;
    }
    let seq = head.seq as usize;
    if count < head.seq {
        return Anchoring::Moved(
            lines.len() + 1,
            format!(
                "the file ends at line {count}, but its head names line {seq}: \
                 the lines after {count} were dropped"
            ),
        );
    }
    if !is(head.seq, &head.sha256) {
        return Anchoring::Moved(
            seq,
            format!(
                "line {seq} is not the line the head recorded: it was changed after it was \
                 written, or the file was rewritten"
            ),
        );
    }
    Anchoring::Moved(
        seq + 1,
        format!(
            "line {} and after were added after the last event the run recorded (line {seq})",
            seq + 1
        ),
    )
}

/// The length of a head file: room for the longest head (two 20-digit `seq`s and two hashes,
/// 219 bytes), padded with spaces, then a newline. Within one 512-byte disk sector.
pub const HEAD_BYTES: usize = 256;

impl Head {
    /// The sidecar's bytes: one JSON line, padded with spaces to [`HEAD_BYTES`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a head always serializes");
        if line.len() < HEAD_BYTES {
            line.resize(HEAD_BYTES - 1, b' ');
        }
        line.push(b'\n');
        line
    }
}

/// `INCIDENT.jsonl.head`, beside the timeline.
pub fn head_path(timeline: &Path) -> PathBuf {
    with_suffix(timeline, ".head")
}

/// `INCIDENT.jsonl.head.sig`, beside the timeline.
pub fn signature_path(timeline: &Path) -> PathBuf {
    with_suffix(timeline, ".head.sig")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Replaces the head sidecar (0600) in one step, and returns it open for
/// [`overwrite_head`].
pub fn write_head(timeline: &Path, head: &Head) -> std::io::Result<std::fs::File> {
    let path = head_path(timeline);
    files::write_atomically(&path, &head.to_bytes(), files::PRIVATE)?;
    files::open_to_overwrite(&path)
}

/// Overwrites the head that [`write_head`] wrote, in place; `sync` syncs it too.
pub fn overwrite_head(file: &std::fs::File, head: &Head, sync: bool) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let bytes = head.to_bytes();
    file.write_all_at(&bytes, 0)?;
    if bytes.len() != HEAD_BYTES {
        // Longer than any head can be; kept right all the same.
        file.set_len(bytes.len() as u64)?;
    }
    if sync { file.sync_data() } else { Ok(()) }
}

/// The head recorded beside `timeline`, if there is one.
pub fn read_head(timeline: &Path) -> Result<Option<Head>, TimelineError> {
    let path = head_path(timeline);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(TimelineError::Read { path, source }),
    };
    serde_json::from_str(text.trim_end())
        .map(Some)
        .map_err(|error| TimelineError::Malformed {
            path,
            line: 1,
            reason: format!("not a timeline head: {error}"),
        })
}

/// Signs the head sidecar with the operator's SSH key, if one can sign without asking for a
/// passphrase: `RUNBOOK_SIGNING_KEY` (a private key, or a public key whose private half is
/// in the agent), else the agent's first key, else an unencrypted `~/.ssh/id_ed25519`,
/// `id_ecdsa` or `id_rsa`. Returns the signature's path, `Ok(None)` when there is no key.
pub fn sign(timeline: &Path) -> Result<Option<PathBuf>, String> {
    let Some(key) = signing_key(timeline)? else {
        return Ok(None);
    };
    let head =
        std::fs::read(head_path(timeline)).map_err(|e| format!("cannot read the head: {e}"))?;
    let signed = run_with_stdin(
        Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
            .arg(key.path()),
        &head,
    );
    drop(key);
    let signature = signed?;
    let path = signature_path(timeline);
    files::write_atomically(&path, &signature, files::PRIVATE)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(Some(path))
}

/// Who signed the head, checked against an `allowed_signers` file (as `ssh-keygen -Y verify`
/// reads it); the error says why the signature does not hold.
pub fn check_signature(timeline: &Path, allowed_signers: &Path) -> Result<String, String> {
    let signature = signature_path(timeline);
    if !signature.is_file() {
        return Err(format!(
            "there is no signature `{}`: the head was never signed",
            signature.display()
        ));
    }
    let head =
        std::fs::read(head_path(timeline)).map_err(|e| format!("cannot read the head: {e}"))?;
    match verify_ssh_signature(&signature, allowed_signers, &head) {
        Ok((principal, _)) => Ok(principal),
        Err(SignatureProblem::NotListed(why)) => Err(format!(
            "the key that signed it is not in `{}` ({why})",
            allowed_signers.display()
        )),
        Err(SignatureProblem::DoesNotHold(why)) => Err(format!(
            "the signature does not match the head (it was changed after it was signed): {why}"
        )),
    }
}

/// Why an SSH signature does not count.
pub(crate) enum SignatureProblem {
    /// No line of `allowed_signers` has the key that made it (what ssh-keygen said).
    NotListed(String),
    /// Its key is listed, but it is not a signature of these bytes in [`NAMESPACE`].
    DoesNotHold(String),
}

/// Checks `signature` over `signed` against `allowed_signers`, as `ssh-keygen -Y
/// find-principals` then `-Y verify` do: the first principal of the key for which it holds,
/// and what ssh-keygen printed (the key's fingerprint).
pub(crate) fn verify_ssh_signature(
    signature: &Path,
    allowed_signers: &Path,
    signed: &[u8],
) -> Result<(String, String), SignatureProblem> {
    let principals = run_with_stdin(
        Command::new("ssh-keygen")
            .args(["-Y", "find-principals", "-s"])
            .arg(signature)
            .arg("-f")
            .arg(allowed_signers),
        &[],
    )
    .map_err(SignatureProblem::NotListed)?;
    let principals = String::from_utf8_lossy(&principals);
    let mut last_error = String::from("no principal");
    for principal in principals.lines().map(str::trim).filter(|p| !p.is_empty()) {
        let verified = run_with_stdin(
            Command::new("ssh-keygen")
                .args(["-Y", "verify", "-n", NAMESPACE, "-f"])
                .arg(allowed_signers)
                .arg("-I")
                .arg(principal)
                .arg("-s")
                .arg(signature),
            signed,
        );
        match verified {
            Ok(said) => {
                return Ok((
                    principal.to_string(),
                    String::from_utf8_lossy(&said).into_owned(),
                ));
            }
            Err(why) => last_error = why,
        }
    }
    Err(SignatureProblem::DoesNotHold(last_error))
}

/// A key `ssh-keygen -Y sign -f` can use without a prompt; a public key written for the
/// agent is removed when this is dropped.
enum SigningKey {
    File(PathBuf),
    Temporary(PathBuf),
}

impl SigningKey {
    fn path(&self) -> &Path {
        match self {
            SigningKey::File(path) | SigningKey::Temporary(path) => path,
        }
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        if let SigningKey::Temporary(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn signing_key(timeline: &Path) -> Result<Option<SigningKey>, String> {
    if let Some(key) = std::env::var_os("RUNBOOK_SIGNING_KEY").filter(|k| !k.is_empty()) {
        return Ok(Some(SigningKey::File(PathBuf::from(key))));
    }
    if std::env::var_os("SSH_AUTH_SOCK").is_some()
        && let Ok(keys) = run_with_stdin(Command::new("ssh-add").arg("-L"), &[])
        && let Some(first) = String::from_utf8_lossy(&keys).lines().next()
    {
        let path = with_suffix(timeline, ".head.signer.pub");
        files::write_atomically(&path, format!("{first}\n").as_bytes(), files::PRIVATE)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        return Ok(Some(SigningKey::Temporary(path)));
    }
    let Some(home) = std::env::var_os("HOME") else {
        return Ok(None);
    };
    let ssh = PathBuf::from(home).join(".ssh");
    for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
        let key = ssh.join(name);
        // `-y -P ''` prints the public key of an unencrypted key, and fails on a key that
        // would ask for its passphrase: a run never stops at a prompt to sign.
        if key.is_file()
            && run_with_stdin(
                Command::new("ssh-keygen")
                    .args(["-y", "-P", "", "-f"])
                    .arg(&key),
                &[],
            )
            .is_ok()
        {
            return Ok(Some(SigningKey::File(key)));
        }
    }
    Ok(None)
}

/// Runs a tool with `input` on stdin; its stdout, or its trimmed stderr as the error.
pub(crate) fn run_with_stdin(command: &mut Command, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `ssh-keygen`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("ssh-keygen failed: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}
