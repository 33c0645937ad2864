//! SSH targets against a real sshd on 127.0.0.1: output and exit codes over several hosts, one
//! connection per host, one-line reasons for hosts that cannot be reached or are not trusted,
//! and nothing left running (remotely or locally) after a timeout or `close`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use runbook::execute::transport::{
    CommandOutput, Interrupt, Shell, ShellCommand, SshSession, Target,
};
use support::sshd::sshd_or_skip;

fn command(script: &str, timeout: Duration) -> ShellCommand {
    ShellCommand::new(script, timeout)
}

fn run(target: &impl Target, script: &str) -> CommandOutput {
    target.run(
        &command(script, Duration::from_secs(20)),
        &Interrupt::default(),
    )
}

/// Pids of live (not zombie) processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                == Some("Z")
        });
        if !zombie && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// Waits up to `limit` for `condition`; whether it became true.
fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn unique(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("runbook-{label}-{}-{nanos}", std::process::id())
}

#[test]
fn a_command_runs_on_several_hosts_with_its_output_and_exit_code() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let targets: Vec<_> = (1..=3)
        .map(|n| session.target(&format!("web-{n}")))
        .collect();
    let outputs: Vec<CommandOutput> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .enumerate()
            .map(|(i, target)| {
                scope.spawn(move || {
                    run(
                        target,
                        &format!(
                            "printf '%s\\n' \"it's {}\"; echo err >&2; exit {i}",
                            target.name()
                        ),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (target, out)) in targets.iter().zip(&outputs).enumerate() {
        assert_eq!(target.name(), format!("web-{}", i + 1));
        assert_eq!(out.error, None, "{out:?}\n{}", sshd.log());
        assert_eq!(out.exit, Some(i32::try_from(i).unwrap()), "{out:?}");
        assert_eq!(out.stdout, format!("it's web-{}\n", i + 1));
        assert_eq!(out.stderr, "err\n");
        assert!(!out.timed_out && !out.interrupted);
    }
}

#[test]
fn a_destination_with_user_and_port_is_split_for_ssh() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let user = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let destination = format!("{}@127.0.0.1:{}", user.trim(), sshd.port);
    let target = session.target(&destination);
    assert_eq!(target.name(), destination);
    let out = run(&target, "id -un");
    assert_eq!((out.exit, out.error.as_deref()), (Some(0), None), "{out:?}");
    assert_eq!(out.stdout.trim(), user.trim());
}

#[test]
fn one_connection_per_host_is_reused() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let target = session.target("web-1");
    for n in 0..4 {
        let out = run(&target, &format!("echo {n}"));
        assert_eq!(out.stdout, format!("{n}\n"), "{out:?}");
    }
    assert_eq!(sshd.connections(), 1, "{}", sshd.log());
    let sockets: Vec<_> = std::fs::read_dir(session.control_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    let check = std::process::Command::new("ssh")
        .arg("-F")
        .arg(sshd.config())
        .arg("-S")
        .arg(&sockets[0])
        .args(["-O", "check", "web-1"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}

#[test]
fn an_unreachable_host_fails_alone_with_a_one_line_reason() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let (dead, alive) = std::thread::scope(|scope| {
        let dead = scope.spawn(|| run(&session.target("dead"), "echo hi"));
        let alive = scope.spawn(|| run(&session.target("web-1"), "echo hi"));
        (dead.join().unwrap(), alive.join().unwrap())
    });
    let reason = dead.error.expect("dead fails");
    assert!(reason.contains("refused"), "{reason}");
    assert!(!reason.contains('\n'), "{reason:?}");
    assert_eq!(dead.exit, None);
    assert_eq!((alive.exit, alive.stdout.as_str()), (Some(0), "hi\n"));
}

#[test]
fn an_unknown_host_key_fails_and_known_hosts_is_not_written() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let out = run(&session.target("stranger"), "echo should-not-run");
    let reason = out.error.expect("stranger fails");
    assert!(reason.contains("Host key verification failed"), "{reason}");
    assert_eq!(out.exit, None);
    assert!(!out.stdout.contains("should-not-run"));
    let known = std::fs::read_to_string(sshd.stranger_known_hosts()).unwrap();
    assert_eq!(known, "", "known_hosts was written");
}

#[test]
fn a_remote_command_past_its_timeout_is_killed_on_the_remote_side() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let target = session.target("web-1");
    let marker = unique("timeout");
    // A child, a grandchild in the background, and one that ignores SIGTERM (the marker in
    // their arguments: the script itself is in no process's arguments).
    let script = format!(
        "sh -c 'sleep 60; : {marker}' & sh -c 'trap \"\" TERM; sleep 60; : {marker}' & sh -c 'sleep 61; : {marker}'"
    );
    let started = Instant::now();
    let out = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            target.run(
                &command(&script, Duration::from_secs(6)),
                &Interrupt::default(),
            )
        });
        assert!(
            eventually(Duration::from_secs(6), || processes_with(&marker).len()
                >= 3),
            "the remote command never showed up"
        );
        running.join().unwrap()
    });
    assert!(out.timed_out, "{out:?}");
    assert_eq!((out.exit, out.error.as_deref()), (None, None), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(4), || processes_with(&marker)
            .is_empty()),
        "left running: {:?}",
        processes_with(&marker)
    );
    // The connection is still good for the next command.
    assert_eq!(run(&target, "echo after").stdout, "after\n");
}

