//! `runbook timeline FILE` and `runbook timeline verify FILE`.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use super::write_stdout;
use crate::cli::TimelineFormat;
use crate::timeline::{self, TornTail};
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
    let text = match format {
        TimelineFormat::Text => {
            timeline::chronology(&reading.records, std::io::stdout().is_terminal())
        }
        TimelineFormat::Md => timeline::postmortem(&reading.records),
        TimelineFormat::Json => timeline::to_json(&reading.records),
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Success)
}

/// Checks the hash chain: exit 0 when intact, 1 with the first broken line otherwise.
pub fn verify(file: &Path) -> Result<ExitStatus, Error> {
    let verification = timeline::verify(file)?;
    if let Some(torn) = verification.torn_tail {
        warn_torn(file, torn);
    }
    match &verification.broken {
        None => {
            let events = verification.events;
            let noun = if events == 1 { "event" } else { "events" };
            write_stdout(&format!("✔ {events} {noun}, chain intact\n"))?;
            Ok(ExitStatus::Success)
        }
        Some(broken) => {
            write_stdout(&format!("✘ line {}: {}\n", broken.line, broken.reason))?;
            Ok(ExitStatus::Failure)
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
