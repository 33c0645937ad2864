//! `runbook timeline`: the chronology, the postmortem draft, JSON, and `verify` on intact and
//! tampered files. Timelines are written through the library, as the executor writes them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use runbook::secrets::Masker;
use runbook::timeline::{Event, Outcome, RunOutcome, Timeline};

use crate::common::{output, runbook_in};

const SECRET: &str = "tok-Zq81-very-secret";

/// An RFC 3339 time this long before now.
fn ago(seconds: i64) -> String {
    let now = jiff::Timestamp::now();
    format!("{:.3}", now - jiff::SignedDuration::from_secs(seconds))
}

/// A whole incident: a check fanned out, a decision, an action with a secret in its command
/// and output, a note, an escalation, resolved. The alert fired 12 minutes 30 seconds ago.
fn incident(dir: &Path, rehearsal: bool) -> PathBuf {
    let path = dir.join("timelines/INC-42.jsonl");
    let mut timeline = Timeline::create(&path, "INC-42", Masker::new([SECRET.to_string()]))
        .expect("a new timeline");
    let mut record = |step: Option<&str>, event: Event| timeline.record(step, event).unwrap();
    record(
        None,
        Event::RunStarted {
            runbook: "user-sync/push-failures".into(),
            path: "runbooks/user-sync/push-failures.yaml".into(),
            sha256: "0f".repeat(32),
            git_commit: Some("8bd6a7a0c1d2e3f4".into()),
            operator: "alice@laptop".into(),
            inputs: BTreeMap::from([
                ("env".to_string(), "prod".to_string()),
                ("token".to_string(), "***".to_string()),
            ]),
            alerted_at: Some(ago(750)),
            rehearsal,
            from: None,
            flags: Default::default(),
            anchored: false,
            alert: None,
        },
    );
    record(
        Some("health"),
        Event::StepStarted {
            kind: "check".into(),
            name: "Every backend answers its health check".into(),
        },
    );
    for host in ["web-1", "web-2"] {
        record(
            Some("health"),
            Event::Http {
                host: host.into(),
                method: "GET".into(),
                url: format!("http://{host}:8080/health"),
                status: Some(200),
                duration_ms: 42,
                body: "ok".into(),
                error: None,
            },
        );
    }
    record(
        Some("health"),
        Event::StepFinished {
            outcome: Outcome::Passed,
            reason: None,
            state: None,
        },
    );
    record(
        Some("how-bad"),
        Event::StepStarted {
            kind: "decision".into(),
            name: "How many backends are down?".into(),
        },
    );
    record(
        Some("how-bad"),
        Event::Answer {
            choice: Some("Some of them".into()),
            value: None,
        },
    );
    record(
        Some("how-bad"),
        Event::StepFinished {
            outcome: Outcome::Done,
            reason: None,
            state: None,
        },
    );
    record(
        Some("drain"),
        Event::StepStarted {
            kind: "action".into(),
            name: "Take the sick backend out".into(),
        },
    );
    let command = format!("curl -H 'Authorization: Bearer {SECRET}' https://lb/drain | tee log");
    record(
        Some("drain"),
        Event::Confirmed {
            command: command.clone(),
        },
    );
    record(
        Some("drain"),
        Event::Command {
            host: "lb-1".into(),
            command,
            exit: Some(0),
            duration_ms: 1_250,
            stdout: format!("using token {SECRET}\ndrained web-2\n"),
            stderr: String::new(),
            timed_out: false,
        },
    );
    record(
        Some("drain"),
        Event::Note {
            text: "web-2 had a full disk".into(),
        },
    );
    record(
        Some("drain"),
        Event::StepFinished {
            outcome: if rehearsal {
                Outcome::Rehearsed
            } else {
                Outcome::Done
            },
            reason: None,
            state: None,
        },
    );
    record(
        Some("escalate"),
        Event::Escalated {
            contact: "IAM team (+33 1 00 00 00 00)".into(),
        },
    );
    record(
        None,
        Event::RunFinished {
            outcome: RunOutcome::Resolved,
            duration_ms: 4_000,
            skipped_failures: Vec::new(),
        },
    );
    path
}

