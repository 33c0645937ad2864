//! `runbook run`: walked through at a real pseudo-terminal as a person would, then judged by
//! what the screen showed and, above all, by the timeline file the run left behind. The
//! runbooks are in `tests/fixtures/run/`; each run happens in a temporary folder, where their
//! commands leave marker files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::{fixture, output, runbook_in};
use crate::pty::{CTRL_C, ESC, EXPECT_TIMEOUT, Terminal};

// ───────────────────────────── the timeline ─────────────────────────────

/// The events of a timeline file, in order.
fn events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the timeline {}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// The events named `name`, and of `step` when given.
fn find<'a>(events: &'a [Value], name: &str, step: Option<&str>) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == name)
        .filter(|e| step.is_none_or(|s| e["step"] == s))
        .collect()
}

/// The one event named `name` (of `step`), or a panic that shows the timeline.
#[track_caller]
fn only<'a>(events: &'a [Value], name: &str, step: Option<&str>) -> &'a Value {
    let found = find(events, name, step);
    assert_eq!(
        found.len(),
        1,
        "expected one `{name}` event{} in\n{}",
        step.map(|s| format!(" of step `{s}`")).unwrap_or_default(),
        show(events)
    );
    found[0]
}

/// The outcome of the last `step_finished` of `step`.
#[track_caller]
fn outcome(events: &[Value], step: &str) -> String {
    find(events, "step_finished", Some(step))
        .last()
        .unwrap_or_else(|| panic!("step `{step}` never finished in\n{}", show(events)))["outcome"]
        .as_str()
        .expect("an outcome is text")
        .to_string()
}

/// One line per event, for failure messages.
fn show(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `runbook timeline verify FILE` accepts the file.
#[track_caller]
fn assert_verified(dir: &Path, timeline: &Path) {
    let (code, stdout, stderr) = output(runbook_in(dir).args(["timeline", "verify"]).arg(timeline));
    assert_eq!(code, 0, "verify failed:\n{stdout}{stderr}");
}

// ───────────────────────────── helpers ─────────────────────────────

/// A temporary folder to run in, and the timeline path inside it.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let timeline = dir.path().join("timeline.jsonl");
    (dir, timeline)
}

/// `run FIXTURE --catalog tests/fixtures/run --timeline TIMELINE` and more arguments.
fn run_args(name: &str, timeline: &Path, more: &[&str]) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        fixture(&format!("run/{name}.yaml")).display().to_string(),
        "--catalog".to_string(),
        fixture("run").display().to_string(),
        "--timeline".to_string(),
        timeline.display().to_string(),
    ];
    args.extend(more.iter().map(|a| a.to_string()));
    args
}

fn spawn_run(dir: &Path, name: &str, timeline: &Path, more: &[&str]) -> Terminal {
    let args = run_args(name, timeline, more);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Terminal::spawn(dir, &args)
}

