//! Secrets out of scripts: every occurrence of a secret value in a rendered script becomes a
//! reference to an environment variable (`"${RUNBOOK_SECRET_TOKEN}"`) that travels beside the
//! script, so neither `ps` nor the script text (shown, recorded, sent) carries the value.
//!
//! The script is read with the shell's quoting rules, and an occurrence is replaced only where
//! the text means exactly the value, with a reference that means the same there:
//! - the value as [`shell_quote`] writes it, outside quotes: `"${VAR}"`;
//! - the value as typed, outside quotes when it holds no character the shell would interpret:
//!   `"${VAR}"`; inside double quotes (or an expanding here-document) when it holds no `$`,
//!   `` ` ``, `"` or `\`: `${VAR}`; inside single quotes when it holds no `'`: `'"${VAR}"'`;
//!   in a comment: `${VAR}`.
//!
//! What cannot be rewritten without changing the script's meaning stays as it is: a value
//! inside a quoted here-document (`<<'EOF'`) or split by the author's own quoting.

use crate::template::shell_quote;

/// A secret: the variable that will hold it, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub variable: String,
    pub value: String,
}

impl Secret {
    /// The secret input `name`, held in `RUNBOOK_SECRET_NAME` (upper case; any character
    /// other than a letter or a digit becomes `_`).
    pub fn input(name: &str, value: &str) -> Secret {
        let upper: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        Secret {
            variable: format!("RUNBOOK_SECRET_{upper}"),
            value: value.to_owned(),
        }
    }
}

/// A script whose secrets were moved out, and the variables they were moved to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub script: String,
    /// `(variable, value)` for every secret the script refers to.
    pub env: Vec<(String, String)>,
}

/// Where the scanner is in the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Shell code: the script's top level, or inside `$( … )` with its open parentheses.
    Code {
        parens: u32,
    },
    Backticks,
    Double,
    Single,
    /// `$'…'`
    AnsiC,
    Comment,
}

/// A here-document whose body starts at the next line.
#[derive(Debug, Clone)]
struct PendingHeredoc {
    delimiter: String,
    strip_tabs: bool,
    expanding: bool,
}

/// Characters that mean something to the shell outside quotes.
const SPECIAL_UNQUOTED: &[char] = &[
    ' ', '\t', '\n', '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[',
    ']', '{', '}',
];

/// Moves `secrets` out of `script`. Longer values are looked for first, so a secret that
/// contains another is replaced whole.
pub fn extract(script: &str, secrets: &[Secret]) -> Extracted {
    let mut secrets: Vec<&Secret> = secrets.iter().filter(|s| !s.value.is_empty()).collect();
    if secrets.is_empty() || !secrets.iter().any(|s| script.contains(&s.value)) {
        return Extracted {
            script: script.to_owned(),
            env: Vec::new(),
        };
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.value.len()));
    let quoted: Vec<String> = secrets.iter().map(|s| shell_quote(&s.value)).collect();
    let mut scanner = Scanner {
        script,
        at: 0,
        out: String::with_capacity(script.len()),
        stack: vec![Context::Code { parens: 0 }],
        pending: Vec::new(),
        secrets: &secrets,
        quoted: &quoted,
        used: vec![false; secrets.len()],
    };
    scanner.run();
    let env = secrets
        .iter()
        .zip(&scanner.used)
        .filter(|(_, used)| **used)
        .map(|(s, _)| (s.variable.clone(), s.value.clone()))
        .collect();
    Extracted {
        script: scanner.out,
        env,
    }
}

struct Scanner<'a> {
    script: &'a str,
    at: usize,
    out: String,
    stack: Vec<Context>,
    pending: Vec<PendingHeredoc>,
    secrets: &'a [&'a Secret],
    quoted: &'a [String],
    used: Vec<bool>,
}

