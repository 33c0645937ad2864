//! The crate's error type and the exit statuses of the command line.
//!
//! Step failures and lint findings are outcomes, not errors: an `Error` means the command
//! could not do its job at all (a missing file, a bad flag value, an invalid runbook).

use std::path::PathBuf;
use std::process::ExitCode;

/// How `runbook` exits; the numbers are part of the contract (SPEC section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything went as asked.
    Success,
    /// A run failed or was aborted, lint found errors, a check failed, triage found nothing.
    Failure,
    /// The invocation or a runbook is invalid.
    Invalid,
    /// A human was needed but stdin is not a terminal.
    NeedsHuman,
    /// Interrupted; the run is paused and can be resumed.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Invalid => 2,
            ExitStatus::NeedsHuman => 3,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// Everything that stops a command from doing its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read `{}`: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot read the folder `{}`: {source}", path.display())]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{}` does not exist{}", path.display(), crate::complete::did_you_mean(crate::complete::path_suggestion(path)))]
    NoSuchPath { path: PathBuf },

    #[error("no runbook file found in {}", paths.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "))]
    NoRunbooks { paths: Vec<PathBuf> },

    #[error("`{id}` is neither a file nor a runbook of the catalog `{}`{}", catalog.display(), crate::complete::did_you_mean(crate::complete::suggestion(id, catalog)))]
    UnknownRunbook { id: String, catalog: PathBuf },

    #[error("`{}` is not a valid runbook ({count} error{}); run `runbook lint {}` for details", path.display(), if *count == 1 { "" } else { "s" }, path.display())]
    InvalidRunbook { path: PathBuf, count: usize },

    #[error("invalid value `{value}` for `{flag}`: {reason}")]
    InvalidFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },

    #[error("invalid runbook id `{id}`: {reason}")]
    InvalidId { id: String, reason: &'static str },

    #[error("`{}` already exists; choose another id or remove the file first", path.display())]
    AlreadyExists { path: PathBuf },

    #[error("cannot write `{}`: {source}", path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{name}={value}` is not valid: {reason}")]
    InvalidEnv {
        name: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error("`{}` is not valid: {reason}", path.display())]
    InvalidConfig { path: PathBuf, reason: String },

    #[error(transparent)]
    Timeline(#[from] crate::timeline::TimelineError),

    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    /// The exit status this error ends the command with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Output(_) | Error::WriteFile { .. } => ExitStatus::Failure,
            // The disk refused an event mid-run: the run failed; a bad or missing file is invalid.
            Error::Timeline(error) if error.is_write_failure() => ExitStatus::Failure,
            _ => ExitStatus::Invalid,
        }
    }
}
