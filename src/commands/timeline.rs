//! `runbook timeline FILE` and `runbook timeline verify FILE`. What a timeline holds came
//! from outside (outputs, values, notes): it is sanitised before it is shown, in text and in
//! the postmortem; JSON escapes control characters itself.

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
                "the run was killed while it wrote line {events}; that line is whole and is \
                 the one it announced in `{}`",
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
