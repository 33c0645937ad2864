//! Ranking a catalog against an alert, strongest reason first: the runbook the alert's
//! `runbook_url` names; the runbooks whose `scope.alerts` matchers hold; those whose alert
//! regexes match its text; those for the service it names; and last those that merely share
//! words with it. [`Ranker`] compiles the catalog once, so a group of alerts costs one pass
//! per alert, and the order is a pure function of the alert and the runbooks.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::alert::{Alert, Source};
use crate::model::{AlertRule, Runbook};

/// A runbook that loaded, under its catalog id.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub runbook: &'a Runbook,
}

/// How a runbook matched, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The alert's `runbook_url` annotation names it.
    RunbookUrl,
    /// One of its `scope.alerts` matchers holds for the alert's name, labels and text.
    Matcher,
    /// One of its `scope.alerts` regexes matches the alert text.
    Regex,
    /// Its `scope.services` holds the service the alert names.
    Service,
    /// It only shares words with the alert: a weak match.
    Words,
}

/// Why a runbook matched.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    RunbookUrl {
        url: String,
        /// The step of a `#step-ID` fragment, when the URL has one.
        step: Option<String>,
    },
    Matcher {
        /// Index in `scope.alerts` of the most specific matcher that held.
        index: usize,
        /// The matcher, written out (`alertname=~… labels.severity=~…`).
        matcher: String,
        /// How many conditions it has: more is more specific.
        conditions: usize,
        /// The labels its conditions matched, with the alert's values.
        labels: Vec<(String, String)>,
        /// Named groups of its `text` regex.
        captures: Vec<(String, String)>,
    },
    Pattern {
        /// Index in `scope.alerts` of the most specific pattern that matched.
        index: usize,
        pattern: String,
        /// How many of its patterns matched.
        count: usize,
        /// Named groups of that pattern that captured something, by name.
        captures: Vec<(String, String)>,
    },
    Service {
        /// As the runbook spells it.
        service: String,
    },
    Words {
        /// The shared words, sorted, after stemming.
        shared: Vec<String>,
        /// The sum of each shared word's rarity across the catalog.
        score: f64,
    },
}

/// One runbook of the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Index into the candidates given to [`Ranker::new`].
    pub candidate: usize,
    pub reason: Reason,
}

impl Match {
    pub fn tier(&self) -> Tier {
        match self.reason {
            Reason::RunbookUrl { .. } => Tier::RunbookUrl,
            Reason::Matcher { .. } => Tier::Matcher,
            Reason::Pattern { .. } => Tier::Regex,
            Reason::Service { .. } => Tier::Service,
            Reason::Words { .. } => Tier::Words,
        }
    }

    /// Named groups of the regex that matched.
    pub fn captures(&self) -> &[(String, String)] {
        match &self.reason {
            Reason::Matcher { captures, .. } | Reason::Pattern { captures, .. } => captures,
            _ => &[],
        }
    }
}

/// The service an alert names: its `service` (or `app`) label; for text, `[service] …`, or
/// `service: …` when that is a service of the catalog (a bare leading word before a colon is
/// too often something else, like `ERROR:`). An Alertmanager subject (`[FIRING:2] …`) names
/// no service.
pub fn alert_service(alert: &Alert, known: &[&str]) -> Option<String> {
    if let Some(service) = ["service", "app"]
        .iter()
        .find_map(|key| alert.labels.get(*key))
        .filter(|s| !s.trim().is_empty())
    {
        return Some(service.trim().to_string());
    }
    if alert.source != Source::Text || crate::alert::subject::parse(&alert.text).is_some() {
        return None;
    }
    named_service(&alert.text, known)
}

/// The service a text names: `[service] …`, or `service: …` when that is a known service.
pub fn named_service(alert: &str, known: &[&str]) -> Option<String> {
    let alert = alert.trim_start();
    if let Some(rest) = alert.strip_prefix('[')
        && let Some((name, _)) = rest.split_once(']')
        && !name.trim().is_empty()
    {
        return Some(name.trim().to_string());
    }
    let (head, _) = alert.split_once(':')?;
    let is_known = known.iter().any(|service| same_service(service, head));
    (!head.is_empty() && !head.contains(char::is_whitespace) && is_known).then(|| head.to_string())
}

/// Services compare without regard to case: alerting tools and YAML authors disagree on it.
pub fn same_service(a: &str, b: &str) -> bool {
    // For ASCII text, lowercasing says no more than the ASCII comparison.
    a.eq_ignore_ascii_case(b)
        || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

/// A regex that must match a whole value.
fn whole(regex: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!("^(?:{regex})$")).ok()
}

