//! `runbook run`: the interactive executor. [`run`] prepares a run (the runbook, checked;
//! the inputs; the timeline) and hands it to the [`engine::Engine`], which walks the steps.

pub mod approval;
pub(crate) mod capture;
pub(crate) mod compiled;
mod dry_run;
pub mod engine;
mod failure_menu;
pub(crate) mod fanout;
pub(crate) mod inputs;
pub(crate) mod judge;
pub mod prompt;
mod resume;
pub mod runner;
pub mod screen;
pub mod state;
mod step;
pub mod transport;

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use self::engine::{Ending, Engine, EngineSettings};
use self::prompt::Prompter;
use self::screen::Screen;
use self::state::RunState;
use self::transport::Interrupt;
use crate::lint;
use crate::model::{END, Runbook};
use crate::secrets::Masker;
use crate::timeline::{Event, RunFlags, RunOutcome, Timeline};
use crate::{Error, ExitStatus};

/// `runbook run`, as plain settings.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    pub runbook: Option<String>,
    pub catalog: Option<PathBuf>,
    pub sets: Vec<String>,
    pub incident: Option<String>,
    pub alerted_at: Option<String>,
    /// `--alert FILE|-`: the alert payload the run starts from.
    pub alert: Option<String>,
    pub timeline: Option<PathBuf>,
    pub ssh_config: Option<PathBuf>,
    pub from: Option<String>,
    pub dry_run: bool,
    pub rehearse: bool,
    pub yes: bool,
    pub answers: Vec<String>,
    pub resume: Option<PathBuf>,
    /// `--resume-runbook`: the runbook file to continue when the timeline's has moved.
    pub resume_runbook: Option<PathBuf>,
    /// `--allowed-signers FILE`: what approvals are checked against.
    pub allowed_signers: Option<PathBuf>,
}

/// Splits `NAME=VALUE` of a repeatable flag.
fn split_pair(flag: &'static str, pair: &str) -> Result<(String, String), Error> {
    match pair.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(Error::InvalidFlag {
            flag,
            value: pair.to_string(),
            reason: if flag == "--answer" {
                "write it as STEP=LABEL".into()
            } else {
                "write it as NAME=VALUE".into()
            },
        }),
    }
}