#[test]
fn an_interrupt_stops_a_remote_command() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let marker = unique("interrupt");
    let interrupt = Interrupt::default();
    let flag = interrupt.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        flag.set();
    });
    let out = session.target("web-1").run(
        &command(
            &format!("sh -c 'sleep 60; : {marker}'"),
            Duration::from_secs(60),
        ),
        &interrupt,
    );
    assert!(out.interrupted && !out.timed_out, "{out:?}");
    assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
    assert!(
        eventually(Duration::from_secs(4), || processes_with(&marker)
            .is_empty()),
        "left running: {:?}",
        processes_with(&marker)
    );
}

#[test]
fn close_leaves_no_master_and_no_socket() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let dir = session.control_dir().to_owned();
    assert_eq!(run(&session.target("web-1"), "echo one").stdout, "one\n");
    assert_eq!(run(&session.target("dead"), "echo two").exit, None);
    let needle = format!("{}/", dir.display());
    assert!(
        !processes_with(&needle).is_empty(),
        "no master was running for {needle}"
    );
    session.close();
    assert!(!Path::new(&dir).exists(), "{} still exists", dir.display());
    assert!(
        eventually(Duration::from_secs(3), || processes_with(&needle)
            .is_empty()),
        "masters left: {:?}",
        processes_with(&needle)
    );
    session.close();
}

#[test]
fn a_failing_line_or_pipeline_stage_fails_a_remote_command() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let target = session.target("web-1");
    let out = run(&target, "false | true");
    assert_eq!((out.exit, out.error.as_deref()), (Some(1), None), "{out:?}");
    let out = run(&target, "echo one\nfalse\necho three");
    assert_eq!(
        (out.exit, out.stdout.as_str()),
        (Some(1), "one\n"),
        "{out:?}"
    );
    // `shell: sh`: errexit, no pipefail.
    let sh = |script: &str| ShellCommand {
        shell: Shell::Sh,
        ..command(script, Duration::from_secs(20))
    };
    let out = target.run(&sh("echo a; false; echo b"), &Interrupt::default());
    assert_eq!((out.exit, out.stdout.as_str()), (Some(1), "a\n"), "{out:?}");
    // The command reads /dev/null, and its secrets come as environment variables.
    let out = target.run(
        &ShellCommand {
            env: vec![("RUNBOOK_SECRET_TOKEN".into(), "it's s3cret".into())],
            ..command(
                "cat; printf '%s\\n' \"${RUNBOOK_SECRET_TOKEN}\"",
                Duration::from_secs(20),
            )
        },
        &Interrupt::default(),
    );
    assert_eq!(
        (out.exit, out.stdout.as_str()),
        (Some(0), "it's s3cret\n"),
        "{out:?}"
    );
}

