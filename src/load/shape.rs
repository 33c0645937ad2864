//! Every structural mistake of a file at once: the YAML tree is walked against the format's
//! JSON Schema (generated from the model), so that five wrong types give five findings, each
//! at the key or value that is wrong. serde stops at the first mistake; this goes on.

use serde_json::Value;

use super::tree::{Key, Node, NodeKind};
use super::{LoadError, LoadErrorKind, backticked_list, did_you_mean, owner_of, unknown_key};
use crate::model::Pos;

/// Every mistake of `root` against the runbook schema, in document order.
pub fn check(root: &Node) -> Vec<LoadError> {
    let schema = crate::schema::shape_schema();
    let mut walker = Walker {
        root: schema,
        found: Vec::new(),
    };
    walker.node(root, schema, None);
    walker.found.sort_by_key(|e| e.pos);
    walker.found
}

struct Walker<'s> {
    root: &'s Value,
    found: Vec<LoadError>,
}

/// The JSON types a scalar can stand for, the way the YAML loader reads it.
fn scalar_is(text: &str, plain: bool, json_type: &str) -> bool {
    match json_type {
        "string" => true,
        "null" => plain && matches!(text, "" | "~" | "null" | "Null" | "NULL"),
        "boolean" => {
            plain && matches!(text, "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
        }
        "integer" => plain && text.parse::<i64>().is_ok(),
        "number" => plain && text.parse::<f64>().is_ok(),
        _ => false,
    }
}

fn node_is(node: &Node, json_type: &str) -> bool {
    match &node.kind {
        NodeKind::Scalar { text, plain } => scalar_is(text, *plain, json_type),
        NodeKind::Seq(_) => json_type == "array",
        NodeKind::Map(_) => json_type == "object",
    }
}

fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn describe_type(json_type: &str) -> &'static str {
    match json_type {
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "`true` or `false`",
        "array" => "a list",
        "object" => "a mapping of keys to values",
        "null" => "nothing",
        _ => "a single text value",
    }
}

impl<'s> Walker<'s> {
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        let mut schema = schema;
        // References chain at most a few times; the bound keeps a bad schema from looping.
        for _ in 0..16 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(name) = reference.strip_prefix("#/$defs/") else {
                break;
            };
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn report(&mut self, pos: Pos, kind: LoadErrorKind, message: String) {
        self.found.push(LoadError {
            pos,
            kind,
            message,
            help: None,
        });
    }