impl Scanner<'_> {
    fn rest(&self) -> &str {
        &self.script[self.at..]
    }

    fn context(&self) -> Context {
        self.stack
            .last()
            .copied()
            .unwrap_or(Context::Code { parens: 0 })
    }

    /// Copies `n` bytes of the script as they are.
    fn copy(&mut self, n: usize) {
        let end = (self.at + n).min(self.script.len());
        self.out.push_str(&self.script[self.at..end]);
        self.at = end;
    }

    /// Copies one character.
    fn copy_char(&mut self) {
        let n = self.rest().chars().next().map_or(1, char::len_utf8);
        self.copy(n);
    }

    fn run(&mut self) {
        while self.at < self.script.len() {
            if self.replace_here() {
                continue;
            }
            match self.context() {
                Context::Code { .. } | Context::Backticks => self.code(),
                Context::Double => self.double(),
                Context::Single => {
                    if self.rest().starts_with('\'') {
                        self.stack.pop();
                    }
                    self.copy_char();
                }
                Context::AnsiC => {
                    if self.rest().starts_with('\\') {
                        self.copy(2);
                    } else {
                        if self.rest().starts_with('\'') {
                            self.stack.pop();
                        }
                        self.copy_char();
                    }
                }
                Context::Comment => {
                    if self.rest().starts_with('\n') {
                        self.stack.pop();
                        self.newline();
                    } else {
                        self.copy_char();
                    }
                }
            }
        }
    }

    /// Replaces a secret that starts here, if the context lets it be replaced.
    fn replace_here(&mut self) -> bool {
        let context = self.context();
        for (index, secret) in self.secrets.iter().enumerate() {
            let value = secret.value.as_str();
            let quoted = self.quoted[index].as_str();
            let variable = &secret.variable;
            let found = match context {
                Context::Code { .. } | Context::Backticks => {
                    if self.rest().starts_with(quoted) {
                        Some((quoted.len(), format!("\"${{{variable}}}\"")))
                    } else if !value.contains(SPECIAL_UNQUOTED) && self.rest().starts_with(value) {
                        Some((value.len(), format!("\"${{{variable}}}\"")))
                    } else {
                        None
                    }
                }
                Context::Double => (!value.contains(['$', '`', '"', '\\'])
                    && self.rest().starts_with(value))
                .then(|| (value.len(), format!("${{{variable}}}"))),
                Context::Single => (!value.contains('\'') && self.rest().starts_with(value))
                    .then(|| (value.len(), format!("'\"${{{variable}}}\"'"))),
                Context::AnsiC => (!value.contains(['\'', '\\']) && self.rest().starts_with(value))
                    .then(|| (value.len(), format!("'\"${{{variable}}}\"$'"))),
                Context::Comment => self
                    .rest()
                    .starts_with(value)
                    .then(|| (value.len(), format!("${{{variable}}}"))),
            };
            if let Some((length, reference)) = found {
                self.out.push_str(&reference);
                self.at += length;
                self.used[index] = true;
                return true;
            }
        }
        false
    }

    /// One step through shell code.
    fn code(&mut self) {
        let rest = self.rest();
        let word_start = self.out.is_empty()
            || self
                .out
                .ends_with([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);
        if rest.starts_with('\\') {
            self.copy(2);
        } else if rest.starts_with('\'') {
            self.stack.push(Context::Single);
            self.copy(1);
        } else if rest.starts_with("$'") {
            self.stack.push(Context::AnsiC);
            self.copy(2);
        } else if rest.starts_with('"') {
            self.stack.push(Context::Double);
            self.copy(1);
        } else if rest.starts_with('`') {
            if self.context() == Context::Backticks {
                self.stack.pop();
            } else {
                self.stack.push(Context::Backticks);
            }
            self.copy(1);
        } else if rest.starts_with('$') {
            self.dollar();
        } else if rest.starts_with('(') {
            if let Some(Context::Code { parens }) = self.stack.last_mut() {
                *parens += 1;
            }
            self.copy(1);
        } else if rest.starts_with(')') {
            if let Some(Context::Code { parens }) = self.stack.last_mut() {
                if *parens == 0 {
                    if self.stack.len() > 1 {
                        self.stack.pop();
                    }
                } else {
                    *parens -= 1;
                }
            }
            self.copy(1);
        } else if rest.starts_with('#') && word_start {
            self.stack.push(Context::Comment);
            self.copy(1);
        } else if rest.starts_with("<<") && !rest.starts_with("<<<") {
            self.heredoc_operator();
        } else if rest.starts_with('\n') {
            self.newline();
        } else {
            self.copy_char();
        }
    }

    /// One step inside double quotes.
    fn double(&mut self) {
        let rest = self.rest();
        if rest.starts_with('\\') {
            self.copy(2);
        } else if rest.starts_with('"') {
            self.stack.pop();
            self.copy(1);
        } else if rest.starts_with('`') {
            self.stack.push(Context::Backticks);
            self.copy(1);
        } else if rest.starts_with('$') {
            self.dollar();
        } else {
            self.copy_char();
        }
    }

    /// `$(…)` opens shell code; `${…}` and `$name` are copied whole, so that no value is ever
    /// matched inside a parameter's name.
    fn dollar(&mut self) {
        let rest = self.rest();
        if rest.starts_with("$(") {
            self.stack.push(Context::Code { parens: 0 });
            self.copy(2);
        } else if rest.starts_with("${") {
            let end = rest.find('}').map_or(rest.len(), |i| i + 1);
            self.copy(end);
        } else {
            let name = rest[1..]
                .char_indices()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                .map_or(rest.len() - 1, |(i, _)| i);
            // `$?`, `$$`, `$#`… are one character.
            let name = if name == 0 && rest.len() > 1 { 1 } else { name };
            self.copy(1 + name);
        }
    }

    /// `<<WORD` or `<<-WORD`: remembers the here-document, whose body starts at the next line.
    fn heredoc_operator(&mut self) {
        self.copy(2);
        let strip_tabs = self.rest().starts_with('-');
        if strip_tabs {
            self.copy(1);
        }
        let blanks = self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
        self.copy(blanks);
        let word_length = self
            .rest()
            .find([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')'])
            .unwrap_or(self.rest().len());
        let word = &self.rest()[..word_length];
        let expanding = !word.contains(['\'', '"', '\\']);
        let delimiter: String = word.chars().filter(|c| !"'\"\\".contains(*c)).collect();
        self.pending.push(PendingHeredoc {
            delimiter,
            strip_tabs,
            expanding,
        });
        self.copy(word_length);
    }

    /// A newline in shell code: the bodies of the here-documents opened on this line follow.
    fn newline(&mut self) {
        self.copy(1);
        for heredoc in std::mem::take(&mut self.pending) {
            self.heredoc_body(&heredoc);
        }
    }

    /// Copies a here-document's body and its closing line, replacing secrets in an expanding
    /// one.
    fn heredoc_body(&mut self, heredoc: &PendingHeredoc) {
        while self.at < self.script.len() {
            let line_end = self.rest().find('\n').map_or(self.rest().len(), |i| i + 1);
            let line = &self.rest()[..line_end];
            let bare = line.trim_end_matches('\n');
            let bare = if heredoc.strip_tabs {
                bare.trim_start_matches('\t')
            } else {
                bare
            };
            if bare == heredoc.delimiter {
                self.copy(line_end);
                return;
            }
            let end = self.at + line_end;
            while self.at < end {
                if heredoc.expanding && self.replace_in_heredoc() {
                    continue;
                }
                if self.rest().starts_with('\\') && self.at + 1 < end {
                    self.copy(2);
                } else {
                    self.copy_char();
                }
            }
        }
    }

    fn replace_in_heredoc(&mut self) -> bool {
        for (index, secret) in self.secrets.iter().enumerate() {
            let value = secret.value.as_str();
            if !value.contains(['$', '`', '\\', '\n']) && self.rest().starts_with(value) {
                self.out.push_str(&format!("${{{}}}", secret.variable));
                self.at += value.len();
                self.used[index] = true;
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str) -> Secret {
        Secret::input("token", value)
    }

    /// The script as rewritten and what `bash` prints running it with the variable set, next
    /// to what it printed before.
    #[track_caller]
    fn case(script: &str, value: &str, rewritten: &str) {
        let secrets = [token(value)];
        let extracted = extract(script, &secrets);
        assert_eq!(extracted.script, rewritten, "rewriting {script:?}");
        assert!(
            !extracted.script.contains(value),
            "{value:?} is still in {:?}",
            extracted.script
        );
        assert_eq!(
            extracted.env,
            vec![("RUNBOOK_SECRET_TOKEN".to_owned(), value.to_owned())]
        );
        assert_eq!(
            bash(&extracted.script, &extracted.env),
            bash(script, &[]),
            "the rewritten script means something else: {rewritten}"
        );
    }

    fn bash(script: &str, env: &[(String, String)]) -> String {
        let output = std::process::Command::new("bash")
            .args(["--noprofile", "--norc", "-c", script])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("bash runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    #[test]
    fn every_form_of_the_value_becomes_a_reference_meaning_the_same() {
        let v = "RUNBOOK_SECRET_TOKEN";
        // As a quoted template value, outside quotes.
        case(
            "echo 's3cr et' done",
            "s3cr et",
            &format!("echo \"${{{v}}}\" done"),
        );
        // A value that needs no quotes.
        case(
            "curl -u admin:hunter2 x",
            "hunter2",
            &format!("curl -u admin:\"${{{v}}}\" x"),
        );
        // A value with a single quote, as shell_quote writes it.
        let quoted = shell_quote("it's");
        case(
            &format!("printf '%s\\n' {quoted}"),
            "it's",
            &format!("printf '%s\\n' \"${{{v}}}\""),
        );
        // Inside double quotes, inside single quotes, inside a larger quoted word.
        case(
            "echo \"Bearer abc123\"",
            "abc123",
            &format!("echo \"Bearer ${{{v}}}\""),
        );
        case(
            "echo 'Bearer abc 123'",
            "abc 123",
            &format!("echo 'Bearer '\"${{{v}}}\"''"),
        );
        // In a nested shell string and in a command substitution.
        case(
            "sh -c \"echo 'k=abc123'\"",
            "abc123",
            &format!("sh -c \"echo 'k=${{{v}}}'\""),
        );
        case(
            "echo \"$(echo abc123)\"",
            "abc123",
            &format!("echo \"$(echo \"${{{v}}}\")\""),
        );
        // In an expanding here-document, and in a comment.
        case(
            "cat <<EOF\ntoken: abc123\nEOF\necho done",
            "abc123",
            &format!("cat <<EOF\ntoken: ${{{v}}}\nEOF\necho done"),
        );
        case(
            "echo x # abc123\necho y",
            "abc123",
            &format!("echo x # ${{{v}}}\necho y"),
        );
    }

    #[test]
    fn names_of_parameters_are_never_taken_for_a_value() {
        let extracted = extract("echo $HOME ${HOME}", &[token("HOME")]);
        assert_eq!(extracted.script, "echo $HOME ${HOME}");
        assert!(extracted.env.is_empty());
    }

    #[test]
    fn a_quoted_here_document_is_left_as_written() {
        let script = "cat <<'EOF'\nabc123\nEOF\n";
        assert_eq!(extract(script, &[token("abc123")]).script, script);
    }

    #[test]
    fn a_longer_secret_is_replaced_whole() {
        let secrets = [
            Secret::input("short", "abc"),
            Secret::input("long", "abcdef"),
        ];
        let extracted = extract("echo abcdef abc", &secrets);
        assert_eq!(
            extracted.script,
            "echo \"${RUNBOOK_SECRET_LONG}\" \"${RUNBOOK_SECRET_SHORT}\""
        );
        assert_eq!(extracted.env.len(), 2);
    }

    #[test]
    fn variable_names() {
        assert_eq!(
            Secret::input("api-token.v2", "x").variable,
            "RUNBOOK_SECRET_API_TOKEN_V2"
        );
    }
}