/// `runbook run …` without a terminal (stdin is an empty pipe): (exit code, stdout, stderr).
fn run_plain(dir: &Path, name: &str, timeline: &Path, more: &[&str]) -> (i32, String, String) {
    output(runbook_in(dir).args(run_args(name, timeline, more)))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The pid a command wrote to `path`, once it is there.
#[track_caller]
fn wait_for_pid(path: &Path) -> u32 {
    let deadline = std::time::Instant::now() + EXPECT_TIMEOUT;
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .filter(|text| text.ends_with('\n'))
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pid in {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The process is gone: absent, or a zombie waiting for init to reap it.
#[track_caller]
fn assert_gone(pid: u32) {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next());
        assert_eq!(state, Some("Z"), "process {pid} survived: {stat}");
    }
}

// ───────────────────────────── at a terminal ─────────────────────────────

#[test]
fn a_person_walks_a_runbook_to_the_end() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "walk", &timeline, &[]);

    // A note first (third entry of the menu), then done.
    t.expect("Step 1/6 · Open the dashboard");
    t.pick("When you have done it", 2);
    t.answer("Note for the timeline", "paged at 04:12, error rate 7 %");
    t.expect("note recorded");
    t.pick("When you have done it", 0);
    // Confirm the first action ("No" is the default), decline the second.
    t.expect("Step 2/6 · Restart the worker");
    t.expect("local$ touch restart.marker");
    t.pick("Run it on local?", 1);
    t.expect("exit 0");
    t.expect("Step 3/6 · Purge the cache");
    t.pick("Run it on local?", 0);
    t.pick("Not run. What now?", 1);
    t.expect("skipped: declined");
    t.expect("Step 4/6 · Is it better?");
    t.pick("Is the error rate back to normal?", 1);
    t.expect("Back to normal");
    t.expect("Step 6/6 · Write down who was on call");
    // The input with no default is asked when the step that uses it comes (issue 13).
    t.answer("Who is on call", "ada-lovelace");
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();

    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("The long way"), "{screen}");
    assert!(
        dir.join("restart.marker").exists(),
        "the confirmed action ran"
    );
    assert!(
        !dir.join("purge.marker").exists(),
        "the declined action ran"
    );
    assert!(
        !dir.join("long-way.marker").exists(),
        "the other choice ran"
    );
    assert_eq!(read(&dir.join("who.txt")), "ada-lovelace");

    let events = events(&timeline);
    assert!(
        only(&events, "run_started", None)["inputs"]
            .get("who")
            .is_none(),
        "known at the start only"
    );
    let given = only(&events, "input_given", Some("short-way"));
    assert_eq!(
        (&given["name"], &given["value"]),
        (&"who".into(), &"ada-lovelace".into())
    );
    assert_eq!(
        only(&events, "note", Some("prepare"))["text"],
        "paged at 04:12, error rate 7 %"
    );
    assert_eq!(outcome(&events, "prepare"), "done");
    assert_eq!(
        only(&events, "confirmed", Some("restart"))["command"],
        "touch restart.marker"
    );
    assert_eq!(outcome(&events, "restart"), "done");
    assert_eq!(
        only(&events, "declined", Some("purge"))["command"],
        "touch purge.marker"
    );
    assert!(find(&events, "command", Some("purge")).is_empty());
    assert_eq!(outcome(&events, "purge"), "skipped");
    assert_eq!(
        only(&events, "answer", Some("route"))["choice"],
        "Back to normal"
    );
    assert!(
        find(&events, "step_started", Some("long-way")).is_empty(),
        "the run did not follow the choice's `next`:\n{}",
        show(&events)
    );
    assert_eq!(outcome(&events, "short-way"), "passed");
    assert_eq!(only(&events, "run_finished", None)["outcome"], "resolved");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    assert_verified(dir, &timeline);
}

