//! `runbook status [PATH]`: the morning check.

use std::path::PathBuf;

use crate::cli::StatusFormat;
use crate::{Error, ExitStatus};

/// What `runbook status` was asked to do.
#[derive(Debug)]
pub struct StatusSettings {
    pub path: PathBuf,
    pub format: StatusFormat,
    pub output: Option<PathBuf>,
    pub parallel: usize,
    pub ssh_config: Option<PathBuf>,
    pub catalog: Option<PathBuf>,
}

/// Runs every runbook's health checks and reports one row per service.
pub fn status(settings: StatusSettings) -> Result<ExitStatus, Error> {
    let _ = settings;
    todo!("status")
}