/// A regex compiled on first use, once: most of a large catalog's regexes are never needed
/// for a given group of alerts. `None` once it turned out not to compile.
struct LazyRegex {
    source: String,
    /// Whether `source` must match the whole value (`^(?:…)$`) or be searched for.
    whole: bool,
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

impl LazyRegex {
    fn new(source: &str, whole: bool) -> Self {
        LazyRegex {
            source: source.to_string(),
            whole,
            compiled: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Option<&regex::Regex> {
        self.compiled
            .get_or_init(|| {
                if self.whole {
                    whole(&self.source)
                } else {
                    regex::Regex::new(&self.source).ok()
                }
            })
            .as_ref()
    }
}

/// One condition of a matcher on a whole value: the literal values a regex such as
/// `ServiceErrorRateHigh` or `warning|critical` stands for, compared as they are, or any
/// other regex. A regex that does not compile makes the matcher never hold (lint's
/// `invalid-regex` reports it).
enum ValueTest {
    Exact(Vec<String>),
    Regex(LazyRegex),
}

impl ValueTest {
    fn new(regex: &str) -> Self {
        match exact_values(regex) {
            Some(values) => ValueTest::Exact(values),
            None => ValueTest::Regex(LazyRegex::new(regex, true)),
        }
    }

    fn holds(&self, value: &str) -> bool {
        match self {
            ValueTest::Exact(values) => values.iter().any(|v| v == value),
            ValueTest::Regex(regex) => regex.get().is_some_and(|regex| regex.is_match(value)),
        }
    }
}

/// The values a regex matches as a whole when it is a literal or an alternation of
/// literals (`svc-0331`, `warning|critical`, `a\.b`): `^(?:REGEX)$` then holds for exactly
/// those values. `None` for any other regex, and for one the regex crate's parser refuses.
fn exact_values(regex: &str) -> Option<Vec<String>> {
    use regex_syntax::hir::HirKind;
    // The common case without the parser: no special character but `|` between non-empty
    // words.
    if !regex.is_empty()
        && !regex
            .chars()
            .any(|c| c != '|' && regex_syntax::is_meta_character(c))
    {
        let values: Vec<String> = regex.split('|').map(str::to_string).collect();
        if values.iter().all(|value| !value.is_empty()) {
            return Some(values);
        }
    }
    let hir = regex_syntax::parse(regex).ok()?;
    let literal = |hir: &regex_syntax::hir::Hir| match hir.kind() {
        HirKind::Literal(literal) => std::str::from_utf8(&literal.0).ok().map(str::to_string),
        _ => None,
    };
    match hir.kind() {
        HirKind::Literal(_) => Some(vec![literal(&hir)?]),
        HirKind::Alternation(alternatives) => alternatives.iter().map(literal).collect(),
        _ => None,
    }
}

/// The text a pattern's match must start the alert text with: the literal after a leading
/// `^` (`^\[svc\] error` → `[svc] error`). `None` when the pattern is not anchored at the
/// start of the text, or starts with anything but a literal.
fn anchored_prefix(pattern: &str) -> Option<Vec<u8>> {
    use regex_syntax::hir::{HirKind, Look};
    // The common case without the parser: `^` then plain or escaped punctuation characters,
    // no `|` anywhere (an alternation could undo the anchor). The last character of the run
    // is left out, since a quantifier after it (`?`, `*`, `{0,1}`) could make it optional.
    if let Some(rest) = pattern.strip_prefix('^')
        && !pattern.contains('|')
    {
        let mut prefix = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next)
                        if next.is_ascii_punctuation() && regex_syntax::is_meta_character(next) =>
                    {
                        prefix.push(next);
                        chars.next();
                    }
                    _ => break,
                },
                // Outside a class and without the `x` flag, these are themselves.
                '-' | '&' | '~' | '#' => prefix.push(c),
                c if regex_syntax::is_meta_character(c) => break,
                c => prefix.push(c),
            }
        }
        prefix.pop();
        if !prefix.is_empty() {
            return Some(prefix.into_bytes());
        }
    }
    let hir = regex_syntax::parse(pattern).ok()?;
    let HirKind::Concat(parts) = hir.kind() else {
        return None;
    };
    match (parts.first()?.kind(), parts.get(1)?.kind()) {
        (HirKind::Look(Look::Start), HirKind::Literal(literal)) if !literal.0.is_empty() => {
            Some(literal.0.to_vec())
        }
        _ => None,
    }
}

/// A matcher, ready to test: its conditions' regexes compile on first use.
struct CompiledMatcher {
    index: usize,
    shown: String,
    alertname: Option<ValueTest>,
    labels: Vec<(String, ValueTest)>,
    text: Option<LazyRegex>,
    conditions: usize,
}

/// What ranking needs of one runbook, computed once.
struct Compiled {
    patterns: Vec<(usize, LazyRegex)>,
    matchers: Vec<CompiledMatcher>,
    words: BTreeSet<String>,
}

/// Which candidates an alert could match in the matcher, regex and service tiers, so that
/// an alert meets a handful of runbooks, not the whole catalog. Each index only narrows:
/// the candidates it gives are tested as before, and a rule it cannot index (a regex that
/// is not a literal) puts its runbook among those always tested.
#[derive(Default)]
struct Narrowing {
    /// (label, value) → candidates with a matcher whose condition on that label is that
    /// literal value (each matcher indexed under its rarest literal condition).
    by_label: HashMap<(String, String), Vec<usize>>,
    /// Candidates with a matcher without literal condition on `alertname` or a label.
    any_matcher: Vec<usize>,
    /// Literal start of the text → candidates with a pattern that must start with it.
    by_prefix: HashMap<Vec<u8>, Vec<usize>>,
    /// The lengths of the keys of `by_prefix`.
    prefix_lengths: BTreeSet<usize>,
    /// Candidates with a pattern not anchored on a literal start.
    any_pattern: Vec<usize>,
    /// Lowercased service → candidates that list it.
    by_service: HashMap<String, Vec<usize>>,
}

