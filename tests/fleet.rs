//! Fleet scale, against a real sshd on 127.0.0.1: a `parallel` bigger than the open-files
//! limit allows is lowered (and says so) instead of failing hosts with "Too many open files";
//! and a runbook process killed outright leaves nothing running on the hosts (the remote
//! watchdog sees the multiplexed channel end).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::sshd::{Sshd, sshd_or_skip};

/// `DIR/NAME.yaml`: a runbook with `rest` (its `hosts` and `steps`) after the header.
fn runbook(dir: &Path, name: &str, rest: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let header = r##"runbook: 1
title: The fleet
owner: ops
reviewed: 2026-11-01
scope: { services: [fleet] }
contacts: [{ name: Ops, chat: "#ops" }]
links: [{ name: Docs, url: "https://example.com" }]
"##;
    std::fs::write(&path, format!("{header}{rest}")).unwrap();
    path
}

/// `runbook run RUNBOOK --yes` over the sshd, through `sh -c 'ulimit -n LIMIT; exec …'`.
fn run_with_open_files_limit(
    runbook: &Path,
    sshd: &Sshd,
    timeline: &Path,
    limit: u32,
) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_runbook"))
        .arg("run")
        .arg(runbook)
        .arg("--ssh-config")
        .arg(sshd.config())
        .arg("--timeline")
        .arg(timeline)
        .arg("--yes")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_parallel_above_the_open_files_limit_is_lowered_and_no_host_fails() {
    let Some(_) = sshd_or_skip() else { return };
    let hosts = 40;
    let sshd = Sshd::start(hosts);
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (1..=hosts).map(|n| format!("web-{n}")).collect();
    let path = runbook(
        dir.path(),
        "wide",
        &format!(
            "hosts:\n  web: [{}]\nsteps:\n  - id: wide\n    name: Every host at once\n    \
             check:\n      run: echo up\n      on: web\n      parallel: {hosts}\n",
            names.join(", ")
        ),
    );
    let timeline = dir.path().join("t.jsonl");
    // Hard and soft: 96 descriptors cannot hold 40 hosts in flight (each holds several).
    let output = run_with_open_files_limit(&path, &sshd, &timeline, 96);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = format!("{stdout}{stderr}");
    assert!(!all.contains("os error 24"), "{all}");
    assert!(!all.contains("Too many open files"), "{all}");
    assert_eq!(output.status.code(), Some(0), "{all}\n{}", sshd.log());
    assert!(
        all.contains(&format!("hosts at once, not {hosts}")),
        "no line says the cap:\n{all}"
    );
    let commands = std::fs::read_to_string(&timeline)
        .unwrap()
        .lines()
        .filter(|line| line.contains("\"event\":\"command\""))
        .count();
    assert_eq!(commands, hosts, "one command event per host");
}

fn alive(pid: i32) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    state.is_some_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            != Some("Z")
    })
}

#[test]
fn a_killed_runbook_leaves_no_remote_process_behind() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("remote.pid");
    let path = runbook(
        dir.path(),
        "hang",
        &format!(
            "hosts:\n  web: [web-1]\nsteps:\n  - id: hang\n    name: A command that hangs\n    \
             timeout: 10m\n    check:\n      run: \"sleep 300 & echo $! > {}; wait\"\n      \
             on: web\n",
            pid_file.display()
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("run")
        .arg(&path)
        .arg("--ssh-config")
        .arg(sshd.config())
        .arg("--timeline")
        .arg(dir.path().join("t.jsonl"))
        .arg("--yes")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
        {
            break pid;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut said = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
            panic!("runbook ended ({status}) before the remote command started:\n{said}");
        }
        assert!(Instant::now() < until, "the remote command never started");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(alive(pid));
    // No Ctrl-C, no clean-up: the process is gone at once.
    child.kill().unwrap();
    child.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        !alive(pid),
        "the remote `sleep` ({pid}) outlived the runbook process"
    );
}

