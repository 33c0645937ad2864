//! The JSON Schema of the runbook format, generated from the model.
//!
//! The model has one `Command` type for every place a command stands; the schema gives each
//! place its own definition without the keys lint forbids there, so editors complete only
//! what is valid. The loader checks files against the same schema to find every structural
//! mistake at once.

use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::model::Runbook;

/// The schema, built once, for the loader's shape check.
pub fn shape_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(schema)
}

/// The schema as pretty JSON with a final newline, exactly as committed in `schemas/`.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a schema serializes");
    text.push('\n');
    text
}

pub fn schema() -> Value {
    let mut schema = schemars::schema_for!(Runbook).to_value();
    schema["$id"] = json!("https://runbook.dev/schemas/runbook.schema.json");
    let Some(command) = schema["$defs"]["Command"].as_object().cloned() else {
        return schema;
    };
    let specialised = [
        (
            "Check",
            CommandContext::Check,
            "A safe command: runs by itself, passes or fails by its `expect`, never changes anything.",
        ),
        (
            "Action",
            CommandContext::Action,
            "A command that changes something: shown in full, confirmed, then run.",
        ),
        (
            "Rollback",
            CommandContext::Rollback,
            "The command that undoes an action.",
        ),
        (
            "HealthCheck",
            CommandContext::Health,
            "A safe check run by `runbook status`, the morning check.",
        ),
    ];
    for (name, context, description) in specialised {
        let mut def = command.clone();
        if let Some(properties) = def.get_mut("properties").and_then(Value::as_object_mut) {
            for (key, _) in context.forbidden() {
                properties.remove(*key);
            }
        }
        def.insert("description".into(), json!(description));
        schema["$defs"][name] = Value::Object(def);
    }
    retarget(
        &mut schema["$defs"]["Action"]["properties"]["rollback"],
        "Rollback",
    );
    retarget(&mut schema["$defs"]["Step"]["properties"]["check"], "Check");
    retarget(
        &mut schema["$defs"]["Step"]["properties"]["action"],
        "Action",
    );
    retarget(&mut schema["$defs"]["Wait"]["properties"]["until"], "Check");
    retarget(&mut schema["properties"]["health"], "HealthCheck");
    if let Some(defs) = schema["$defs"].as_object_mut() {
        defs.remove("Command");
    }
    add_markdown_descriptions(&mut schema);
    schema
}

/// `markdownDescription` beside every `description`: VS Code's YAML extension shows it on
/// hover with the backticks and links drawn (the descriptions are Markdown already).
fn add_markdown_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                add_markdown_descriptions(child);
            }
            if let Some(Value::String(text)) = map.get("description")
                && !map.contains_key("markdownDescription")
            {
                let text = text.clone();
                map.insert("markdownDescription".into(), Value::String(text));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_markdown_descriptions),
        _ => {}
    }
}

/// Points every reference to `Command` inside `value` at `name`.
fn retarget(value: &mut Value, name: &str) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "$ref" && child == "#/$defs/Command" {
                    *child = json!(format!("#/$defs/{name}"));
                } else {
                    retarget(child, name);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| retarget(item, name)),
        _ => {}
    }
}

/// Where a command stands; some keys belong to one place only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandContext {
    Check,
    Action,
    Rollback,
    Health,
}

impl CommandContext {
    pub fn describe(self) -> &'static str {
        match self {
            CommandContext::Check => "a check",
            CommandContext::Action => "an action",
            CommandContext::Rollback => "a rollback",
            CommandContext::Health => "a health check",
        }
    }

    /// The keys that may not appear here, with where they belong.
    pub fn forbidden(self) -> &'static [(&'static str, &'static str)] {
        match self {
            CommandContext::Check => &[
                ("name", "`name` of a check is the step's `name`"),
                ("warn", "`warn` belongs to a health check"),
                ("timeout", "put `timeout` on the step, beside `check`"),
                (
                    "confirm",
                    "checks run without a question; make it an `action` to confirm it",
                ),
                (
                    "rollback",
                    "checks change nothing, so there is nothing to roll back; make it an `action`",
                ),
                ("canary", "`canary` belongs to an `action`"),
                (
                    "irreversible",
                    "checks change nothing; `irreversible` belongs to an `action`",
                ),
                (
                    "interactive",
                    "a check runs by itself; `interactive` belongs to an `action`",
                ),
                (
                    "approvers",
                    "a check changes nothing, so nobody approves it; `approvers` belongs to an `action`",
                ),
            ],
            CommandContext::Action => &[
                ("name", "`name` of an action is the step's `name`"),
                ("warn", "`warn` belongs to a health check"),
                ("timeout", "put `timeout` on the step, beside `action`"),
            ],
            CommandContext::Rollback => &[
                ("name", "a rollback has no `name` of its own"),
                ("warn", "`warn` belongs to a health check"),
                ("timeout", "put `timeout` on the step, beside `action`"),
                (
                    "confirm",
                    "a rollback is confirmed when the engineer picks it",
                ),
                ("rollback", "a rollback has no rollback of its own"),
                ("canary", "a rollback runs on the hosts the action ran on"),
                ("capture", "a rollback's output is not kept in `vars`"),
                ("irreversible", "`irreversible` belongs to the action"),
                (
                    "for_each",
                    "a rollback runs for the items the action ran for",
                ),
                ("interactive", "a rollback is not interactive"),
                (
                    "approvers",
                    "a rollback is approved with its action; put `approvers` on the action",
                ),
            ],
            CommandContext::Health => &[
                ("confirm", "health checks are safe checks: no `confirm`"),
                ("rollback", "health checks change nothing: no `rollback`"),
                ("canary", "`canary` belongs to an `action`"),
                ("capture", "`runbook status` keeps no `vars`"),
                (
                    "irreversible",
                    "health checks change nothing: no `irreversible`",
                ),
                (
                    "for_each",
                    "health checks run on `hosts` with `on`, not `for_each`",
                ),
                (
                    "interactive",
                    "health checks run without a terminal: no `interactive`",
                ),
                ("approvers", "health checks change nothing: no `approvers`"),
            ],
        }
    }
}