#[test]
fn an_accept_new_config_does_not_make_runs_trust_an_unknown_host() {
    let Some(sshd) = sshd_or_skip() else { return };
    let config = sshd.config_with_prefix(
        "accept-new",
        "Host *\n  StrictHostKeyChecking accept-new\n  UpdateHostKeys yes\n",
    );
    let session = SshSession::new(Some(config)).unwrap();
    let out = run(&session.target("stranger"), "echo should-not-run");
    let reason = out.error.expect("stranger fails");
    assert!(reason.contains("Host key verification failed"), "{reason}");
    assert!(!out.stdout.contains("should-not-run"));
    let known = std::fs::read_to_string(sshd.stranger_known_hosts()).unwrap();
    assert_eq!(known, "", "known_hosts was written");
}

#[test]
fn an_alias_does_not_ride_the_master_of_another_alias_of_the_same_address() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    // web-1 is trusted and opens a master to 127.0.0.1:PORT; stranger is the same address,
    // user and port (the same %C), with a known_hosts that does not know the key.
    assert_eq!(run(&session.target("web-1"), "echo one").stdout, "one\n");
    let out = run(&session.target("stranger"), "echo should-not-run");
    assert!(
        !out.stdout.contains("should-not-run"),
        "stranger rode web-1's master: {out:?}"
    );
    let reason = out.error.expect("stranger fails");
    assert!(reason.contains("Host key verification failed"), "{reason}");
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            != Some("Z")
    })
}

/// Waits for a pid file written by a remote command.
fn pid_from(file: &Path) -> i32 {
    assert!(
        eventually(Duration::from_secs(10), || std::fs::read_to_string(file)
            .is_ok_and(|t| t.trim().parse::<i32>().is_ok())),
        "the remote command never wrote {}",
        file.display()
    );
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_watchdog_kills_the_remote_process_group_on_timeout_and_on_ctrl_c_over_the_mux() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let target = session.target("web-1");
    let dir = tempfile::tempdir().unwrap();
    for case in ["timeout", "interrupt"] {
        let pid_file = dir.path().join(format!("{case}.pid"));
        // Output first, then a background child that would outlive the shell, then a wait.
        let script = format!(
            "echo partial; sleep 300 & echo $! > {}; wait",
            pid_file.display()
        );
        let interrupt = Interrupt::default();
        let timeout = if case == "timeout" {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(120)
        };
        let out = std::thread::scope(|scope| {
            let running = scope.spawn(|| target.run(&command(&script, timeout), &interrupt));
            let pid = pid_from(&pid_file);
            assert!(alive(pid));
            if case == "interrupt" {
                interrupt.set();
            }
            (running.join().unwrap(), pid)
        });
        let (out, pid) = out;
        assert_eq!(
            (out.timed_out, out.interrupted),
            (case == "timeout", case == "interrupt"),
            "{out:?}"
        );
        assert_eq!(out.exit, None, "{out:?}");
        assert_eq!(out.stdout, "partial\n", "the output until then is kept");
        assert!(
            eventually(Duration::from_secs(4), || !alive(pid)),
            "{case}: the remote `sleep` ({pid}) is still running"
        );
    }
    // The master is still good for the next command.
    assert_eq!(run(&target, "echo after").stdout, "after\n");
}

/// The watchdog kills the process group only when the channel ends before the script does: a
/// background job the script leaves on purpose stays, however the script ends (the wrapper
/// runs it in its own bash, where its `exit`, `exec` or `EXIT` trap ends the wrapper too).
#[test]
fn background_jobs_a_script_leaves_on_purpose_stay_however_it_ends() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let target = session.target("web-1");
    let dir = tempfile::tempdir().unwrap();
    let endings = [
        ("plain", "", Some(0)),
        ("exit", "exit 3", Some(3)),
        ("trap", "trap 'echo bye' EXIT", Some(0)),
        ("exec", "exec true", Some(0)),
        ("wait", "sleep 0.2 & wait", Some(0)),
    ];
    let mut pids = Vec::new();
    for (name, ending, exit) in endings {
        let pid_file = dir.path().join(format!("{name}.pid"));
        let leave = format!(
            "nohup sleep 60 >/dev/null 2>&1 & echo $! > {}",
            pid_file.display()
        );
        // `wait` would wait for the script's own job: that one is left from a subshell.
        let script = if name == "wait" {
            format!("({leave})\n{ending}")
        } else {
            format!("{leave}\n{ending}")
        };
        let out = run(&target, &script);
        assert_eq!(out.exit, exit, "{name}: {out:?}");
        pids.push((name, pid_from(&pid_file)));
    }
    // Past the watchdog's TERM and its KILL a second later, had it sent them.
    std::thread::sleep(Duration::from_millis(2500));
    let gone: Vec<_> = pids.iter().filter(|(_, pid)| !alive(*pid)).collect();
    for (_, pid) in &pids {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    assert!(gone.is_empty(), "killed at the script's end: {gone:?}");
    assert_eq!(run(&target, "echo after").stdout, "after\n");
}