impl Narrowing {
    fn new(candidates: &[Candidate<'_>], compiled: &[Compiled]) -> Self {
        let mut narrowing = Narrowing::default();
        // How many matchers have each literal condition: a matcher is indexed under its
        // rarest, so that a value every matcher shares (`alertname`, `severity`) does not
        // bring the whole catalog along.
        let literal_conditions = |matcher: &CompiledMatcher| -> Vec<(String, Vec<String>)> {
            let mut found = Vec::new();
            if let Some(ValueTest::Exact(values)) = &matcher.alertname {
                found.push(("alertname".to_string(), values.clone()));
            }
            for (label, test) in &matcher.labels {
                if let ValueTest::Exact(values) = test {
                    found.push((label.clone(), values.clone()));
                }
            }
            found
        };
        let mut counts: HashMap<(String, String), usize> = HashMap::new();
        for compiled in compiled {
            for matcher in &compiled.matchers {
                for (label, values) in literal_conditions(matcher) {
                    for value in values {
                        *counts.entry((label.clone(), value)).or_default() += 1;
                    }
                }
            }
        }
        for (index, (candidate, compiled)) in candidates.iter().zip(compiled).enumerate() {
            for matcher in &compiled.matchers {
                let rarest =
                    literal_conditions(matcher)
                        .into_iter()
                        .min_by_key(|(label, values)| {
                            values
                                .iter()
                                .map(|value| counts[&(label.clone(), value.clone())])
                                .sum::<usize>()
                        });
                match rarest {
                    Some((label, values)) => {
                        for value in values {
                            push_once(
                                narrowing
                                    .by_label
                                    .entry((label.clone(), value))
                                    .or_default(),
                                index,
                            );
                        }
                    }
                    None => push_once(&mut narrowing.any_matcher, index),
                }
            }
            for (_, pattern) in &compiled.patterns {
                match anchored_prefix(&pattern.source) {
                    Some(prefix) => {
                        narrowing.prefix_lengths.insert(prefix.len());
                        push_once(narrowing.by_prefix.entry(prefix).or_default(), index);
                    }
                    None => push_once(&mut narrowing.any_pattern, index),
                }
            }
            for service in &candidate.runbook.scope.services {
                push_once(
                    narrowing
                        .by_service
                        .entry(service.to_lowercase())
                        .or_default(),
                    index,
                );
            }
        }
        narrowing
    }

    /// Every candidate the alert could match in the matcher, regex or service tier (and
    /// perhaps others), sorted, once each.
    fn candidates(&self, alert: &Alert, service: Option<&str>) -> Vec<usize> {
        let mut found: Vec<usize> = Vec::new();
        found.extend(&self.any_matcher);
        for (label, value) in &alert.labels {
            // A lookup key without cloning is not worth a custom map here: few labels.
            if let Some(indexes) = self.by_label.get(&(label.clone(), value.clone())) {
                found.extend(indexes);
            }
        }
        found.extend(&self.any_pattern);
        let text = alert.text.trim().as_bytes();
        for length in self.prefix_lengths.range(..=text.len()) {
            if let Some(indexes) = self.by_prefix.get(&text[..*length]) {
                found.extend(indexes);
            }
        }
        if let Some(service) = service
            && let Some(indexes) = self.by_service.get(&service.to_lowercase())
        {
            found.extend(indexes);
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Adds `index` unless it is already the last one (indexes are pushed in order).
fn push_once(list: &mut Vec<usize>, index: usize) {
    if list.last() != Some(&index) {
        list.push(index);
    }
}

/// The catalog, compiled for ranking alerts against it.
pub struct Ranker<'a> {
    candidates: &'a [Candidate<'a>],
    compiled: Vec<Compiled>,
    narrowing: Narrowing,
    /// Each candidate's place in the order of ids (then of the catalog): comparing two
    /// places is comparing their ids.
    id_rank: Vec<usize>,
    rarity: BTreeMap<String, f64>,
    /// Word → the candidates whose words hold it, so that an alert meets only the runbooks
    /// it shares words with, not the whole catalog.
    postings: BTreeMap<String, Vec<usize>>,
}

impl<'a> Ranker<'a> {
    pub fn new(candidates: &'a [Candidate<'a>]) -> Self {
        let compiled: Vec<Compiled> =
            crate::commands::parallel::par_map(candidates, |candidate| compile(candidate.runbook));
        let catalog_words: Vec<&BTreeSet<String>> = compiled.iter().map(|c| &c.words).collect();
        let rarity = rarity(&catalog_words);
        let mut postings: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, words) in catalog_words.iter().enumerate() {
            for word in words.iter() {
                postings.entry(word.clone()).or_default().push(index);
            }
        }
        let narrowing = Narrowing::new(candidates, &compiled);
        let mut by_id: Vec<usize> = (0..candidates.len()).collect();
        by_id.sort_by(|a, b| candidates[*a].id.cmp(candidates[*b].id).then(a.cmp(b)));
        let mut id_rank = vec![0; candidates.len()];
        for (rank, index) in by_id.into_iter().enumerate() {
            id_rank[index] = rank;
        }
        Ranker {
            candidates,
            compiled,
            narrowing,
            id_rank,
            rarity,
            postings,
        }
    }

    /// Ranks the catalog against one alert; each matching runbook appears once, in its best
    /// tier. Within a tier: the runbook whose id is the longest the URL ends in; the matcher
    /// with the most conditions; the longest matching pattern (the most specific), then the
    /// most patterns matched; the fewest services (the most specific); the highest word
    /// score. Ties go to the smaller id, so the order never depends on the file system.
    #[cfg(test)]
    pub fn rank(&self, alert: &Alert, service: Option<&str>) -> Vec<Match> {
        self.rank_top(alert, service, usize::MAX)
    }

    /// The first `limit` matches of [`Ranker::rank`]. Words matches are scored from the
    /// postings and only the best ones are spelt out, so a catalog where every runbook
    /// shares a word or two with the alert costs little more than one where none does.
    pub fn rank_top(&self, alert: &Alert, service: Option<&str>, limit: usize) -> Vec<Match> {
        let alert_words = words(&alert.words_text());
        // How many words each candidate shares with the alert, and their summed rarity.
        // One slot per candidate (a map per alert was most of a large group's time).
        let mut shared: Vec<(usize, f64)> = vec![(0, 0.0); self.candidates.len()];
        for word in &alert_words {
            let rarity = self.rarity.get(word).copied().unwrap_or(0.0);
            for index in self.postings.get(word).into_iter().flatten() {
                let entry = &mut shared[*index];
                entry.0 += 1;
                entry.1 += rarity;
            }
        }
        let url_choice = alert
            .runbook_url()
            .and_then(|url| self.url_candidate(url).map(|found| (url, found)));
        // Only the candidates the alert could match beyond words, in the catalog's order.
        let mut narrowed = self.narrowing.candidates(alert, service);
        if let Some((_, (chosen, _))) = &url_choice
            && let Err(at) = narrowed.binary_search(chosen)
        {
            narrowed.insert(at, *chosen);
        }
        let mut matches: Vec<Match> = narrowed
            .into_iter()
            .filter_map(|index| {
                let (candidate, compiled) = (&self.candidates[index], &self.compiled[index]);
                let by_url = url_choice
                    .as_ref()
                    .filter(|(_, (chosen, _))| *chosen == index)
                    .map(|(url, (_, step))| Reason::RunbookUrl {
                        url: url.to_string(),
                        step: step.clone(),
                    });
                let reason = by_url
                    .or_else(|| matcher_reason(alert, compiled))
                    .or_else(|| pattern_reason(&alert.text, compiled))
                    .or_else(|| service_reason(service?, candidate.runbook))?;
                Some(Match {
                    candidate: index,
                    reason,
                })
            })
            .collect();
        let candidates = self.candidates;
        let order = |a: &Match, b: &Match| {
            a.tier()
                .cmp(&b.tier())
                .then_with(|| strength(b, candidates).total_cmp(&strength(a, candidates)))
                .then_with(|| tie_break(a, b))
                .then_with(|| candidates[a.candidate].id.cmp(candidates[b.candidate].id))
        };
        matches.sort_by(order);
        matches.truncate(limit);
        let wanted = limit - matches.len();
        if wanted > 0 {
            let strong: std::collections::HashSet<usize> =
                matches.iter().map(|m| m.candidate).collect();
            let mut weak: Vec<(usize, f64)> = shared
                .iter()
                .enumerate()
                .filter(|(index, (count, _))| *count >= MIN_SHARED_WORDS && !strong.contains(index))
                .map(|(index, (_, score))| (index, *score))
                .collect();
            // The same order as the words tier's: the score, then the id (then the catalog's
            // order, as a stable sort would keep it). Only the first `wanted` are sorted.
            let id_rank = &self.id_rank;
            let weak_order = |a: &(usize, f64), b: &(usize, f64)| {
                b.1.total_cmp(&a.1)
                    .then_with(|| id_rank[a.0].cmp(&id_rank[b.0]))
            };
            if weak.len() > wanted {
                weak.select_nth_unstable_by(wanted, weak_order);
                weak.truncate(wanted);
            }
            weak.sort_unstable_by(weak_order);
            let mut spelt: Vec<Match> = weak
                .into_iter()
                .take(wanted)
                .filter_map(|(index, _)| {
                    let reason =
                        words_reason(&alert_words, &self.compiled[index].words, &self.rarity)?;
                    Some(Match {
                        candidate: index,
                        reason,
                    })
                })
                .collect();
            // Scores summed in the postings' order may differ in the last bit: sort again
            // by the scores as the reasons hold them.
            spelt.sort_by(order);
            matches.extend(spelt);
        }
        matches
    }

