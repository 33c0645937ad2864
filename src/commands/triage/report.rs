//! Printing a triage for a person: the best match in full — why it matched, who to call,
//! where to look, how to start it —, then the other matches in a line or two each. Colour
//! goes through anstream, which drops it off a terminal and under `NO_COLOR`.

use std::fmt::Write as _;
use std::io::Write as _;

use anstyle::{AnsiColor, Style};

use super::rank::same_service;
use super::{AlertTriage, CatalogPlace, Found, Group, Skipped, Triage, shown_path};
use crate::alert::Source;
use crate::model::Contact;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const ID: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const GREEN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
const YELLOW: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));

/// Every style this report uses: the only escape sequences its text may carry, since the
/// alert's words and values end up in it ([`crate::sanitize::sanitize_styled`]).
const STYLES: [Style; 5] = [BOLD, DIM, ID, GREEN, YELLOW];

/// Other matches shown under the best one; `--format json` has them all.
const OTHERS_SHOWN: usize = 5;

/// The text output; empty when nothing matched (stderr explains). Sanitised: the alert's
/// text reaches it. A group of alerts at a time, on every core: a group's text ends with a
/// newline, so no escape sequence spans two groups and each can be sanitised alone.
pub(super) fn text(triage: &Triage, services: &[&str]) -> String {
    let sanitized = |text: String| crate::sanitize::sanitize_styled(&text, &STYLES);
    // A pasted text alert: the matches alone, as before payloads were read.
    if let [only] = triage.alerts.as_slice()
        && only.alert.source == Source::Text
    {
        let mut out = String::new();
        alert_block(&mut out, only, &[], services);
        return sanitized(out);
    }
    crate::commands::parallel::par_map(&triage.groups, |group| {
        sanitized(group_text(triage, group, services))
    })
    .join("\n")
}

/// One group: its alerts, then the runbook that answers them (or that none does).
fn group_text(triage: &Triage, group: &Group, services: &[&str]) -> String {
    let mut out = String::new();
    let total = triage.alerts.len();
    for index in &group.alerts {
        let alert = &triage.alerts[*index];
        let _ = writeln!(
            out,
            "{BOLD}{}{BOLD:#}: {}",
            which(*index, total),
            describe_alert(alert)
        );
    }
    let first = &triage.alerts[group.alerts[0]];
    if first.matches.is_empty() {
        let _ = writeln!(
            out,
            "  {YELLOW}no runbook answers {}{YELLOW:#}",
            if group.alerts.len() == 1 {
                "it"
            } else {
                "them"
            }
        );
        return out;
    }
    out.push('\n');
    // Each alert of the group gets its own command: their labels differ.
    let commands: Vec<(String, String)> = if group.alerts.len() > 1 {
        group
            .alerts
            .iter()
            .map(|index| {
                let alert = &triage.alerts[*index];
                (which(*index, total), alert.matches[0].command.clone())
            })
            .collect()
    } else {
        Vec::new()
    };
    alert_block(&mut out, first, &commands, services);
    out
}

/// `Alert 2 of 5`, or `Alert` when there is one.
fn which(index: usize, total: usize) -> String {
    if total == 1 {
        "Alert".to_string()
    } else {
        format!("Alert {} of {total}", index + 1)
    }
}

/// `KubePodCrashLooping (namespace=prod pod=api-1) · Alertmanager webhook · firing since
/// 2026-11-21T03:58:00Z`
fn describe_alert(triaged: &AlertTriage) -> String {
    let alert = &triaged.alert;
    let mut line = alert.headline();
    line.push_str(&format!(" {DIM}· {}", alert.source.name()));
    match (&alert.status, &alert.starts_at) {
        (Some(status), Some(at)) => line.push_str(&format!(" · {status} since {at}")),
        (None, Some(at)) => line.push_str(&format!(" · since {at}")),
        (Some(status), None) => line.push_str(&format!(" · {status}")),
        (None, None) => {}
    }
    line.push_str(&format!("{DIM:#}"));
    line
}

/// The best match in full and the others in a line or two; `commands` holds one command per
/// alert when several alerts share the best match.
fn alert_block(
    out: &mut String,
    triaged: &AlertTriage,
    commands: &[(String, String)],
    services: &[&str],
) {
    let Some((best, others)) = triaged.matches.split_first() else {
        return;
    };
    best_match(out, best, triaged, commands, services);
    if !others.is_empty() {
        let _ = writeln!(out, "\n{BOLD}Other matches{BOLD:#}");
        for (rank, other) in others.iter().take(OTHERS_SHOWN).enumerate() {
            let _ = writeln!(
                out,
                "  {}. {ID}{}{ID:#} · {}",
                rank + 2,
                other.id,
                other.title
            );
            let _ = writeln!(out, "     {}", why(other));
        }
        let hidden = others.len().saturating_sub(OTHERS_SHOWN);
        if hidden > 0 {
            let _ = writeln!(
                out,
                "  {DIM}… and {hidden} more (`--format json` lists up to 20){DIM:#}"
            );
        }
    }
}