/// Key exchanges are CPU work: at most 16 connections per core (64 at least) are set up at
/// once, and the next host waits for a slot, which Ctrl-C ends. Without the limit, 1,000 hosts
/// at once on 2 cores ran past the set-up limit together.
#[test]
fn connections_past_the_set_up_slots_wait_their_turn_and_ctrl_c_ends_the_wait() {
    let Some(sshd) = sshd_or_skip() else { return };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let slots = (16 * cores).max(64);
    // `hang-N` never connects: its set-up holds a slot until it is stopped.
    let config = sshd.config_with_prefix(
        "hang",
        "Host hang-*\n  ProxyCommand sh -c 'cat > /dev/null'\n",
    );
    let session = SshSession::new(Some(config)).unwrap();
    let dir = session.control_dir().display().to_string();
    let interrupt = Interrupt::default();
    let hanging: Vec<_> = (1..=slots)
        .map(|n| {
            session.runtime().spawn(
                session
                    .target(&format!("hang-{n}"))
                    .run_task(command("true", Duration::from_secs(5)), interrupt.clone()),
            )
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(20), || processes_with(&dir).len()
            >= slots),
        "the {slots} set-ups never started: {}",
        processes_with(&dir).len()
    );
    let waiting = session.runtime().spawn(session.target("web-1").run_task(
        command("echo connected", Duration::from_secs(5)),
        interrupt.clone(),
    ));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!waiting.is_finished(), "web-1 did not wait for a slot");
    let set_ups = processes_with(&dir).len();
    interrupt.set();
    let out = session.runtime().block_on(waiting).unwrap();
    assert!(out.interrupted, "{out:?}");
    assert_eq!((out.exit, out.error.as_deref()), (None, None), "{out:?}");
    assert_eq!(out.stdout, "");
    for task in hanging {
        assert!(session.runtime().block_on(task).unwrap().interrupted);
    }
    assert_eq!(
        set_ups, slots,
        "one more set-up ran while {slots} held their slots"
    );
    session.close();
}

#[test]
fn commands_go_over_the_master_without_an_ssh_process_each() {
    let Some(sshd) = sshd_or_skip() else { return };
    let session = SshSession::new(Some(sshd.config())).unwrap();
    let target = session.target("web-2");
    let dir = session.control_dir().display().to_string();
    assert_eq!(run(&target, "echo first").stdout, "first\n");
    let masters = processes_with(&dir);
    assert_eq!(masters.len(), 1, "one master: {masters:?}");
    let marker = unique("mux");
    let out = std::thread::scope(|scope| {
        let running = scope.spawn(|| run(&target, &format!("sleep 1; : {marker}")));
        std::thread::sleep(Duration::from_millis(500));
        // Only the master holds the control directory in its arguments: no `ssh -S` client.
        assert_eq!(processes_with(&dir), masters);
        running.join().unwrap()
    });
    assert_eq!(out.exit, Some(0), "{out:?}");
    let args = target.ssh_arguments();
    let control = format!("ControlPath={}", target.control_path().display());
    assert!(
        args.iter().any(|a| a.to_str() == Some(control.as_str())),
        "{args:?}"
    );
    assert!(
        args.windows(2).any(|w| w[0] == "--" && w[1] == "web-2"),
        "{args:?}"
    );
}

#[test]
fn the_masters_close_as_many_at_once_as_the_widest_step_ran() {
    let session = SshSession::new(None).unwrap();
    assert_eq!(session.close_parallel(), 32, "the default before any step");
    session.set_parallel(3);
    assert_eq!(session.close_parallel(), 3);
    session.set_parallel(7);
    session.set_parallel(2);
    assert_eq!(session.close_parallel(), 7);
    session.close();
}
