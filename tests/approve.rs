//! Approvals (SPEC 7.10, issue 14 item 4), end to end with throw-away SSH keys: a real run of
//! `tests/fixtures/approve/drain.yaml` waits for a signed approval; `runbook approve` (or a
//! hand-made signature, for what the command itself refuses to write) signs it; the run checks
//! each signature with `ssh-keygen -Y verify` against an `allowed_signers` file.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// Generous: the tests run in parallel on small machines. A deadline for a failure, not a
/// measured time.
const DEADLINE: Duration = Duration::from_secs(30);

/// Whether `ssh-keygen` is here; without it the test skips loudly (and fails under CI).
fn have_ssh_keygen() -> bool {
    let found = Command::new("ssh-keygen")
        .arg("-?")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ssh-keygen is required under CI"
        );
        eprintln!("SKIPPED: ssh-keygen is not installed");
    }
    found
}

/// A workspace: `runbooks/drain.yaml`, three key pairs (`keys/op`, `keys/alice`,
/// `keys/mallory`), the operator's home with the operator's key as `~/.ssh/id_ed25519`, an
/// empty home for the others, and `allowed_signers` naming alice and the operator (mallory is
/// unknown).
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path();
        std::fs::create_dir_all(root.join("runbooks")).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/approve/drain.yaml"),
            root.join("runbooks/drain.yaml"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("keys")).unwrap();
        for name in ["op", "alice", "mallory"] {
            let made = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(root.join("keys").join(name))
                .status()
                .unwrap();
            assert!(made.success());
        }
        let ssh = root.join("home-op/.ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::copy(root.join("keys/op"), ssh.join("id_ed25519")).unwrap();
        std::fs::copy(root.join("keys/op.pub"), ssh.join("id_ed25519.pub")).unwrap();
        std::fs::create_dir_all(root.join("home-other")).unwrap();
        let public = |name: &str| {
            std::fs::read_to_string(root.join(format!("keys/{name}.pub")))
                .unwrap()
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        };
        std::fs::write(
            root.join("allowed_signers"),
            format!(
                "alice@example.com {}\nop@example.com {}\n",
                public("alice"),
                public("op")
            ),
        )
        .unwrap();
        Workspace { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn key(&self, name: &str) -> PathBuf {
        self.path().join("keys").join(name)
    }

    /// `runbook ARGS…` as the operator `op`: their home (and key), no agent.
    fn operator(&self, args: &[&str]) -> Command {
        let mut command = self.runbook(args);
        command
            .env("HOME", self.path().join("home-op"))
            .env("RUNBOOK_OPERATOR", "op");
        command
    }

    /// `runbook ARGS…` as another engineer, `who`, with an empty home.
    fn engineer(&self, who: &str, args: &[&str]) -> Command {
        let mut command = self.runbook(args);
        command
            .env("HOME", self.path().join("home-other"))
            .env("RUNBOOK_OPERATOR", who);
        command
    }

    fn runbook(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
        command
            .args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("RUNBOOK_SIGNING_KEY")
            .env_remove("RUNBOOK_CATALOG")
            .stdin(Stdio::null());
        command
    }

    fn timeline(&self, incident: &str) -> Vec<Value> {
        std::fs::read_to_string(self.path().join(format!("timelines/{incident}.jsonl")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn drained(&self) -> bool {
        self.path().join("drained.marker").exists()
    }
}

/// A run in the background: what it says (stdout and stderr), line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("runbook starts");
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let also = send.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if also.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line holding `text`; the line.
    #[track_caller]
    fn expect(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(DEADLINE) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "the run never said {text:?}; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code().unwrap_or(-1), self.seen.join("\n"))
    }
}

fn output(mut command: Command) -> (i32, String, String) {
    let out = command.output().expect("runbook starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fingerprint(public: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// The last `approval_requested` of the timeline.
fn request_of(events: &[Value]) -> Value {
    events
        .iter()
        .rev()
        .find(|e| e["event"] == "approval_requested")
        .expect("an approval request")
        .clone()
}

#[test]
fn only_a_signature_by_another_allowed_engineer_lets_the_action_run() {
    if !have_ssh_keygen() {
        return;
    }
    let ws = Workspace::new();
    let mut run = Running::start(ws.operator(&[
        "run",
        "runbooks/drain.yaml",
        "--incident",
        "inc-1",
        "--yes",
        "--allowed-signers",
        "allowed_signers",
    ]));
    run.expect("approval needed: 1 other engineer");
    run.expect("to approve, from another terminal: runbook approve");
    // `--yes` confirmed the action, and did not approve it.
    run.expect("--yes does not approve");
    run.expect("waiting;");
    assert!(!ws.drained(), "nothing runs before an approval");
    let events = ws.timeline("inc-1");
    let request = request_of(&events);
    assert_eq!(request["command"], "echo drained > drained.marker");
    assert_eq!(request["operator"], "op");
    assert_eq!(
        request["operator_keys"][0],
        fingerprint(&ws.key("op.pub")),
        "the operator's key is recorded with the request"
    );

    // An engineer whose key is not in allowed_signers: signed, and refused by the run.
    let mallory = ws.key("mallory");
    let (code, stdout, _) = output(ws.engineer(
        "mallory",
        &[
            "approve",
            "timelines/inc-1.jsonl",
            "drain",
            "--key",
            mallory.to_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("echo drained > drained.marker"), "{stdout}");
    assert!(
        stdout.contains(request["sha256"].as_str().unwrap()),
        "{stdout}"
    );
    let refused = run.expect("refused");
    assert!(refused.contains("not signed by a key of"), "{refused}");
    run.expect("still waiting");
    assert!(!ws.drained());

    // The operator's own key: `runbook approve` refuses to sign…
    let own = ws.key("op");
    let (code, _, stderr) = output(ws.engineer(
        "bob",
        &[
            "approve",
            "timelines/inc-1.jsonl",
            "drain",
            "--key",
            own.to_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the operator's own keys"), "{stderr}");
    // … and a signature made by hand with it (its principal is in allowed_signers) is
    // refused by the run.
    let text = format!(
        "runbook approval request 1\nincident: inc-1\nstep: drain\ncommand-sha256: {}\nrequest: {}\n",
        request["sha256"].as_str().unwrap(),
        request["request"].as_str().unwrap()
    );
    let signed = sign(&text, &own);
    let forged = ws.path().join(format!(
        "timelines/inc-1.jsonl.approval.{}.byhand.sig",
        request["request"].as_str().unwrap()
    ));
    std::fs::write(&forged, signed).unwrap();
    let refused = run.expect("refused");
    assert!(
        refused.contains("the operator cannot approve their own request"),
        "{refused}"
    );
    run.expect("still waiting");
    assert!(!ws.drained());

    // Alice's key over another request (a replay of another run's approval): refused.
    let alice = ws.key("alice");
    let replayed = ws.path().join(format!(
        "timelines/inc-1.jsonl.approval.{}.replay.sig",
        request["request"].as_str().unwrap()
    ));
    let other = text.replace(request["request"].as_str().unwrap(), "0000000000000000");
    std::fs::write(&replayed, sign(&other, &alice)).unwrap();
    let refused = run.expect("refused");
    assert!(
        refused.contains("does not hold for this request"),
        "{refused}"
    );
    assert!(!ws.drained());

    // The operator's name on another account: `runbook approve` says so.
    let (code, _, stderr) = output(ws.engineer(
        "op",
        &[
            "approve",
            "timelines/inc-1.jsonl",
            "drain",
            "--key",
            alice.to_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("you are the operator"), "{stderr}");

    // Without a terminal and without --yes, nothing is signed.
    let (code, _, stderr) = output(ws.engineer(
        "alice",
        &[
            "approve",
            "timelines/inc-1.jsonl",
            "drain",
            "--key",
            alice.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 3, "{stderr}");

    // Alice, allowed: the run goes on.
    let (code, stdout, stderr) = output(ws.engineer(
        "alice",
        &[
            "approve",
            "timelines/inc-1.jsonl",
            "drain",
            "--key",
            alice.to_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let approved = run.expect("approved by");
    assert!(approved.contains("alice@example.com"), "{approved}");
    let (code, said) = run.finish();
    assert_eq!(code, 0, "{said}");
    assert!(ws.drained());

    let events = ws.timeline("inc-1");
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["step"] == "drain")
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "step_started",
            "approval_requested",
            "approval_refused",
            "approval_refused",
            "approval_refused",
            "approved",
            "confirmed",
            "command",
            "step_finished"
        ]
    );
    let approved = events.iter().find(|e| e["event"] == "approved").unwrap();
    assert_eq!(approved["principal"], "alice@example.com");
    assert_eq!(approved["fingerprint"], fingerprint(&ws.key("alice.pub")));
    // The postmortem says who approved what.
    let (code, postmortem, _) =
        output(ws.operator(&["timeline", "timelines/inc-1.jsonl", "--format", "md"]));
    assert_eq!(code, 0, "{postmortem}");
    assert!(
        postmortem.contains("approved by alice@example.com"),
        "{postmortem}"
    );
    // The chain still verifies: the approvals were written beside it, never into it.
    let (code, _, stderr) = output(ws.operator(&["timeline", "verify", "timelines/inc-1.jsonl"]));
    assert_eq!(code, 0, "{stderr}");
    // A finished run has nothing left to approve.
    let (code, _, stderr) = output(ws.engineer(
        "alice",
        &[
            "approve",
            "timelines/inc-1.jsonl",
            "drain",
            "--key",
            alice.to_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("already finished"), "{stderr}");
}

#[test]
fn ctrl_c_pauses_the_wait_and_resume_comes_back_to_the_same_request() {
    if !have_ssh_keygen() {
        return;
    }
    let ws = Workspace::new();
    let mut run = Running::start(ws.operator(&[
        "run",
        "runbooks/drain.yaml",
        "--incident",
        "inc-2",
        "--yes",
        "--allowed-signers",
        "allowed_signers",
    ]));
    run.expect("waiting;");
    let pid = run.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    run.expect("Paused at step `drain`");
    let (code, said) = run.finish();
    assert_eq!(code, 130, "{said}");
    assert!(!ws.drained());
    let first = request_of(&ws.timeline("inc-2"));

    // Approved while the run is paused; the resumed run (its --allowed-signers restored)
    // finds the approval of the same request and goes on.
    let alice = ws.key("alice");
    let (code, _, stderr) = output(ws.engineer(
        "alice",
        &[
            "approve",
            "timelines/inc-2.jsonl",
            "drain",
            "--key",
            alice.to_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(code, 0, "{stderr}");
    let mut resumed =
        Running::start(ws.operator(&["run", "--resume", "timelines/inc-2.jsonl", "--yes"]));
    resumed.expect("approved by alice@example.com");
    let (code, said) = resumed.finish();
    assert_eq!(code, 0, "{said}");
    assert!(ws.drained());
    assert_eq!(
        request_of(&ws.timeline("inc-2"))["request"],
        first["request"]
    );
}

#[test]
fn without_allowed_signers_the_step_fails_with_a_clear_message() {
    if !have_ssh_keygen() {
        return;
    }
    let ws = Workspace::new();
    let (code, stdout, stderr) =
        output(ws.operator(&["run", "runbooks/drain.yaml", "--incident", "inc-3", "--yes"]));
    let said = format!("{stdout}{stderr}");
    assert_ne!(code, 0, "{said}");
    assert!(
        said.contains("allowed_signers") && said.contains("does not exist"),
        "{said}"
    );
    assert!(!ws.drained());
}

#[test]
fn runbook_test_scripts_the_approval_and_lint_knows_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/approve");
    for name in ["drain.yaml", "drain.test.yaml"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    let mut test = Command::new(env!("CARGO_BIN_EXE_runbook"));
    test.args(["test", "drain.yaml"]).current_dir(dir.path());
    let (code, stdout, stderr) = output(test);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");

    // An approval with nothing to check it against is found by lint, before 4 am.
    let lint = |file: &str| {
        let mut lint = Command::new(env!("CARGO_BIN_EXE_runbook"));
        lint.args(["lint", file]).current_dir(dir.path());
        let (code, stdout, stderr) = output(lint);
        (code, format!("{stdout}{stderr}"))
    };
    let (code, said) = lint("drain.yaml");
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("warning[no-allowed-signers]") && said.contains("drain.yaml:26:16"),
        "{said}"
    );
    std::fs::create_dir_all(dir.path().join("runbooks/.runbook")).unwrap();
    std::fs::write(dir.path().join("runbooks/.runbook/allowed_signers"), "").unwrap();
    let (code, said) = lint("drain.yaml");
    assert_eq!(code, 0, "{said}");
    assert!(!said.contains("no-allowed-signers"), "{said}");

    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(fixtures.join("drain.yaml"))
        .unwrap()
        .replace(
            "      run: echo looking\n",
            "      run: echo looking\n      approvers: 2\n",
        )
        .replace("      confirm: approve\n", "      approvers: 0\n");
    std::fs::write(&bad, text).unwrap();
    let mut lint = Command::new(env!("CARGO_BIN_EXE_runbook"));
    lint.args(["lint", "bad.yaml"]).current_dir(dir.path());
    let (code, stdout, stderr) = output(lint);
    let said = format!("{stdout}{stderr}");
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("misplaced-key"), "{said}");
    assert!(said.contains("`approvers: 0` asks nobody"), "{said}");
}

fn sign(text: &str, key: &Path) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "runbook", "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn at_a_terminal_the_operator_confirms_then_ctrl_c_pauses_the_wait() {
    use support::pty::{CTRL_C, Terminal};
    if !have_ssh_keygen() {
        return;
    }
    let ws = Workspace::new();
    let home = ws.path().join("home-op");
    let mut terminal = Terminal::spawn_env(
        ws.path(),
        &[
            "run",
            "runbooks/drain.yaml",
            "--incident",
            "inc-4",
            "--allowed-signers",
            "allowed_signers",
        ],
        &[
            ("NO_COLOR", "1"),
            ("HOME", home.to_str().unwrap()),
            ("RUNBOOK_OPERATOR", "op"),
            ("SSH_AUTH_SOCK", ""),
        ],
    );
    // The operator's own yes comes first…
    terminal.pick("Run it on local?", 1);
    // … then the wait for somebody else's.
    terminal.expect("approval needed: 1 other engineer");
    terminal.expect("waiting;");
    terminal.send(CTRL_C);
    terminal.expect("Paused at step `drain`");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 130, "{screen}");
    assert!(!ws.drained());
    let events = ws.timeline("inc-4");
    assert_eq!(events.last().unwrap()["event"], "run_paused");
}
