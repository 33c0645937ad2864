//! The morning check's results as data — one [`ServiceStatus`] per runbook, red first — and
//! their two text forms: a table for the terminal and a stable JSON object.

use std::time::Duration;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::Entry;
use super::check::ServiceChecks;
use crate::secrets::Masker;

/// The longest reason the table shows; JSON and the page keep it whole.
const TABLE_REASON_CHARS: usize = 240;

/// How a runbook's service stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A check without `warn: true` failed, or the runbook is invalid.
    Red,
    /// Only `warn: true` checks failed.
    Orange,
    /// Every check passed.
    Green,
    /// The runbook has no health checks: nothing is known.
    Grey,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Red => "red",
            State::Orange => "orange",
            State::Green => "green",
            State::Grey => "grey",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            State::Red => "✘",
            State::Orange => "!",
            State::Green => "✔",
            State::Grey => "–",
        }
    }

    fn style(self) -> Style {
        let color = |c: AnsiColor| Style::new().fg_color(Some(c.into())).bold();
        match self {
            State::Red => color(AnsiColor::Red),
            State::Orange => color(AnsiColor::Yellow),
            State::Green => color(AnsiColor::Green),
            State::Grey => Style::new().dimmed(),
        }
    }

    /// A runbook's state from its checks.
    pub fn of(checks: &[CheckStatus]) -> State {
        if checks.is_empty() {
            State::Grey
        } else if checks.iter().any(|c| !c.ok && !c.warn) {
            State::Red
        } else if checks.iter().any(|c| !c.ok) {
            State::Orange
        } else {
            State::Green
        }
    }
}

/// The whole report: what `--format json` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When the checks started, RFC 3339 in UTC.
    pub checked_at: String,
    pub duration_ms: u64,
    /// `--parallel`: jobs at once over the whole catalog.
    pub parallel: usize,
    /// Jobs run: one per check, one per host of a fan-out.
    pub jobs: usize,
    pub counts: Counts,
    /// Red first, then orange, green and grey; by id within each.
    pub services: Vec<ServiceStatus>,
}

/// How many runbooks are in each state.
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub red: usize,
    pub orange: usize,
    pub green: usize,
    pub grey: usize,
}

/// One runbook's row.
#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    pub id: String,
    pub title: String,
    pub services: Vec<String>,
    pub owner: String,
    pub file: String,
    pub state: State,
    /// Why the runbook could not be checked at all (it is invalid); its checks are then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub checks: Vec<CheckStatus>,
    pub links: Vec<LinkStatus>,
}

/// One health check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStatus {
    pub name: String,
    pub ok: bool,
    /// `warn: true`: a failure makes the service orange, not red.
    pub warn: bool,
    /// Where it ran: `local`, a host group or a destination.
    pub target: String,
    /// What it expected, when it failed.
    pub expected: Option<String>,
    /// What happened, in one line, when it failed; a fan-out names every failed host.
    pub reason: Option<String>,
    /// Each host of a fan-out; absent for a check that runs once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<HostStatus>>,
    /// The longest host's time.
    pub duration_ms: u64,
}

/// One host of a fan-out.
#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    pub host: String,
    pub ok: bool,
    pub reason: Option<String>,
    pub duration_ms: u64,
}

/// A dashboard, a log search, a document: the runbook's `links`, rendered.
#[derive(Debug, Serialize)]
pub struct LinkStatus {
    pub name: String,
    pub url: String,
}

impl ServiceStatus {
    /// The row of one runbook; every text that could hold a secret input goes through `masker`,
    /// then through the sanitiser (outputs and reasons come from the checked hosts).
    pub(super) fn new(entry: &Entry, found: ServiceChecks, masker: &Masker) -> ServiceStatus {
        let mask = |text: &str| crate::execute::screen::clean(masker, text);
        let mask_option = |text: &Option<String>| text.as_deref().map(mask);
        let checks: Vec<CheckStatus> = found
            .checks
            .into_iter()
            .map(|check| CheckStatus {
                name: mask(&check.name),
                target: mask(&check.target),
                expected: mask_option(&check.expected),
                reason: mask_option(&check.reason),
                hosts: check.hosts.map(|hosts| {
                    hosts
                        .into_iter()
                        .map(|host| HostStatus {
                            host: mask(&host.host),
                            reason: mask_option(&host.reason),
                            ..host
                        })
                        .collect()
                }),
                ..check
            })
            .collect();
        let links = found
            .links
            .into_iter()
            .map(|(name, url)| LinkStatus {
                name: mask(&name),
                url: mask(&url),
            })
            .collect();
        let runbook = entry.runbook.as_ref();
        ServiceStatus {
            id: mask(&entry.id),
            title: runbook.map_or_else(String::new, |r| mask(&r.title.value)),
            services: runbook.map_or_else(Vec::new, |r| {
                r.scope.services.iter().map(|s| mask(&s.value)).collect()
            }),
            owner: runbook.map_or_else(String::new, |r| mask(&r.owner.value)),
            file: mask(&entry.path.display().to_string()),
            state: if entry.error.is_some() {
                State::Red
            } else {
                State::of(&checks)
            },
            error: mask_option(&entry.error),
            checks,
            links,
        }
    }

