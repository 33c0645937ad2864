//! `runbook list [PATH]`: the catalog at a glance.

use std::path::Path;

use serde::Serialize;

use super::write_stdout;
use crate::cli::ListFormat;
use crate::load::{self, SourceFile};
use crate::{Error, ExitStatus};

/// One row of the catalog.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: String,
    pub path: String,
    pub title: String,
    pub services: Vec<String>,
    pub owner: String,
    pub reviewed: String,
    /// Days since `reviewed`; absent when the date does not parse.
    pub review_age_days: Option<i32>,
    pub steps: usize,
    /// Why the file could not be read as a runbook, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn list(path: &Path, format: ListFormat) -> Result<ExitStatus, Error> {
    let files = load::expand_paths(&[path.to_path_buf()])?;
    let catalog = load::catalog_for_path(path, None);
    let today = crate::today()?;
    let entries: Vec<Entry> = files
        .iter()
        .map(|file| entry(&catalog, &file.path, today))
        .collect();
    let text = match format {
        ListFormat::Json => {
            serde_json::to_string_pretty(&entries).expect("entries serialize") + "\n"
        }
        ListFormat::Table => table(&entries),
    };
    write_stdout(&text)?;
    Ok(if entries.iter().any(|e| e.error.is_some()) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn entry(catalog: &Path, file: &Path, today: jiff::civil::Date) -> Entry {
    let id = load::runbook_id(catalog, file);
    let path = file.display().to_string();
    let source = SourceFile::read(file)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            s.parsed
                .map_err(|e| format!("{}:{}: {}", path, e.pos, e.message))
        });
    match source {
        Ok(runbook) => Entry {
            id,
            path,
            title: runbook.title.value.clone(),
            services: runbook
                .scope
                .services
                .iter()
                .map(|s| s.value.clone())
                .collect(),
            owner: runbook.owner.value.clone(),
            review_age_days: runbook
                .reviewed
                .parse::<jiff::civil::Date>()
                .ok()
                .and_then(|d| today.since(d).ok())
                .map(|s| s.get_days()),
            reviewed: runbook.reviewed.value.clone(),
            steps: runbook.steps.len(),
            error: None,
        },
        Err(error) => Entry {
            id,
            path,
            title: String::new(),
            services: Vec::new(),
            owner: String::new(),
            reviewed: String::new(),
            review_age_days: None,
            steps: 0,
            error: Some(error),
        },
    }
}

fn table(entries: &[Entry]) -> String {
    let header = ["ID", "TITLE", "SERVICES", "OWNER", "REVIEWED", "STEPS"].map(String::from);
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| match &e.error {
            Some(_) => [
                e.id.clone(),
                format!("(invalid: `runbook lint {}` says why)", e.path),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            None => [
                e.id.clone(),
                e.title.clone(),
                e.services.join(", "),
                e.owner.clone(),
                e.review_age_days.map_or_else(|| e.reviewed.clone(), age),
                e.steps.to_string(),
            ],
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} runbook{}\n",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    ));
    out
}

fn age(days: i32) -> String {
    match days {
        0 => "today".into(),
        1 => "1 day ago".into(),
        d if d < 0 => "in the future".into(),
        d => format!("{d} days ago"),
    }
}