fn timeline(dir: &Path, args: &[&str]) -> (i32, String, String) {
    output(runbook_in(dir).arg("timeline").args(args))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn text_is_a_chronology_one_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    incident(dir.path(), false);
    let (code, stdout, stderr) = timeline(dir.path(), &["timelines/INC-42.jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    assert!(
        stdout.starts_with("incident INC-42 · times in UTC\n── "),
        "{stdout}"
    );
    let events: Vec<&str> = stdout
        .lines()
        .filter(|l| l.len() > 8 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':')
        .map(|l| &l[8..])
        .collect();
    assert_eq!(events.len(), 15, "{stdout}");
    for (step, what) in [
        ("", "▶ run started: user-sync/push-failures by alice@laptop"),
        ("health", "▸ Every backend answers its health check (check)"),
        (
            "health",
            "↗ GET http://web-1:8080/health on web-1 → 200 · 42ms",
        ),
        ("health", "✔ check passed"),
        ("how-bad", "? chose “Some of them”"),
        ("how-bad", "✔ decision done"),
        (
            "drain",
            "✓ confirmed: curl -H 'Authorization: Bearer ***' https://lb/drain | tee log",
        ),
        (
            "drain",
            "$ curl -H 'Authorization: Bearer ***' https://lb/drain | tee log on lb-1 → exit 0 · 1.2s",
        ),
        ("drain", "✎ note: web-2 had a full disk"),
        ("drain", "✔ action done"),
        ("escalate", "☎ escalated to IAM team (+33 1 00 00 00 00)"),
        ("", "■ run resolved in 4.0s"),
    ] {
        // The step column is as wide as the longest step id, `escalate`.
        let expected = format!("  {step:<8}  {what}");
        assert!(
            events.contains(&expected.as_str()),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(stdout.contains("inputs: env=prod, token=***\n"), "{stdout}");
    assert!(stdout.contains(", 12m 30s before\n"), "{stdout}");
    assert!(stdout.contains("│ drained web-2\n"), "{stdout}");
}

#[test]
fn md_is_a_postmortem_draft() {
    let dir = tempfile::tempdir().unwrap();
    incident(dir.path(), false);
    let (code, md, stderr) = timeline(dir.path(), &["timelines/INC-42.jsonl", "--format", "md"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(md.starts_with("# Postmortem: incident `INC-42`\n"), "{md}");
    assert!(!md.contains("Rehearsal"), "{md}");
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        headings,
        [
            "## Summary",
            "## Timeline",
            "## Commands run",
            "## Decisions and notes",
            "## Escalations",
            "## Impact",
            "## Root cause",
            "## What went well",
            "## What went wrong",
            "## Action items",
        ]
    );
    for expected in [
        "| Runbook | `user-sync/push-failures` (`runbooks/user-sync/push-failures.yaml`) |",
        "| Runbook version | sha256 `0f0f0f0f0f0f`, commit `8bd6a7a0c1d2` |",
        "| Operator | alice@laptop |",
        "| Inputs | `env=prod`, `token=***` |",
        "| Outcome | resolved (run time 4.0s) |",
        "| Time to acknowledge | 12m 30s (alert → run started) |",
        "| Time to restore service | 12m 30s (alert → resolved) |",
        "| Time | Step | Event | Detail |",
        "| `health` | step_finished | passed |",
        "| `how-bad` | answer | chose **Some of them** |",
        "| `escalate` | escalated | IAM team (+33 1 00 00 00 00) |",
        "```sh\ncurl -H 'Authorization: Bearer ***' https://lb/drain | tee log\n```",
        "stdout:\n\n```text\nusing token ***\ndrained web-2\n```",
        "```http\nGET http://web-2:8080/health\n```",
        "` — chose **Some of them**",
        "`drain` — note: web-2 had a full disk",
        "`escalate` — escalated to IAM team (+33 1 00 00 00 00)",
        "1. Why?\n2. Why?\n3. Why?\n4. Why?\n5. Why?\n",
        "| Action | Owner | Due date |\n|---|---|---|\n| | | |\n",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in\n{md}");
    }
    // A pipe in a command does not split its table cell.
    assert!(
        md.contains("https://lb/drain \\| tee log` on lb-1: exit 0 in 1.2s |"),
        "{md}"
    );
    assert!(md.contains("### 3. "), "three commands run: {md}");
}

#[test]
fn md_marks_a_rehearsal_at_the_top() {
    let dir = tempfile::tempdir().unwrap();
    incident(dir.path(), true);
    let (code, md, stderr) = timeline(dir.path(), &["timelines/INC-42.jsonl", "--format", "md"]);
    assert_eq!(code, 0, "{stderr}");
    let top: Vec<&str> = md.lines().take(3).collect();
    assert!(top[2].starts_with("> **Rehearsal.**"), "{md}");
    assert!(md.contains("| step_finished | rehearsed |"), "{md}");
}

#[test]
fn json_is_the_array_of_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = incident(dir.path(), false);
    let (code, stdout, stderr) =
        timeline(dir.path(), &["timelines/INC-42.jsonl", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let events: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(events.len(), lines(&path).len());
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], i + 1);
        assert_eq!(event["incident"], "INC-42");
    }
    assert_eq!(events[0]["event"], "run_started");
    assert_eq!(events[0]["prev"], "");
    assert_eq!(events[0]["rehearsal"], false);
    assert_eq!(events[2]["step"], "health");
    assert_eq!(events[2]["status"], 200);
    assert_eq!(events.last().unwrap()["outcome"], "resolved");
}

#[test]
fn verify_passes_an_intact_timeline() {
    let dir = tempfile::tempdir().unwrap();
    incident(dir.path(), false);
    let (code, stdout, stderr) = timeline(dir.path(), &["verify", "timelines/INC-42.jsonl"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            0,
            "✔ 15 events, chain intact, ends at its head `timelines/INC-42.jsonl.head`\n  \
             the head is not signed: a rewrite of the file and its head together would not show\n",
            ""
        )
    );
}

#[test]
fn verify_finds_one_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = incident(dir.path(), false);
    let mut lines = lines(&path);
    // The operator's note on line 12, rewritten after the fact.
    assert!(lines[11].contains("full disk"));
    lines[11] = lines[11].replace("full disk", "full dusk");
    write_lines(&path, &lines);
    let (code, stdout, _) = timeline(dir.path(), &["verify", "timelines/INC-42.jsonl"]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "✘ line 13: `prev` is not the hash of line 12; line 12 was changed, or a line was removed or moved\n"
    );
}

#[test]
fn verify_finds_a_deleted_line_and_reordered_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = incident(dir.path(), false);
    let original = lines(&path);

    let mut deleted = original.clone();
    deleted.remove(5);
    write_lines(&path, &deleted);
    let (code, stdout, _) = timeline(dir.path(), &["verify", "timelines/INC-42.jsonl"]);
    assert_eq!(
        (code, stdout.as_str()),
        (
            1,
            "✘ line 6: `seq` is 7 where 6 was expected; a line was removed, added or moved\n"
        )
    );

    let mut reordered = original.clone();
    reordered.swap(7, 8);
    write_lines(&path, &reordered);
    let (code, stdout, _) = timeline(dir.path(), &["verify", "timelines/INC-42.jsonl"]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("✘ line 8: `seq` is 9 where 8 was expected"),
        "{stdout}"
    );

    // A line that is no longer JSON is named itself.
    let mut broken = original;
    broken[3].truncate(20);
    write_lines(&path, &broken);
    let (code, stdout, _) = timeline(dir.path(), &["verify", "timelines/INC-42.jsonl"]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("✘ line 4: not a timeline event: "),
        "{stdout}"
    );
}

