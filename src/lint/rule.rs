//! The lint rules: a code, a severity and a one-line description for each.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! rules {
    ($($variant:ident => $code:literal, $severity:ident, $what:literal;)*) => {
        /// A lint rule. Its code is what users see, silence and search for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule {
            $(#[doc = $what] $variant,)*
        }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The short code shown in findings, e.g. `unknown-key`.
            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$severity,)* }
            }

            /// What the rule catches, in one sentence.
            pub fn description(self) -> &'static str {
                match self { $(Rule::$variant => $what,)* }
            }
        }
    };
}

rules! {
    YamlSyntax => "yaml-syntax", Error, "The file is not valid YAML.";
    YamlTag => "yaml-tag", Error, "An explicit YAML tag (`!!binary`, `!!str`, `!custom`): a runbook is read as it is written.";
    UnknownKey => "unknown-key", Error, "A key that the format does not have, or that belongs elsewhere.";
    MissingKey => "missing-key", Error, "A required key is absent.";
    DuplicateKey => "duplicate-key", Error, "The same key twice in one mapping.";
    WrongType => "wrong-type", Error, "A value of the wrong type (a list where text is expected, a word where a number is).";
    UnsupportedVersion => "unsupported-version", Error, "`runbook:` names a format version this build cannot read.";
    InvalidDate => "invalid-date", Error, "`reviewed` is not a `YYYY-MM-DD` date.";
    InvalidName => "invalid-name", Error, "A step id, input or capture name that templates and the command line cannot use.";
    EmptyList => "empty-list", Error, "A list that needs at least one item is empty (`scope.services`, `steps`, `choices`).";
    DuplicateName => "duplicate-name", Error, "Two steps, links or choices share a name that must be unique.";
    TwoKinds => "two-kinds", Error, "A step has more than one of `check`, `action`, `ask`, `wait`, `uses`.";
    MissingInstructions => "missing-instructions", Error, "A manual step has no instructions to follow.";
    MisplacedKey => "misplaced-key", Error, "A key that is valid in the format but not where it stands (`confirm` in a check).";
    CommandShape => "command-shape", Error, "A command needs exactly one of `run` and `http`; an ask exactly one of `choices` and `input`.";
    UnknownStep => "unknown-step", Error, "`next`, a choice or `on_failure` names a step that does not exist.";
    UnreachableStep => "unreachable-step", Warning, "No path from the first step leads to this step.";
    TemplateSyntax => "template-syntax", Error, "A template or `if` expression does not compile.";
    UndefinedName => "undefined-name", Error, "A template uses a name that is not defined where it stands.";
    UnknownFilter => "unknown-filter", Error, "A template uses a filter, test or function the executor does not have (`| lenght`).";
    UnsupportedTag => "unsupported-tag", Error, "A template uses `{% include %}`, `{% import %}`, `{% from %}` or `{% extends %}`: runbook templates cannot load other files.";
    CaptureShape => "capture-shape", Error, "A capture used as the other shape: one destination gives one value, a group a host → text map.";
    InvalidRegex => "invalid-regex", Error, "A regex (`alerts`, `pattern`, `stdout_matches`, `body_matches`) does not compile.";
    InvalidDuration => "invalid-duration", Error, "A duration is not written like `500ms`, `30s`, `5m` or `1h`.";
    InvalidValue => "invalid-value", Error, "A value outside what the key accepts (a default not among the choices, a status of 42).";
    UnknownHostGroup => "unknown-host-group", Error, "`on` names a host group that `hosts` does not define.";
    UnknownRunbook => "unknown-runbook", Error, "`uses` names a runbook that is not in the catalog.";
    MissingInput => "missing-input", Error, "`uses` does not give a required input of the runbook it calls, or gives one it does not have.";
    UsesCycle => "uses-cycle", Error, "Runbooks that call each other through `uses` in a loop.";
    UnsafeTemplate => "unsafe-template", Warning, "`| safe` turns off shell quoting inside `run`.";
    ShellContext => "shell-context", Warning, "A value inside `\"…\"`, `'…'`, a heredoc, a nested `sh -c` string or `{% autoescape false %}` in `run`, where its quoting does not protect it.";
    StaleReview => "stale-review", Warning, "`reviewed` is more than 180 days old.";
    NoContacts => "no-contacts", Warning, "The runbook lists nobody to call.";
    NoLinks => "no-links", Warning, "The runbook lists no dashboard, log or document.";
    NoRollback => "no-rollback", Warning, "An action has no `rollback`.";
    InvalidJsonPath => "invalid-jsonpath", Error, "A capture's `json:` is not a JSONPath (RFC 9535).";
    UntestedBranch => "untested-branch", Warning, "A decision choice (or an `on_failure` step) that no test of `NAME.test.yaml` takes; on with `lint --require-tests`.";
    TestFile => "test-file", Error, "A test file (`NAME.test.yaml`) names a step, choice or regex that does not exist or compile.";
    NoAllowedSigners => "no-allowed-signers", Warning, "An action waits for approvals (`confirm: approve`, `approvers`) and the catalog has no `.runbook/allowed_signers` to check them against.";
}