    /// The candidate a `runbook_url` names, with the step of its `#step-ID` fragment: its id
    /// exactly, or a URL whose path ends in `/ID` (with `.html`, `.md`, `.yaml` or a `/`
    /// after it). The longest id wins (`db/backup` over `backup`).
    fn url_candidate(&self, url: &str) -> Option<(usize, Option<String>)> {
        let (base, fragment) = match url.split_once('#') {
            Some((base, fragment)) => (base, Some(fragment)),
            None => (url, None),
        };
        let base = base
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        let base = [".html", ".htm", ".md", ".yaml", ".yml"]
            .iter()
            .find_map(|ext| base.strip_suffix(ext))
            .unwrap_or(base);
        let step = fragment
            .and_then(|f| f.strip_prefix("step-"))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        self.candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                base == c.id
                    || base
                        .strip_suffix(c.id)
                        .is_some_and(|head| head.ends_with('/'))
            })
            .max_by_key(|(_, c)| c.id.len())
            .map(|(index, _)| (index, step))
    }
}

fn compile(runbook: &Runbook) -> Compiled {
    let mut patterns = Vec::new();
    let mut matchers = Vec::new();
    for (index, rule) in runbook.scope.alerts.iter().enumerate() {
        match &rule.value {
            AlertRule::Pattern(pattern) => {
                patterns.push((index, LazyRegex::new(pattern, false)));
            }
            AlertRule::Matcher(matcher) => {
                let conditions = matcher.regexes().len();
                if conditions == 0 {
                    continue;
                }
                matchers.push(CompiledMatcher {
                    index,
                    shown: rule.value.to_string(),
                    alertname: matcher.alertname.as_ref().map(|name| ValueTest::new(name)),
                    labels: matcher
                        .labels
                        .iter()
                        .map(|(label, regex)| (label.value.clone(), ValueTest::new(regex)))
                        .collect(),
                    text: matcher.text.as_ref().map(|text| LazyRegex::new(text, true)),
                    conditions,
                });
            }
        }
    }
    Compiled {
        patterns,
        matchers,
        words: runbook_words(runbook),
    }
}