#[test]
fn quit_pauses_the_run_and_resume_finishes_it_without_repeating_a_step() {
    let (dir, timeline) = workspace();
    let dir = dir.path();

    let mut t = spawn_run(dir, "resume", &timeline, &["--set", "who=grace"]);
    t.expect("Step 2/5 · Tell the team");
    t.pick("When you have done it", 0);
    t.expect("Step 3/5 · Drain the queue");
    t.pick("Run it on local?", 1);
    t.expect("Step 4/5 · The queue is empty");
    // Done, Skip, note, then Quit.
    t.pick("When you have done it", 3);
    t.expect("Paused at step `verify`");
    t.expect("runbook run --resume");
    let (code, screen) = t.finish();
    assert_eq!(code, 130, "{screen}");
    let paused = events(&timeline);
    assert_eq!(
        paused.last().unwrap()["event"],
        "run_paused",
        "{}",
        show(&paused)
    );
    assert_eq!(paused.last().unwrap()["at_step"], "verify");
    assert!(find(&paused, "run_finished", None).is_empty());
    assert!(!dir.join("wrap-up.log").exists());

    let timeline_arg = timeline.display().to_string();
    let mut t = Terminal::spawn(dir, &["run", "--resume", &timeline_arg]);
    t.expect("resuming at step `verify`");
    t.expect("Step 4/5 · The queue is empty");
    t.pick("When you have done it", 0);
    t.expect("Step 5/5 · Sign the log");
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("Drain the queue"), "{screen}");

    // Each command ran once; the input came back from the timeline.
    assert_eq!(read(&dir.join("look.log")), "ran\n");
    assert_eq!(read(&dir.join("apply.log")), "ran\n");
    assert_eq!(read(&dir.join("wrap-up.log")), "grace\n");

    let events = events(&timeline);
    assert_eq!(
        events[..paused.len()],
        paused[..],
        "the timeline was rewritten"
    );
    let resumed = &events[paused.len()];
    assert_eq!(resumed["event"], "run_resumed", "{}", show(&events));
    assert_eq!(resumed["at_step"], "verify");
    let after = &events[paused.len()..];
    for done in find(&paused, "step_finished", None) {
        let step = done["step"].as_str().unwrap();
        assert!(
            find(after, "step_started", Some(step)).is_empty(),
            "step `{step}` had finished before the pause, yet started again:\n{}",
            show(&events)
        );
    }
    assert_eq!(
        find(&events, "step_finished", None)
            .iter()
            .map(|e| e["step"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["look", "prepare", "apply", "verify", "wrap-up"]
    );
    assert_eq!(only(&events, "run_finished", None)["outcome"], "resolved");
    assert_verified(dir, &timeline);
}

#[test]
fn a_failed_check_shows_what_happened_and_who_to_call_then_escalates_and_stops() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "failing", &timeline, &[]);

    t.expect("Step 1/2 · The disk has room");
    t.expect("expected: exit 0");
    t.expect("happened: exit 3: disk 97% full");
    t.expect("who to call:");
    t.expect("Storage team — owns the disks — phone +33 1 00 00 00 01");
    t.expect("Platform team — owns the machines — chat #platform");
    // Retry, Skip, Go to, Escalate, Stop.
    t.pick("The step failed. What now?", 3);
    t.pick("Who are you calling?", 1);
    t.expect("escalated to Platform team (recorded)");
    t.pick("The step failed. What now?", 4);
    t.expect("Runbook stopped at step `disk`: failed.");
    let (code, screen) = t.finish();

    assert_eq!(code, 1, "{screen}");
    assert!(!dir.join("after.marker").exists());
    let events = events(&timeline);
    assert_eq!(
        only(&events, "escalated", Some("disk"))["contact"],
        "Platform team"
    );
    assert_eq!(outcome(&events, "disk"), "failed");
    assert_eq!(only(&events, "command", Some("disk"))["exit"], 3);
    assert!(find(&events, "step_started", Some("after")).is_empty());
    assert_eq!(only(&events, "run_finished", None)["outcome"], "failed");
    assert_verified(dir, &timeline);
}

#[test]
fn confirm_type_runs_only_when_the_target_is_typed() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "typed", &timeline, &[]);

    t.expect("Step 1/2 · Flush the cache");
    // A wrong word asks again; Enter alone declines, and the menu skips it.
    t.answer("To confirm, type: local", "prod");
    t.expect("`prod` is not `local`");
    t.answer("To confirm, type: local", "");
    t.pick("Not run. What now?", 1);
    t.expect("skipped: declined");
    t.expect("Step 2/2 · Flush the cache again");
    // Esc at a typed confirmation opens back / note / quit: a note, then the question again.
    t.expect("To confirm, type: local");
    t.send(ESC);
    t.pick("What now?", 1);
    t.answer("Note for the timeline", "typing it this time");
    t.expect("note recorded");
    t.answer("To confirm, type: local", "local");
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();

    assert_eq!(code, 0, "{screen}");
    assert!(
        !dir.join("first-try.marker").exists(),
        "a wrong word ran it"
    );
    assert!(
        dir.join("second-try.marker").exists(),
        "the target did not run it"
    );
    let events = events(&timeline);
    assert_eq!(
        only(&events, "declined", Some("first-try"))["command"],
        "touch first-try.marker"
    );
    assert!(find(&events, "command", Some("first-try")).is_empty());
    assert_eq!(outcome(&events, "first-try"), "skipped");
    assert_eq!(
        only(&events, "note", Some("second-try"))["text"],
        "typing it this time"
    );
    assert_eq!(
        only(&events, "confirmed", Some("second-try"))["command"],
        "touch second-try.marker"
    );
    assert_eq!(outcome(&events, "second-try"), "done");
    assert_eq!(only(&events, "run_finished", None)["outcome"], "resolved");
}

