//! `runbook render RUNBOOK`: the runbook as Markdown or as a self-contained HTML page; and
//! `runbook render --out SITE`: the whole catalog as a static site, one page per runbook at
//! `ID.html` plus `index.html`, so that an alert's `runbook_url` can be
//! `https://SITE/ID.html#step-ID`.
//!
//! A runbook is linted first: errors are shown like `runbook lint` shows them and nothing is
//! rendered for it; warnings do not stop it.

use std::path::{Path, PathBuf};

use super::write_stdout;
use crate::cli::RenderFormat;
use crate::lint;
use crate::model::Runbook;
use crate::render::html::escape;
use crate::{Error, ExitStatus, files, load, render};

pub fn render(
    runbook: &str,
    format: RenderFormat,
    catalog: Option<PathBuf>,
) -> Result<ExitStatus, Error> {
    let (path, catalog_dir) = load::resolve_argument(runbook, catalog.as_deref())?;
    let (runbook, _text) = lint::checked_runbook(&path, &catalog_dir)?;
    let id = load::runbook_id(&catalog_dir, &path);
    let text = match format {
        RenderFormat::Md => render::markdown(&runbook, Some(&id)),
        RenderFormat::Html => render::html(&runbook, Some(&id), None),
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Success)
}

/// The catalog as a site in `out`. Every valid runbook gets its page even when another has
/// errors; the errors are shown and the command exits 2, with no index entry for them.
pub fn site(out: &Path, catalog: Option<PathBuf>) -> Result<ExitStatus, Error> {
    let catalog_dir = load::catalog_root(catalog.as_deref(), None);
    if !catalog_dir.is_dir() {
        return Err(Error::NoSuchPath { path: catalog_dir });
    }
    let files = load::find_runbooks(&catalog_dir).map_err(|source| Error::ReadDir {
        path: catalog_dir.clone(),
        source,
    })?;
    if files.is_empty() {
        return Err(Error::NoRunbooks {
            paths: vec![catalog_dir],
        });
    }
    if out.exists() && !out.is_dir() {
        return Err(Error::InvalidFlag {
            flag: "--out",
            value: out.display().to_string(),
            reason: "is a file; the site is written into a folder".to_string(),
        });
    }
    let mut pages: Vec<(String, Runbook)> = Vec::new();
    let mut invalid = 0;
    for path in &files {
        match lint::checked_runbook(path, &catalog_dir) {
            Ok((runbook, _)) => pages.push((load::runbook_id(&catalog_dir, path), runbook)),
            Err(Error::InvalidRunbook { .. }) => invalid += 1,
            Err(other) => return Err(other),
        }
    }
    for (id, runbook) in &pages {
        let depth = id.matches('/').count();
        let home = format!("{}index.html", "../".repeat(depth));
        let page = render::html(runbook, Some(id), Some(&home));
        write_page(out, &format!("{id}.html"), &page)?;
    }
    write_page(out, "index.html", &index(&pages))?;
    let written = pages.len();
    let summary = format!(
        "wrote {written} page{} and index.html to `{}`{}\n",
        if written == 1 { "" } else { "s" },
        out.display(),
        if invalid > 0 {
            format!(
                "; {invalid} runbook{} with errors left out",
                if invalid == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    );
    let _ = std::io::Write::write_all(&mut anstream::stderr(), summary.as_bytes());
    Ok(if invalid > 0 {
        ExitStatus::Invalid
    } else {
        ExitStatus::Success
    })
}

/// Writes one page at `relative` under `out`, creating its folders (readable by a web server).
fn write_page(out: &Path, relative: &str, text: &str) -> Result<(), Error> {
    let path = out.join(relative);
    let folder = files::folder_of(&path);
    std::fs::create_dir_all(&folder).map_err(|source| Error::WriteFile {
        path: folder.clone(),
        source,
    })?;
    files::write_atomically(&path, text.as_bytes(), files::SHARED)
        .map_err(|source| Error::WriteFile { path, source })
}

/// The site's front page: every runbook with its title, services and owner, by id.
fn index(pages: &[(String, Runbook)]) -> String {
    let rows: String = pages
        .iter()
        .map(|(id, runbook)| {
            let services: Vec<String> = runbook
                .scope
                .services
                .iter()
                .map(|s| format!("<code>{}</code>", escape(s)))
                .collect();
            format!(
                "<li class=\"entry\" data-id=\"{id}\"><a href=\"{id}.html\"><b>{title}</b></a><span class=\"id\"><code>{id}</code></span><span class=\"meta\">{services} · owner {owner}</span></li>\n",
                id = escape(id),
                title = escape(&runbook.title),
                services = services.join(", "),
                owner = escape(&runbook.owner),
            )
        })
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="runbook">
<title>Runbooks</title>
<style>
{STYLE}</style>
</head>
<body>
<main>
<h1>Runbooks</h1>
<p class="note">{count} runbooks. An alert's <code>runbook_url</code> can point at a page, <code>ID.html</code>, or at one of its steps, <code>ID.html#step-STEP</code>.</p>
<ul class="index">
{rows}</ul>
</main>
</body>
</html>
"#,
        count = pages.len(),
    )
}

const STYLE: &str = r#":root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --code: #f6f8fa; --link: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --code: #151b23; --link: #4493f8; } }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
a { color: var(--link); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .85em; background: var(--code); padding: .1em .3em; border-radius: 4px; }
.note { color: var(--muted); }
.index { list-style: none; padding: 0; }
.entry { border-bottom: 1px solid var(--line); padding: .6rem 0; display: flex; flex-wrap: wrap; gap: .2rem 1rem; align-items: baseline; overflow-wrap: anywhere; }
.entry .meta { color: var(--muted); font-size: .9rem; flex-basis: 100%; }
"#;