#[test]
fn a_torn_last_line_is_reported_and_the_rest_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = incident(dir.path(), false);
    let torn = r#"{"seq":16,"at":"2026-11-21T03:04:05.123Z","event":"no"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(torn.as_bytes())
        .unwrap();
    let warning = format!(
        "warning: `timelines/INC-42.jsonl:16` is a torn last line ({} bytes without a newline: the writer stopped mid-line); it is ignored\n",
        torn.len()
    );
    for args in [
        &["timelines/INC-42.jsonl"][..],
        &["timelines/INC-42.jsonl", "--format", "md"],
        &["timelines/INC-42.jsonl", "--format", "json"],
    ] {
        let (code, stdout, stderr) = timeline(dir.path(), args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert_eq!(stderr, warning, "{args:?}");
        assert!(stdout.contains("resolved"), "{args:?}: {stdout}");
    }
    let (code, stdout, stderr) = timeline(dir.path(), &["verify", "timelines/INC-42.jsonl"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("✔ 15 events, chain intact, ends at its head"));
    assert_eq!(stderr, warning);
}

#[test]
fn a_secret_never_reaches_the_file_nor_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = incident(dir.path(), false);
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains(SECRET), "{file}");
    assert!(file.contains("using token ***"), "{file}");
    for format in ["text", "md", "json"] {
        let (code, stdout, _) =
            timeline(dir.path(), &["timelines/INC-42.jsonl", "--format", format]);
        assert_eq!(code, 0);
        assert!(!stdout.contains(SECRET), "{format}: {stdout}");
    }
}

