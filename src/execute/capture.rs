//! What `capture:` keeps (SPEC 7.3): the whole trimmed output (`capture: NAME`, or `stdout`),
//! a value found by JSONPath (RFC 9535) in the output parsed as JSON — keeping its JSON type —
//! or by a regex (the group named `value`, else group 1, else the whole match). A capture that
//! finds nothing fails its host, naming the capture and the pattern, unless it has a
//! `default`. Under fan-out each capture is a host → value map; on one destination, a value.
//!
//! The judge calls [`check`] for each host's output (so a capture that finds nothing fails
//! that host like any unmet expectation); the step keeps the values with [`keep`]. Lint
//! compiles the same patterns with [`compile_json`] and [`compile_regex`].

use serde_json::Value;
use serde_json_path::JsonPath;

use super::runner::Execution;
use super::state::RunState;
use crate::model::{Capture, CaptureFind, CaptureRule, Command};

/// A JSONPath as the executor reads it, or why it does not parse.
pub fn compile_json(path: &str) -> Result<JsonPath, String> {
    JsonPath::parse(path).map_err(|e| e.to_string())
}

/// A capture regex as the executor reads it, or why it does not compile.
pub fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| e.to_string())
}

/// Whether a JSONPath selects at most one node (RFC 9535, 2.3.5.1 "singular query"): only
/// names and indexes, no wildcard, descendant segment, filter, slice or union. A singular
/// query gives a value; any other gives a list.
pub fn is_singular(path: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut previous = '\0';
    for c in path.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '*' | '?' | ':' | ',' => return false,
            '.' if previous == '.' => return false,
            _ => {}
        }
        previous = c;
    }
    true
}

/// What the output parsed as JSON is, when it parses.
pub fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text.trim()).map_err(|e| e.to_string())
}

/// What one rule finds in `text`: the value, or `(expected, happened)` naming the capture
/// and the pattern. A `default` stands in for nothing found, and for output that is not
/// JSON.
pub fn find(name: &str, rule: &CaptureRule, text: &str) -> Result<Value, (String, String)> {
    let find = match rule {
        CaptureRule::Whole(_) => return Ok(text.trim().into()),
        CaptureRule::Find(find) => find,
    };
    let found = if let Some(path) = &find.json {
        find_json(name, path, text)
    } else if let Some(pattern) = &find.regex {
        find_regex(name, pattern, text)
    } else {
        Err((
            format!("capture `{name}` says what to find"),
            "it has neither `json` nor `regex` (`runbook lint` says so)".into(),
        ))
    };
    match (found, &find.default) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(default)) => Ok(default.value.clone()),
        // The live line shows only what happened: it names the capture too.
        (Err((expected, happened)), None) => {
            Err((expected, format!("capture `{name}`: {happened}")))
        }
    }
}

fn find_json(name: &str, path: &str, text: &str) -> Result<Value, (String, String)> {
    let expected = || format!("capture `{name}` finds `{path}` in the JSON output");
    let query = super::compiled::json_path(path)
        .map_err(|e| (expected(), format!("invalid JSONPath: {e}")))?;
    let document = parse_json(text).map_err(|e| {
        let shown = text.trim();
        let shown = if shown.is_empty() {
            "the output is empty".to_string()
        } else {
            format!("the output is not JSON ({e})")
        };
        (expected(), shown)
    })?;
    let nodes = query.query(&document).all();
    if is_singular(path) {
        match nodes.first() {
            Some(value) => Ok((*value).clone()),
            None => Err((expected(), "nothing matched".into())),
        }
    } else if nodes.is_empty() {
        Err((expected(), "nothing matched".into()))
    } else {
        Ok(Value::Array(nodes.into_iter().cloned().collect()))
    }
}

fn find_regex(name: &str, pattern: &str, text: &str) -> Result<Value, (String, String)> {
    let expected = || format!("capture `{name}` matches `{pattern}`");
    let regex =
        super::compiled::regex(pattern).map_err(|e| (expected(), format!("invalid regex: {e}")))?;
    let Some(captures) = regex.captures(text) else {
        return Err((expected(), "the output does not match".into()));
    };
    let found = captures
        .name("value")
        .or_else(|| captures.get(1))
        .or_else(|| captures.get(0));
    match found {
        Some(m) => Ok(m.as_str().into()),
        None => Err((
            expected(),
            "the group `value` (or 1) took no part in the match".into(),
        )),
    }
}

/// Whether every capture of `command` finds its value in one host's output.
pub fn check(command: &Command, text: &str) -> Result<(), (String, String)> {
    let Some(capture) = &command.capture else {
        return Ok(());
    };
    if let Capture::Each(rules) = &capture.value {
        for (name, rule) in rules {
            find(name, rule, text)?;
        }
    }
    Ok(())
}

