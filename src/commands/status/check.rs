//! The health checks of a whole catalog, run as one batch: every check of every runbook is
//! rendered into one job per host up front, and all the jobs go through one bounded pool
//! (`--parallel`), so the morning check takes about as long as its slowest round of checks,
//! not the sum of them. One HTTP client and one SSH session (a master connection per host,
//! shared by every runbook that names the host) serve the whole batch.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use indexmap::IndexMap;
use indicatif::{ProgressBar, ProgressStyle};
use minijinja::Environment;

use super::Entry;
use super::report::{CheckStatus, HostStatus};
use crate::execute::fanout;
use crate::execute::judge::judge_output;
use crate::execute::runner::{self, Job, Output, Targets, millis};
use crate::execute::state::RunState;
use crate::execute::transport::Interrupt;
use crate::model::{Command, Runbook, parse_duration};
use crate::secrets::Masker;

/// How long one host's part of a health check may take when the check sets no `timeout`
/// (docs/format.md, section `health`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How the batch runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Jobs (checks, and hosts of a fan-out) at once over the whole catalog.
    pub parallel: usize,
    pub ssh_config: Option<PathBuf>,
}

/// What the batch found, per entry in the order given.
pub struct Checked {
    pub services: Vec<ServiceChecks>,
    /// How many jobs ran (or were meant to).
    pub jobs: usize,
    /// Every secret input's value, to keep out of the report.
    pub masker: Masker,
}

/// One runbook's checks, and its links rendered with the same inputs.
#[derive(Debug, Default)]
pub struct ServiceChecks {
    pub checks: Vec<CheckStatus>,
    pub links: Vec<(String, String)>,
}

/// One health check, rendered for its hosts or refused with a reason.
struct Planned<'a> {
    service: usize,
    runbook: &'a Runbook,
    command: &'a Command,
    name: String,
    warn: bool,
    fan_out: bool,
    /// `local`, the group, or the destination.
    target: String,
    timeout: Duration,
    /// Why it cannot run at all (an input without a default, a template that fails).
    refused: Option<String>,
    hosts: Vec<String>,
    gate: Gate,
}

/// One host's job in the pool.
struct PoolJob {
    check: usize,
    /// The host's place in its check.
    host: usize,
    job: Job,
}

/// A health check's own limits inside the global pool: its `parallel` (only when written: the
/// global bound is the default) and its `max_failures`.
struct Gate {
    parallel: Option<usize>,
    max_failures: Option<usize>,
    running: Mutex<usize>,
    freed: Condvar,
    failures: AtomicUsize,
}

/// A place taken in a [`Gate`]; freed when dropped.
struct Slot<'a>(Option<&'a Gate>);

impl Gate {
    fn new(command: &Command) -> Gate {
        Gate {
            parallel: command.parallel.as_ref().map(|p| p.value.max(1) as usize),
            max_failures: command
                .max_failures
                .as_ref()
                .filter(|m| m.value > 0)
                .map(|m| m.value as usize),
            running: Mutex::new(0),
            freed: Condvar::new(),
            failures: AtomicUsize::new(0),
        }
    }

    /// Whether enough hosts failed that the others are not started.
    fn exhausted(&self) -> bool {
        self.max_failures
            .is_some_and(|max| self.failures.load(Ordering::SeqCst) >= max)
    }

    /// Waits for a place; `None` when Ctrl-C came first.
    fn enter(&self, interrupt: &Interrupt) -> Option<Slot<'_>> {
        let Some(limit) = self.parallel else {
            return Some(Slot(None));
        };
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *running >= limit {
            if interrupt.is_set() {
                return None;
            }
            running = self
                .freed
                .wait_timeout(running, Duration::from_millis(50))
                .map_or_else(|e| e.into_inner().0, |(guard, _)| guard);
        }
        *running += 1;
        Some(Slot(Some(self)))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(gate) = self.0 {
            let mut running = gate.running.lock().unwrap_or_else(PoisonError::into_inner);
            *running = running.saturating_sub(1);
            gate.freed.notify_one();
        }
    }
}

