//! The JSON Schema of the runbook format, generated from the model.
//!
//! The model has one `Command` type for every place a command stands; the schema gives each
//! place its own definition without the keys lint forbids there, so editors complete only
//! what is valid.

use serde_json::{Value, json};

use crate::lint::CommandContext;
use crate::model::Runbook;

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
    schema
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