/// Keeps the captures of `command` from its execution as vars: a value on one destination, a
/// host → value map under fan-out (with the hosts where it was found). A capture that found
/// nothing on one destination is removed, so a later step cannot read a stale value.
pub fn keep(state: &mut RunState, command: &Command, execution: &Execution) {
    let Some(capture) = &command.capture else {
        return;
    };
    let rules = match &capture.value {
        Capture::Whole(name) => {
            state.vars.insert(name.clone(), execution.capture());
            return;
        }
        Capture::Each(rules) => rules,
    };
    for (name, rule) in rules {
        if execution.fan_out {
            let map: serde_json::Map<String, Value> = execution
                .runs
                .iter()
                .filter_map(|run| {
                    find(name, rule, run.output.text())
                        .ok()
                        .map(|v| (run.host.clone(), v))
                })
                .collect();
            state.vars.insert(name.value.clone(), Value::Object(map));
        } else {
            let found = execution
                .runs
                .first()
                .and_then(|run| find(name, rule, run.output.text()).ok());
            match found {
                Some(value) => {
                    state.vars.insert(name.value.clone(), value);
                }
                None => {
                    state.vars.remove(&name.value);
                }
            }
        }
    }
}

/// The names `capture` sets, for places that list them.
pub fn describe(rule: &CaptureRule) -> String {
    match rule {
        CaptureRule::Whole(_) => "the whole output".into(),
        CaptureRule::Find(CaptureFind {
            json,
            regex,
            default,
        }) => {
            let what = match (json, regex) {
                (Some(path), _) => format!("JSONPath `{}`", path.value),
                (None, Some(pattern)) => format!("regex `{}`", pattern.value),
                (None, None) => "nothing".into(),
            };
            match default {
                Some(default) => format!("{what} (default `{}`)", default.value),
                None => what,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sp;
    use serde_json::json;

    fn json_rule(path: &str, default: Option<Value>) -> CaptureRule {
        CaptureRule::Find(CaptureFind {
            json: Some(Sp::new(path.into(), Default::default())),
            regex: None,
            default: default.map(|d| Sp::new(d, Default::default())),
        })
    }

    fn regex_rule(pattern: &str) -> CaptureRule {
        CaptureRule::Find(CaptureFind {
            regex: Some(Sp::new(pattern.into(), Default::default())),
            ..CaptureFind::default()
        })
    }

    const DEPLOY: &str = r#"{"spec": {"replicas": 3}, "status": {"availableReplicas": 2},
        "items": [{"name": "a"}, {"name": "b"}], "pods": [{"name": "only"}]}"#;

    #[test]
    fn json_values_keep_their_type() {
        assert_eq!(
            find("d", &json_rule("$.spec.replicas", None), DEPLOY),
            Ok(json!(3))
        );
        assert_eq!(
            find("n", &json_rule("$.items[*].name", None), DEPLOY),
            Ok(json!(["a", "b"]))
        );
        // A query that may select several nodes is a list even when it selects one.
        assert_eq!(
            find("n", &json_rule("$.pods[*].name", None), DEPLOY),
            Ok(json!(["only"]))
        );
        assert_eq!(
            find("s", &json_rule("$.spec", None), DEPLOY),
            Ok(json!({"replicas": 3}))
        );
        assert_eq!(
            find("q", &json_rule("$['spec']['replicas']", None), DEPLOY),
            Ok(json!(3))
        );
    }

    #[test]
    fn finding_nothing_names_the_capture_and_the_pattern_unless_defaulted() {
        let (expected, happened) =
            find("ready", &json_rule("$.status.ready", None), DEPLOY).unwrap_err();
        assert!(expected.contains("`ready`") && expected.contains("`$.status.ready`"));
        assert_eq!(happened, "capture `ready`: nothing matched");
        let (_, happened) = find("ready", &json_rule("$.a", None), "not json").unwrap_err();
        assert!(
            happened.starts_with("capture `ready`: the output is not JSON"),
            "{happened}"
        );
        assert_eq!(
            find(
                "ready",
                &json_rule("$.status.ready", Some(json!("0"))),
                DEPLOY
            ),
            Ok(json!("0"))
        );
        assert_eq!(
            find("ready", &json_rule("$.a", Some(json!(0))), "not json"),
            Ok(json!(0))
        );
        let (expected, _) = find("pod", &regex_rule("pod/(x+)"), "nothing").unwrap_err();
        assert!(expected.contains("`pod`") && expected.contains("`pod/(x+)`"));
    }

    #[test]
    fn regex_takes_value_then_group_one_then_the_match() {
        let text = "deleted pod/api-7f9 in ns/prod\n";
        assert_eq!(
            find("p", &regex_rule(r"(ns)/x|pod/(?P<value>[a-z0-9-]+)"), text),
            Ok(json!("api-7f9"))
        );
        assert_eq!(
            find("p", &regex_rule(r"ns/([a-z]+)"), text),
            Ok(json!("prod"))
        );
        assert_eq!(
            find("p", &regex_rule(r"pod/\S+"), text),
            Ok(json!("pod/api-7f9"))
        );
    }

    #[test]
    fn singular_queries() {
        for path in ["$", "$.a", "$.a[0]", "$['a.b'].c", "$[\"x*\"]", "$.a[-1]"] {
            assert!(is_singular(path), "{path}");
        }
        for path in [
            "$.*",
            "$..a",
            "$.a[*]",
            "$.a[?@.b]",
            "$.a[0:2]",
            "$.a[0,1]",
            "$['a','b']",
        ] {
            assert!(!is_singular(path), "{path}");
        }
    }
}
