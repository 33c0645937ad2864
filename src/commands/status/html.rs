//! The morning check as one self-contained HTML page: inline CSS, no script, no font or image
//! from anywhere, so it can be mailed, served as a static file or opened from disk. Each
//! service is a card in its colour with what failed and why; everything a runbook wrote is
//! escaped, and links that could run code (`javascript:`…) lead nowhere.
//!
//! A compact overview comes first, one line per service (its state, what failed, its
//! dashboard), each leading to the service's card below; green and grey cards stay short, their
//! passed checks folded away.
//!
//! The markup is meant to be asserted on: every card has `data-state` (`red`, `orange`,
//! `green`, `grey`) and every check `class="check failed|warned|passed"` with `data-check`;
//! every overview line is `class="row STATE"` with `data-id`.

use super::report::{CheckStatus, HostStatus, Report, ServiceStatus, State};
use crate::render::html::{escape, runs_code};

/// The whole page.
pub fn page(report: &Report) -> String {
    let counts = &report.counts;
    let worst = report
        .services
        .first()
        .map_or(State::Grey, |service| service.state);
    let headline = match worst {
        State::Red => plural(counts.red, "service is red", "services are red"),
        State::Orange => plural(counts.orange, "service is orange", "services are orange"),
        State::Green => "Every service is green".to_string(),
        State::Grey => "No runbook has health checks".to_string(),
    };
    let title = format!("{} · runbook status", headline);
    let mut summary = String::new();
    for (n, state, word) in [
        (counts.red, State::Red, "red"),
        (counts.orange, State::Orange, "orange"),
        (counts.green, State::Green, "green"),
        (counts.grey, State::Grey, "without checks"),
    ] {
        if n > 0 {
            summary.push_str(&format!(
                r#"<li class="count {state}"><b>{n}</b> {word}</li>"#,
                state = state.word()
            ));
        }
    }
    let services: String = report.services.iter().map(card).collect();
    let overview: String = report.services.iter().map(row).collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="runbook status">
<title>{title}</title>
<style>
{STYLE}</style>
</head>
<body>
<header class="banner {worst_state}" data-state="{worst_state}">
<div class="wrap">
<p class="kicker">Morning check</p>
<h1>{headline}</h1>
<ul class="counts">{summary}</ul>
<p class="when">Checked <time datetime="{checked_at}">{checked_at_utc}</time> · took {took} · {jobs} job{jobs_s}, {parallel} at once</p>
</div>
</header>
<main class="wrap">
<ol class="overview" aria-label="Every service">
{overview}</ol>
{services}</main>
<footer class="wrap">Written by <code>runbook status</code>. Red: a check failed. Orange: only checks marked <code>warn: true</code> failed. Green: every check passed. Grey: the runbook has no health checks.</footer>
</body>
</html>
"#,
        title = escape(&title),
        headline = escape(&headline),
        worst_state = worst.word(),
        checked_at = escape(&report.checked_at),
        checked_at_utc = escape(&report.checked_at_utc()),
        took = crate::timeline::human_duration(report.duration_ms),
        jobs = report.jobs,
        jobs_s = if report.jobs == 1 { "" } else { "s" },
        parallel = report.parallel,
    )
}