pub fn run(settings: RunSettings) -> Result<ExitStatus, Error> {
    if let Some(config) = &settings.ssh_config {
        check_ssh_config(config)?;
    }
    if let Some(timeline) = &settings.resume {
        return resume(&settings, timeline);
    }
    let argument = settings.runbook.clone().unwrap_or_default();
    let (path, catalog) = crate::load::resolve_argument(&argument, settings.catalog.as_deref())?;
    let (runbook, text) = lint::checked_runbook(&path, &catalog)?;
    let id = crate::load::runbook_id(&catalog, &path);

    let mut sets = indexmap::IndexMap::new();
    for pair in &settings.sets {
        let (name, value) = split_pair("--set", pair)?;
        sets.insert(name, value);
    }
    let (alert, alerts_in_payload) = match &settings.alert {
        Some(argument) => {
            let (alert, count) = crate::alert::read_for_run(argument)?;
            (Some(alert), count)
        }
        None => (None, 0),
    };
    // The alert's labels fill the inputs that name them; `--set` has the last word.
    if let Some(alert) = &alert {
        for (name, value) in crate::alert::label_inputs(&runbook, alert) {
            sets.entry(name).or_insert(value);
        }
    }
    let answers: HashMap<String, String> = settings
        .answers
        .iter()
        .map(|a| split_pair("--answer", a))
        .collect::<Result<_, _>>()?;
    let alerted_at = settings
        .alerted_at
        .as_deref()
        .or(alert.as_ref().and_then(|a| a.starts_at.as_deref()))
        .map(|t| {
            t.parse::<jiff::Timestamp>()
                .map_err(|e| Error::InvalidFlag {
                    flag: "--alerted-at",
                    value: t.to_string(),
                    reason: format!("not an RFC 3339 time such as 2026-11-21T03:58:00Z ({e})"),
                })
        })
        .transpose()?;
    let start = match &settings.from {
        Some(step) => runbook
            .steps
            .iter()
            .position(|s| s.id.value == *step)
            .ok_or_else(|| Error::InvalidFlag {
                flag: "--from",
                value: step.clone(),
                reason: format!(
                    "no such step; steps are {}",
                    runbook
                        .steps
                        .iter()
                        .map(|s| format!("`{}`", s.id.value))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?,
        None => 0,
    };
    inputs::check_sets(&runbook, &sets)?;
    check_answers(&runbook, &answers)?;

    if settings.dry_run {
        let inputs = inputs::for_dry_run(&runbook, &sets);
        let mut state = RunState::new(&id, "dry-run", inputs);
        state.alert = alert.clone();
        crate::commands::write_stdout(&dry_run::plan(&runbook, &id, &state, start))?;
        if !runbook.notify.is_empty() {
            eprintln!(
                "notify: {} notification{} configured; a dry run sends none",
                runbook.notify.len(),
                if runbook.notify.len() == 1 { "" } else { "s" }
            );
        }
        return Ok(ExitStatus::Success);
    }

    let terminal = std::io::stdin().is_terminal();
    let interrupt = Interrupt::install().map_err(Error::Output)?;
    let alert_age =
        alerted_at.and_then(|t| jiff::Timestamp::now().duration_since(t).try_into().ok());
    let mut screen = Screen::new(Masker::default(), alert_age);
    let mut prompter = Prompter::new(settings.yes, answers, terminal);

    banner(&screen, &runbook, &id, settings.rehearse);
    if let Some(alert) = &alert {
        alert_lines(&screen, alert, alerts_in_payload);
    }
    links(&screen, &mut prompter, &runbook, None);
    // At a terminal, an input with no value and no default is asked when a step first
    // needs it (not in a rehearsal: it asks everything first, as before).
    let defer = !settings.rehearse;
    let inputs = match inputs::resolve_deferring(&runbook, &sets, &mut prompter, &screen, defer)? {
        Ok(inputs) => inputs,
        Err(ending) => return Ok(report_unstarted(&screen, ending)),
    };
    let deferred = inputs::missing(&runbook, &inputs);
    let masker = Masker::new(inputs::secret_values(&runbook, &inputs));
    screen.set_masker(masker.clone());

    let started_at = jiff::Timestamp::now();
    screen.start_clock_at(started_at);
    let incident = settings
        .incident
        .clone()
        .unwrap_or_else(|| default_incident(&id, started_at));
    // Absolute, so that the resume command printed on pause works from any folder.
    let timeline_path = absolute(
        &settings
            .timeline
            .clone()
            .unwrap_or_else(|| PathBuf::from("timelines").join(format!("{incident}.jsonl"))),
    );
    let mut timeline = Timeline::create(&timeline_path, &incident, masker)?;
    let mut state = RunState::new(&id, &incident, inputs);
    state.alert = alert.clone();
    links(&screen, &mut prompter, &runbook, Some(&state));

    timeline.record(
        None,
        Event::RunStarted {
            runbook: id.clone(),
            path: absolute(&path).display().to_string(),
            sha256: crate::timeline::sha256_hex(text.as_bytes()),
            git_commit: git_commit(&path),
            operator: operator(),
            inputs: inputs::for_timeline(&runbook, &state.inputs),
            alerted_at: alerted_at.map(|t| t.to_string()),
            rehearsal: settings.rehearse,
            from: settings.from.clone(),
            flags: RunFlags {
                ssh_config: settings
                    .ssh_config
                    .as_deref()
                    .map(|p| absolute(p).display().to_string()),
                catalog: Some(absolute(&catalog).display().to_string()),
                allowed_signers: settings
                    .allowed_signers
                    .as_deref()
                    .map(|p| absolute(p).display().to_string()),
            },
            anchored: true,
            alert: alert.map(Box::new),
        },
    )?;
    // What `started` notifications tell: the event as recorded (secrets masked).
    let started = crate::timeline::read(timeline.path())
        .ok()
        .and_then(|reading| reading.records.into_iter().next())
        .map(|record| record.event);
    let notifier = notifier_for(&runbook, &screen, settings.rehearse, &id, &state, &timeline);
    let mut engine = Engine::new(
        EngineSettings {
            rehearse: settings.rehearse,
            catalog,
            ssh_config: settings.ssh_config.clone(),
        },
        timeline,
        prompter,
        screen,
        interrupt,
    );
    engine.deferred_inputs = deferred;
    engine.approval.allowed_signers = settings.allowed_signers.clone();
    engine.notifier = notifier;
    if let (Some(notifier), Some(started)) = (&engine.notifier, &started) {
        notifier.event(None, started);
    }
    finish(engine, &runbook, state, start, started_at)
}

/// Walks the steps and writes how the run ended.
/// `started_at` is when the run first started: a resumed run's duration counts from there.
fn finish(
    mut engine: Engine,
    runbook: &Runbook,
    mut state: RunState,
    start: usize,
    started_at: jiff::Timestamp,
) -> Result<ExitStatus, Error> {
    let ending = engine.run_steps(runbook, &mut state, "", start);
    engine.close();
    let ending = ending?;
    let elapsed = jiff::Timestamp::now().duration_since(started_at);
    let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(0);
    let path = engine.timeline.path().display().to_string();
    engine.screen.blank();
    let skipped_failures = std::mem::take(&mut engine.skipped_failures);
    notify_end(&mut engine, &ending, duration_ms, &skipped_failures)?;
    let status = match &ending {
        Ending::Resolved => {
            let skipped = skipped_failures.len();
            engine.timeline.record(
                None,
                Event::RunFinished {
                    outcome: RunOutcome::Resolved,
                    duration_ms,
                    skipped_failures: skipped_failures.clone(),
                },
            )?;
            let clock = engine.screen.clock();
            if skipped == 0 {
                engine
                    .screen
                    .ok(&format!("Runbook finished: resolved. {clock}"));
            } else {
                engine.screen.warn(&format!(
                    "Runbook finished: resolved{} ({}). {clock}",
                    skipped_note(skipped),
                    skipped_failures.join(", ")
                ));
            }
            ExitStatus::Success
        }
        Ending::Failed { step } | Ending::Aborted { step } => {
            let outcome = match &ending {
                Ending::Aborted { .. } => RunOutcome::Aborted,
                _ => RunOutcome::Failed,
            };
            engine.timeline.record(
                None,
                Event::RunFinished {
                    outcome,
                    duration_ms,
                    skipped_failures,
                },
            )?;
            engine.screen.fail(&format!(
                "Runbook stopped at step `{step}`: {}.",
                outcome.as_str()
            ));
            ExitStatus::Failure
        }
        Ending::Paused { step } => {
            engine.timeline.record(
                None,
                Event::RunPaused {
                    at_step: step.clone(),
                },
            )?;
            engine.screen.warn(&format!(
                "Paused at step `{step}`. Resume with: runbook run --resume {path}"
            ));
            ExitStatus::Interrupted
        }
        Ending::NeedsHuman { step, question } => {
            engine.timeline.record(
                None,
                Event::RunPaused {
                    at_step: step.clone(),
                },
            )?;
            engine.screen.fail(&format!(
                "Step `{step}` needs a person (\"{question}\"), but stdin is not a terminal."
            ));
            engine.screen.info(
                "answer it with --yes or --answer STEP=LABEL, or run in a terminal; resume with:",
            );
            engine.screen.info(&format!("runbook run --resume {path}"));
            ExitStatus::NeedsHuman
        }
    };
    engine.screen.info(&format!("timeline: {path}"));
    // The chain's anchor, kept apart from the file: whoever keeps this line can tell a
    // timeline whose tail was dropped or rewritten (`runbook timeline verify`).
    engine
        .screen
        .info(&format!("head: sha256 {}", engine.timeline.head()));
    match engine.timeline.signature() {
        Some(Ok(Some(signature))) => engine
            .screen
            .info(&format!("head signed: {}", signature.display())),
        Some(Ok(None)) => engine
            .screen
            .info("head not signed: no SSH key or agent could sign it"),
        Some(Err(error)) => engine.screen.warn(&format!("head not signed: {error}")),
        None => {}
    }
    Ok(status)
}

/// The runbook's notifier, unless it has no `notify:` or this is a rehearsal (said on screen).
fn notifier_for(
    runbook: &Runbook,
    screen: &Screen,
    rehearse: bool,
    id: &str,
    state: &RunState,
    timeline: &Timeline,
) -> Option<crate::notify::Notifier> {
    if runbook.notify.is_empty() {
        return None;
    }
    if rehearse {
        screen.info("rehearsal: notifications (`notify:`) are not sent");
        return None;
    }
    let operator = operator();
    crate::notify::Notifier::new(
        runbook,
        &crate::notify::About {
            runbook_id: id,
            incident: &state.incident,
            operator: &operator,
            timeline: timeline.path(),
            inputs: &state.inputs,
        },
        timeline.masker().clone(),
    )
}

/// The notifications of the run's end (`finished`, `paused`), sent and waited for briefly
/// before the end is recorded, so that a failure is in the timeline before its last event.
fn notify_end(
    engine: &mut Engine,
    ending: &Ending,
    duration_ms: u64,
    skipped_failures: &[String],
) -> Result<(), Error> {
    let Some(notifier) = &engine.notifier else {
        return Ok(());
    };
    let event = match ending {
        Ending::Resolved => Event::RunFinished {
            outcome: RunOutcome::Resolved,
            duration_ms,
            skipped_failures: skipped_failures.to_vec(),
        },
        Ending::Failed { .. } => Event::RunFinished {
            outcome: RunOutcome::Failed,
            duration_ms,
            skipped_failures: skipped_failures.to_vec(),
        },
        Ending::Aborted { .. } => Event::RunFinished {
            outcome: RunOutcome::Aborted,
            duration_ms,
            skipped_failures: skipped_failures.to_vec(),
        },
        Ending::Paused { step } | Ending::NeedsHuman { step, .. } => Event::RunPaused {
            at_step: step.clone(),
        },
    };
    notifier.event(None, &event);
    engine.record_notify_failures(Some(crate::notify::FLUSH))?;
    if let Some(notifier) = engine.notifier.take() {
        notifier.close();
    }
    Ok(())
}

/// `, with N failed steps skipped`, or nothing: how a resolved run is told honestly.
fn skipped_note(skipped: usize) -> String {
    match skipped {
        0 => String::new(),
        1 => ", with 1 failed step skipped".into(),
        n => format!(", with {n} failed steps skipped"),
    }
}

fn report_unstarted(screen: &Screen, ending: Ending) -> ExitStatus {
    match ending {
        Ending::NeedsHuman { step, question } => {
            screen.fail(&format!("{step} needs a value (\"{question}\"), but stdin is not a terminal; give it with --set"));
            ExitStatus::NeedsHuman
        }
        _ => {
            screen.warn("quit before the run started; nothing was recorded");
            ExitStatus::Interrupted
        }
    }
}

/// `runbook run --resume TIMELINE`. Everything that can refuse is checked before the
/// timeline is touched, so a resume that cannot start leaves the run resumable as it was.
fn resume(settings: &RunSettings, timeline_path: &Path) -> Result<ExitStatus, Error> {
    let invalid = |reason: String| Error::InvalidFlag {
        flag: "--resume",
        value: timeline_path.display().to_string(),
        reason,
    };
    let timeline_path = &absolute(timeline_path);
    Timeline::check_resumable(timeline_path)?;
    let reading = crate::timeline::read(timeline_path)?;
    let run = resume::interrupted(&reading.records)
        .ok_or_else(|| invalid("the timeline has no `run_started` event".into()))?;
    if let Some(outcome) = &run.finished {
        return Err(invalid(format!(
            "this run already finished ({outcome}); there is nothing to resume"
        )));
    }
    let (path, catalog) = resume::locate(
        &run,
        settings.catalog.as_deref(),
        settings.resume_runbook.as_deref(),
    )
    .map_err(|reason| match &settings.resume_runbook {
        Some(file) => Error::InvalidFlag {
            flag: "--resume-runbook",
            value: file.display().to_string(),
            reason,
        },
        None => invalid(reason),
    })?;
    if let Some(file) = &settings.resume_runbook
        && !file.is_file()
    {
        return Err(Error::InvalidFlag {
            flag: "--resume-runbook",
            value: file.display().to_string(),
            reason: "not a runbook file".into(),
        });
    }
    let (runbook, text) = lint::checked_runbook(&path, &catalog)?;
    // The flags of the first run, unless given again.
    let ssh_config = match (&settings.ssh_config, &run.flags.ssh_config) {
        (Some(given), _) => Some(given.clone()),
        (None, Some(recorded)) => {
            let recorded = PathBuf::from(recorded);
            check_ssh_config(&recorded).map_err(|_| {
                invalid(format!(
                    "the first run used `--ssh-config {}`, which cannot be read any more; give `--ssh-config FILE`",
                    recorded.display()
                ))
            })?;
            Some(recorded)
        }
        (None, None) => None,
    };
    let mut sets = resume::recorded_inputs(&runbook, &run.inputs);
    let mut overrides = std::collections::BTreeMap::new();
    for pair in &settings.sets {
        let (name, value) = split_pair("--set", pair)?;
        if !resume::is_secret(&runbook, &name) && sets.get(&name) != Some(&value) {
            overrides.insert(name.clone(), value.clone());
        }
        sets.insert(name, value);
    }
    inputs::check_sets(&runbook, &sets)?;
    let rebuilt = resume::rebuild(&runbook, &catalog, &reading.records, run.from.as_deref())
        .map_err(|reason| {
            invalid(format!(
                "{reason}; the timeline is left as it was (`--resume-runbook FILE` runs another file)"
            ))
        })?;

    let alert_age = run
        .alerted_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .and_then(|t| jiff::Timestamp::now().duration_since(t).try_into().ok());
    let interrupt = Interrupt::install().map_err(Error::Output)?;
    let mut screen = Screen::new(Masker::default(), alert_age);
    let answers: HashMap<String, String> = settings
        .answers
        .iter()
        .map(|a| split_pair("--answer", a))
        .collect::<Result<_, _>>()?;
    check_answers(&runbook, &answers)?;
    let mut prompter = Prompter::new(settings.yes, answers, std::io::stdin().is_terminal());
    banner(&screen, &runbook, &run.runbook_id, run.rehearsal);
    if let Some(alert) = &run.alert {
        alert_lines(&screen, alert, 1);
    }
    links(&screen, &mut prompter, &runbook, None);
    if crate::timeline::sha256_hex(text.as_bytes()) != run.sha256 {
        screen.warn(&format!("`{}` changed since this run started (its sha256 differs): the steps may not be the ones you saw", path.display()));
    }
    // Inputs given late (`input_given`) are restored with those of the start; one not given
    // yet is asked when a step needs it, as in the first run.
    let inputs =
        match inputs::resolve_deferring(&runbook, &sets, &mut prompter, &screen, !run.rehearsal)? {
            Ok(inputs) => inputs,
            Err(ending) => return Ok(report_unstarted(&screen, ending)),
        };
    let deferred = inputs::missing(&runbook, &inputs);
    let masker = Masker::new(inputs::secret_values(&runbook, &inputs));
    screen.set_masker(masker.clone());

    // Every check passed: from here on the timeline is written.
    let (mut timeline, records, dropped) = Timeline::resume(timeline_path, masker)?;
    if records.len() != reading.records.len() {
        return Err(invalid(
            "the timeline changed while the run was being resumed (is another run writing it?)"
                .into(),
        ));
    }
    if let Some(bytes) = dropped {
        screen.warn(&format!("the timeline ended with a torn line (the machine stopped mid-write); its {bytes} bytes were cut off"));
    }
    let mut state = RunState::new(&run.runbook_id, &run.incident, inputs);
    state.alert = run.alert.clone();
    rebuilt.top.restore_into(&mut state);
    links(&screen, &mut prompter, &runbook, Some(&state));
    screen.info(&format!("timeline: {}", timeline_path.display()));
    // Every step had finished (the run only lacks its end): the walk below starts past the
    // last step, and `finish` records the end as any run's.
    let (index, inner, at_step) = match rebuilt.at {
        Some(at) => {
            let at_step = std::iter::once(runbook.steps[at.index].id.value.clone())
                .chain(at.inner.iter().cloned())
                .collect::<Vec<_>>()
                .join("/");
            (at.index, at.inner, at_step)
        }
        None => (runbook.steps.len(), Vec::new(), END.to_string()),
    };
    timeline.record(
        None,
        Event::RunResumed {
            at_step: at_step.clone(),
            dropped_bytes: dropped,
            inputs: overrides,
        },
    )?;
    // Another operator taking the run over: recorded and said, for the postmortem.
    let before = last_operator(&records);
    let now = operator();
    let mut handed_over = None;
    if let Some(before) = before.filter(|before| *before != now) {
        timeline.record(
            None,
            Event::HandedOver {
                from: before.clone(),
                to: now.clone(),
            },
        )?;
        screen.warn(&format!("handed over: {before} → {now} (recorded)"));
        handed_over = Some(Event::HandedOver {
            from: before.clone(),
            to: now.clone(),
        });
    }
    screen.blank();
    if index < runbook.steps.len() {
        screen.ok(&format!("resuming at step `{at_step}`"));
    } else {
        screen.ok("every step had finished: only the run's end is recorded now");
    }
    if let Some(at) = records.first().and_then(|r| r.timestamp()) {
        screen.start_clock_at(at);
    }
    let notifier = notifier_for(
        &runbook,
        &screen,
        run.rehearsal,
        &run.runbook_id,
        &state,
        &timeline,
    );
    let mut engine = Engine::new(
        EngineSettings {
            rehearse: run.rehearsal,
            catalog,
            ssh_config,
        },
        timeline,
        prompter,
        screen,
        interrupt,
    );
    engine.approval.allowed_signers = settings
        .allowed_signers
        .clone()
        .or_else(|| run.flags.allowed_signers.as_ref().map(PathBuf::from));
    engine.notifier = notifier;
    if let (Some(notifier), Some(event)) = (&engine.notifier, &handed_over) {
        notifier.event(None, event);
    }
    engine.resume_inner = inner;
    engine.deferred_inputs = deferred;
    engine.resumed_inside = rebuilt.inside;
    engine.skipped_failures = rebuilt.skipped_failures;
    let started_at = records
        .first()
        .and_then(|r| r.timestamp())
        .unwrap_or_else(jiff::Timestamp::now);
    finish(engine, &runbook, state, index, started_at)
}

/// `path` made absolute against the current folder (as given when that fails).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `--answer STEP=LABEL` names a step that asks, and one of its choices. Steps of a
/// sub-procedure (`restart/inner`) are taken as they are.
fn check_answers(runbook: &Runbook, answers: &HashMap<String, String>) -> Result<(), Error> {
    for (step_id, label) in answers {
        if step_id.contains('/') {
            continue;
        }
        let invalid = |reason: String| Error::InvalidFlag {
            flag: "--answer",
            value: format!("{step_id}={label}"),
            reason,
        };
        let Some(step) = runbook.steps.iter().find(|s| s.id.value == *step_id) else {
            return Err(invalid(format!("the runbook has no step `{step_id}`")));
        };
        let Some(ask) = &step.ask else {
            return Err(invalid(format!(
                "step `{step_id}` asks nothing; `--yes` answers manual steps and confirmations"
            )));
        };
        if let Some(choices) = &ask.choices
            && !choices
                .iter()
                .any(|c| c.label.value.eq_ignore_ascii_case(label))
        {
            let labels: Vec<String> = choices
                .iter()
                .map(|c| format!("`{}`", c.label.value))
                .collect();
            return Err(invalid(format!(
                "`{label}` is not a choice of `{step_id}`; its choices are {}",
                labels.join(", ")
            )));
        }
    }
    Ok(())
}

/// The compact header: title; id, priority, owner, scope; what the runbook restores (the
/// first sentence of its summary); who to call first. The dashboard follows once the inputs
/// are known ([`links`]); every contact and link is one menu entry away at every prompt.
fn banner(screen: &Screen, runbook: &Runbook, id: &str, rehearse: bool) {
    let mode = if rehearse {
        " · REHEARSAL: actions are shown, not run"
    } else {
        ""
    };
    let mut about = vec![id.to_string()];
    if let Some(priority) = &runbook.priority {
        about.push(format!("{:?}", priority.value));
    }
    about.push(format!("owner {}", runbook.owner.value));
    about.push(format!("reviewed {}", runbook.reviewed.value));
    let services: Vec<&str> = runbook.scope.services.iter().map(|s| s.as_str()).collect();
    let environments: Vec<&str> = runbook
        .scope
        .environments
        .iter()
        .map(|s| s.as_str())
        .collect();
    // The scope in one word or two: the environments (the services are in the title, most
    // often, and in `runbook list`).
    if !environments.is_empty() {
        about.push(environments.join(", "));
    } else if !services.is_empty() {
        about.push(services.join(", "));
    }
    screen.title(&runbook.title, &format!("{}{mode}", about.join(" · ")));
    if let Some(summary) = &runbook.summary {
        screen.markdown(&first_sentence(summary), "");
    }
    if let Some(first) = runbook.contacts.first() {
        screen.line(&format!("Call first: {}", reach_line(first)));
    }
}

/// The alert the run started from (`--alert`), under the banner: which alert, since when,
/// and what it says.
fn alert_lines(screen: &Screen, alert: &crate::alert::Alert, in_payload: usize) {
    screen.section("Alert");
    for line in alert_header(alert, in_payload) {
        screen.line(&line);
    }
}

/// The lines of [`alert_lines`], without the screen.
pub fn alert_header(alert: &crate::alert::Alert, in_payload: usize) -> Vec<String> {
    let mut lines = vec![format!("  {} · {}", alert.headline(), alert.source.name())];
    if alert.name().is_some() && !alert.text.is_empty() && alert.text != alert.headline() {
        let text = alert.text.lines().next().unwrap_or_default();
        lines.push(format!("  {text}"));
    }
    match (&alert.status, &alert.starts_at) {
        (Some(status), Some(at)) => lines.push(format!("  {status} since {at}")),
        (None, Some(at)) => lines.push(format!("  since {at}")),
        _ => {}
    }
    if in_payload > 1 {
        lines.push(format!(
            "  the payload holds {in_payload} alerts: this run answers the first"
        ));
    }
    lines
}

/// `Web team on-call — chat #web-oncall · phone +33 1 00 00 00 02`: the name and how to reach.
fn reach_line(contact: &crate::model::Contact) -> String {
    let reach: Vec<String> = [
        ("chat", &contact.chat),
        ("phone", &contact.phone),
        ("email", &contact.email),
    ]
    .into_iter()
    .filter_map(|(how, value)| value.as_ref().map(|v| format!("{how} {v}")))
    .collect();
    if reach.is_empty() {
        contact.name.value.clone()
    } else {
        format!("{} — {}", contact.name.value, reach.join(" · "))
    }
}

/// The first sentence of the summary (its first paragraph when no sentence ends in it).
fn first_sentence(summary: &str) -> String {
    let paragraph = summary.trim().split("\n\n").next().unwrap_or_default();
    let flat = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(". ") {
        Some(end) => flat[..=end].to_string(),
        None => flat,
    }
}

/// The links rendered with the run's inputs: the dashboard on screen, and every contact and
/// link behind the "Contacts and links" entry of every prompt.
fn links(screen: &Screen, prompter: &mut Prompter, runbook: &Runbook, state: Option<&RunState>) {
    let env = crate::template::environment();
    let rendered: Vec<(String, String)> = runbook
        .links
        .iter()
        .map(|link| {
            let url = state
                .and_then(|state| state.render(runbook, &env, &link.url, false, None).ok())
                .unwrap_or_else(|| link.url.value.clone());
            (link.name.value.clone(), url)
        })
        .collect();
    prompter.set_reference(screen.reference(&runbook.contacts, &rendered));
    if state.is_none() {
        return;
    }
    let dashboard = rendered
        .iter()
        .find(|(name, _)| name.to_lowercase().contains("dashboard"))
        .or(rendered.first());
    let more = if runbook.contacts.len() + runbook.links.len() > 1 {
        " · every contact and link: ☎ in any menu"
    } else {
        ""
    };
    if let Some((name, url)) = dashboard {
        screen.line(&format!("{name}: {url}{more}"));
    }
}

fn default_incident(id: &str, at: jiff::Timestamp) -> String {
    let stamp = at.strftime("%Y%m%d-%H%M%S");
    format!("{}-{stamp}", id.replace('/', "-"))
}

fn git_commit(path: &Path) -> Option<String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Who has the run: the operator of `run_started`, or the last one it was handed over to.
fn last_operator(records: &[crate::timeline::Record]) -> Option<String> {
    records.iter().rev().find_map(|record| match &record.event {
        Event::HandedOver { to, .. } => Some(to.clone()),
        Event::RunStarted { operator, .. } => Some(operator.clone()),
        _ => None,
    })
}

/// `user@host`: `$USER` (else the account's name) and the host name; `RUNBOOK_OPERATOR`
/// names the person instead where several share an account (a bastion, a break-glass user).
pub(crate) fn operator() -> String {
    if let Ok(named) = std::env::var("RUNBOOK_OPERATOR")
        && !named.trim().is_empty()
    {
        return named.trim().to_string();
    }
    let user = std::env::var("USER")
        .ok()
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".into());
    let host = nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{host}")
}

/// `--ssh-config FILE` must name a file ssh can read: found now, before anything runs, rather
/// than as a failure of every host at the first remote step.
pub fn check_ssh_config(path: &std::path::Path) -> Result<(), Error> {
    let invalid = |reason: String| Error::InvalidFlag {
        flag: "--ssh-config",
        value: path.display().to_string(),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(invalid("a folder, not an ssh config file".into())),
        Ok(_) => std::fs::File::open(path)
            .map(drop)
            .map_err(|e| invalid(format!("cannot read it: {e}"))),
        Err(e) => Err(invalid(format!("cannot read it: {e}"))),
    }
}

/// What a scripted run (`runbook test`) did: how it ended, and every event it recorded, in
/// order, each with its step.
#[derive(Debug)]
pub(crate) struct ScriptedRun {
    pub ending: Ending,
    pub events: Vec<(Option<String>, Event)>,
}

/// `runbook test`: walks `runbook` with the engine of `run`, against `scripted` targets, with
/// `prompter`'s answers, an in-memory timeline and a screen that shows nothing. `Ok(Err(why))`
/// when the run cannot start: an input `sets` gives is invalid, or one has no value.
pub(crate) fn run_scripted(
    runbook: &Runbook,
    id: &str,
    catalog: PathBuf,
    sets: &indexmap::IndexMap<String, String>,
    mut prompter: Prompter,
    scripted: std::sync::Arc<transport::scripted::Scripted>,
) -> Result<Result<ScriptedRun, String>, Error> {
    if let Err(error) = inputs::check_sets(runbook, sets) {
        return Ok(Err(error.to_string()));
    }
    // Said once per runbook: a test sends no notification.
    static NOTIFY_SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if !runbook.notify.is_empty()
        && let Ok(mut said) = NOTIFY_SAID.lock()
        && !said.iter().any(|s| s == id)
    {
        said.push(id.to_string());
        eprintln!("{id}: `notify:` is not sent by `runbook test`");
    }
    let screen = Screen::quiet();
    let inputs = match inputs::resolve(runbook, sets, &mut prompter, &screen) {
        Ok(Ok(inputs)) => inputs,
        Ok(Err(Ending::NeedsHuman { step, .. } | Ending::Paused { step })) => {
            return Ok(Err(format!("{step} has no value: give it in `inputs`")));
        }
        Ok(Err(other)) => return Ok(Err(format!("the run did not start: {other:?}"))),
        Err(error) => return Ok(Err(error.to_string())),
    };
    let timeline = Timeline::in_memory("test", Masker::default())?;
    let state_inputs = inputs;
    let mut state = RunState::new(id, "test", state_inputs);
    let interrupt = Interrupt::default();
    let mut engine = Engine::new(
        EngineSettings {
            rehearse: false,
            catalog,
            ssh_config: None,
        },
        timeline,
        prompter,
        screen,
        interrupt.clone(),
    );
    engine.runner = runner::Runner::scripted(scripted, interrupt);
    // Approvals are scripted (recorded as such); notifications are never sent.
    engine.approval.scripted = true;
    let ending = engine.run_steps(runbook, &mut state, "", 0)?;
    Ok(Ok(ScriptedRun {
        ending,
        events: engine.timeline.recorded().to_vec(),
    }))
}
