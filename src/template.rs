//! Templates and expressions: one minijinja environment for the whole crate.
//!
//! Values substituted into a shell command are quoted by a custom auto-escape, so an input
//! such as `x'; rm -rf / #` arrives as one harmless argument; `| safe` opts out.

use std::collections::BTreeSet;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

/// The auto-escape name used for shell commands.
const SHELL_ESCAPE: &str = "shell";

/// The name a template is compiled under when it is a shell command; its suffix selects
/// shell quoting.
pub const SHELL_TEMPLATE_NAME: &str = "run.sh";

/// The top-level names a template may use (SPEC section 3).
pub const KNOWN_ROOTS: [&str; 8] = [
    "inputs", "vars", "steps", "host", "links", "contacts", "runbook", "incident",
];

/// Builds the environment: strict about undefined names, shell-quoting in `*.sh` templates.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".sh") {
            AutoEscape::Custom(SHELL_ESCAPE.into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Custom(name) if name == SHELL_ESCAPE)
            && !value.is_safe()
        {
            out.write_str(&shell_quote_value(value))?;
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env
}

/// Quotes a value for POSIX `sh`: lists become several quoted words, everything else one.
fn shell_quote_value(value: &Value) -> String {
    if value.is_none() || value.is_undefined() {
        return "''".into();
    }
    if let Ok(items) = value.try_iter()
        && !matches!(
            value.kind(),
            minijinja::value::ValueKind::String | minijinja::value::ValueKind::Map
        )
    {
        return items
            .map(|item| shell_quote(&item.to_string()))
            .collect::<Vec<_>>()
            .join(" ");
    }
    shell_quote(&value.to_string())
}

/// Quotes one word for POSIX `sh`.
pub fn shell_quote(word: &str) -> String {
    // try_quote refuses only NUL bytes, which no shell word can carry; drop them.
    let cleaned;
    let word = if word.contains('\0') {
        cleaned = word.replace('\0', "");
        &cleaned
    } else {
        word
    };
    shlex::try_quote(word).map_or_else(|_| "''".into(), |q| q.into_owned())
}

/// What a template refers to, for lint: the dotted paths of the names it uses.
#[derive(Debug, Default)]
pub struct TemplateNames {
    /// Paths like `inputs.env` or `steps.health.failed_hosts`, as deep as known statically.
    pub paths: BTreeSet<String>,
}

/// A template or expression that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line inside the template, from 1.
    pub line: usize,
    pub message: String,
}

/// Compiles a template and lists the names it uses.
pub fn names_in_template(
    env: &Environment<'_>,
    source: &str,
) -> Result<TemplateNames, SyntaxError> {
    let template = env.template_from_str(source).map_err(syntax_error)?;
    Ok(TemplateNames {
        paths: template.undeclared_variables(true).into_iter().collect(),
    })
}

/// Compiles an `if:` expression and lists the names it uses.
pub fn names_in_expression(
    env: &Environment<'_>,
    source: &str,
) -> Result<TemplateNames, SyntaxError> {
    let expression = env.compile_expression(source).map_err(syntax_error)?;
    Ok(TemplateNames {
        paths: expression.undeclared_variables(true).into_iter().collect(),
    })
}

fn syntax_error(error: minijinja::Error) -> SyntaxError {
    SyntaxError {
        line: error.line().unwrap_or(1),
        message: error
            .detail()
            .map_or_else(|| error.to_string(), str::to_string),
    }
}

/// Whether a template opts out of shell quoting with the `safe` filter.
pub fn uses_safe_filter(source: &str) -> bool {
    static SAFE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    SAFE.get_or_init(|| regex::Regex::new(r"\|\s*safe\b").expect("valid regex"))
        .is_match(source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[track_caller]
    fn render_shell(source: &str, value: Value) -> String {
        let env = environment();
        let mut env = env;
        env.add_template_owned(SHELL_TEMPLATE_NAME, source.to_string())
            .unwrap();
        env.get_template(SHELL_TEMPLATE_NAME)
            .unwrap()
            .render(context! { inputs => context! { v => value } })
            .unwrap()
    }

    /// What `sh` receives as arguments after the template is rendered.
    fn shell_words(command: &str) -> Vec<String> {
        let script = format!(
            "for a in {}; do printf '%s\\0' \"$a\"; done",
            command.trim_start_matches("echo ")
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(String::from)
            .collect()
    }

    #[test]
    fn shell_values_arrive_as_one_argument() {
        for nasty in [
            "x'; touch /tmp/pwned #",
            "$(reboot)",
            "`id`",
            "a b\nc",
            "\"quoted\"",
            "*",
            "",
            "-rf",
            "ü ∆",
        ] {
            let rendered = render_shell("echo {{ inputs.v }}", Value::from(nasty));
            assert_eq!(shell_words(&rendered), [nasty], "rendered as {rendered}");
        }
        let rendered = render_shell("echo {{ inputs.v }}", Value::from(vec!["a b", "c"]));
        assert_eq!(shell_words(&rendered), ["a b", "c"]);
    }

    #[test]
    fn safe_opts_out_of_quoting() {
        assert_eq!(
            render_shell("echo {{ inputs.v | safe }}", Value::from("$HOME")),
            "echo $HOME"
        );
    }

    #[test]
    fn other_templates_are_not_escaped() {
        let env = environment();
        let out = env
            .render_str("<{{ v }}>", context! { v => "a'b" })
            .unwrap();
        assert_eq!(out, "<a'b>");
    }

    #[test]
    fn names_and_syntax_errors() {
        let env = environment();
        let names = names_in_template(
            &env,
            "{{ inputs.env }} {% for h in steps.a.failed_hosts %}{{ h }}{% endfor %}",
        )
        .unwrap();
        assert_eq!(
            names.paths.into_iter().collect::<Vec<_>>(),
            ["inputs.env", "steps.a.failed_hosts"]
        );
        let error = names_in_template(&env, "ok\n{{ broken").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(names_in_expression(&env, "inputs.env == 'prod'").is_ok());
        assert!(names_in_expression(&env, "inputs.env ==").is_err());
    }

    #[test]
    fn safe_filter_is_spotted() {
        assert!(uses_safe_filter("echo {{ x | safe }}"));
        assert!(uses_safe_filter("echo {{ x|safe }}"));
        assert!(!uses_safe_filter("echo {{ x | safer }}"));
    }
}
