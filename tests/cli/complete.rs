//! Dynamic completions: the completer is called as the shell calls it, in-process
//! (`runbook::complete::complete_line`) and through the binary (`RUNBOOK_COMPLETE=bash`); and the
//! did-you-mean of an unknown runbook id or path.

use runbook::complete::complete_line;

use crate::common::{output, repo, runbook};

fn catalog() -> String {
    repo().join("runbooks").display().to_string()
}

#[test]
fn runbook_ids_of_the_catalog_complete() {
    let catalog = catalog();
    let found = complete_line(&["runbook", "--catalog", &catalog, "run", "web"], 4);
    assert_eq!(found, ["web-front/saturated-backends"]);
    let found = complete_line(&["runbook", "--catalog", &catalog, "render", ""], 4);
    for id in [
        "demo/local-demo",
        "common/k8s-restart",
        "user-sync/push-failures",
    ] {
        assert!(found.iter().any(|f| f == id), "{id} in {found:?}");
    }
    assert!(
        !found.iter().any(|f| f.contains(".test")),
        "test files are not runbooks: {found:?}"
    );
}

#[test]
fn from_completes_the_step_ids_of_the_runbook_on_the_line() {
    let catalog = catalog();
    let line = [
        "runbook",
        "--catalog",
        &catalog,
        "run",
        "web-front/saturated-backends",
        "--from",
        "d",
    ];
    assert_eq!(complete_line(&line, 6), ["drain", "drained"]);
    // Another runbook, other steps; options before RUNBOOK do not confuse it.
    let line = [
        "runbook",
        "--catalog",
        &catalog,
        "run",
        "--yes",
        "demo/local-demo",
        "--from",
        "",
    ];
    let found = complete_line(&line, 7);
    assert_eq!(
        found.first().map(String::as_str),
        Some("welcome"),
        "{found:?}"
    );
    assert!(!found.iter().any(|f| f == "drain"), "{found:?}");
    // No runbook on the line (or one that does not exist): nothing to offer, no panic.
    assert!(complete_line(&["runbook", "run", "--from", ""], 3).is_empty());
    assert!(complete_line(&["runbook", "run", "no/such", "--from", ""], 4).is_empty());
}

#[test]
fn set_completes_input_names_then_their_choices() {
    let catalog = catalog();
    let line = [
        "runbook",
        "--catalog",
        &catalog,
        "run",
        "web-front/saturated-backends",
        "--set",
        "",
    ];
    assert_eq!(complete_line(&line, 6), ["admin_socket=", "front_url="]);
    let line = [
        "runbook",
        "--catalog",
        &catalog,
        "run",
        "web-front/saturated-backends",
        "--answer",
        "how",
    ];
    assert_eq!(complete_line(&line, 6), ["how-bad="]);
}

/// The binary speaks the shell protocol: `RUNBOOK_COMPLETE=bash` prints the hook, and the
/// hook's call back completes the step ids. clap's usual `COMPLETE` means nothing to it: a
/// stray `COMPLETE=1` in an environment made every command fail.
#[test]
fn the_binary_answers_the_shell_hook() {
    let (code, hook, _) = output(runbook().env("RUNBOOK_COMPLETE", "bash"));
    assert_eq!(code, 0);
    assert!(
        hook.contains("complete -o nospace -o bashdefault"),
        "{hook}"
    );
    assert!(hook.contains("RUNBOOK_COMPLETE"), "{hook}");
    let (code, stdout, _) = output(runbook().env("COMPLETE", "1").args(["list", "runbooks"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("demo/local-demo"), "{stdout}");
    let (code, stdout, stderr) = output(
        runbook()
            .env("RUNBOOK_COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", "4")
            .env("_CLAP_COMPLETE_COMP_TYPE", "9")
            .env("_CLAP_COMPLETE_SPACE", "true")
            .args(["--", "runbook", "run", "demo/local-demo", "--from", "go"]),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "goodbye");
}

#[test]
fn an_unknown_runbook_gets_a_did_you_mean() {
    for (args, expected) in [
        (
            vec!["run", "--dry-run", "demo/local-dmo"],
            "error: `demo/local-dmo` is neither a file nor a runbook of the catalog `runbooks`; did you mean `demo/local-demo`?",
        ),
        (
            vec!["render", "web-front/saturated-backend"],
            "error: `web-front/saturated-backend` is neither a file nor a runbook of the catalog `runbooks`; did you mean `web-front/saturated-backends`?",
        ),
        (
            vec!["test", "runbooks/demo/local-dem.yaml"],
            "error: `runbooks/demo/local-dem.yaml` does not exist; did you mean `runbooks/demo/local-demo.yaml`?",
        ),
        (
            vec!["run", "--dry-run", "nothing/like-it"],
            "error: `nothing/like-it` is neither a file nor a runbook of the catalog `runbooks`",
        ),
    ] {
        let (code, _, stderr) = output(runbook().args(&args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim(), expected, "{args:?}");
    }
}

/// Completions asked from several threads at once (as the tests of this file are) each see
/// their own line: the line was one global, so one completion read another's runbook, or
/// none.
#[test]
fn completions_at_once_do_not_see_each_others_line() {
    let catalog = catalog();
    let set_names = |runbook: &str| {
        complete_line(
            &[
                "runbook",
                "--catalog",
                &catalog,
                "run",
                runbook,
                "--set",
                "",
            ],
            6,
        )
    };
    let expected: Vec<(&str, Vec<String>)> = ["web-front/saturated-backends", "demo/local-demo"]
        .into_iter()
        .map(|runbook| (runbook, set_names(runbook)))
        .collect();
    assert_ne!(expected[0].1, expected[1].1);
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (runbook, names) = &expected[thread % 2];
            let set_names = &set_names;
            scope.spawn(move || {
                for _ in 0..25 {
                    assert_eq!(&set_names(runbook), names, "{runbook}");
                }
            });
        }
    });
}
