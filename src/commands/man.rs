//! `runbook man`: the manual pages, generated from the same command-line definition as
//! `--help` (clap_mangen), so they never disagree. `runbook man` prints runbook(1),
//! `runbook man run` prints runbook-run(1), `runbook man --out DIR` writes every page.

use std::path::Path;

use clap::CommandFactory as _;

use super::write_stdout;
use crate::{Error, ExitStatus};

/// The command line, as the pages describe it (no `help` subcommand: `--help` is on each).
fn command() -> clap::Command {
    let mut command = crate::cli::Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// Every page: the path of subcommand names (empty for runbook(1)) and the command.
pub fn pages() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(
        path: Vec<String>,
        command: clap::Command,
        out: &mut Vec<(Vec<String>, clap::Command)>,
    ) {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut sub_path = path.clone();
            sub_path.push(sub.get_name().to_string());
            walk(sub_path, sub.clone(), out);
        }
        out.push((path, command));
    }
    let mut out = Vec::new();
    walk(Vec::new(), command(), &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The page of `path` (`["timeline", "verify"]` → runbook-timeline-verify(1)) as roff.
pub fn page(path: &[String]) -> Result<String, Error> {
    let pages = pages();
    let Some((_, command)) = pages.iter().find(|(p, _)| p == path) else {
        let known: Vec<String> = pages
            .iter()
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, _)| p.join(" "))
            .collect();
        let wanted = path.join(" ");
        let suggestion = crate::load::did_you_mean(&wanted, &known)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(Error::InvalidFlag {
            flag: "SUBCOMMAND",
            value: wanted,
            reason: format!("runbook has no such subcommand{suggestion}"),
        });
    };
    let name = std::iter::once("runbook".to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join("-");
    let man = clap_mangen::Man::new(command.clone().display_name(name.clone()))
        .title(name.to_uppercase())
        .source(format!("runbook {}", env!("CARGO_PKG_VERSION")))
        .manual("runbook manual");
    let mut roff = Vec::new();
    man.render(&mut roff).map_err(Error::Output)?;
    let mut text = String::from_utf8_lossy(&roff).into_owned();
    if path.is_empty() {
        text.push_str(&main_page_sections(&pages));
    } else {
        text.push_str(".SH \"SEE ALSO\"\n\\fBrunbook\\fR(1)\n");
    }
    Ok(ascii(&text))
}

/// Environment, exit status and the list of the other pages, for runbook(1).
fn main_page_sections(pages: &[(Vec<String>, clap::Command)]) -> String {
    let mut text = String::from(".SH ENVIRONMENT\n");
    for (name, what) in [
        ("RUNBOOK_CATALOG", "The catalog folder, as --catalog."),
        ("NO_COLOR", "Set: no colour (with --color auto)."),
        (
            "CLICOLOR_FORCE",
            "Set (not 0): colour even when not on a terminal.",
        ),
        ("TERM", "dumb: no colour and no escape codes."),
        (
            "RUNBOOK_OPERATOR",
            "Who runs the incident, recorded in the timeline (default: $USER@host).",
        ),
        (
            "RUNBOOK_TODAY",
            "YYYY-MM-DD: today, for review ages (reproducible output).",
        ),
        (
            "GITHUB_STEP_SUMMARY",
            "With --format github: the file the job summary is appended to.",
        ),
        (
            "RUNBOOK_COMPLETE",
            "bash, zsh, fish, elvish or powershell: print the dynamic completion hook.",
        ),
    ] {
        text.push_str(&format!(".TP\n\\fB{name}\\fR\n{}\n", escape(what)));
    }
    text.push_str(".SH \"EXIT STATUS\"\n");
    for (code, what) in [
        ("0", "Success."),
        (
            "1",
            "A run that failed or was stopped, lint errors, a red service in status, a failing test, an alert no runbook claims.",
        ),
        (
            "2",
            "An invalid invocation or runbook: one message naming the flag, or the file, line and column.",
        ),
        (
            "3",
            "A person was needed but standard input is not a terminal.",
        ),
        ("130", "Interrupted; the run is paused and can be resumed."),
    ] {
        text.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", escape(what)));
    }
    text.push_str(".SH \"SEE ALSO\"\n");
    let others: Vec<String> = pages
        .iter()
        .filter(|(p, _)| !p.is_empty())
        .map(|(p, _)| format!("\\fBrunbook-{}\\fR(1)", p.join("-")))
        .collect();
    text.push_str(&others.join(",\n"));
    text.push_str("\n.PP\nThe runbook format: docs/format.md in the source distribution.\n");
    text
}

/// Every character outside ASCII (`—`, `→` of the help texts) as a roff escape `\[u2014]`:
/// troff reads its input as Latin-1 unless told otherwise, and `man` does not always tell it.
fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}

/// Plain text for a roff line: a backslash printed as one, no line read as a request.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

/// `runbook man [SUBCOMMAND…]`, or every page into `out`.
pub fn man(path: &[String], out: Option<&Path>) -> Result<ExitStatus, Error> {
    let Some(out) = out else {
        write_stdout(&page(path)?)?;
        return Ok(ExitStatus::Success);
    };
    if !out.is_dir() {
        return Err(Error::InvalidFlag {
            flag: "--out",
            value: out.display().to_string(),
            reason: "not a folder; create it first (e.g. /usr/local/share/man/man1)".into(),
        });
    }
    let mut written = Vec::new();
    for (path, _) in pages() {
        let name = std::iter::once("runbook".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        let file = out.join(format!("{name}.1"));
        crate::files::write_atomically(&file, page(&path)?.as_bytes(), crate::files::SHARED)
            .map_err(|source| Error::WriteFile {
                path: file.clone(),
                source,
            })?;
        written.push(file);
    }
    write_stdout(&format!(
        "wrote {} manual pages to {}\n",
        written.len(),
        out.display()
    ))?;
    Ok(ExitStatus::Success)
}