#[test]
fn a_secret_typed_at_a_hidden_prompt_is_never_shown_nor_written() {
    const SECRET: &str = "hunter2-Zq81x";
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "secret", &timeline, &[]);

    t.answer("API token", SECRET);
    t.expect("Step 1/1 · Use the token");
    t.expect("token=***");
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();

    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains(SECRET),
        "the secret reached the screen:\n{screen}"
    );
    let text = read(&timeline);
    assert!(
        !text.contains(SECRET),
        "the secret reached the timeline:\n{text}"
    );
    let events = events(&timeline);
    assert_eq!(only(&events, "run_started", None)["inputs"]["token"], "***");
    let command = only(&events, "command", Some("use-token"));
    assert_eq!(command["exit"], 0);
    assert_eq!(command["stdout"], "token=***\n");
    assert_eq!(outcome(&events, "use-token"), "passed");
    assert_verified(dir, &timeline);
}

#[test]
fn a_secret_that_needs_shell_quoting_is_masked_in_the_rendered_command() {
    // Quoted for `sh`, this becomes `"pa'ss"'$word'`: the value no longer appears as it was
    // typed, so masking the value alone misses it.
    const SECRET: &str = "pa'ss$word";
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "secret", &timeline, &[]);

    t.answer("API token", SECRET);
    t.expect("token=***");
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();

    assert_eq!(code, 0, "{screen}");
    let text = read(&timeline);
    for piece in ["pa'ss", "$word"] {
        assert!(
            !screen.contains(piece),
            "part of the secret reached the screen:\n{screen}"
        );
        assert!(
            !text.contains(piece),
            "part of the secret reached the timeline:\n{text}"
        );
    }
}

#[test]
fn ctrl_c_at_a_prompt_pauses_the_run() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "walk", &timeline, &["--set", "who=ada"]);

    t.expect("Step 1/6 · Open the dashboard");
    t.expect("When you have done it");
    t.send(CTRL_C);
    t.expect("Paused at step `prepare`");
    let (code, screen) = t.finish();

    assert_eq!(code, 130, "{screen}");
    let events = events(&timeline);
    assert_eq!(only(&events, "run_paused", None)["at_step"], "prepare");
    assert!(find(&events, "step_finished", Some("prepare")).is_empty());
    assert!(!dir.join("restart.marker").exists());
    assert_verified(dir, &timeline);
}

#[test]
fn ctrl_c_while_a_command_runs_kills_it_and_pauses_the_run() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "interrupt", &timeline, &[]);

    t.expect("local$ sleep 30");
    let pid = wait_for_pid(&dir.join("pid"));
    t.send(CTRL_C);
    t.expect("Paused at step `long`");
    let (code, screen) = t.finish();

    assert_eq!(code, 130, "{screen}");
    assert_gone(pid);
    let events = events(&timeline);
    let command = only(&events, "command", Some("long"));
    assert_eq!(command["timed_out"], false);
    assert!(
        find(&events, "step_finished", Some("long")).is_empty(),
        "an interrupted step is not finished: resuming runs it again\n{}",
        show(&events)
    );
    assert_eq!(only(&events, "run_paused", None)["at_step"], "long");
    assert!(find(&events, "step_started", Some("after")).is_empty());
    assert_verified(dir, &timeline);
}

// ───────────────────────────── without a terminal ─────────────────────────────

#[test]
fn a_rehearsal_runs_the_checks_but_not_the_actions() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "rehearse", &timeline, &["--rehearse", "--yes"]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("REHEARSAL"), "{stdout}");
    assert!(dir.join("check.marker").exists(), "the check did not run");
    assert!(!dir.join("action.marker").exists(), "the action ran");
    let events = events(&timeline);
    assert_eq!(only(&events, "run_started", None)["rehearsal"], true);
    assert_eq!(outcome(&events, "look"), "passed");
    assert_eq!(outcome(&events, "change"), "rehearsed");
    assert!(find(&events, "command", Some("change")).is_empty());
    assert_eq!(only(&events, "run_finished", None)["outcome"], "resolved");
}