    /// Checks one node against its schema; `parent` is the key the node stands under.
    fn node(&mut self, node: &Node, schema: &'s Value, parent: Option<&str>) {
        let schema = self.resolve(schema);
        if let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            self.alternatives(node, alternatives, parent);
            return;
        }
        let types = types_of(schema);
        if !types.is_empty() && !types.iter().any(|t| node_is(node, t)) {
            let wanted: Vec<&str> = types
                .iter()
                .filter(|t| **t != "null")
                .map(|t| describe_type(t))
                .collect();
            let wanted = if wanted.is_empty() {
                "nothing".to_string()
            } else {
                wanted.join(" or ")
            };
            self.report(
                node.pos,
                LoadErrorKind::WrongType,
                format!("wrong type: expected {wanted} here"),
            );
            return;
        }
        match &node.kind {
            NodeKind::Scalar { text, .. } => self.scalar(node.pos, text, schema),
            NodeKind::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for item in items {
                        self.node(item, item_schema, parent);
                    }
                }
            }
            NodeKind::Map(entries) => self.map(node.pos, entries, schema, parent),
        }
    }

    fn scalar(&mut self, pos: Pos, text: &str, schema: &Value) {
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            let allowed: Vec<String> = options
                .iter()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_string))
                .collect();
            if !allowed.iter().any(|a| a == text) {
                let suggestion = did_you_mean(text, &allowed)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                self.report(
                    pos,
                    LoadErrorKind::WrongType,
                    format!(
                        "`{text}` is not allowed here; write one of {}{suggestion}",
                        backticked_list(&allowed)
                    ),
                );
            }
        }
        if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64)
            && text.parse::<f64>().is_ok_and(|n| n < minimum)
        {
            self.report(
                pos,
                LoadErrorKind::WrongType,
                format!("wrong type: expected a whole number of at least {minimum} here"),
            );
        }
    }

    fn map(&mut self, pos: Pos, entries: &[(Key, Node)], schema: &'s Value, parent: Option<&str>) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let expected: Vec<String> = properties
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in entries {
            if !seen.insert(key.name.as_str()) {
                self.report(
                    key.pos,
                    LoadErrorKind::DuplicateKey,
                    format!(
                        "key `{}` appears twice in the same mapping; keep one",
                        key.name
                    ),
                );
                continue;
            }
            if let Some(child) = properties.and_then(|p| p.get(&key.name)) {
                self.node(value, child, Some(&key.name));
            } else if let Some(child) = additional.filter(|a| a.is_object()) {
                self.node(value, child, parent);
            } else if additional == Some(&Value::Bool(false)) {
                self.found.push(unknown_key(
                    key.pos,
                    &key.name,
                    &expected,
                    parent.map(str::to_string),
                ));
            }
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !entries.iter().any(|(key, _)| key.name == required) {
                self.report(
                    pos,
                    LoadErrorKind::MissingKey,
                    format!(
                        "missing required key `{required}`{}",
                        owner_of(required, parent)
                    ),
                );
            }
        }
    }

    /// `anyOf`: the node passes if one alternative takes it. `Option` fields are "the type or
    /// null": a node that is not null is checked against the type, so its mistakes are shown
    /// in full. Otherwise the alternative of the node's own kind (a mapping, a word) speaks.
    fn alternatives(&mut self, node: &Node, alternatives: &'s [Value], parent: Option<&str>) {
        let resolved: Vec<&'s Value> = alternatives.iter().map(|a| self.resolve(a)).collect();
        let is_null_schema = |s: &Value| types_of(s) == ["null"];
        if resolved.iter().any(|s| is_null_schema(s)) && node_is(node, "null") {
            return;
        }
        let real: Vec<&'s Value> = resolved
            .into_iter()
            .filter(|s| !is_null_schema(s))
            .collect();
        let mut best: Option<Vec<LoadError>> = None;
        for schema in &real {
            let mut trial = Walker {
                root: self.root,
                found: Vec::new(),
            };
            trial.node(node, schema, parent);
            if trial.found.is_empty() {
                return;
            }
            let fits_kind = types_of(schema).iter().any(|t| node_is(node, t));
            if real.len() == 1 || (fits_kind && best.is_none()) {
                best = Some(trial.found);
            }
        }
        match best {
            Some(found) => self.found.extend(found),
            None => self.report(
                node.pos,
                LoadErrorKind::WrongType,
                "wrong type: this value has none of the shapes allowed here".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "runbook: 1\ntitle: T\nowner: team\nreviewed: 2026-10-01\nscope: { services: [svc] }\nsteps:\n  - id: a\n    name: A\n    instructions: do it\n";

    fn mistakes(text: &str) -> Vec<(LoadErrorKind, Pos)> {
        let tree = super::super::tree::read(text).tree.expect("a tree");
        check(&tree).into_iter().map(|e| (e.kind, e.pos)).collect()
    }

    #[test]
    fn a_valid_runbook_has_no_mistakes() {
        assert_eq!(mistakes(MINIMAL), []);
        let numbers_as_text = MINIMAL.replace("title: T", "title: 42");
        assert_eq!(mistakes(&numbers_as_text), [], "plain scalars are text");
    }

    #[test]
    fn every_mistake_is_found_at_once() {
        let text = MINIMAL
            .replace("runbook: 1", "runbook: one")
            .replace("owner: team", "owner: [team]")
            .replace(
                "    instructions: do it\n",
                "    instructions: x\n    check:\n      comand: ls\n    timeout: [1]\n",
            );
        assert_eq!(
            mistakes(&text),
            [
                (LoadErrorKind::WrongType, Pos::new(1, 10)),
                (LoadErrorKind::WrongType, Pos::new(3, 8)),
                (LoadErrorKind::UnknownKey, Pos::new(11, 7)),
                (LoadErrorKind::WrongType, Pos::new(12, 14)),
            ]
        );
    }

    #[test]
    fn missing_and_duplicate_keys() {
        let text = MINIMAL
            .replace("    name: A\n", "")
            .replace("owner: team\n", "owner: team\nowner: b\n");
        assert_eq!(
            mistakes(&text),
            [
                (LoadErrorKind::DuplicateKey, Pos::new(4, 1)),
                (LoadErrorKind::MissingKey, Pos::new(8, 5)),
            ]
        );
    }
}