    /// `user-sync-service`, or the id when the runbook could not be read.
    pub fn label(&self) -> String {
        if self.services.is_empty() {
            self.id.clone()
        } else {
            self.services.join(", ")
        }
    }

    /// The checks that failed, red ones first.
    pub fn failed(&self) -> impl Iterator<Item = &CheckStatus> {
        let red = self.checks.iter().filter(|c| !c.ok && !c.warn);
        let orange = self.checks.iter().filter(|c| !c.ok && c.warn);
        red.chain(orange)
    }

    /// `2 of 3 checks failed`, `1 warning`, `3 checks passed`, `no health checks`.
    pub fn summary(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let total = self.checks.len();
        let red = self.checks.iter().filter(|c| !c.ok && !c.warn).count();
        let orange = self.checks.iter().filter(|c| !c.ok && c.warn).count();
        match (self.state, &self.error) {
            (_, Some(_)) => "invalid runbook".into(),
            (State::Grey, None) => "no health checks".into(),
            (State::Green, None) => format!("{} passed", plural(total, "check")),
            _ => {
                let mut parts = Vec::new();
                if red > 0 {
                    parts.push(format!("{red} of {} failed", plural(total, "check")));
                }
                if orange > 0 {
                    parts.push(plural(orange, "warning"));
                }
                parts.join(", ")
            }
        }
    }
}

impl Report {
    pub fn new(
        checked_at: jiff::Timestamp,
        duration: Duration,
        parallel: usize,
        jobs: usize,
        mut services: Vec<ServiceStatus>,
    ) -> Report {
        services.sort_by(|a, b| (a.state, &a.id).cmp(&(b.state, &b.id)));
        let mut counts = Counts::default();
        for service in &services {
            *match service.state {
                State::Red => &mut counts.red,
                State::Orange => &mut counts.orange,
                State::Green => &mut counts.green,
                State::Grey => &mut counts.grey,
            } += 1;
        }
        Report {
            checked_at: checked_at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            parallel,
            jobs,
            counts,
            services,
        }
    }

