//! `runbook schema`: the committed schema is exactly the generated one, and it describes the
//! runbooks lint accepts.

use serde_json::Value;

use crate::common::{fixture, output, repo, runbook};

#[test]
fn committed_schema_equals_runbook_schema() {
    let (code, stdout, _) = output(runbook().arg("schema"));
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(repo().join("schemas/runbook.schema.json")).unwrap();
    assert!(
        stdout == committed,
        "schemas/runbook.schema.json is out of date: run `cargo run -- schema > schemas/runbook.schema.json`"
    );
}

fn validator() -> jsonschema::Validator {
    let (_, stdout, _) = output(runbook().arg("schema"));
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// YAML → JSON through the same parser the editor would use is not at hand; the fixtures
/// are simple enough for serde-saphyr into a JSON value.
fn yaml_as_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn examples_and_valid_fixtures_validate_against_the_schema() {
    let validator = validator();
    let mut files = vec![
        fixture("lint/valid.yaml"),
        fixture("catalog/common/restart.yaml"),
    ];
    files.extend(runbook_files(&repo().join("runbooks")));
    for file in files {
        let instance = yaml_as_json(&file);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn the_schema_rejects_what_lint_rejects() {
    let validator = validator();
    for name in ["unknown-key", "wrong-type", "misplaced-key"] {
        let instance = yaml_as_json(&fixture(&format!("lint/{name}.yaml")));
        assert!(!validator.is_valid(&instance), "{name} should not validate");
    }
}

fn runbook_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(runbook_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && !runbook::load::is_test_file(&path)
        {
            found.push(path);
        }
    }
    found
}

/// The planted mistakes of the lint fixtures (`tests/fixtures/lint/*.yaml` with an error) that
/// the schema alone catches, so an editor underlines them as they are typed: version const,
/// date, id, name and duration patterns, one kind per step, `run` xor `http`, `until` xor
/// `for`, `choices` xor `input`, non-empty lists… The rest (templates, regexes, references
/// between steps and runbooks, duplicates) need lint. The figure before: 9 of 24.
#[test]
fn the_schema_catches_the_structural_planted_mistakes() {
    let validator = validator();
    let (_, stdout, _) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["lint", "--format", "json", "--catalog"])
            .arg(fixture("catalog"))
            .arg(fixture("lint")),
    );
    let lint: Value = serde_json::from_str(&stdout).unwrap();
    let mut with_errors: Vec<String> = lint["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["file"].as_str().unwrap().to_string())
        .collect();
    with_errors.dedup();
    let mut caught = Vec::new();
    let mut missed = Vec::new();
    for file in &with_errors {
        let text = std::fs::read_to_string(file).unwrap();
        // A file that is not YAML (or uses YAML tags) never reaches a schema.
        let Ok(instance) = serde_saphyr::from_str::<Value>(&text) else {
            continue;
        };
        let name = std::path::Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if validator.is_valid(&instance) {
            missed.push(name);
        } else {
            caught.push(name);
        }
    }
    let total = caught.len() + missed.len();
    eprintln!(
        "the schema catches {} of {total} planted mistakes; lint alone: {missed:?}",
        caught.len()
    );
    for expected in [
        "unsupported-version",
        "invalid-date",
        "invalid-name",
        "invalid-duration",
        "loops-wait-for-duration",
        "two-kinds",
        "command-shape",
        "missing-instructions",
        "irreversible-with-rollback",
        "loops-wait-both",
        "loops-wait-for-every",
        "loops-interactive-capture",
        "loops-interactive-for-each",
        "loops-checklist-misplaced",
        "data-capture-nothing-to-find",
        "empty-list",
    ] {
        assert!(
            caught.iter().any(|c| c == expected),
            "the schema should catch `{expected}`"
        );
    }
    // Before the schema was tightened: 10 of the same 56.
    assert!(caught.len() >= 26, "{} of {total}", caught.len());
}
