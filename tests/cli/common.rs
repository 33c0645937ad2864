//! A small builder over the real binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The folder of the repository, where `runbooks/` and `schemas/` live.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/…`
pub fn fixture(path: &str) -> PathBuf {
    repo().join("tests/fixtures").join(path)
}

/// `runbook ARGS…` run in `dir`, with colour off and a clean catalog variable.
pub fn runbook_in(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("runbook").expect("the binary is built");
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_CATALOG");
    command
}

/// `runbook ARGS…` run at the root of the repository.
pub fn runbook() -> Command {
    runbook_in(&repo())
}

/// Runs and returns (exit code, stdout, stderr).
pub fn output(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("runbook runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