#[test]
fn a_missing_file_is_one_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["nope.jsonl"][..], &["verify", "nope.jsonl"]] {
        let (code, stdout, stderr) = timeline(dir.path(), args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (2, "", "error: the timeline `nope.jsonl` does not exist\n"),
            "{args:?}"
        );
    }
}

#[test]
fn a_bad_line_in_the_middle_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = incident(dir.path(), false);
    let mut lines = lines(&path);
    lines[4] = "{\"seq\": oops}".into();
    write_lines(&path, &lines);
    let (code, stdout, stderr) = timeline(dir.path(), &["timelines/INC-42.jsonl"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with("error: `timelines/INC-42.jsonl:5` is not a timeline event: "),
        "{stderr}"
    );
}

/// A key for `ssh-keygen -Y sign`, and the `allowed_signers` file that trusts it.
fn signing_key(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("operator_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = dir.join("allowed_signers");
    std::fs::write(&allowed, format!("alice@laptop {public}")).unwrap();
    (key, allowed)
}

/// A real run, its head signed with `key`: `timelines/INC-9.jsonl`.
fn signed_run(dir: &Path, key: &Path) -> PathBuf {
    let (code, stdout, stderr) = output(
        runbook_in(dir)
            .args(["run", "--yes", "--incident", "INC-9"])
            .arg(crate::common::fixture("run/resume.yaml"))
            .args(["--set", "who=ada"])
            .env("RUNBOOK_SIGNING_KEY", key),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let timeline = dir.join("timelines/INC-9.jsonl");
    assert!(
        dir.join("timelines/INC-9.jsonl.head.sig").is_file(),
        "the head was not signed"
    );
    timeline
}

/// `runbook timeline verify` with and without the signers; (exit code, stdout).
fn verify_both(dir: &Path, allowed: &Path) -> [(i32, String); 2] {
    let (plain, stdout, _) = timeline(dir, &["verify", "timelines/INC-9.jsonl"]);
    let (signed, signed_out, _) = output(
        runbook_in(dir)
            .args([
                "timeline",
                "verify",
                "timelines/INC-9.jsonl",
                "--allowed-signers",
            ])
            .arg(allowed),
    );
    [(plain, stdout), (signed, signed_out)]
}

/// Each way to tamper with a finished timeline, and whether `verify` catches it without
/// the signature and with it. Before the head, none of the first four was caught.
#[test]
fn tampering_with_the_end_of_a_timeline_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (key, allowed) = signing_key(dir.path());
    let path = signed_run(dir.path(), &key);
    let original = lines(&path);
    let head = std::fs::read(path.with_extension("jsonl.head")).unwrap();

    let [(code, stdout), (signed, signed_out)] = verify_both(dir.path(), &allowed);
    assert_eq!((code, signed), (0, 0), "{stdout}\n{signed_out}");
    assert!(
        signed_out.contains("✔ head signed by alice@laptop"),
        "{signed_out}"
    );

    let rechain = |lines: &mut Vec<String>| {
        let mut prev = String::new();
        for (i, line) in lines.iter_mut().enumerate() {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["seq"] = (i as u64 + 1).into();
            value["prev"] = prev.clone().into();
            *line = serde_json::to_string(&value).unwrap();
            prev = runbook::timeline::sha256_hex(line.as_bytes());
        }
    };
    let last = original.len();
    let mut cases: Vec<(&str, Vec<String>, bool, &str)> = Vec::new();
    // The tail dropped: the last two events never happened.
    cases.push((
        "dropped tail",
        original[..last - 2].to_vec(),
        false,
        "were dropped",
    ));
    // The last line edited: the run "resolved" sooner.
    let mut edited = original.clone();
    edited[last - 1] = edited[last - 1].replace("\"duration_ms\":", "\"duration_ms\":1");
    cases.push((
        "edited last line",
        edited,
        false,
        "is not the line the head recorded",
    ));
    // An event appended, chained on the last line as the writer would.
    let mut appended = original.clone();
    appended.push(
        r#"{"seq":0,"at":"2026-12-02T04:00:00.000Z","event":"note","incident":"INC-9","prev":"","text":"all fine"}"#
            .to_string(),
    );
    rechain(&mut appended);
    cases.push(("forged append", appended, false, "were added after"));
    for (name, lines, _, why) in &cases {
        write_lines(&path, lines);
        for (code, stdout) in verify_both(dir.path(), &allowed) {
            assert_eq!(code, 1, "{name}: {stdout}");
            assert!(stdout.contains(why), "{name}: {stdout}");
        }
    }

    // The whole file and its head rewritten together: only the signature tells.
    let mut rewritten = original.clone();
    assert!(rewritten[0].contains("ada"));
    rewritten[0] = rewritten[0].replace("ada", "bob");
    rechain(&mut rewritten);
    write_lines(&path, &rewritten);
    let forged_head = format!(
        "{{\"seq\":{},\"sha256\":\"{}\"}}\n",
        rewritten.len(),
        runbook::timeline::sha256_hex(rewritten.last().unwrap().as_bytes())
    );
    std::fs::write(path.with_extension("jsonl.head"), forged_head).unwrap();
    let [(code, stdout), (signed, signed_out)] = verify_both(dir.path(), &allowed);
    assert_eq!(
        code, 0,
        "without a signature a whole rewrite passes: {stdout}"
    );
    assert_eq!(signed, 1, "{signed_out}");
    assert!(signed_out.contains("✘ signature"), "{signed_out}");

    // The head removed: line 1 says the run kept one, so `verify` fails even without the
    // signature (deleting the head and dropping the tail used to pass).
    write_lines(&path, &original);
    std::fs::remove_file(path.with_extension("jsonl.head")).unwrap();
    let [(code, stdout), (signed, signed_out)] = verify_both(dir.path(), &allowed);
    assert_eq!(code, 1, "{stdout}");
    write_lines(&path, &original[..original.len() - 2]);
    let [(code, dropped), _] = verify_both(dir.path(), &allowed);
    assert_eq!(code, 1, "a dropped tail with the head deleted: {dropped}");
    write_lines(&path, &original);
    assert_eq!(signed, 1, "{signed_out}");
    assert!(
        stdout.contains("keeps a head") && signed_out.contains("is gone"),
        "{stdout}\n{signed_out}"
    );
    // And restored, all is well again.
    std::fs::write(path.with_extension("jsonl.head"), &head).unwrap();
    for (code, stdout) in verify_both(dir.path(), &allowed) {
        assert_eq!(code, 0, "{stdout}");
    }
}

/// The timeline and its head are private, and the chronology shows no control character.
#[test]
fn a_timeline_is_private_and_its_text_sanitised() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timelines/INC-1.jsonl");
    let mut t = Timeline::create(&path, "INC-1", Masker::default()).unwrap();
    t.record(
        Some("s"),
        Event::Note {
            text: "fine\r\u{1b}]0;owned\u{7}\u{202e}".into(),
        },
    )
    .unwrap();
    drop(t);
    for file in [&path, &path.with_extension("jsonl.head")] {
        assert_eq!(std::fs::metadata(file).unwrap().mode() & 0o777, 0o600);
    }
    assert_eq!(
        std::fs::metadata(dir.path().join("timelines"))
            .unwrap()
            .mode()
            & 0o777,
        0o700
    );
    for format in ["text", "md"] {
        let (code, stdout, _) =
            timeline(dir.path(), &["timelines/INC-1.jsonl", "--format", format]);
        assert_eq!(code, 0);
        assert!(
            stdout.contains(r"fine\r\x1b]0;owned\x07\u{202e}"),
            "{format}: {stdout:?}"
        );
    }
}
