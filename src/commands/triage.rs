//! `runbook triage "ALERT TEXT" [PATH]`: which runbook answers this alert.

use std::path::{Path, PathBuf};

use crate::cli::TriageFormat;
use crate::{Error, ExitStatus};

/// Ranks the catalog at `path` against `alert` and prints the matches, best first.
pub fn triage(
    alert: &str,
    path: &Path,
    format: TriageFormat,
    catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    let _ = (alert, path, format, catalog);
    todo!("triage")
}