/// What became of one host.
enum HostOutcome {
    Done {
        duration: Duration,
        failure: Option<(String, String)>,
    },
    /// Never started: Ctrl-C, or the check's `max_failures` was reached.
    NotStarted,
}

/// Runs every health check of every loaded runbook. Entries that did not load get no checks.
pub fn run(entries: &[Entry], settings: &Settings, interrupt: &Interrupt) -> Checked {
    let env = crate::template::environment();
    let mut secrets = Vec::new();
    let mut services: Vec<ServiceChecks> = Vec::new();
    let mut states: Vec<Option<RunState>> = Vec::new();
    let mut planned: Vec<Planned<'_>> = Vec::new();
    let mut per_check_jobs: Vec<Vec<Job>> = Vec::new();
    for (service, entry) in entries.iter().enumerate() {
        // Secrets of a runbook that is not checked are masked too: its lint error may quote one.
        let (inputs, missing) = match entry.runbook.as_ref().map(inputs) {
            Some((values, missing, secret)) => {
                secrets.extend(secret);
                (values, missing)
            }
            None => (IndexMap::new(), Vec::new()),
        };
        let Some(runbook) = entry.checkable() else {
            services.push(ServiceChecks::default());
            states.push(None);
            continue;
        };
        let state = RunState::new(&entry.id, "status", inputs);
        for (index, command) in runbook.health.iter().enumerate() {
            let (check, jobs) = plan(&env, runbook, &state, &missing, command, index);
            planned.push(Planned { service, ..check });
            per_check_jobs.push(jobs);
        }
        services.push(ServiceChecks {
            checks: Vec::new(),
            links: links(&env, runbook, &state),
        });
        states.push(Some(state));
    }

    let pool = interleave(per_check_jobs);
    let total = pool.len();
    let mut targets = Targets::new(settings.ssh_config.clone());
    targets.prepare(pool.iter().map(|j| &j.job));

    let progress = progress_bar(total);
    let mut outcomes: Vec<Vec<Option<HostOutcome>>> = planned
        .iter()
        .map(|check| check.hosts.iter().map(|_| None).collect())
        .collect();
    let run = |pool_job: &PoolJob| -> Option<Output> {
        let check = &planned[pool_job.check];
        if interrupt.is_set() || check.gate.exhausted() {
            return None;
        }
        let _slot = check.gate.enter(interrupt)?;
        if check.gate.exhausted() {
            return None;
        }
        Some(targets.run(&pool_job.job, check.timeout, interrupt))
    };
    fanout::run_all(
        pool.iter().collect::<Vec<_>>(),
        settings.parallel,
        None,
        |job: &&PoolJob| run(job),
        |index, output| {
            let pool_job = &pool[index];
            let check = &planned[pool_job.check];
            let outcome = match output {
                None => HostOutcome::NotStarted,
                Some(output) => {
                    let state = states[check.service]
                        .as_ref()
                        .expect("a planned check belongs to a loaded runbook");
                    let failure = verdict(&env, check, state, &output);
                    if failure.is_some() {
                        check.gate.failures.fetch_add(1, Ordering::SeqCst);
                    }
                    HostOutcome::Done {
                        duration: duration_of(&output),
                        failure,
                    }
                }
            };
            let failed = !matches!(outcome, HostOutcome::Done { failure: None, .. });
            outcomes[pool_job.check][pool_job.host] = Some(outcome);
            progress.inc(1);
            failed
        },
    );
    progress.finish_and_clear();
    targets.close();

    for (check, outcomes) in planned.iter().zip(outcomes) {
        services[check.service]
            .checks
            .push(summarize(check, outcomes));
    }
    Checked {
        services,
        jobs: total,
        masker: Masker::new(secrets),
    }
}