#[test]
fn an_input_reaches_its_command_as_one_literal_argument() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let value = r#"x'; touch PWNED # "$(touch PWNED2)" `touch PWNED3` \ $HOME *"#;
    let (code, stdout, stderr) =
        run_plain(dir, "quoting", &timeline, &["--set", &format!("v={value}")]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(read(&dir.join("out.txt")), value);
    for planted in ["PWNED", "PWNED2", "PWNED3"] {
        assert!(
            !dir.join(planted).exists(),
            "the input ran `touch {planted}`"
        );
    }
    let events = events(&timeline);
    assert_eq!(only(&events, "run_started", None)["inputs"]["v"], value);
}

#[test]
fn a_manual_step_without_a_terminal_exits_3_and_names_the_step() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "walk", &timeline, &["--set", "who=ada"]);

    assert_eq!(code, 3, "{stdout}{stderr}");
    let screen = format!("{stdout}{stderr}");
    assert!(screen.contains("Step `prepare` needs a person"), "{screen}");
    assert!(!dir.join("restart.marker").exists());
    let events = events(&timeline);
    assert_eq!(only(&events, "run_paused", None)["at_step"], "prepare");
    assert!(find(&events, "run_finished", None).is_empty());
}

#[test]
fn yes_and_answer_run_to_the_end_without_a_terminal() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(
        dir,
        "walk",
        &timeline,
        &["--set", "who=ada", "--yes", "--answer", "route=Still high"],
    );

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(dir.join("restart.marker").exists());
    assert!(dir.join("purge.marker").exists());
    assert!(dir.join("long-way.marker").exists());
    assert!(
        !dir.join("who.txt").exists(),
        "`next: end` was not followed"
    );
    let events = events(&timeline);
    assert_eq!(outcome(&events, "prepare"), "done");
    assert_eq!(
        only(&events, "answer", Some("route"))["choice"],
        "Still high"
    );
    assert!(find(&events, "step_started", Some("short-way")).is_empty());
    assert_eq!(only(&events, "run_finished", None)["outcome"], "resolved");
    assert_verified(dir, &timeline);
}

#[test]
fn a_command_past_its_timeout_is_killed_with_its_children_and_fails() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "timeout", &timeline, &[]);

    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("timed out after 1s; killed"), "{stdout}");
    let events = events(&timeline);
    assert_eq!(only(&events, "command", Some("hang"))["timed_out"], true);
    assert_eq!(outcome(&events, "hang"), "failed");
    assert_eq!(only(&events, "run_finished", None)["outcome"], "failed");

    let pid = read(&dir.join("pid")).trim().parse().expect("a pid");
    assert_gone(pid);
}

#[test]
fn set_of_an_unknown_input_is_an_invalid_invocation() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "walk", &timeline, &["--set", "nosuch=1"]);

    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(stdout, "");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains("no input `nosuch`"), "{stderr}");
    assert!(!timeline.exists());
}

#[test]
fn an_ssh_config_that_cannot_be_read_is_an_invalid_invocation() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let missing = dir.join("no-such-config");
    let missing = missing.display().to_string();
    let (code, stdout, stderr) =
        run_plain(dir, "walk", &timeline, &["--ssh-config", &missing, "--yes"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("invalid value `{missing}` for `--ssh-config`")),
        "{stderr}"
    );
    assert!(!timeline.exists(), "nothing ran");
}

#[test]
fn an_answer_that_is_not_a_choice_is_an_invalid_invocation() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(
        dir,
        "walk",
        &timeline,
        &["--yes", "--answer", "route=Maybe"],
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`Maybe` is not a choice of `route`; its choices are"),
        "{stderr}"
    );
    assert!(!timeline.exists(), "nothing ran");
}

