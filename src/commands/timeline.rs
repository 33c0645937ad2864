//! `runbook timeline FILE` and `runbook timeline verify FILE`. What a timeline holds came
//! from outside (outputs, values, notes): it is sanitised before it is shown, in text and in
//! the postmortem; JSON escapes control characters itself.

use std::io::IsTerminal as _;
use std::io::Write as _;
use std::path::Path;

use super::write_stdout;
use crate::cli::TimelineFormat;
use crate::timeline::{self, HeadState, Record, TornTail, anchor};
use crate::{Error, ExitStatus};

/// Prints a timeline as a chronology, a postmortem draft or JSON.
pub fn show(file: &Path, format: TimelineFormat) -> Result<ExitStatus, Error> {
    let reading = timeline::read(file)?;
    if let Some(torn) = reading.torn_tail {
        warn_torn(file, torn);
    }
    if reading.records.is_empty() {
        warn(&format!("`{}` holds no event", file.display()));
    }
    let sanitized = || -> Vec<Record> { reading.records.iter().map(Record::sanitized).collect() };
    let text = match format {
        TimelineFormat::Text => timeline::chronology(&reading.records, crate::color::on_stdout()),
        TimelineFormat::Md => timeline::postmortem(&sanitized()),
        TimelineFormat::Json => timeline::to_json(&reading.records),
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Success)
}

