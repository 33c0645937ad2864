//! `runbook render RUNBOOK`: the runbook as Markdown or as a self-contained HTML page.
//!
//! The runbook is linted first: errors are shown like `runbook lint` shows them and nothing is
//! rendered; warnings do not stop it.

use std::path::PathBuf;

use super::write_stdout;
use crate::cli::RenderFormat;
use crate::lint;
use crate::{Error, ExitStatus, load, render};

pub fn render(
    runbook: &str,
    format: RenderFormat,
    catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    let (path, catalog_dir) = load::resolve_argument(runbook, catalog.as_deref())?;
    let (runbook, _text) = lint::checked_runbook(&path, &catalog_dir)?;
    let text = match format {
        RenderFormat::Md => render::markdown(&runbook),
        RenderFormat::Html => render::html(&runbook),
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Success)
}