#[test]
fn an_invalid_runbook_is_not_run_and_its_lint_finding_is_shown() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let runbook = fixture("lint/unknown-key.yaml");
    let (code, stdout, stderr) = output(
        runbook_in(dir)
            .arg("run")
            .arg(&runbook)
            .arg("--timeline")
            .arg(&timeline),
    );

    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("error[unknown-key]"), "{stderr}");
    assert!(stderr.contains("unknown-key.yaml:26:7"), "{stderr}");
    assert!(!timeline.exists());
}

#[test]
fn a_dry_run_runs_nothing_and_writes_no_timeline() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "rehearse", &timeline, &["--dry-run"]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("touch check.marker"), "{stdout}");
    assert!(stdout.contains("touch action.marker"), "{stdout}");
    assert!(!timeline.exists());
    assert!(!dir.join("timelines").exists());
    assert!(!dir.join("check.marker").exists(), "a check ran");
    assert!(!dir.join("action.marker").exists(), "an action ran");
}

#[test]
fn run_fixtures_pass_lint_without_warnings() {
    let (code, stdout, stderr) = output(
        runbook_in(&crate::common::repo())
            .args(["lint", "--deny-warnings"])
            .arg(fixture("run")),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
}

// ───────────────────────────── flow and honest outcomes ─────────────────────────────

/// The step ids of the `step_finished` events, in order: the path the run took.
fn path(events: &[Value]) -> Vec<String> {
    find(events, "step_finished", None)
        .iter()
        .map(|e| e["step"].as_str().expect("a step id").to_string())
        .collect()
}

#[test]
fn a_typo_at_a_menu_keeps_every_entry_and_enter_still_picks() {
    // Regression: letters that matched no entry filtered the menu down to nothing; Enter then
    // did nothing and the screen looked hung.
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "decline", &timeline, &[]);

    t.expect("Run it on local?");
    t.send("zq");
    t.expect("zq");
    t.send(crate::pty::ENTER);
    // Enter picked the first entry, No: the decline menu, nothing run.
    t.pick("Not run. What now?", 2);
    t.expect("Runbook stopped at step `one`: aborted.");
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(!dir.join("one.marker").exists(), "a typo ran the action");
}

#[test]
fn a_wait_after_a_declined_action_looks_once_and_does_not_poll() {
    // Regression: declining an action, then "skip it and go on", polled the wait for it to
    // its timeout (an hour here) for something nobody set off.
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "decline-wait", &timeline, &[]);

    t.expect("Run it on local?");
    t.send(crate::pty::ENTER);
    t.pick("Not run. What now?", 1);
    t.expect("the action before was declined, so this wait looks once");
    t.expect("skipped: not waited: the action before was declined");
    t.expect("1h pause is not waited");
    let (code, screen) = t.finish();

    assert_eq!(code, 0, "{screen}");
    assert!(
        !dir.join("restarted.marker").exists(),
        "the declined action ran"
    );
    assert!(dir.join("after.marker").exists(), "the run did not go on");
    let events = events(&timeline);
    for step in ["back", "settle"] {
        let finished = only(&events, "step_finished", Some(step));
        assert_eq!(finished["outcome"], "skipped", "{}", show(&events));
    }
    // The wait looked once: one command, not a poll.
    assert_eq!(
        find(&events, "command", Some("back")).len(),
        1,
        "{}",
        show(&events)
    );
}