    /// `2026-11-22 08:00:01 UTC`.
    pub fn checked_at_utc(&self) -> String {
        self.checked_at.parse::<jiff::Timestamp>().map_or_else(
            |_| self.checked_at.clone(),
            |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    }
}

/// `4 runbooks: 1 red, 1 orange, 1 green, 1 without health checks`.
pub fn counts_line(report: &Report) -> String {
    let counts = &report.counts;
    let total = report.services.len();
    let mut parts = Vec::new();
    for (n, word) in [
        (counts.red, "red"),
        (counts.orange, "orange"),
        (counts.green, "green"),
        (counts.grey, "without health checks"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    format!(
        "{total} runbook{}: {}",
        if total == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// The terminal table: a row per runbook, each failed check indented under it, a footer.
/// Styles are written as ANSI codes; the caller's stream drops them off a terminal.
pub fn table(report: &Report) -> String {
    const DIM: Style = Style::new().dimmed();
    let rows: Vec<[String; 3]> = report
        .services
        .iter()
        .map(|s| {
            let label = if s.services.is_empty() {
                "?".to_string()
            } else {
                s.label()
            };
            [label, s.id.clone(), s.summary()]
        })
        .collect();
    let width = |column: usize| {
        rows.iter()
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (label_width, id_width) = (width(0), width(1));
    let mut out = String::new();
    for (service, [label, id, summary]) in report.services.iter().zip(&rows) {
        let state = service.state;
        let style = state.style();
        out.push_str(&format!(
            "{style}{} {:<6}{style:#}  {label:<label_width$}  {id:<id_width$}  {DIM}{summary}{DIM:#}\n",
            state.symbol(),
            state.word(),
        ));
        if let Some(error) = &service.error {
            out.push_str(&format!(
                "    {style}✘{style:#} {}\n",
                cut(error, TABLE_REASON_CHARS)
            ));
        }
        for check in service.failed() {
            let mark = if check.warn {
                State::Orange
            } else {
                State::Red
            };
            let mark_style = mark.style();
            let reason = check.reason.as_deref().unwrap_or("failed");
            let expected = check
                .expected
                .as_deref()
                .map(|e| format!(" {DIM}(expected {e}){DIM:#}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "    {mark_style}{}{mark_style:#} {}: {}{expected}\n",
                mark.symbol(),
                check.name,
                cut(reason, TABLE_REASON_CHARS)
            ));
        }
    }
    out.push('\n');
    out.push_str(&counts_line(report));
    out.push('\n');
    out.push_str(&format!(
        "{DIM}checked {} in {} · {} job{}, {} at once{DIM:#}\n",
        report.checked_at_utc(),
        crate::timeline::human_duration(report.duration_ms),
        report.jobs,
        if report.jobs == 1 { "" } else { "s" },
        report.parallel
    ));
    out
}

/// The report as pretty JSON, with a final newline.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("the report serializes") + "\n"
}

/// At most `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, ok: bool, warn: bool) -> CheckStatus {
        CheckStatus {
            name: name.into(),
            ok,
            warn,
            target: "local".into(),
            expected: (!ok).then(|| "status 200".into()),
            reason: (!ok).then(|| "status 503".into()),
            hosts: None,
            duration_ms: 5,
        }
    }

    fn service(id: &str, checks: Vec<CheckStatus>) -> ServiceStatus {
        ServiceStatus {
            id: id.into(),
            title: format!("Title of {id}"),
            services: vec![format!("{id}-service")],
            owner: "ops".into(),
            file: format!("{id}.yaml"),
            state: State::of(&checks),
            error: None,
            checks,
            links: Vec::new(),
        }
    }

    #[track_caller]
    fn case(checks: &[(bool, bool)], expected: State) {
        let checks: Vec<CheckStatus> = checks
            .iter()
            .map(|&(ok, warn)| check("c", ok, warn))
            .collect();
        assert_eq!(State::of(&checks), expected, "{checks:?}");
    }

    #[test]
    fn states() {
        case(&[], State::Grey);
        case(&[(true, false), (true, true)], State::Green);
        case(&[(true, false), (false, true)], State::Orange);
        case(&[(false, false), (false, true)], State::Red);
        case(&[(false, false)], State::Red);
    }

    fn report() -> Report {
        Report::new(
            "2026-11-22T08:00:01.234567Z".parse().unwrap(),
            Duration::from_millis(1234),
            64,
            5,
            vec![
                service("b-green", vec![check("api", true, false)]),
                service("a-grey", vec![]),
                service(
                    "c-orange",
                    vec![check("api", true, false), check("lag", false, true)],
                ),
                service(
                    "z-red",
                    vec![check("lag", false, true), check("api", false, false)],
                ),
                service("y-red", vec![check("api", false, false)]),
            ],
        )
    }

    #[test]
    fn red_first_then_orange_green_grey_then_by_id() {
        let report = report();
        let order: Vec<&str> = report.services.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(order, ["y-red", "z-red", "c-orange", "b-green", "a-grey"]);
        assert_eq!(report.checked_at, "2026-11-22T08:00:01.234Z");
        assert_eq!(
            counts_line(&report),
            "5 runbooks: 2 red, 1 orange, 1 green, 1 without health checks"
        );
    }

    #[test]
    fn table_rows_and_reasons() {
        let table = anstream::adapter::strip_str(&table(&report())).to_string();
        let expected = "\
✘ red     y-red-service     y-red     1 of 1 check failed
    ✘ api: status 503 (expected status 200)
✘ red     z-red-service     z-red     1 of 2 checks failed, 1 warning
    ✘ api: status 503 (expected status 200)
    ! lag: status 503 (expected status 200)
! orange  c-orange-service  c-orange  1 warning
    ! lag: status 503 (expected status 200)
✔ green   b-green-service   b-green   1 check passed
– grey    a-grey-service    a-grey    no health checks

5 runbooks: 2 red, 1 orange, 1 green, 1 without health checks
checked 2026-11-22 08:00:01 UTC in 1.2s · 5 jobs, 64 at once
";
        assert_eq!(table, expected);
    }

    #[test]
    fn long_reasons_are_cut_in_the_table() {
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