fn best_match(
    out: &mut String,
    best: &Found,
    triage: &AlertTriage,
    commands: &[(String, String)],
    services: &[&str],
) {
    let heading = if best.is_weak() {
        format!("{YELLOW}Weak match{YELLOW:#} (no alert pattern or service matched)")
    } else {
        "Best match".to_string()
    };
    let _ = writeln!(out, "{BOLD}{heading}{BOLD:#}: {ID}{}{ID:#}", best.id);
    let _ = writeln!(out, "  {}", best.title);
    let priority = best
        .priority
        .as_deref()
        .map(|p| format!(" · priority {p}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {DIM}{} · owner {}{priority}{DIM:#}",
        best.file, best.owner
    );
    let _ = writeln!(out, "  {}", why(best));
    if let Some(service) = &triage.service
        && triage.alert.source == Source::Text
        && !services.iter().any(|known| same_service(known, service))
    {
        // Likely a misspelt service: the fix is in the alert or in the runbook's `scope`.
        let close = closest_services(triage, services, TYPO_LIKENESS);
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", close.join(" or "))
        };
        let _ = writeln!(
            out,
            "  {YELLOW}note{YELLOW:#}: no runbook lists the service `{service}` that the alert \
             names{hint}"
        );
    }
    if best.lint_errors > 0 {
        let _ = writeln!(
            out,
            "  {YELLOW}⚠ `runbook lint` finds {} in it: `runbook run` refuses it until {} fixed \
             (`runbook lint {}` shows {}){YELLOW:#}",
            plural(best.lint_errors, "error"),
            if best.lint_errors == 1 {
                "it is"
            } else {
                "they are"
            },
            best.file,
            if best.lint_errors == 1 { "it" } else { "them" },
        );
    }

    if !best.contacts.is_empty() {
        let _ = writeln!(out, "\n{BOLD}Who to call, in escalation order{BOLD:#}");
        for (rank, contact) in best.contacts.iter().enumerate() {
            contact_lines(out, rank + 1, contact);
        }
    }

    if !best.links.is_empty() {
        let _ = writeln!(out, "\n{BOLD}Links{BOLD:#}");
        let width = best
            .links
            .iter()
            .map(|l| l.name.chars().count())
            .max()
            .unwrap_or(0);
        for link in &best.links {
            let note = if link.unfilled {
                format!("  {DIM}(a template: `runbook run` fills it in){DIM:#}")
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {:<width$}  {}{note}", link.name, link.url);
        }
    }

    let _ = writeln!(out, "\n{BOLD}Start it{BOLD:#}");
    if commands.is_empty() {
        let _ = writeln!(out, "  {GREEN}{}{GREEN:#}", best.command);
    } else {
        for (which, command) in commands {
            let _ = writeln!(out, "  {DIM}# {which}{DIM:#}");
            let _ = writeln!(out, "  {GREEN}{command}{GREEN:#}");
        }
    }
    if !best.asks_for.is_empty() {
        let names: Vec<String> = best
            .asks_for
            .iter()
            .map(|input| {
                if input.secret {
                    format!("{} (secret, typed hidden)", input.name)
                } else if !input.choices.is_empty() {
                    format!("{} (one of {})", input.name, input.choices.join(", "))
                } else {
                    input.name.clone()
                }
            })
            .collect();
        // Secrets are never suggested on the command line: it ends up in the shell history.
        let sets: Vec<String> = best
            .asks_for
            .iter()
            .filter(|input| !input.secret)
            .map(|input| format!("--set {}=VALUE", input.name))
            .collect();
        let _ = write!(out, "  {DIM}it will ask for {}", names.join(", "));
        if !sets.is_empty() {
            let pronoun = if sets.len() == 1 { "it" } else { "them" };
            let _ = write!(out, "; to give {pronoun} ahead: {}", sets.join(" "));
        }
        let _ = writeln!(out, "{DIM:#}");
    }
}

/// `why: …`, with weak matches said to be weak.
fn why(found: &Found) -> String {
    if found.is_weak() {
        format!("{YELLOW}weak match{YELLOW:#}: {}", found.reason)
    } else {
        format!("why: {}", found.reason)
    }
}

/// A contact on up to three lines: who and what they own; how to reach them; when to call.
fn contact_lines(out: &mut String, rank: usize, contact: &Contact) {
    let mut who = contact.name.value.clone();
    if let Some(role) = &contact.role {
        who.push_str(&format!(" — {role}"));
    }
    let _ = writeln!(out, "  {rank}. {who}");
    // The phone first: at 4 am, that is what gets someone out of bed.
    let reach: Vec<String> = [
        ("phone", &contact.phone),
        ("chat", &contact.chat),
        ("email", &contact.email),
    ]
    .into_iter()
    .filter_map(|(how, value)| Some(format!("{how} {}", value.as_ref()?)))
    .collect();
    if !reach.is_empty() {
        let _ = writeln!(out, "     {}", reach.join(" · "));
    }
    if let Some(when) = &contact.when {
        let _ = writeln!(out, "     {DIM}when: {when}{DIM:#}");
    }
}

/// One line on stderr per runbook that could not be loaded, where `runbook lint` points.
pub(super) fn warn_skipped(skipped: &Skipped) {
    let message = format!(
        "{YELLOW}warning{YELLOW:#}: skipped {}:{}:{}: {}",
        skipped.file, skipped.line, skipped.col, skipped.message
    );
    let _ = writeln!(
        anstream::stderr(),
        "{}",
        crate::sanitize::sanitize_styled(&message, &STYLES)
    );
}

/// What to try when nothing matched: the services of the catalog closest to the alert's.
pub(super) fn no_match(
    triage: &AlertTriage,
    place: &CatalogPlace,
    services: &[&str],
    searched: usize,
    alerts: usize,
) {
    let catalog = shown_path(&place.searched);
    let this = if alerts == 1 {
        "this alert".to_string()
    } else {
        format!("the alert {}", triage.alert.headline())
    };
    let mut message = format!(
        "{YELLOW}no match{YELLOW:#}: none of the {} in `{catalog}` matches {this} \
         (no runbook_url, matcher, alert pattern, service or shared word)\n",
        plural(searched, "runbook")
    );
    // In a group, one line per alert: the hints would repeat for each.
    if alerts > 1 {
        let message = crate::sanitize::sanitize_styled(&message, &STYLES);
        let _ = anstream::stderr().write_all(message.as_bytes());
        return;
    }
    if let Some(service) = &triage.service {
        let _ = writeln!(
            message,
            "  the alert names the service `{service}`, which no runbook lists in `scope.services`"
        );
    }
    let closest = closest_services(triage, services, 0.0);
    if closest.is_empty() {
        // An empty catalog has no services to suggest.
    } else if triage.service.is_some() {
        let _ = writeln!(
            message,
            "  closest services in the catalog: {}",
            closest.join(", ")
        );
    } else {
        let _ = writeln!(
            message,
            "  the alert names no service (a good alert reads `[service] operation: error`); \
             services of the catalog closest to its words: {}",
            closest.join(", ")
        );
    }
    let _ = writeln!(
        message,
        "  browse the catalog with `runbook list {catalog}`; once the right runbook is found, \
         add the alert to its `scope.alerts`"
    );
    let message = crate::sanitize::sanitize_styled(&message, &STYLES);
    let _ = anstream::stderr().write_all(message.as_bytes());
}

/// Once, after the lines of a group's unanswered alerts.
pub(super) fn unanswered_hint(place: &CatalogPlace) {
    let message = format!(
        "  browse the catalog with `runbook list {}`; once the right runbook is found, add the \
         alert to its `scope.alerts`\n",
        shown_path(&place.searched)
    );
    let _ = anstream::stderr().write_all(message.as_bytes());
}

/// Exit 1 explained when the best an alert got is a words match.
pub(super) fn weak_only(triage: &AlertTriage, alerts: usize) {
    let this = if alerts == 1 {
        "this alert".to_string()
    } else {
        format!("the alert {}", triage.alert.headline())
    };
    let hint = if alerts == 1 {
        "\n  once the right runbook is found, add the alert to its `scope.alerts`"
    } else {
        ""
    };
    let message = format!(
        "{YELLOW}no confident match{YELLOW:#}: no runbook claims {this} (by runbook_url, \
         matcher, alert pattern or service); the weak matches above only share words with \
         it{hint}\n"
    );
    let message = crate::sanitize::sanitize_styled(&message, &STYLES);
    let _ = anstream::stderr().write_all(message.as_bytes());
}

/// How alike two names must be to pass for a typo (Jaro-Winkler, as `did_you_mean` uses).
const TYPO_LIKENESS: f64 = 0.8;

/// The three services most like the alert's service or, when it names none, like any of its
/// words, and at least `min_likeness` alike; best first, ties by name.
fn closest_services<'a>(
    triage: &AlertTriage,
    services: &[&'a str],
    min_likeness: f64,
) -> Vec<&'a str> {
    let alert_words: Vec<String> = match &triage.service {
        Some(service) => vec![service.to_lowercase()],
        None => triage
            .alert
            .words_text()
            .split(|c: char| c.is_whitespace() || "[](){}:;,\"'".contains(c))
            .filter(|word| word.chars().count() >= 3)
            .map(str::to_lowercase)
            .collect(),
    };
    let mut scored: Vec<(f64, &str)> = services
        .iter()
        .map(|service| {
            let service_lower = service.to_lowercase();
            let likeness = alert_words
                .iter()
                .map(|word| strsim::jaro_winkler(word, &service_lower))
                .fold(0.0, f64::max);
            (likeness, *service)
        })
        .collect();
    scored.retain(|(likeness, _)| *likeness >= min_likeness);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, service)| service)
        .collect()
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
