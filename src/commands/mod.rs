//! One module per subcommand; each is a function that returns the exit status.

pub mod approve;
pub mod changes;
pub mod incidents;
pub mod lint;
pub mod list;
pub mod man;
pub mod new;
pub mod output;
pub(crate) mod parallel;
pub mod render;
pub mod status;
pub mod test;
pub mod timeline;
pub mod triage;
pub mod watch;

use std::io::Write as _;

use crate::{Error, ExitStatus};

/// `runbook schema`: the JSON Schema of the format.
pub fn schema() -> Result<ExitStatus, Error> {
    write_stdout(&crate::schema::schema_json())?;
    Ok(ExitStatus::Success)
}

/// `runbook completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitStatus, Error> {
    use clap::CommandFactory as _;
    let mut command = crate::cli::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "runbook", &mut out);
    write_stdout(&String::from_utf8_lossy(&out))?;
    Ok(ExitStatus::Success)
}

/// Writes to stdout; a closed pipe (`runbook list | head`) is not an error worth a message.
pub(crate) fn write_stdout(text: &str) -> Result<(), Error> {
    if output::captured(text) {
        return Ok(());
    }
    let mut stdout = anstream::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Prints `warning: MESSAGE` on stderr, as every command does.
pub(crate) fn warn(message: &str) {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Yellow.into()));
    let _ = writeln!(anstream::stderr(), "{style}warning{style:#}: {message}");
}