/// One service's line of the overview: state, name, what failed first, the first link.
fn row(service: &ServiceStatus) -> String {
    let state = service.state.word();
    let first_failure = service
        .error
        .as_deref()
        .or_else(|| service.failed().next().map(|check| check.name.as_str()))
        .map(|what| format!(r#"<span class="what">{}</span>"#, escape(what)))
        .unwrap_or_default();
    let link = service
        .links
        .first()
        .map(|link| {
            format!(
                r#"<a class="link" href="{}">{}</a>"#,
                escape(safe_url(&link.url)),
                escape(&link.name)
            )
        })
        .unwrap_or_default();
    format!(
        r##"<li class="row {state}" data-id="{id}"><span class="dot">{symbol}</span><a class="name" href="#service-{anchor}">{label}</a><span class="summary">{summary}</span>{first_failure}{link}</li>
"##,
        symbol = service.state.symbol(),
        id = escape(&service.id),
        anchor = escape(&anchor(&service.id)),
        label = escape(&service.label()),
        summary = escape(&service.summary()),
    )
}

/// A fragment id for a runbook id: `/` and anything else that is not a word character become
/// `-`.
fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// One service's card.
fn card(service: &ServiceStatus) -> String {
    let state = service.state.word();
    let mut body = String::new();
    if let Some(error) = &service.error {
        body.push_str(&format!(
            r#"<p class="error"><span class="mark">✘</span> {}</p>"#,
            escape(error)
        ));
    }
    let failed: Vec<&CheckStatus> = service.failed().collect();
    if !failed.is_empty() {
        body.push_str(r#"<ul class="checks">"#);
        for check in failed {
            body.push_str(&check_item(check));
        }
        body.push_str("</ul>");
    }
    let passed: Vec<&CheckStatus> = service.checks.iter().filter(|c| c.ok).collect();
    if !passed.is_empty() {
        body.push_str(&format!(
            r#"<details class="passed-checks"><summary>{count} passed</summary><ul class="checks">"#,
            count = plural(passed.len(), "check", "checks"),
        ));
        for check in passed {
            body.push_str(&check_item(check));
        }
        body.push_str("</ul></details>");
    }
    if service.checks.is_empty() && service.error.is_none() {
        body.push_str(r#"<p class="none">No health checks: add a <code>health</code> list to this runbook to see it here.</p>"#);
    }
    let links: String = service
        .links
        .iter()
        .map(|link| {
            format!(
                r#"<a href="{}">{}</a>"#,
                escape(safe_url(&link.url)),
                escape(&link.name)
            )
        })
        .collect();
    let links = if links.is_empty() {
        String::new()
    } else {
        format!(r#"<nav class="links">{links}</nav>"#)
    };
    let title = if service.title.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="title">{}</p>"#, escape(&service.title))
    };
    let owner = if service.owner.is_empty() {
        String::new()
    } else {
        format!(" · owner {}", escape(&service.owner))
    };
    format!(
        r#"<section class="service {state}" data-state="{state}" data-id="{id}" id="service-{anchor}">
<div class="state"><span class="symbol">{symbol}</span><span class="word">{state}</span></div>
<div class="detail">
<h2>{label}</h2>
{title}<p class="meta"><code>{id}</code>{owner} · {summary}</p>
{body}{links}
</div>
</section>
"#,
        symbol = service.state.symbol(),
        id = escape(&service.id),
        anchor = escape(&anchor(&service.id)),
        label = escape(&service.label()),
        summary = escape(&service.summary()),
    )
}

/// One check: mark, name, and for a failure what happened and what was expected.
fn check_item(check: &CheckStatus) -> String {
    let (class, mark) = match (check.ok, check.warn) {
        (true, _) => ("passed", "✔"),
        (false, true) => ("warned", "!"),
        (false, false) => ("failed", "✘"),
    };
    let target = if check.target == "local" {
        String::new()
    } else {
        format!(
            r#" <span class="target">on {}</span>"#,
            escape(&check.target)
        )
    };
    // A fan-out's one-line reason becomes a line per failed host: easier to read at a glance.
    let reason = match (&check.hosts, check.reason.as_deref()) {
        (Some(hosts), Some(_)) => {
            let failed: Vec<&HostStatus> = hosts.iter().filter(|h| !h.ok).collect();
            let lines: String = failed
                .iter()
                .map(|host| {
                    format!(
                        r#"<li class="host failed" data-host="{name}"><b>{name}</b>: {reason}</li>"#,
                        name = escape(&host.host),
                        reason = escape(host.reason.as_deref().unwrap_or("failed")),
                    )
                })
                .collect();
            format!(
                r#"<span class="reason">{} of {} failed</span><ul class="hosts">{lines}</ul>"#,
                failed.len(),
                plural(hosts.len(), "host", "hosts"),
            )
        }
        (_, Some(reason)) => format!(r#"<span class="reason">{}</span>"#, escape(reason)),
        (_, None) => String::new(),
    };
    let expected = check
        .expected
        .as_deref()
        .map(|e| format!(r#"<span class="expected">expected {}</span>"#, escape(e)))
        .unwrap_or_default();
    let warn = if check.warn && !check.ok {
        r#" <span class="tag">warn</span>"#
    } else {
        ""
    };
    format!(
        r#"<li class="check {class}" data-check="{name}"><span class="mark">{mark}</span><span class="name">{name}</span>{warn}{target}{reason}{expected}</li>"#,
        name = escape(&check.name),
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A link target that cannot run code when clicked: `javascript:` and friends become `#`.
fn safe_url(url: &str) -> &str {
    if runs_code(url) { "#" } else { url }
}

const STYLE: &str = r#":root { color-scheme: light dark; --fg: #1f2328; --bg: #f6f8fa; --card: #ffffff; --muted: #59636e; --line: #d1d9e0;
  --red: #cf222e; --red-bg: #ffebe9; --orange: #bc4c00; --orange-bg: #fff1e5; --green: #1a7f37; --green-bg: #dafbe1; --grey: #6e7781; --grey-bg: #eff2f5; --link: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --card: #151b23; --muted: #9198a1; --line: #3d444d;
  --red: #f85149; --red-bg: #3c1618; --orange: #f0883e; --orange-bg: #3d2410; --green: #3fb950; --green-bg: #12301b; --grey: #9198a1; --grey-bg: #21262d; --link: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 64rem; margin: 0 auto; padding: 0 1.25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .85em; }
a { color: var(--link); }
.banner { color: #fff; padding: 1rem 0 .9rem; margin-bottom: 1rem; }
/* Solid blocks keep their colours in dark mode: white text on them stays readable. */
.banner.red, .service.red .state { background: #cf222e; } .banner.orange, .service.orange .state { background: #bc4c00; }
.banner.green, .service.green .state { background: #1a7f37; } .banner.grey, .service.grey .state { background: #6e7781; }
.banner h1 { margin: 0 0 .4rem; font-size: 1.6rem; line-height: 1.2; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: .8rem; opacity: .85; }
.counts { list-style: none; margin: 0 0 .5rem; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
.count { background: rgba(255,255,255,.92); color: #1f2328; border-radius: 999px; padding: .1rem .75rem; font-size: .9rem; }
.count::before { content: ""; display: inline-block; width: .7em; height: .7em; border-radius: 50%; margin-right: .4em; background: #6e7781; }
.count.red::before { background: #cf222e; } .count.orange::before { background: #bc4c00; } .count.green::before { background: #1a7f37; }
.when { margin: 0; font-size: .9rem; opacity: .9; }
.overview { list-style: none; margin: 0 0 1.25rem; padding: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.row { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0 .75rem; padding: .35rem .75rem; border-top: 1px solid var(--line); overflow-wrap: anywhere; }
.row:first-child { border-top: 0; }
.row .dot { font-weight: 700; width: 1.1rem; text-align: center; }
.row.red .dot { color: var(--red); } .row.orange .dot { color: var(--orange); } .row.green .dot { color: var(--green); } .row.grey .dot { color: var(--grey); }
.row.red { background: var(--red-bg); } .row.orange { background: var(--orange-bg); }
.row .name { font-weight: 600; color: inherit; }
.row .summary { color: var(--muted); font-size: .875rem; }
.row .what { font-size: .875rem; }
.row .what::before { content: "✘ "; color: var(--red); } .row.orange .what::before { content: "! "; color: var(--orange); }
.row .link { margin-left: auto; font-size: .875rem; }
.service { scroll-margin-top: .5rem; }
.service .check .expected { display: inline; margin-left: .6rem; }
.service.red .state, .service.orange .state { flex-basis: 5.5rem; }
/* Green and grey cards are one line: name, title, id, what passed, links. */
.service.green .detail, .service.grey .detail { display: flex; flex-wrap: wrap; align-items: baseline; gap: .1rem .75rem; padding: .45rem .9rem; }
.service.green .detail > *, .service.grey .detail > * { margin: 0; }
.service.green .detail h2, .service.grey .detail h2 { font-size: 1.05rem; }
.service.green details[open], .service.grey details[open] { flex-basis: 100%; }
.service.green .state, .service.grey .state { flex: 0 0 2.5rem; padding: .3rem; }
.service.green .state .word, .service.grey .state .word { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.service.green .state .symbol, .service.grey .state .symbol { font-size: 1.2rem; }
.service { display: flex; background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin: 0 0 1rem; overflow: hidden; }
.state { flex: 0 0 7rem; display: flex; flex-direction: column; align-items: center; justify-content: center; gap: .25rem; color: #fff; padding: 1rem .5rem; text-transform: uppercase; font-weight: 700; letter-spacing: .05em; }
.state .symbol { font-size: 2.25rem; line-height: 1; }
.detail { flex: 1; padding: .9rem 1.1rem; min-width: 0; }
.detail h2 { margin: 0; font-size: 1.3rem; line-height: 1.3; }
.title { margin: .1rem 0 0; }
.meta { margin: .2rem 0 .6rem; color: var(--muted); font-size: .875rem; }
.checks { list-style: none; margin: .25rem 0; padding: 0; }
.check { padding: .35rem .6rem; border-radius: 6px; margin: .25rem 0; overflow-wrap: anywhere; }
.check .mark { font-weight: 700; margin-right: .4rem; }
.check .name { font-weight: 600; }
.check .reason { display: block; margin-left: 1.35rem; }
.check .expected, .check .target { color: var(--muted); font-size: .85rem; }
.check .expected { display: block; margin-left: 1.35rem; }
.hosts { list-style: none; margin: .1rem 0 .1rem 1.35rem; padding: 0; }
.host { margin: .1rem 0; } .host b { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .85em; }
.check.failed { background: var(--red-bg); } .check.failed .mark { color: var(--red); }
.check.warned { background: var(--orange-bg); } .check.warned .mark { color: var(--orange); }
.check.passed { padding: .1rem .6rem; } .check.passed .mark { color: var(--green); } .check.passed .name { font-weight: 400; }
.tag { font-size: .75rem; border: 1px solid var(--orange); color: var(--orange); border-radius: 4px; padding: 0 .3rem; margin-left: .3rem; }
.error { background: var(--red-bg); padding: .5rem .6rem; border-radius: 6px; margin: .25rem 0; overflow-wrap: anywhere; }
.error .mark { color: var(--red); font-weight: 700; }
.none { color: var(--muted); margin: .25rem 0; }
details summary { cursor: pointer; color: var(--muted); font-size: .9rem; }
.links { display: flex; flex-wrap: wrap; gap: .4rem 1rem; margin-top: .6rem; font-size: .9rem; }
footer { color: var(--muted); font-size: .8rem; padding-bottom: 2rem; }
@media (max-width: 36rem) { .service { flex-direction: column; } .state { flex-direction: row; flex-basis: auto; padding: .4rem; } .state .symbol { font-size: 1.25rem; } }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::status::report::LinkStatus;

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"<b onclick="x">&'"#),
            "&lt;b onclick=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("ü ✔"), "ü ✔");
    }

    #[test]
    fn links_that_run_code_lead_nowhere() {
        assert_eq!(safe_url("javascript:alert(1)"), "#");
        assert_eq!(safe_url(" JavaScript :alert(1)"), "#");
        assert_eq!(safe_url("data:text/html,x"), "#");
        assert_eq!(
            safe_url("https://grafana/d/x?a=1&b=2"),
            "https://grafana/d/x?a=1&b=2"
        );
        assert_eq!(safe_url("/relative"), "/relative");
    }

    #[test]
    fn a_runbook_cannot_inject_markup() {
        let check = CheckStatus {
            name: "<script>alert(1)</script>".into(),
            ok: false,
            warn: false,
            target: "local".into(),
            expected: Some("status 200".into()),
            reason: Some("body does not contain it: <img src=x>".into()),
            hosts: None,
            duration_ms: 1,
        };
        let service = ServiceStatus {
            id: "x".into(),
            title: "<i>t</i>".into(),
            services: vec!["s\"><b>".into()],
            owner: "o".into(),
            file: "x.yaml".into(),
            state: State::Red,
            error: None,
            checks: vec![check],
            links: vec![LinkStatus {
                name: "Dash".into(),
                url: "javascript:alert(1)".into(),
            }],
        };
        let html = card(&service);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<i>"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains(r##"<a href="#">Dash</a>"##), "{html}");
        assert!(html.contains(r#"data-state="red""#), "{html}");
        assert!(html.contains(r#"class="check failed""#), "{html}");
    }
}