/// Checks the hash chain, that the file ends where its head says, and with
/// `allowed_signers` the head's signature: exit 0 when all hold, 1 with the first broken line
/// (or what is missing) otherwise.
pub fn verify(file: &Path, allowed_signers: Option<&Path>) -> Result<ExitStatus, Error> {
    let verification = timeline::verify(file)?;
    if let Some(torn) = verification.torn_tail {
        warn_torn(file, torn);
    }
    if let Some(broken) = &verification.broken {
        write_stdout(&format!("✘ line {}: {}\n", broken.line, broken.reason))?;
        return Ok(ExitStatus::Failure);
    }
    let events = verification.events;
    let noun = if events == 1 { "event" } else { "events" };
    let head = anchor::head_path(file);
    match verification.head {
        // A timeline written before heads existed, or a cut copy: the chain still holds, but
        // its end is not checked, which is said plainly. A signature check then fails.
        HeadState::Missing => write_stdout(&format!(
            "✔ {events} {noun}, chain intact; but there is no head `{}` beside it, so its end \
             is not checked (a dropped tail or an added event would not show)\n",
            head.display()
        ))?,
        HeadState::Interrupted => {
            warn(&format!(
                "the run stopped (killed, or the machine lost power) before it committed line \
                 {events}; that line is whole and is the one it announced in `{}`",
                head.display()
            ));
            write_stdout(&format!(
                "✔ {events} {noun}, chain intact, ends at its head `{}`\n",
                head.display()
            ))?;
        }
        HeadState::Anchored | HeadState::NotChecked => write_stdout(&format!(
            "✔ {events} {noun}, chain intact, ends at its head `{}`\n",
            head.display()
        ))?,
    }
    let signature = anchor::signature_path(file);
    match allowed_signers {
        Some(allowed) => match anchor::check_signature(file, allowed) {
            Ok(signer) => {
                write_stdout(&format!("✔ head signed by {signer}\n"))?;
                Ok(ExitStatus::Success)
            }
            Err(why) => {
                write_stdout(&format!("✘ signature: {why}\n"))?;
                Ok(ExitStatus::Failure)
            }
        },
        None => {
            if signature.is_file() {
                write_stdout(&format!(
                    "  the head is signed (`{}`); check it with --allowed-signers FILE\n",
                    signature.display()
                ))?;
            } else {
                write_stdout(
                    "  the head is not signed: a rewrite of the file and its head together would not show\n",
                )?;
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// The writer stopped mid-line (the machine died): say so, then read on without that line.
fn warn_torn(file: &Path, torn: TornTail) {
    warn(&format!(
        "`{}:{}` is a torn last line ({} bytes without a newline: the writer stopped \
         mid-line); it is ignored",
        file.display(),
        torn.line,
        torn.bytes
    ));
}

fn warn(message: &str) {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Yellow.into()));
    let _ = writeln!(anstream::stderr(), "{style}warning{style:#}: {message}");
}

/// `runbook timeline FILE --follow`: the chronology so far, then each event as the run writes
/// it, with the current step and the clock on a status line (at a terminal). Read-only: the
/// file is opened for reading and the writer's lock is never taken, so the run is never in
/// the way of it nor it in the run's. Only whole lines are shown; a line being written is
/// waited for. Ends when `run_finished` lands, or on Ctrl-C (the run goes on).
pub fn follow(file: &Path) -> Result<ExitStatus, Error> {
    use std::io::{Read as _, Seek as _};
    let open_error = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => timeline::TimelineError::NotFound {
            path: file.to_path_buf(),
        },
        _ => timeline::TimelineError::Read {
            path: file.to_path_buf(),
            source,
        },
    };
    let mut handle = std::fs::File::open(file).map_err(open_error)?;
    let interrupt = crate::execute::transport::Interrupt::install().map_err(Error::Output)?;
    let terminal = std::io::stdout().is_terminal();
    let mut records: Vec<Record> = Vec::new();
    // Bytes of whole lines read so far, and the start of a line not yet whole.
    let mut consumed: u64 = 0;
    let mut partial: Vec<u8> = Vec::new();
    let mut printed = 0;
    let mut status_shown = false;
    let mut last_status = std::time::Instant::now() - std::time::Duration::from_secs(2);
    loop {
        // A torn last line cut off by `--resume`: read again from the last whole line.
        let len = handle.metadata().map_err(open_error)?.len();
        if len < consumed + partial.len() as u64 {
            partial.clear();
            handle
                .seek(std::io::SeekFrom::Start(consumed))
                .map_err(open_error)?;
        }
        let mut fresh = Vec::new();
        handle.read_to_end(&mut fresh).map_err(open_error)?;
        partial.extend_from_slice(&fresh);
        let mut added = false;
        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            consumed += line.len() as u64;
            let number = records.len() + 1;
            let record = timeline::parse_record(&line[..line.len() - 1]).map_err(|reason| {
                timeline::TimelineError::Malformed {
                    path: file.to_path_buf(),
                    line: number,
                    reason,
                }
            })?;
            records.push(record);
            added = true;
        }
        if added {
            let text = timeline::chronology(&records, terminal);
            let lines: Vec<&str> = text.lines().collect();
            let mut out = String::new();
            if status_shown {
                out.push_str("\r\x1b[2K");
                status_shown = false;
            }
            for line in lines.iter().skip(printed) {
                out.push_str(line);
                out.push('\n');
            }
            printed = lines.len();
            write_stdout(&out)?;
        }
        let finished = records
            .iter()
            .any(|r| matches!(r.event, timeline::Event::RunFinished { .. }));
        if finished {
            return Ok(ExitStatus::Success);
        }
        if interrupt.is_set() {
            let mut out = String::new();
            if status_shown {
                out.push_str("\r\x1b[2K");
            }
            out.push_str("stopped following; the run goes on\n");
            write_stdout(&out)?;
            return Ok(ExitStatus::Success);
        }
        if terminal && (added || last_status.elapsed() >= std::time::Duration::from_secs(1)) {
            write_stdout(&format!("\r\x1b[2K{}", follow_status(&records)))?;
            status_shown = true;
            last_status = std::time::Instant::now();
        }
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
}

/// `following · step drain · running for 12m 30s · 04:12:09 UTC`.
fn follow_status(records: &[Record]) -> String {
    let now = jiff::Timestamp::now();
    let step = records
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            timeline::Event::RunPaused { at_step } => Some(format!("paused at {at_step}")),
            timeline::Event::StepStarted { .. } => r.step.as_ref().map(|s| format!("step {s}")),
            _ => None,
        })
        .unwrap_or_else(|| "waiting for the first step".into());
    let since = records
        .first()
        .and_then(Record::timestamp)
        .map(|at| {
            let ms = now.duration_since(at).as_millis().max(0) as u64;
            format!(" · running for {}", timeline::human_duration(ms))
        })
        .unwrap_or_default();
    crate::sanitize::sanitize(&format!(
        "following · {step}{since} · {} UTC",
        now.strftime("%H:%M:%S")
    ))
    .into_owned()
}