/// The values a health check's templates see: each input's environment variable when set,
/// else its default. `status` asks nothing, so an input with neither is missing.
/// Returns the values, the missing names and the secret values.
fn inputs(runbook: &Runbook) -> (IndexMap<String, String>, Vec<String>, Vec<String>) {
    let mut values = IndexMap::new();
    let mut missing = Vec::new();
    let mut secrets = Vec::new();
    for (name, input) in &runbook.inputs {
        let from_env = input
            .env
            .as_ref()
            .and_then(|var| std::env::var(var.as_str()).ok());
        match from_env.or_else(|| input.default.as_ref().map(|d| d.value.clone())) {
            Some(value) => {
                if input.secret {
                    secrets.push(value.clone());
                }
                values.insert(name.value.clone(), value);
            }
            None => missing.push(name.value.clone()),
        }
    }
    (values, missing, secrets)
}

/// Renders one health check for its hosts, or says why it cannot run.
fn plan<'a>(
    env: &Environment<'_>,
    runbook: &'a Runbook,
    state: &RunState,
    missing: &[String],
    command: &'a Command,
    index: usize,
) -> (Planned<'a>, Vec<Job>) {
    let timeout = command
        .timeout
        .as_ref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT);
    let mut check = Planned {
        service: 0,
        runbook,
        command,
        name: command.name.as_ref().map_or_else(
            || format!("health check {}", index + 1),
            |n| n.value.clone(),
        ),
        warn: command.warn.as_ref().is_some_and(|w| w.value),
        fan_out: false,
        target: command
            .on
            .as_ref()
            .map_or_else(|| "local".to_string(), |on| on.value.clone()),
        timeout,
        refused: None,
        hosts: Vec::new(),
        gate: Gate::new(command),
    };
    let needed = missing_inputs(env, command, missing);
    if !needed.is_empty() {
        let names: Vec<String> = needed.iter().map(|n| format!("`{n}`")).collect();
        check.refused = Some(format!(
            "needs input {} without a default; `runbook status` asks nothing, so give {} a `default` or an `env`",
            names.join(", "),
            if needed.len() == 1 { "it" } else { "them" }
        ));
        return (check, Vec::new());
    }
    match runner::plan(runbook, state, env, command, None, timeout) {
        Ok(plan) if plan.jobs.is_empty() => {
            check.refused = Some("nothing to run: the check has neither `run` nor `http`".into());
            (check, Vec::new())
        }
        Ok(plan) => {
            check.fan_out = plan.fan_out;
            check.target = plan.target;
            check.hosts = plan.jobs.iter().map(|j| j.host().to_string()).collect();
            (check, plan.jobs)
        }
        Err(reason) => {
            check.refused = Some(format!("cannot render the check: {reason}"));
            (check, Vec::new())
        }
    }
}

/// The inputs among `missing` that the command's templates use.
fn missing_inputs(env: &Environment<'_>, command: &Command, missing: &[String]) -> Vec<String> {
    if missing.is_empty() {
        return Vec::new();
    }
    let mut sources: Vec<&str> = Vec::new();
    sources.extend(command.run.as_deref().map(String::as_str));
    sources.extend(command.on.as_deref().map(String::as_str));
    if let Some(http) = &command.http {
        sources.push(&http.url);
        sources.extend(http.headers.values().map(|v| v.as_str()));
        sources.extend(http.body.as_deref().map(String::as_str));
        sources.extend(http.body_contains.as_deref().map(String::as_str));
    }
    if let Some(expect) = &command.expect {
        sources.extend(expect.stdout_contains.as_deref().map(String::as_str));
        sources.extend(expect.stdout_not_contains.as_deref().map(String::as_str));
    }
    let mut needed: Vec<String> = Vec::new();
    for source in sources {
        let Ok(names) = crate::template::names_in_template(env, source) else {
            continue;
        };
        for path in names.paths {
            if let Some(name) = path.strip_prefix("inputs.") {
                let name = name.split('.').next().unwrap_or(name);
                if missing.iter().any(|m| m == name) && !needed.iter().any(|n| n == name) {
                    needed.push(name.to_string());
                }
            }
        }
    }
    needed
}

