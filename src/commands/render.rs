//! `runbook render RUNBOOK`.

use std::path::PathBuf;

use crate::cli::RenderFormat;
use crate::{Error, ExitStatus};

pub fn render(
    _runbook: &str,
    _format: RenderFormat,
    _catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    todo!("render is being written")
}