/// Within a tier, higher is better.
fn strength(found: &Match, candidates: &[Candidate<'_>]) -> f64 {
    match &found.reason {
        Reason::RunbookUrl { .. } => 0.0,
        Reason::Matcher { conditions, .. } => *conditions as f64,
        Reason::Pattern { pattern, .. } => pattern.chars().count() as f64,
        // A runbook for one service is more to the point than one shared by five.
        Reason::Service { .. } => {
            -(candidates[found.candidate].runbook.scope.services.len() as f64)
        }
        Reason::Words { score, .. } => *score,
    }
}

/// More matching patterns first; otherwise equal.
fn tie_break(a: &Match, b: &Match) -> Ordering {
    match (&a.reason, &b.reason) {
        (Reason::Pattern { count: a, .. }, Reason::Pattern { count: b, .. }) => b.cmp(a),
        _ => Ordering::Equal,
    }
}

fn matcher_reason(alert: &Alert, compiled: &Compiled) -> Option<Reason> {
    let holds = |m: &&CompiledMatcher| {
        m.alertname
            .as_ref()
            .is_none_or(|test| alert.name().is_some_and(|name| test.holds(name)))
            && m.labels.iter().all(|(label, test)| {
                alert
                    .labels
                    .get(label)
                    .is_some_and(|value| test.holds(value))
            })
            && m.text.as_ref().is_none_or(|regex| {
                regex
                    .get()
                    .is_some_and(|regex| regex.is_match(alert.text.trim()))
            })
    };
    // The matcher with the most conditions is the most specific; the first wins a tie.
    let best = compiled
        .matchers
        .iter()
        .filter(holds)
        .rev()
        .max_by_key(|m| m.conditions)?;
    let mut labels: Vec<(String, String)> = Vec::new();
    if best.alertname.is_some()
        && let Some(name) = alert.name()
    {
        labels.push(("alertname".into(), name.to_string()));
    }
    for (label, _) in &best.labels {
        labels.push((label.clone(), alert.labels[label].clone()));
    }
    let captures = best
        .text
        .as_ref()
        .and_then(LazyRegex::get)
        .map(|regex| named_groups(regex, alert.text.trim()))
        .unwrap_or_default();
    Some(Reason::Matcher {
        index: best.index,
        matcher: best.shown.clone(),
        conditions: best.conditions,
        labels,
        captures,
    })
}

fn named_groups(regex: &regex::Regex, text: &str) -> Vec<(String, String)> {
    regex
        .captures(text)
        .map(|found| {
            regex
                .capture_names()
                .flatten()
                .filter_map(|name| Some((name.to_string(), found.name(name)?.as_str().to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn pattern_reason(alert: &str, compiled: &Compiled) -> Option<Reason> {
    let alert = alert.trim();
    let matching: Vec<(usize, &regex::Regex)> = compiled
        .patterns
        .iter()
        .filter_map(|(index, regex)| Some((*index, regex.get()?)))
        .filter(|(_, regex)| regex.is_match(alert))
        .collect();
    let count = matching.len();
    // The longest pattern is the most specific; the first one wins a tie.
    let (index, regex) = matching
        .into_iter()
        .rev()
        .max_by_key(|(_, regex)| regex.as_str().chars().count())?;
    Some(Reason::Pattern {
        index,
        pattern: regex.as_str().to_string(),
        count,
        captures: named_groups(regex, alert),
    })
}

fn service_reason(service: &str, runbook: &Runbook) -> Option<Reason> {
    runbook
        .scope
        .services
        .iter()
        .find(|own| same_service(own, service))
        .map(|own| Reason::Service {
            service: own.value.clone(),
        })
}

fn words_reason(
    alert_words: &BTreeSet<String>,
    own_words: &BTreeSet<String>,
    rarity: &BTreeMap<String, f64>,
) -> Option<Reason> {
    let shared: Vec<String> = alert_words.intersection(own_words).cloned().collect();
    // One word in common is chance (`failed`, `down`, `pod`): a weak match needs two.
    if shared.len() < MIN_SHARED_WORDS {
        return None;
    }
    // Summed in sorted order, so equal sets always give equal scores.
    let score = shared
        .iter()
        .map(|word| rarity.get(word.as_str()).copied().unwrap_or(0.0))
        .sum();
    Some(Reason::Words { shared, score })
}

/// The fewest words an alert and a runbook must share to match on words alone.
const MIN_SHARED_WORDS: usize = 2;

/// How rare each word is across the catalog (its inverse document frequency): a word that
/// only one runbook uses says more than one they all use. Never zero, so that a catalog of
/// one runbook still matches on words.
fn rarity(catalog_words: &[&BTreeSet<String>]) -> BTreeMap<String, f64> {
    let mut runbooks_with: BTreeMap<&str, usize> = BTreeMap::new();
    for word in catalog_words.iter().copied().flatten() {
        *runbooks_with.entry(word.as_str()).or_default() += 1;
    }
    let total = catalog_words.len() as f64;
    runbooks_with
        .into_iter()
        .map(|(word, count)| (word.to_string(), (1.0 + total / count as f64).ln()))
        .collect()
}

/// The words a runbook is about: its title, summary, step names, services and the alert
/// names of its matchers (split at their capitals).
fn runbook_words(runbook: &Runbook) -> BTreeSet<String> {
    let mut text = runbook.title.value.clone();
    if let Some(summary) = &runbook.summary {
        text.push(' ');
        text.push_str(&without_template_tags(summary));
    }
    for step in &runbook.steps {
        text.push(' ');
        text.push_str(&step.name);
    }
    for service in &runbook.scope.services {
        text.push(' ');
        text.push_str(service);
    }
    for rule in &runbook.scope.alerts {
        if let Some(name) = rule.matcher().and_then(|m| m.alertname.as_ref()) {
            text.push(' ');
            text.push_str(&crate::alert::split_camel_case(name));
        }
    }
    words(&text)
}

/// `{{ inputs.env }}` and `{% if … %}` are machinery, not what the runbook is about.
fn without_template_tags(text: &str) -> String {
    static TAGS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    TAGS.get_or_init(|| regex::Regex::new(r"(?s)\{\{.*?\}\}|\{%.*?%\}").expect("valid regex"))
        .replace_all(text, " ")
        .into_owned()
}

/// The meaningful words of a text: lowercased, split on anything not a letter or digit,
/// without numbers, stop words and words under three letters, plurals folded to singular.
pub fn words(text: &str) -> BTreeSet<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.chars().all(|c| c.is_ascii_digit()) && !is_stop_word(word))
        .map(singular)
        .filter(|word| word.chars().count() >= 3 && !is_stop_word(word))
        .collect()
}

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok() || ALERT_WORDS.binary_search(&word).is_ok()
}

/// A light plural folding (`pushes` → `push`, `queries` → `query`, `pods` → `pod`), enough
/// for an alert's `users` to meet a title's `user`.
fn singular(word: &str) -> String {
    if word.chars().count() <= 3 {
        return word.to_string();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for sibilant in ["ches", "shes", "sses", "xes"] {
        if word.ends_with(sibilant) {
            return word[..word.len() - 2].to_string();
        }
    }
    match word.strip_suffix('s') {
        Some(stem) if !stem.ends_with(['s', 'u', 'i']) => stem.to_string(),
        _ => word.to_string(),
    }
}

/// Words too common to tell one runbook from another. Sorted.
const STOP_WORDS: &[&str] = &[
    "about", "above", "after", "again", "all", "also", "and", "any", "are", "because", "been",
    "before", "being", "below", "both", "but", "can", "com", "could", "did", "does", "done",
    "each", "few", "for", "from", "had", "has", "have", "her", "here", "him", "his", "how", "http",
    "https", "into", "its", "just", "may", "might", "more", "most", "must", "nor", "not", "now",
    "off", "once", "one", "only", "other", "our", "out", "over", "own", "per", "same", "service",
    "she", "should", "some", "such", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "too", "under", "until", "use", "very", "via", "was", "were",
    "what", "when", "where", "which", "while", "who", "why", "will", "with", "would", "www", "you",
    "your",
];

/// The words every alert has — its boilerplate (`… for longer than 15 minutes`), its status
/// and severity, the words of "nothing matches" — which say nothing about which runbook
/// answers it. Sorted.
const ALERT_WORDS: &[&str] = &[
    "alert",
    "alerting",
    "anything",
    "critical",
    "currently",
    "day",
    "description",
    "during",
    "expected",
    "firing",
    "hour",
    "info",
    "kube",
    "last",
    "least",
    "less",
    "longer",
    "match",
    "minute",
    "nothing",
    "past",
    "prometheus",
    "resolved",
    "second",
    "severity",
    "something",
    "state",
    "summary",
    "value",
    "warning",
];
#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse;

    /// A plain-text alert.
    fn text(alert: &str) -> Alert {
        crate::alert::parse(alert).expect("text parses").remove(0)
    }

    /// A runbook with the given services, alert patterns and title.
    fn runbook(services: &[&str], alerts: &[&str], title: &str) -> Runbook {
        let quoted = |items: &[&str]| {
            items
                .iter()
                .map(|item| format!("'{}'", item.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let yaml = format!(
            "runbook: 1\ntitle: '{title}'\nowner: team\nreviewed: 2026-11-01\nscope:\n  services: [{}]\n  alerts: [{}]\nsteps:\n  - {{ id: a, name: Look around, instructions: x }}\n",
            quoted(services),
            quoted(alerts)
        );
        parse(&yaml).unwrap_or_else(|error| panic!("{yaml}\n{error:?}"))
    }

    /// The ids of the ranking, with their tiers.
    #[track_caller]
    fn case(alert: &str, catalog: &[(&str, Runbook)], expected: &[(&str, Tier)]) {
        let candidates: Vec<Candidate<'_>> = catalog
            .iter()
            .map(|(id, runbook)| Candidate { id, runbook })
            .collect();
        let services: Vec<&str> = catalog
            .iter()
            .flat_map(|(_, r)| r.scope.services.iter().map(|s| s.as_str()))
            .collect();
        let alert = text(alert);
        let service = alert_service(&alert, &services);
        let ranked: Vec<(&str, Tier)> = Ranker::new(&candidates)
            .rank(&alert, service.as_deref())
            .iter()
            .map(|found| (candidates[found.candidate].id, found.tier()))
            .collect();
        assert_eq!(ranked, expected, "alert: {}", alert.text);
    }

    fn catalog() -> Vec<(&'static str, Runbook)> {
        vec![
            (
                "user-sync/catch-all",
                runbook(
                    &["user-sync-service"],
                    &[r"^\[user-sync-service\] "],
                    "User sync, anything",
                ),
            ),
            (
                "user-sync/push-failures",
                runbook(
                    &["user-sync-service"],
                    &[
                        r"^\[user-sync-service\] creating user: POST /api/users: (403|500)",
                        r"^\[user-sync-service\] creating user",
                    ],
                    "User sync — pushes fail",
                ),
            ),
            (
                "user-sync/pod-down",
                runbook(
                    &["user-sync-service", "kubernetes"],
                    &[],
                    "User sync pod down",
                ),
            ),
            (
                "web/saturated",
                runbook(
                    &["web-front", "haproxy"],
                    &[r"^\[web-front\] p99 latency"],
                    "Saturated backends",
                ),
            ),
            (
                "common/restart",
                runbook(&["kubernetes"], &["[invalid"], "Restart a deployment"),
            ),
        ]
    }

    #[test]
    fn tiers_are_ranked_regex_then_service_then_words() {
        let catalog = catalog();
        case(
            "[user-sync-service] creating user: POST /api/users: 500",
            &catalog,
            &[
                ("user-sync/push-failures", Tier::Regex),
                ("user-sync/catch-all", Tier::Regex),
                ("user-sync/pod-down", Tier::Service),
            ],
        );
        case(
            "[web-front] p99 latency above 900ms; restart the deployment?",
            &catalog,
            &[
                ("web/saturated", Tier::Regex),
                ("common/restart", Tier::Words),
            ],
        );
    }

    #[test]
    fn the_service_prefix_ignores_case_and_the_colon_form_needs_a_known_service() {
        let catalog = catalog();
        // `down` alone is not enough for a words match.
        case(
            "[HAProxy] backend web-2 is DOWN",
            &catalog,
            &[("web/saturated", Tier::Service)],
        );
        case(
            "Kubernetes: node not ready",
            &catalog,
            &[
                ("common/restart", Tier::Service),
                ("user-sync/pod-down", Tier::Service),
            ],
        );
        assert_eq!(named_service("ERROR: disk full", &["kubernetes"]), None);
        assert_eq!(
            named_service("  [ billing ] x", &[]).as_deref(),
            Some("billing")
        );
        assert_eq!(named_service("[] x", &[]), None);
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_skipped() {
        let catalog = catalog();
        case("[invalid", &catalog, &[]);
    }

    #[test]
    fn words_are_weighted_by_rarity_and_ties_go_to_the_smaller_id() {
        let catalog = vec![
            ("b", runbook(&["x"], &[], "Queue backlog grows")),
            ("a", runbook(&["y"], &[], "Queue consumer stuck")),
            ("c", runbook(&["z"], &[], "Queue consumer stuck")),
        ];
        // `backlog` is in one runbook, `consumer` in two: the rarer word wins.
        case(
            "the queue backlog and a consumer",
            &catalog,
            &[("b", Tier::Words), ("a", Tier::Words), ("c", Tier::Words)],
        );
    }

    #[test]
    fn the_most_specific_pattern_is_the_reason() {
        let catalog = catalog();
        let candidates: Vec<Candidate<'_>> = catalog
            .iter()
            .map(|(id, runbook)| Candidate { id, runbook })
            .collect();
        let ranked = Ranker::new(&candidates).rank(
            &text("[user-sync-service] creating user: POST /api/users: 403"),
            Some("user-sync-service"),
        );
        assert_eq!(
            ranked[0].reason,
            Reason::Pattern {
                index: 0,
                pattern: r"^\[user-sync-service\] creating user: POST /api/users: (403|500)".into(),
                count: 2,
                captures: Vec::new(),
            }
        );
    }

    #[test]
    fn named_groups_are_captured() {
        let down = runbook(
            &["web"],
            &[r"^\[web\] backend (?P<backend>web-[0-9]+) is DOWN"],
            "Down",
        );
        let candidates = vec![Candidate {
            id: "web/down",
            runbook: &down,
        }];
        let ranked =
            Ranker::new(&candidates).rank(&text("[web] backend web-2 is DOWN"), Some("web"));
        let Reason::Pattern { captures, .. } = &ranked[0].reason else {
            panic!("{ranked:?}")
        };
        assert_eq!(captures, &[("backend".to_string(), "web-2".to_string())]);
    }

    #[test]
    fn words_drop_noise_and_fold_plurals() {
        let found: Vec<String> =
            words("POST /api/users: 500 — the pushes FAIL for 3 queries; p99 of {{x}}")
                .into_iter()
                .collect();
        assert_eq!(
            found,
            ["api", "fail", "p99", "post", "push", "query", "user"]
        );
        assert_eq!(singular("status"), "status");
        assert_eq!(singular("process"), "process");
        assert_eq!(singular("pods"), "pod");
    }

    /// A runbook from YAML lines of `scope:` and `inputs:`.
    fn yaml_runbook(scope: &str) -> Runbook {
        let yaml = format!(
            "runbook: 1\ntitle: T\nowner: team\nreviewed: 2026-11-01\nscope:\n{scope}\nsteps:\n  - {{ id: a, name: Look, instructions: x }}\n"
        );
        parse(&yaml).unwrap_or_else(|error| panic!("{yaml}\n{error:?}"))
    }

    fn alert_with(name: &str, labels: &[(&str, &str)], text: &str) -> Alert {
        let mut alert = Alert {
            text: text.into(),
            source: Source::Alertmanager,
            ..Alert::default()
        };
        alert.labels.insert("alertname".into(), name.into());
        for (k, v) in labels {
            alert.labels.insert(k.to_string(), v.to_string());
        }
        alert
    }

    fn ranked_ids(catalog: &[(&str, Runbook)], alert: &Alert) -> Vec<(String, Tier)> {
        let candidates: Vec<Candidate<'_>> = catalog
            .iter()
            .map(|(id, runbook)| Candidate { id, runbook })
            .collect();
        Ranker::new(&candidates)
            .rank(alert, None)
            .iter()
            .map(|m| (candidates[m.candidate].id.to_string(), m.tier()))
            .collect()
    }

    #[test]
    fn matchers_need_every_condition_and_match_whole_values() {
        let catalog = vec![
            (
                "k8s/crash",
                yaml_runbook(
                    "  alerts:\n    - alertname: KubePodCrashLooping\n      labels: { severity: 'warning|critical' }\n      text: 'Pod .* waiting.*'",
                ),
            ),
            (
                "k8s/any",
                yaml_runbook("  alerts:\n    - alertname: 'Kube.*'"),
            ),
        ];
        let crash = alert_with(
            "KubePodCrashLooping",
            &[("severity", "warning")],
            "Pod shop/cart (cart) is in waiting state",
        );
        assert_eq!(
            ranked_ids(&catalog, &crash),
            [
                ("k8s/crash".to_string(), Tier::Matcher),
                ("k8s/any".to_string(), Tier::Matcher)
            ],
            "the matcher with more conditions comes first"
        );
        // `warning|critical` must match the whole value.
        let warnings = alert_with(
            "KubePodCrashLooping",
            &[("severity", "warnings")],
            "Pod x waiting",
        );
        assert_eq!(ranked_ids(&catalog, &warnings)[0].0, "k8s/any");
        // A label the alert does not have fails the matcher.
        let no_severity = alert_with("KubePodCrashLooping", &[], "Pod x waiting");
        assert_eq!(ranked_ids(&catalog, &no_severity)[0].0, "k8s/any");
        // The text must hold too.
        let other_text = alert_with(
            "KubePodCrashLooping",
            &[("severity", "critical")],
            "Pod restarts",
        );
        assert_eq!(ranked_ids(&catalog, &other_text)[0].0, "k8s/any");
        // `alertname=Kube.*` is anchored: `NotKube…` is no match.
        let other = alert_with("NotKubeAtAll", &[], "x");
        assert!(
            ranked_ids(&catalog, &other)
                .iter()
                .all(|(_, tier)| *tier != Tier::Matcher)
        );
    }

    #[test]
    fn runbook_url_ranks_the_runbook_it_names_first() {
        let catalog = [
            (
                "k8s/crash",
                yaml_runbook("  alerts:\n    - alertname: KubePodCrashLooping"),
            ),
            ("db/backup", yaml_runbook("  services: [db]")),
            ("backup", yaml_runbook("  services: [other]")),
        ];
        let candidates: Vec<Candidate<'_>> = catalog
            .iter()
            .map(|(id, runbook)| Candidate { id, runbook })
            .collect();
        let ranker = Ranker::new(&candidates);
        for (url, expected, step) in [
            ("db/backup", "db/backup", None),
            (
                "https://runbooks.example.com/db/backup.html#step-restore",
                "db/backup",
                Some("restore"),
            ),
            (
                "https://runbooks.example.com/catalog/db/backup/",
                "db/backup",
                None,
            ),
            ("https://runbooks.example.com/backup.md", "backup", None),
        ] {
            let mut alert = alert_with("KubePodCrashLooping", &[], "x");
            alert.annotations.insert("runbook_url".into(), url.into());
            let ranked = ranker.rank(&alert, None);
            assert_eq!(candidates[ranked[0].candidate].id, expected, "{url}");
            assert_eq!(
                ranked[0].reason,
                Reason::RunbookUrl {
                    url: url.into(),
                    step: step.map(str::to_string)
                }
            );
            assert_eq!(ranked[1].tier(), Tier::Matcher, "{url}");
        }
        let mut elsewhere = alert_with("KubePodCrashLooping", &[], "x");
        elsewhere.annotations.insert(
            "runbook_url".into(),
            "https://example.com/db/backups".into(),
        );
        assert_eq!(ranker.rank(&elsewhere, None)[0].tier(), Tier::Matcher);
    }

    #[test]
    fn a_firing_subject_names_an_alert_not_a_service() {
        let alert = text("[FIRING:3] KubePodCrashLooping (shop cart warning)");
        assert_eq!(alert.name(), Some("KubePodCrashLooping"));
        assert_eq!(alert_service(&alert, &["FIRING:3"]), None);
        let catalog = vec![(
            "k8s/crash",
            yaml_runbook("  alerts:\n    - alertname: KubePodCrashLooping"),
        )];
        assert_eq!(
            ranked_ids(&catalog, &alert),
            [("k8s/crash".to_string(), Tier::Matcher)]
        );
    }

    #[test]
    fn alert_boilerplate_is_not_a_match() {
        let catalog = [
            (
                "db/postgres",
                runbook(
                    &["postgres"],
                    &[],
                    "Postgres replication lag longer than minutes",
                ),
            ),
            (
                "misc/nothing",
                runbook(&["misc"], &[], "Nothing matches this shop"),
            ),
        ];
        let candidates: Vec<Candidate<'_>> = catalog
            .iter()
            .map(|(id, runbook)| Candidate { id, runbook })
            .collect();
        let ranker = Ranker::new(&candidates);
        for alert in [
            "[FIRING:1] KubePodNotReady (shop) Pod shop/cart has been in a non-ready state for longer than 15 minutes.",
            "nothing-matches-this",
        ] {
            assert_eq!(ranker.rank(&text(alert), None), Vec::new(), "{alert}");
        }
    }

    #[test]
    fn literal_regexes_are_recognised_and_others_are_not() {
        let values = |regex: &str| exact_values(regex);
        assert_eq!(
            values("ServiceErrorRateHigh"),
            Some(vec!["ServiceErrorRateHigh".into()])
        );
        assert_eq!(
            values("warning|critical"),
            Some(vec!["warning".into(), "critical".into()])
        );
        assert_eq!(values(r"a\.b"), Some(vec!["a.b".into()]));
        for regex in [
            "Kube.*", "warning|", "", "(?i)abc", "a)|(b", "[invalid", "x?",
        ] {
            assert_eq!(values(regex), None, "{regex}");
        }
        let prefix =
            |pattern: &str| anchored_prefix(pattern).map(|p| String::from_utf8(p).unwrap());
        assert_eq!(
            prefix(r"^\[svc-1\] error rate above [0-9]+%").as_deref(),
            Some("[svc-1] error rate above")
        );
        // The last character may be made optional by what follows it.
        assert_eq!(prefix("^abcd?").as_deref(), Some("abc"));
        for pattern in ["abc", "^a|b", "(?m)^abc", "(?i)^abc", "^(a|b)c", "^.x"] {
            assert_eq!(prefix(pattern), None, "{pattern}");
        }
    }

    /// Narrowing only skips candidates that cannot match: the ranking is the one every
    /// candidate tested in full gives.
    #[test]
    fn narrowing_keeps_every_match() {
        let scopes = [
            "  alerts:\n    - alertname: ServiceErrorRateHigh\n      labels: { service: svc-1, severity: 'warning|critical' }",
            "  alerts:\n    - alertname: ServiceErrorRateHigh\n      labels: { service: 'svc-[0-9]+' }",
            "  alerts:\n    - alertname: 'Kube.*'",
            "  alerts:\n    - labels: { team: 'a\\.b' }\n      text: '(?P<pod>[a-z]+) is down'",
            "  alerts:\n    - alertname: '(?i)nodedown'",
            "  alerts:\n    - '^\\[svc-1\\] error rate above [0-9]+%'\n    - '^abcd?'",
            "  alerts:\n    - 'disk (full|filling)'\n    - '^x|error'",
            "  services: [Café, svc-1]",
            "  services: [SVC-1]\n  alerts:\n    - '[invalid'\n    - alertname: '[invalid'",
        ];
        let catalog: Vec<(String, Runbook)> = scopes
            .iter()
            .enumerate()
            .map(|(i, scope)| (format!("r{i}"), yaml_runbook(scope)))
            .collect();
        let candidates: Vec<Candidate<'_>> = catalog
            .iter()
            .map(|(id, runbook)| Candidate { id, runbook })
            .collect();
        let narrowed = Ranker::new(&candidates);
        let mut everything = Ranker::new(&candidates);
        everything.narrowing.any_matcher = (0..candidates.len()).collect();
        everything.narrowing.any_pattern = (0..candidates.len()).collect();
        let alerts = [
            alert_with(
                "ServiceErrorRateHigh",
                &[("service", "svc-1"), ("severity", "critical")],
                "x",
            ),
            alert_with(
                "ServiceErrorRateHigh",
                &[("service", "svc-22")],
                "[svc-1] error rate above 5%",
            ),
            alert_with("KubePodCrashLooping", &[("team", "a.b")], "cart is down"),
            alert_with("NODEDOWN", &[("team", "a-b")], "abc and a disk filling"),
            alert_with("Other", &[("service", "café")], "  abcd error"),
            alert_with("Other", &[("service", "svc-1")], "x marks"),
            text("[SVC-1] error rate above 7%"),
            text("[invalid"),
        ];
        for alert in &alerts {
            let service = alert_service(alert, &["svc-1", "Café", "SVC-1"]);
            assert_eq!(
                narrowed.rank(alert, service.as_deref()),
                everything.rank(alert, service.as_deref()),
                "{alert:?}"
            );
            assert!(
                !everything.rank(alert, service.as_deref()).is_empty() || alert.text == "[invalid",
                "{alert:?} matches something"
            );
        }
    }

    #[test]
    fn stop_word_lists_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.is_sorted());
        assert!(ALERT_WORDS.is_sorted());
    }

    #[test]
    fn the_top_matches_are_the_head_of_the_whole_ranking() {
        let catalog: Vec<(String, Runbook)> = (0..30)
            .map(|i| {
                let title = match i % 3 {
                    0 => "Queue backlog grows on the consumer",
                    1 => "Queue consumer stuck",
                    _ => "Consumer backlog and queue lag",
                };
                (
                    format!("r{i:02}"),
                    runbook(&[&format!("svc{i}")], &[], title),
                )
            })
            .collect();
        let candidates: Vec<Candidate<'_>> = catalog
            .iter()
            .map(|(id, runbook)| Candidate { id, runbook })
            .collect();
        let ranker = Ranker::new(&candidates);
        let alert = text("[svc4] the queue backlog and a consumer lag");
        let all = ranker.rank(&alert, alert_service(&alert, &[]).as_deref());
        assert!(all.len() > 10);
        for limit in [1, 5, 10, all.len()] {
            assert_eq!(
                ranker.rank_top(&alert, Some("svc4"), limit),
                all[..limit],
                "{limit}"
            );
        }
    }
}