/// Pids of live (not zombie) processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if alive(pid) && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// SIGTERM while masters are being set up (half the hosts answer at once, the other half sit
/// on a port that accepts the connection and never says a word), once (runbook pauses and
/// closes) and twice (the second one ends runbook at once): once runbook has exited, no `ssh`
/// process of that run is left — neither the masters that came up nor those in set-up.
#[test]
fn sigterm_while_masters_start_leaves_no_ssh_process_behind() {
    let Some(_) = sshd_or_skip() else { return };
    let hosts = 12;
    let sshd = Sshd::start(hosts);
    // A black hole: the kernel completes the TCP handshake, nobody ever answers.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_port = hole.local_addr().unwrap().port();
    let config = sshd.config_with_prefix(
        "hole",
        &format!("Host slow-*\n  HostName 127.0.0.1\n  Port {hole_port}\n"),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = (1..=hosts).map(|n| format!("web-{n}")).collect();
    names.extend((1..=hosts).map(|n| format!("slow-{n}")));
    let path = runbook(
        dir.path(),
        "starting",
        &format!(
            "hosts:\n  web: [{}]\nsteps:\n  - id: wide\n    name: Every host at once\n    \
             check:\n      run: echo up\n      on: web\n      parallel: {}\n",
            names.join(", "),
            names.len()
        ),
    );
    for signals in [1, 2] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_runbook"))
            .arg("run")
            .arg(&path)
            .arg("--ssh-config")
            .arg(&config)
            .arg("--timeline")
            .arg(dir.path().join(format!("t{signals}.jsonl")))
            .arg("--yes")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The run's control directory is /tmp/rb-ssh-<pid in hex>-…: its ssh processes name
        // it.
        let needle = format!("/tmp/rb-ssh-{:x}-", child.id());
        let until = Instant::now() + Duration::from_secs(30);
        // Every host's ssh started: the answering hosts' masters, the silent hosts' set-ups.
        while processes_with(&needle).len() < names.len() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "runbook ended before its masters were up"
            );
            assert!(
                Instant::now() < until,
                "the ssh processes never all started: {:?}",
                processes_with(&needle)
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        for _ in 0..signals {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let until = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "runbook did not end after SIGTERM");
            std::thread::sleep(Duration::from_millis(25));
        }
        // What is left now is left for good (ControlPersist keeps an idle master a minute).
        std::thread::sleep(Duration::from_millis(300));
        let left = processes_with(&needle);
        for &pid in &left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        assert!(
            left.is_empty(),
            "{signals} SIGTERM: ssh processes of the run left behind: {left:?}"
        );
    }
    drop(hole);
}

/// The threads of process `pid` now.
fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |tasks| tasks.count())
}

/// A fan-out over SSH drives its hosts as tasks, not a thread per host in flight: with 40
/// hosts running a command at once, runbook has far fewer than 40 threads (those it has
/// whatever the fan-out's width: main, signals, the SSH runtime's worker, the screen's).
#[test]
fn hosts_in_flight_over_ssh_cost_no_thread_each() {
    let Some(_) = sshd_or_skip() else { return };
    let hosts = 40;
    let sshd = Sshd::start(hosts);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    std::fs::create_dir(&started).unwrap();
    let names: Vec<String> = (1..=hosts).map(|n| format!("web-{n}")).collect();
    let path = runbook(
        dir.path(),
        "wide",
        &format!(
            "hosts:\n  web: [{}]\nsteps:\n  - id: wide\n    name: Every host at once\n    \
             check:\n      run: \"touch {}/$$; sleep 3\"\n      on: web\n      parallel: {hosts}\n",
            names.join(", "),
            started.display()
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("run")
        .arg(&path)
        .arg("--ssh-config")
        .arg(sshd.config())
        .arg("--timeline")
        .arg(dir.path().join("t.jsonl"))
        .arg("--yes")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    // Every host's command is running.
    while std::fs::read_dir(&started).unwrap().count() < hosts {
        assert!(child.try_wait().unwrap().is_none(), "runbook ended early");
        assert!(Instant::now() < until, "the commands never all started");
        std::thread::sleep(Duration::from_millis(25));
    }
    let threads = threads_of(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        threads < hosts / 2,
        "{threads} threads for {hosts} hosts in flight"
    );
}