/// The runbook's links with their templates filled in (as written when they cannot be).
fn links(env: &Environment<'_>, runbook: &Runbook, state: &RunState) -> Vec<(String, String)> {
    runbook
        .links
        .iter()
        .map(|link| {
            let url = state
                .render(runbook, env, &link.url, false, None)
                .unwrap_or_else(|_| link.url.value.clone());
            (link.name.value.clone(), url)
        })
        .collect()
}

/// The jobs in the order the pool takes them: the first host of every check, then the second
/// of every check, and so on — so that one big fan-out does not hold up every other check.
fn interleave(per_check: Vec<Vec<Job>>) -> Vec<PoolJob> {
    let mut queues: Vec<std::vec::IntoIter<Job>> =
        per_check.into_iter().map(Vec::into_iter).collect();
    let mut pool = Vec::new();
    let mut host = 0;
    loop {
        let before = pool.len();
        for (check, queue) in queues.iter_mut().enumerate() {
            if let Some(job) = queue.next() {
                pool.push(PoolJob { check, host, job });
            }
        }
        if pool.len() == before {
            return pool;
        }
        host += 1;
    }
}

/// Passes, or `(expected, happened)`: shell output as `runbook run` judges a check, HTTP by
/// the request's expectations.
fn verdict(
    env: &Environment<'_>,
    check: &Planned<'_>,
    state: &RunState,
    output: &Output,
) -> Option<(String, String)> {
    judge_output(
        check.runbook,
        state,
        env,
        check.command,
        output,
        check.timeout,
    )
    .err()
}

/// One check's line: passed, or what failed — naming the hosts in a fan-out.
fn summarize(check: &Planned<'_>, outcomes: Vec<Option<HostOutcome>>) -> CheckStatus {
    let mut status = CheckStatus {
        name: check.name.clone(),
        ok: false,
        warn: check.warn,
        target: check.target.clone(),
        expected: None,
        reason: None,
        hosts: None,
        duration_ms: 0,
    };
    if let Some(reason) = &check.refused {
        status.reason = Some(reason.clone());
        return status;
    }
    let mut hosts = Vec::new();
    let mut failed: Vec<(&str, String)> = Vec::new();
    let mut not_started = Vec::new();
    let mut expected = None;
    for (host, outcome) in check.hosts.iter().zip(outcomes) {
        match outcome {
            Some(HostOutcome::Done { duration, failure }) => {
                status.duration_ms = status.duration_ms.max(millis(duration));
                let reason = failure.map(|(wanted, happened)| {
                    expected.get_or_insert(wanted);
                    one_line(&happened)
                });
                if let Some(reason) = &reason {
                    failed.push((host, reason.clone()));
                }
                hosts.push(HostStatus {
                    host: host.clone(),
                    ok: reason.is_none(),
                    reason,
                    duration_ms: millis(duration),
                });
            }
            Some(HostOutcome::NotStarted) | None => {
                not_started.push(host.as_str());
                hosts.push(HostStatus {
                    host: host.clone(),
                    ok: false,
                    reason: Some("not started".into()),
                    duration_ms: 0,
                });
            }
        }
    }
    status.ok = failed.is_empty() && not_started.is_empty();
    if !check.fan_out {
        status.expected = expected;
        status.reason = failed.into_iter().next().map(|(_, reason)| reason);
        if !status.ok && status.reason.is_none() {
            status.reason = Some("not started".into());
        }
        return status;
    }
    if !status.ok {
        let total = hosts.len();
        let mut reason = format!(
            "{} of {total} host{} failed",
            failed.len() + not_started.len(),
            if total == 1 { "" } else { "s" }
        );
        let named: Vec<String> = failed
            .iter()
            .map(|(host, why)| format!("{host}: {why}"))
            .collect();
        if !named.is_empty() {
            reason.push_str(&format!(" — {}", named.join("; ")));
        }
        if !not_started.is_empty() {
            let after = check
                .gate
                .max_failures
                .map_or_else(String::new, |max| format!(" after {max} failures"));
            reason.push_str(&format!("; not started{after}: {}", not_started.join(", ")));
        }
        status.reason = Some(reason);
        status.expected = expected.map(|e| format!("{e} on every host"));
    }
    status.hosts = Some(hosts);
    status
}