#[test]
fn enter_at_y_n_opens_the_decline_menu_instead_of_skipping() {
    // Regression: Enter at an action's y/N recorded `declined` and the run moved on.
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "decline", &timeline, &[]);

    t.expect("Step 1/4 · Restart the worker");
    t.expect("Run it on local?");
    t.send(crate::pty::ENTER);
    // Run it after all, Skip it and go on, Stop here.
    t.pick("Not run. What now?", 1);
    t.expect("skipped: declined");
    t.expect("Step 2/4 · Purge the cache");
    t.expect("Run it on local?");
    t.send(crate::pty::ENTER);
    t.pick("Not run. What now?", 0);
    t.expect("exit 0");
    t.expect("Step 3/4 · Drop the old sessions");
    t.expect("this cannot be undone: the sessions are gone for good");
    t.expect("Run it on local?");
    t.send(crate::pty::ENTER);
    t.pick("Not run. What now?", 2);
    t.expect("Runbook stopped at step `three`: aborted.");
    let (code, screen) = t.finish();

    assert_eq!(code, 1, "{screen}");
    assert!(!dir.join("one.marker").exists(), "the skipped action ran");
    assert!(
        dir.join("two.marker").exists(),
        "run after all did not run it"
    );
    assert!(!dir.join("three.marker").exists(), "the stopped action ran");
    assert!(
        !dir.join("four.marker").exists(),
        "the run went on after stop"
    );
    let events = events(&timeline);
    assert_eq!(
        only(&events, "declined", Some("one"))["command"],
        "touch one.marker"
    );
    assert_eq!(outcome(&events, "one"), "skipped");
    assert!(find(&events, "declined", Some("two")).is_empty());
    assert_eq!(
        only(&events, "confirmed", Some("two"))["command"],
        "touch two.marker"
    );
    assert_eq!(outcome(&events, "two"), "done");
    assert_eq!(
        only(&events, "declined", Some("three"))["command"],
        "touch three.marker"
    );
    assert_eq!(path(&events), ["one", "two"]);
    assert_eq!(only(&events, "run_finished", None)["outcome"], "aborted");
    assert_verified(dir, &timeline);
}

#[test]
fn a_mistyped_confirmation_asks_again_and_its_template_is_rendered() {
    // Regression: a mistyped `confirm: type` recorded `declined` and the run moved on; and
    // `confirm: {type: "{{ … }}"}` made the engineer type the braces.
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(
        dir,
        "typed-template",
        &timeline,
        &["--set", "cluster=prod-eu"],
    );

    t.answer("To confirm, type: prod-eu", "prod");
    t.expect("`prod` is not `prod-eu`");
    t.answer("To confirm, type: prod-eu", "prod-eu");
    t.expect("Runbook finished: resolved");
    let (code, screen) = t.finish();

    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("{{"), "{screen}");
    assert!(dir.join("drained.marker").exists());
    let events = events(&timeline);
    assert!(
        find(&events, "declined", None).is_empty(),
        "{}",
        show(&events)
    );
    assert_eq!(
        only(&events, "confirmed", Some("drain"))["command"],
        "touch drained.marker"
    );
    assert_eq!(outcome(&events, "drain"), "done");
}

#[test]
fn a_jump_from_the_failure_menu_is_recorded_and_a_skip_is_a_skipped_failure() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let mut t = spawn_run(dir, "jump", &timeline, &[]);

    // The action cannot render (`"none" + 1`): it never ran, so there is no rollback to offer.
    t.expect("Step 2/5 · Scale by the count");
    t.expect("template error");
    // Retry, Skip, Go to, Escalate, Stop.
    t.pick("The step failed. What now?", 1);
    t.expect("Step 3/5 · The disk has room");
    t.expect("happened: exit 3: disk 97% full");
    t.pick("The step failed. What now?", 2);
    // count, scale, disk, clean, fix.
    t.pick("Go to which step?", 4);
    t.expect("Step 5/5 · Page the storage team");
    t.expect("Runbook finished: resolved, with 1 failed step skipped (scale).");
    let (code, screen) = t.finish();

    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("Roll back"),
        "a rollback was offered for an action that never ran:\n{screen}"
    );
    assert!(!dir.join("clean.marker").exists(), "the jump went below");
    assert!(dir.join("fix.marker").exists());
    let events = events(&timeline);
    assert_eq!(only(&events, "jumped", Some("disk"))["to"], "fix");
    assert_eq!(path(&events), ["count", "scale", "scale", "disk", "fix"]);
    let finished = only(&events, "run_finished", None);
    assert_eq!(finished["outcome"], "resolved");
    assert_eq!(finished["skipped_failures"], serde_json::json!(["scale"]));
    assert_verified(dir, &timeline);

    let (code, postmortem, stderr) = output(
        runbook_in(dir)
            .args(["timeline", "--format", "md"])
            .arg(&timeline),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        postmortem.contains("resolved, with 1 failed step skipped (`scale`)"),
        "{postmortem}"
    );
    let (code, chronology, stderr) = output(runbook_in(dir).arg("timeline").arg(&timeline));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        chronology.contains("run resolved, with 1 failed step skipped (scale)"),
        "{chronology}"
    );
}

