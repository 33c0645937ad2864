//! `runbook list`: the catalog at a glance.

use serde_json::Value;

use crate::common::{fixture, output, runbook};

#[test]
fn table_lists_every_runbook_with_its_review_age() {
    let (code, stdout, _) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .arg("list")
            .arg(fixture("catalog")),
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "TITLE", "SERVICES", "OWNER", "REVIEWED", "STEPS"]
    );
    assert!(
        lines[1].starts_with(
            "common/restart  Restart a deployment  kubernetes  platform  20 days ago  1"
        ),
        "{stdout}"
    );
    assert_eq!(lines.last(), Some(&"3 runbooks"));
}

#[test]
fn json_has_one_object_per_runbook() {
    let (code, stdout, _) = output(
        runbook()
            .env("RUNBOOK_TODAY", "2026-11-21")
            .args(["list", "--format", "json"])
            .arg(fixture("catalog")),
    );
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["common/restart", "loop/a", "loop/b"]);
    assert_eq!(json[0]["review_age_days"], 20);
    assert_eq!(json[0]["services"][0], "kubernetes");
    assert_eq!(json[0]["steps"], 1);
}

#[test]
fn a_broken_runbook_is_listed_as_invalid_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("lint/valid.yaml"), dir.path().join("good.yaml")).unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "runbook: [\n").unwrap();
    let (code, stdout, _) = output(runbook().arg("list").arg(dir.path()));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("bad   (invalid: `runbook lint "),
        "{stdout}"
    );
    assert!(stdout.contains("good  Fixture"), "{stdout}");
}