/// Newlines and runs of blanks as one space: a reason is one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn duration_of(output: &Output) -> Duration {
    match output {
        Output::Shell(output) => output.duration,
        Output::Http(response) => response.duration,
    }
}

/// A bar on stderr while the checks run; hidden when stderr is not a terminal.
fn progress_bar(total: usize) -> ProgressBar {
    if total == 0 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("  {spinner} checking {pos}/{len} {wide_bar} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::runner::Destination;

    fn job(n: usize) -> Job {
        Job::Shell {
            destination: Destination::Local,
            script: n.to_string(),
            shell: crate::model::Shell::Bash,
            env: Vec::new(),
        }
    }

    #[test]
    fn big_fan_outs_do_not_hold_up_the_other_checks() {
        let pool = interleave(vec![
            (0..3).map(job).collect(),
            vec![job(10)],
            (20..22).map(job).collect(),
        ]);
        let order: Vec<(usize, usize)> = pool.iter().map(|j| (j.check, j.host)).collect();
        assert_eq!(order, [(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2)]);
    }

    #[test]
    fn a_checks_own_parallel_and_max_failures_hold_inside_the_pool() {
        let command: Command =
            serde_saphyr::from_str("{ name: n, run: 'true', parallel: 2, max_failures: 3 }")
                .unwrap();
        let gate = Gate::new(&command);
        let (running, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let interrupt = Interrupt::default();
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    let _slot = gate.enter(&interrupt).unwrap();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert!(!gate.exhausted());
        gate.failures.store(3, Ordering::SeqCst);
        assert!(gate.exhausted());
        let unbounded = Gate::new(&Command::default());
        assert!(unbounded.parallel.is_none() && unbounded.max_failures.is_none());
    }

    #[test]
    fn reasons_are_one_line() {
        assert_eq!(one_line("exit 1:\n  boom\r\n"), "exit 1: boom");
    }

    #[track_caller]
    fn case(yaml_inputs: &str, check: &str, expected: &[&str]) {
        let yaml = format!(
            "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: {{ services: [s] }}\ninputs: {yaml_inputs}\nhealth:\n  - {check}\nsteps: [{{ id: a, name: A, instructions: x }}]\n"
        );
        let runbook = crate::load::parse(&yaml).unwrap();
        let (_, missing, _) = inputs(&runbook);
        let env = crate::template::environment();
        assert_eq!(
            missing_inputs(&env, &runbook.health[0], &missing),
            expected,
            "{check}"
        );
    }

    #[test]
    fn inputs_without_a_default_are_named() {
        let inputs = "{ env: { default: prod }, pod: {}, token: { secret: true } }";
        case(inputs, "{ name: n, run: 'echo {{ inputs.env }}' }", &[]);
        case(
            inputs,
            "{ name: n, run: 'echo {{ inputs.pod }}' }",
            &["pod"],
        );
        case(
            inputs,
            "{ name: n, http: { url: 'http://x/{{ inputs.pod }}', headers: { A: '{{ inputs.token }}' } } }",
            &["pod", "token"],
        );
        case(
            inputs,
            "{ name: n, run: 'true', expect: { stdout_contains: '{{ inputs.pod }}' } }",
            &["pod"],
        );
    }

    #[test]
    fn an_environment_variable_is_taken_before_the_default() {
        let yaml = "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\ninputs: { token: { secret: true, env: RUNBOOK_STATUS_TEST_TOKEN, default: fallback } }\nsteps: [{ id: a, name: A, instructions: x }]\n";
        let runbook = crate::load::parse(yaml).unwrap();
        let (values, missing, secrets) = inputs(&runbook);
        assert_eq!(values["token"], "fallback");
        assert!(missing.is_empty());
        assert_eq!(secrets, ["fallback"]);
    }
}
