//! Lint never panics, whatever the input: random edits of real runbooks and random YAML go
//! through the loader, every rule and the human report (which quotes lines with a caret). `PROPTEST_CASES=100000 cargo test --release --test
//! fuzz_lint` runs it longer (`scripts/fuzz-lint.sh`).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use runbook::lint::{Catalog, LintOptions, lint_source};
use runbook::load::SourceFile;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    for dir in ["runbooks", "tests/fixtures/lint", "tests/fixtures/catalog"] {
        for file in runbook::load::find_runbooks(&root.join(dir)).unwrap_or_default() {
            seeds.push(std::fs::read_to_string(file).unwrap());
        }
    }
    assert!(!seeds.is_empty(), "no seed runbooks found");
    seeds
}

fn lint_text(text: String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let options = LintOptions {
        catalog: None,
        today: jiff::civil::date(2026, 11, 21),
    };
    let source = SourceFile::from_text(PathBuf::from("fuzz.yaml"), text);
    let mut catalog = Catalog::new(root.join("tests/fixtures/catalog"));
    let diagnostics = lint_source(&source, &mut catalog, &options);
    // Showing the findings quotes the source line with a caret: it must not panic either.
    let report = runbook::lint::LintReport {
        files: vec![runbook::lint::FileReport {
            path: source.path.clone(),
            text: source.text.clone(),
            diagnostics: diagnostics.clone(),
        }],
    };
    let _ = runbook::lint::report::human(&report, false);
    if source.parsed.is_err() {
        assert!(
            !diagnostics.is_empty(),
            "a file that does not load has a finding"
        );
    }
    for d in diagnostics {
        assert!(
            d.line >= 1 && d.col >= 1,
            "every finding has a position: {d:?}"
        );
    }
}

/// One edit of a text: delete, duplicate or insert YAML-significant characters, swap lines.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    SwapLines { a: usize, b: usize },
    Indent { line: usize, by: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let yamlish = prop::sample::select(vec![
        ":",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "'",
        "\"",
        "|",
        ">",
        "&a ",
        "*a",
        "!!str ",
        "#",
        "\n",
        "  ",
        "{{",
        "}}",
        "{%",
        "%}",
        "\t",
        "~",
        "null",
        "0x",
        "-1",
        "é",
        "\u{0}",
        "?",
        "<<: *a\n",
        // Spaces that are more than one byte: a column in characters once met a byte offset.
        "\u{a0}",
        "\u{2028}",
        "\u{3000}",
        "!!binary ",
        "!!binary aGk=\n",
        "| lenght",
        "{% include 'x' %}",
    ])
    .prop_map(String::from);
    prop_oneof![
        (any::<usize>(), 1..20usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), prop_oneof![yamlish, "[a-z_ ]{1,12}"])
            .prop_map(|(at, text)| Edit::Insert { at, text }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        (any::<usize>(), 1..6usize).prop_map(|(line, by)| Edit::Indent { line, by }),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let boundary = |at: usize| {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    match edit {
        Edit::Delete { at, len } => {
            let start = boundary(*at);
            let end = boundary((start + len).min(text.len()));
            format!("{}{}", &text[..start], &text[end.max(start)..])
        }
        Edit::Insert { at, text: insert } => {
            let at = boundary(*at);
            format!("{}{insert}{}", &text[..at], &text[at..])
        }
        Edit::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
            }
            lines.join("\n")
        }
        Edit::Indent { line, by } => {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            if !lines.is_empty() {
                let n = line % lines.len();
                lines[n] = format!("{}{}", " ".repeat(*by), lines[n]);
            }
            lines.join("\n")
        }
    }
}

proptest! {
    // ProptestConfig::default() takes PROPTEST_CASES from the environment; 512 otherwise.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

    #[test]
    fn edited_runbooks_never_panic(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6)) {
        let seeds = seeds();
        let mut text = seeds[seed.index(seeds.len())].clone();
        for edit in &edits {
            text = apply(&text, edit);
        }
        lint_text(text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        lint_text(text);
    }
}
