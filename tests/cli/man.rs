//! `runbook man`: a page for runbook(1) and one per subcommand, generated from the same
//! definition as `--help`, each rendered by groff without a warning.

use clap::CommandFactory as _;

use crate::common::{output, runbook};

/// Every subcommand path of the command line (`["timeline", "verify"]`…), `help` left out.
fn subcommands() -> Vec<Vec<String>> {
    fn walk(path: Vec<String>, command: &clap::Command, out: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" || sub.is_hide_set() {
                continue;
            }
            let mut sub_path = path.clone();
            sub_path.push(sub.get_name().to_string());
            out.push(sub_path.clone());
            walk(sub_path, sub, out);
        }
    }
    let mut out = Vec::new();
    walk(Vec::new(), &runbook::cli::Cli::command(), &mut out);
    out
}

/// Renders roff text with groff, warnings on; `None` (loudly, or a failure under CI=true)
/// when groff is not installed.
fn groff(roff: &str) -> Option<(String, String)> {
    use std::io::Write as _;
    let child = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        let message = "SKIPPED: `groff` is not installed (scripts/install-test-deps.sh)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message}; CI=true makes this a failure"
        );
        eprintln!("{message}");
        return None;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(roff.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn every_subcommand_has_a_page_that_renders() {
    let subcommands = subcommands();
    assert!(subcommands.len() >= 15, "{subcommands:?}");
    let (code, main, stderr) = output(runbook().arg("man"));
    assert_eq!(code, 0, "{stderr}");
    assert!(main.contains(".TH RUNBOOK 1"), "{main}");
    for section in [
        "SYNOPSIS",
        "OPTIONS",
        "SUBCOMMANDS",
        "ENVIRONMENT",
        "\"EXIT STATUS\"",
    ] {
        assert!(
            main.contains(&format!(".SH {section}")),
            "runbook(1) has {section}"
        );
    }
    for path in &subcommands {
        let name = format!("runbook-{}", path.join("-"));
        assert!(
            main.contains(&format!("\\fB{}\\fR(1)", name.replace('-', "\\-")))
                || main.contains(&format!("\\fB{name}\\fR(1)")),
            "runbook(1) points at {name}(1)"
        );
        let (code, page, stderr) = output(runbook().arg("man").args(path));
        assert_eq!(code, 0, "{path:?}: {stderr}");
        assert!(
            page.contains(&format!(".TH {} 1", name.to_uppercase())),
            "{name}: {page}"
        );
        assert!(page.contains(".SH SYNOPSIS"), "{name}");
        // Every long flag of the subcommand is documented on its page.
        let mut command = runbook::cli::Cli::command();
        command.build();
        let mut sub = &command;
        for part in path {
            sub = sub.find_subcommand(part).unwrap();
        }
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(
                    page.contains(&format!("\\fB\\-\\-{}\\fR", long.replace('-', "\\-"))),
                    "{name}(1) documents --{long}"
                );
            }
        }
        if let Some((text, warnings)) = groff(&page) {
            assert!(warnings.is_empty(), "{name}(1): groff warns: {warnings}");
            assert!(text.contains("SYNOPSIS"), "{name}(1) renders: {text}");
        }
    }
}

#[test]
fn out_writes_every_page_and_a_wrong_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(runbook().arg("man").arg("--out").arg(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    let pages = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(pages, subcommands().len() + 1, "{stdout}");
    assert!(dir.path().join("runbook-timeline-verify.1").is_file());
    let (code, _, stderr) = output(runbook().args(["man", "lnit"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "error: invalid value `lnit` for `SUBCOMMAND`: runbook has no such subcommand; did you mean `lint`?"
    );
}