#[test]
fn a_manual_step_follows_its_next_even_to_the_end() {
    // Regression: a manual step's `next` was ignored and the step below ran (the shipped
    // user-sync/push-failures went on to escalate after `next: end`).
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "manual-next", &timeline, &["--yes"]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        !dir.join("skipped-over.marker").exists(),
        "`next: close` was not followed"
    );
    assert!(
        !dir.join("escalate.marker").exists(),
        "`next: end` was not followed"
    );
    let events = events(&timeline);
    assert_eq!(path(&events), ["assess", "close"]);
    assert_eq!(only(&events, "run_finished", None)["outcome"], "resolved");
}

#[test]
fn an_if_that_cannot_be_evaluated_fails_its_step_not_the_run() {
    // Regression: an `if` evaluation error ended the whole run as failed.
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "if-error", &timeline, &[]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("cannot evaluate `if`"), "{stdout}");
    assert!(
        stdout.contains("Runbook finished: resolved, with 1 failed step skipped (scale)."),
        "{stdout}"
    );
    assert!(!dir.join("scale.marker").exists());
    assert!(
        dir.join("after.marker").exists(),
        "`on_failure: continue` did not go on"
    );
    let events = events(&timeline);
    assert_eq!(outcome(&events, "scale"), "failed");
    assert_eq!(path(&events), ["count", "scale", "after"]);
    let finished = only(&events, "run_finished", None);
    assert_eq!(finished["outcome"], "resolved");
    assert_eq!(finished["skipped_failures"], serde_json::json!(["scale"]));
}

#[test]
fn a_command_killed_by_the_interrupting_signal_pauses_the_run() {
    // Regression: when SIGINT reached the command before the run saw it, the command was
    // "killed by a signal", the step failed, and the run ended failed instead of paused.
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "signal", &timeline, &[]);

    assert_eq!(code, 130, "{stdout}{stderr}");
    let events = events(&timeline);
    assert!(
        find(&events, "step_finished", Some("killed")).is_empty(),
        "an interrupted step is not finished:\n{}",
        show(&events)
    );
    assert_eq!(only(&events, "run_paused", None)["at_step"], "killed");
    assert!(find(&events, "run_finished", None).is_empty());
    assert!(!dir.join("after.marker").exists());
}

#[test]
fn a_rehearsal_does_not_poll_a_wait_for_what_a_rehearsed_action_never_started() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) =
        run_plain(dir, "rehearse-wait", &timeline, &["--rehearse", "--yes"]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!dir.join("started.marker").exists(), "the action ran");
    let events = events(&timeline);
    assert_eq!(outcome(&events, "start"), "rehearsed");
    assert_eq!(outcome(&events, "until-started"), "rehearsed");
    assert_eq!(find(&events, "command", Some("until-started")).len(), 1);
    assert_eq!(only(&events, "run_finished", None)["outcome"], "resolved");
}

#[test]
fn a_dry_run_says_where_each_way_of_ending_a_step_leads() {
    let (dir, timeline) = workspace();
    let dir = dir.path();
    let (code, stdout, stderr) = run_plain(dir, "if-error", &timeline, &["--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let scale = stdout
        .split("\nStep ")
        .find(|s| s.contains("(scale)"))
        .unwrap_or_else(|| panic!("no step `scale` in\n{stdout}"));
    for line in [
        "then → step `after`",
        "if false → step `after`",
        "on failure → step `after`",
    ] {
        assert!(scale.contains(line), "{line:?} missing in\n{scale}");
    }

    let (code, stdout, stderr) = run_plain(dir, "manual-next", &timeline, &["--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("then → step `close`"), "{stdout}");
    assert!(stdout.contains("then → end"), "{stdout}");
}
