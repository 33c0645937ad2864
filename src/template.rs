//! Templates and expressions: one minijinja environment for the whole crate — the executor
//! renders with it and lint checks every filter, test, function and block tag against it.
//!
//! Values are escaped by where they go, chosen by the template's name as minijinja's
//! auto-escape does: shell-quoted in a command (`run.sh`), percent-encoded in a URL
//! (`request.url`), escaped as JSON string content in a JSON body (`body.json`); `| safe`
//! opts out. So an input such as `x'; rm -rf / #` arrives as one harmless argument, and
//! `evil.com/#` cannot change the host a request goes to.

use std::collections::BTreeSet;

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior, Value};

/// The auto-escape names, one per place a value can go.
const SHELL_ESCAPE: &str = "shell";
const URL_ESCAPE: &str = "url";
const JSON_ESCAPE: &str = "json-string";
/// Text shown on the run screen: as [`Escape::Text`], but a host → value map (a capture
/// taken on several hosts) is drawn as a small table.
const SCREEN_ESCAPE: &str = "screen";

/// The name a template is compiled under when it is a shell command; its suffix selects
/// shell quoting.
pub const SHELL_TEMPLATE_NAME: &str = "run.sh";

/// How the values of a template are escaped, which is where the rendered text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Text a person reads: nothing escaped.
    Text,
    /// A shell command: every value one quoted word (lists several).
    Shell,
    /// A URL: every value percent-encoded, so that it cannot add a scheme, host, port, path
    /// segment, query parameter or fragment.
    Url,
    /// A JSON request body: every value escaped as the inside of a JSON string, so that it
    /// cannot close the string and add keys. `| tojson` writes a whole JSON value.
    JsonString,
    /// Text a person reads on the run screen: nothing escaped, and a host → value map drawn
    /// as a table ([`host_table`]) instead of `{'lb-1': '…'}`. Display only: commands get
    /// the values as before.
    Screen,
}

impl Escape {
    /// The template name that selects this escape.
    pub fn template_name(self) -> &'static str {
        match self {
            Escape::Text => "text",
            Escape::Shell => SHELL_TEMPLATE_NAME,
            Escape::Url => "request.url",
            Escape::JsonString => "body.json",
            Escape::Screen => "instructions.screen",
        }
    }
}

/// The top-level names a template may use (SPEC section 3).
pub const KNOWN_ROOTS: [&str; 9] = [
    "inputs", "vars", "steps", "host", "links", "contacts", "runbook", "incident", "alert",
];

/// Builds the environment: strict about undefined names, escaping by template name, with
/// `urlencode` and `tojson`, and no loader (`{% include %}` and its kin cannot find anything).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        let custom = if name.ends_with(".sh") {
            SHELL_ESCAPE
        } else if name.ends_with(".url") {
            URL_ESCAPE
        } else if name.ends_with(".json") {
            JSON_ESCAPE
        } else if name.ends_with(".screen") {
            SCREEN_ESCAPE
        } else {
            return AutoEscape::None;
        };
        AutoEscape::Custom(custom.into())
    });
    env.add_filter("tojson", tojson);
    env.set_formatter(|out, state, value| {
        let escape = match state.auto_escape() {
            AutoEscape::Custom(name) if !value.is_safe() => name,
            _ => return minijinja::escape_formatter(out, state, value),
        };
        if escape.as_ref() == SCREEN_ESCAPE {
            match host_table(value) {
                Some(table) => out.write_str(&table)?,
                None => write!(out, "{value}")?,
            }
            return Ok(());
        }
        let text = match escape.as_ref() {
            SHELL_ESCAPE => shell_quote_value(value),
            URL_ESCAPE => percent_encode(&plain_text(value)),
            JSON_ESCAPE => json_string_content(&plain_text(value)),
            _ => return minijinja::escape_formatter(out, state, value),
        };
        out.write_str(&text)?;
        Ok(())
    });
    env
}

/// A host → value map (every value text, a number, a boolean or none) as a small table, one
/// row per host, a multi-line value's other lines under its first:
///
/// ```text
/// lb-1 │ web-1 queue=0 status=UP
///      │ web-2 queue=3 status=DOWN
/// lb-2 │ (nothing)
/// ```
///
/// `None` for anything else (a list, a nested map, an empty map): shown as minijinja shows it.
pub fn host_table(value: &Value) -> Option<String> {
    use minijinja::value::ValueKind;
    if value.kind() != ValueKind::Map {
        return None;
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    for key in value.try_iter().ok()? {
        let item = value.get_item(&key).ok()?;
        if !matches!(
            item.kind(),
            ValueKind::String | ValueKind::Number | ValueKind::Bool | ValueKind::None
        ) {
            return None;
        }
        let text = if item.is_none() {
            String::new()
        } else {
            item.to_string()
        };
        rows.push((key.to_string(), text));
    }
    if rows.is_empty() {
        return None;
    }
    let pad = rows
        .iter()
        .map(|(host, _)| textwrap::core::display_width(host))
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for (host, text) in &rows {
        let text = text.trim_end_matches(['\n', '\r', ' ', '\t']);
        let mut parts = text.lines();
        let first = parts.next().filter(|l| !l.trim().is_empty());
        let gap = " ".repeat(pad - textwrap::core::display_width(host));
        lines.push(format!("{host}{gap} │ {}", first.unwrap_or("(nothing)")));
        for more in parts {
            lines.push(
                format!("{} │ {more}", " ".repeat(pad))
                    .trim_end()
                    .to_string(),
            );
        }
    }
    Some(lines.join("\n"))
}

/// minijinja's `tojson` marks its output safe, which would let it through shell quoting
/// unquoted (`"$(reboot)"` runs inside double quotes). It is a whole JSON value only in a
/// JSON body; everywhere else it is text like any other, escaped for where it goes.
fn tojson(
    state: &State<'_, '_>,
    value: &Value,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, minijinja::Error> {
    let json = minijinja::filters::tojson(value, indent, kwargs)?;
    if matches!(state.auto_escape(), AutoEscape::Custom(name) if name == JSON_ESCAPE) {
        Ok(json)
    } else {
        Ok(Value::from(json.to_string()))
    }
}

/// A value as text: `none` and undefined as nothing.
fn plain_text(value: &Value) -> String {
    if value.is_none() || value.is_undefined() {
        String::new()
    } else {
        value.to_string()
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986) and `%XX` sequences that
/// are already encoded (so `| urlencode` does not encode twice).
pub fn percent_encode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let encoded_already = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || encoded_already {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// The inside of a JSON string holding `text`: quotes, backslashes and control characters
/// escaped.
pub fn json_string_content(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
    quoted[1..quoted.len() - 1].to_string()
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

/// A piece of a template as minijinja's lexer sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Text outside `{{ }}` and `{% %}`.
    Text(String),
    VariableStart,
    VariableEnd,
    BlockStart,
    BlockEnd,
    Ident(String),
    Str(String),
    Pipe,
    Dot,
    ParenOpen,
    BracketOpen,
    Other,
}

/// A piece and where it starts inside the template: line and column, both from 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Lexeme {
    pub piece: Piece,
    pub line: u32,
    pub col: u32,
}

/// The pieces of a template (or of an expression, without braces).
pub fn lex(source: &str, expression: bool) -> Result<Vec<Lexeme>, SyntaxError> {
    let mut lexemes = Vec::new();
    for token in tokenize(source, expression, SyntaxConfig::default()) {
        let (token, span) = token.map_err(syntax_error)?;
        let piece = match token {
            Token::TemplateData(text) => Piece::Text(text.to_string()),
            Token::VariableStart => Piece::VariableStart,
            Token::VariableEnd => Piece::VariableEnd,
            Token::BlockStart => Piece::BlockStart,
            Token::BlockEnd => Piece::BlockEnd,
            Token::Ident(name) => Piece::Ident(name.to_string()),
            Token::Str(text) => Piece::Str(text.to_string()),
            Token::String(text) => Piece::Str(text.to_string()),
            Token::Pipe => Piece::Pipe,
            Token::Dot => Piece::Dot,
            Token::ParenOpen => Piece::ParenOpen,
            Token::BracketOpen => Piece::BracketOpen,
            _ => Piece::Other,
        };
        lexemes.push(Lexeme {
            piece,
            line: u32::from(span.start_line),
            col: u32::from(span.start_col) + 1,
        });
    }
    Ok(lexemes)
}

/// What a name after `|`, `is` or before `(` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Callable {
    Filter,
    Test,
    Function,
}

impl Callable {
    pub fn as_str(self) -> &'static str {
        match self {
            Callable::Filter => "filter",
            Callable::Test => "test",
            Callable::Function => "function",
        }
    }
}

/// A filter, test or function a template uses, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallableUse {
    pub kind: Callable,
    pub name: String,
    pub line: u32,
    pub col: u32,
}

/// Every filter, test and function a template uses; macros it defines are not functions to
/// look up.
pub fn callables(lexemes: &[Lexeme]) -> Vec<CallableUse> {
    let ident = |i: usize| match lexemes.get(i).map(|l| &l.piece) {
        Some(Piece::Ident(name)) => Some(name.as_str()),
        _ => None,
    };
    let mut defined = BTreeSet::new();
    for (i, lexeme) in lexemes.iter().enumerate() {
        if lexeme.piece == Piece::BlockStart
            && ident(i + 1) == Some("macro")
            && let Some(name) = ident(i + 2)
        {
            defined.insert(name.to_string());
        }
    }
    let mut found = Vec::new();
    for (i, lexeme) in lexemes.iter().enumerate() {
        let Piece::Ident(name) = &lexeme.piece else {
            continue;
        };
        let before = i.checked_sub(1).map(|b| &lexemes[b].piece);
        let kind = match before {
            Some(Piece::Pipe) => Some(Callable::Filter),
            Some(Piece::Ident(word)) if word == "is" => Some(Callable::Test),
            Some(Piece::Ident(word)) if word == "not" && i >= 2 && ident(i - 2) == Some("is") => {
                Some(Callable::Test)
            }
            Some(Piece::Ident(word))
                if word == "filter" && i >= 2 && lexemes[i - 2].piece == Piece::BlockStart =>
            {
                Some(Callable::Filter)
            }
            Some(Piece::Dot) => None,
            _ if lexemes.get(i + 1).map(|l| &l.piece) == Some(&Piece::ParenOpen)
                && !defined.contains(name)
                && !matches!(before, Some(Piece::Ident(w)) if w == "macro" || w == "call") =>
            {
                Some(Callable::Function)
            }
            _ => None,
        };
        // `is not` is the start of a negated test, not a test named `not`.
        if kind == Some(Callable::Test) && name == "not" {
            continue;
        }
        if let Some(kind) = kind {
            found.push(CallableUse {
                kind,
                name: name.clone(),
                line: lexeme.line,
                col: lexeme.col,
            });
        }
    }
    found
}

/// Whether the environment has this filter, test or function: asked of the environment
/// itself, so lint and the executor cannot disagree.
pub fn env_has(env: &Environment<'_>, kind: Callable, name: &str) -> bool {
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return false;
    }
    let (probe, unknown) = match kind {
        Callable::Filter => (format!("{{{{ none | {name} }}}}"), ErrorKind::UnknownFilter),
        Callable::Test => (format!("{{{{ none is {name} }}}}"), ErrorKind::UnknownTest),
        Callable::Function => return env.globals().any(|(global, _)| global == name),
    };
    match env.render_str(&probe, ()) {
        Ok(_) => true,
        Err(error) => error.kind() != unknown,
    }
}

/// Every filter, test and function name the environment has, for suggestions.
pub fn env_names(env: &Environment<'_>, kind: Callable) -> Vec<String> {
    const FILTERS: &[&str] = &[
        "abs",
        "attr",
        "batch",
        "bool",
        "capitalize",
        "chain",
        "default",
        "dictsort",
        "escape",
        "first",
        "float",
        "format",
        "groupby",
        "indent",
        "int",
        "items",
        "join",
        "last",
        "length",
        "lines",
        "list",
        "lower",
        "map",
        "max",
        "min",
        "pprint",
        "reject",
        "rejectattr",
        "replace",
        "reverse",
        "round",
        "safe",
        "select",
        "selectattr",
        "slice",
        "sort",
        "split",
        "string",
        "sum",
        "title",
        "tojson",
        "trim",
        "unique",
        "upper",
        "urlencode",
        "zip",
    ];
    const TESTS: &[&str] = &[
        "boolean",
        "defined",
        "divisibleby",
        "endingwith",
        "eq",
        "even",
        "false",
        "filter",
        "float",
        "ge",
        "gt",
        "in",
        "integer",
        "iterable",
        "le",
        "lower",
        "lt",
        "mapping",
        "ne",
        "none",
        "number",
        "odd",
        "safe",
        "sameas",
        "sequence",
        "startingwith",
        "string",
        "test",
        "true",
        "undefined",
        "upper",
    ];
    match kind {
        Callable::Function => env.globals().map(|(name, _)| name.to_string()).collect(),
        Callable::Filter => FILTERS
            .iter()
            .filter(|f| env_has(env, kind, f))
            .map(|f| f.to_string())
            .collect(),
        Callable::Test => TESTS
            .iter()
            .filter(|t| env_has(env, kind, t))
            .map(|t| t.to_string())
            .collect(),
    }
}

/// Block tags that load other templates: there is no loader, so they cannot work.
pub const LOADING_TAGS: [&str; 4] = ["include", "import", "from", "extends"];

/// The block tags a template uses (`if`, `for`, `include`…), with where each stands.
pub fn block_tags(lexemes: &[Lexeme]) -> Vec<(String, u32, u32)> {
    lexemes
        .windows(2)
        .filter_map(|pair| match (&pair[0].piece, &pair[1].piece) {
            (Piece::BlockStart, Piece::Ident(tag)) => {
                Some((tag.clone(), pair[1].line, pair[1].col))
            }
            _ => None,
        })
        .collect()
}

/// Where a value stands in a shell command when its quoting does not protect it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellSpot {
    DoubleQuotes,
    SingleQuotes,
    Heredoc,
    /// Inside the string given to a nested `sh -c`/`bash -c`: run as a script a second time.
    NestedShell,
    /// Under `{% autoescape false %}`: not quoted at all.
    QuotingOff,
}

/// A value (or an `autoescape false` tag) at a place where quoting does not protect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellFinding {
    pub spot: ShellSpot,
    pub line: u32,
    pub col: u32,
}

/// What the shell makes of the text around the values of a command: whether a value sits
/// inside quotes, a heredoc or a nested shell's string, and which inputs are bare words (so
/// that a value starting with `-` would be read as an option).
#[derive(Debug, Default)]
pub struct ShellReading {
    pub findings: Vec<ShellFinding>,
    /// Inputs that start a word of the command: `ssh {{ inputs.host }}`.
    pub bare_inputs: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Quoting {
    None,
    Single { nested: bool },
    Double { nested: bool },
    Heredoc(String),
    Comment,
}

/// Reads a shell command template as the shell will read its text.
pub fn read_shell(lexemes: &[Lexeme]) -> ShellReading {
    let mut reading = ShellReading::default();
    let mut quoting = Quoting::None;
    // The end of the unquoted text so far, to see `-c ` before a quote and a word start
    // before a value.
    let mut recent = String::new();
    let mut pending_heredocs: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut quoting_off: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < lexemes.len() {
        let lexeme = &lexemes[i];
        match &lexeme.piece {
            Piece::Text(text) => {
                let chars: Vec<char> = text.chars().collect();
                let mut j = 0;
                while j < chars.len() {
                    let c = chars[j];
                    if c == '\n' {
                        if let Quoting::Heredoc(delimiter) = &quoting
                            && line.trim_start_matches('\t') == delimiter
                        {
                            quoting = Quoting::None;
                        } else if quoting == Quoting::Comment {
                            quoting = Quoting::None;
                        }
                        line.clear();
                        if quoting == Quoting::None && !pending_heredocs.is_empty() {
                            quoting = Quoting::Heredoc(pending_heredocs.remove(0));
                        }
                        recent.push(' ');
                        j += 1;
                        continue;
                    }
                    line.push(c);
                    match &quoting {
                        Quoting::None => {
                            let nested = recent.trim_end().ends_with("-c");
                            match c {
                                '\\' => {
                                    j += 1;
                                    recent.push('x');
                                }
                                '\'' => quoting = Quoting::Single { nested },
                                '"' => quoting = Quoting::Double { nested },
                                '#' if recent.is_empty()
                                    || recent.ends_with(char::is_whitespace) =>
                                {
                                    quoting = Quoting::Comment;
                                }
                                '<' if chars.get(j + 1) == Some(&'<')
                                    && chars.get(j + 2) != Some(&'<') =>
                                {
                                    let rest: String = chars[j + 2..].iter().collect();
                                    let word: String = rest
                                        .trim_start_matches('-')
                                        .trim_start()
                                        .trim_start_matches(['\'', '"'])
                                        .chars()
                                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                                        .collect();
                                    if !word.is_empty() {
                                        pending_heredocs.push(word);
                                    }
                                    recent.push_str("<<");
                                    j += 2;
                                    continue;
                                }
                                _ => recent.push(c),
                            }
                        }
                        Quoting::Single { .. } if c == '\'' => {
                            quoting = Quoting::None;
                            recent.push('x');
                        }
                        Quoting::Double { .. } if c == '\\' => {
                            j += 1;
                        }
                        Quoting::Double { .. } if c == '"' => {
                            quoting = Quoting::None;
                            recent.push('x');
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if recent.len() > 64 {
                    let cut = recent.len() - 32;
                    let cut = (cut..recent.len())
                        .find(|&k| recent.is_char_boundary(k))
                        .unwrap_or(0);
                    recent.drain(..cut);
                }
            }
            Piece::VariableStart => {
                let spot = match &quoting {
                    Quoting::Single { nested: true } | Quoting::Double { nested: true } => {
                        Some(ShellSpot::NestedShell)
                    }
                    Quoting::Single { .. } => Some(ShellSpot::SingleQuotes),
                    Quoting::Double { .. } => Some(ShellSpot::DoubleQuotes),
                    Quoting::Heredoc(_) => Some(ShellSpot::Heredoc),
                    Quoting::None | Quoting::Comment => None,
                };
                if let Some(spot) = spot {
                    reading.findings.push(ShellFinding {
                        spot,
                        line: lexeme.line,
                        col: lexeme.col,
                    });
                }
                let word_start = recent.is_empty()
                    || recent.ends_with(|c: char| c.is_whitespace() || ";|&(".contains(c));
                if quoting == Quoting::None
                    && word_start
                    && quoting_off.last() != Some(&true)
                    && let Some(name) = input_named_at(lexemes, i + 1)
                {
                    reading.bare_inputs.insert(name);
                }
                if matches!(quoting, Quoting::None | Quoting::Heredoc(_)) {
                    recent.push('x');
                    line.push('x');
                }
                // Skip to the end of the expression.
                while i < lexemes.len() && lexemes[i].piece != Piece::VariableEnd {
                    i += 1;
                }
            }
            Piece::BlockStart => {
                match lexemes.get(i + 1).map(|l| &l.piece) {
                    Some(Piece::Ident(tag)) if tag == "autoescape" => {
                        let off = matches!(
                            lexemes.get(i + 2).map(|l| &l.piece),
                            Some(Piece::Ident(value)) if matches!(value.as_str(), "false" | "False" | "none" | "None")
                        );
                        if off {
                            reading.findings.push(ShellFinding {
                                spot: ShellSpot::QuotingOff,
                                line: lexemes[i + 1].line,
                                col: lexemes[i + 1].col,
                            });
                        }
                        quoting_off.push(off);
                    }
                    Some(Piece::Ident(tag)) if tag == "endautoescape" => {
                        quoting_off.pop();
                    }
                    _ => {}
                }
                while i < lexemes.len() && lexemes[i].piece != Piece::BlockEnd {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    reading
}

/// `inputs.NAME` or `inputs['NAME']` starting at `at`.
fn input_named_at(lexemes: &[Lexeme], at: usize) -> Option<String> {
    let piece = |i: usize| lexemes.get(i).map(|l| &l.piece);
    if piece(at) != Some(&Piece::Ident("inputs".into())) {
        return None;
    }
    match (piece(at + 1), piece(at + 2)) {
        (Some(Piece::Dot), Some(Piece::Ident(name))) => Some(name.clone()),
        (Some(Piece::BracketOpen), Some(Piece::Str(name))) => Some(name.clone()),
        _ => None,
    }
}

/// A piece of a template rendered ahead of any run (by `runbook render`): text, or an
/// expression that only a run can fill in, as written (`inputs.backend`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticPiece {
    Text(String),
    RunTime(String),
}

/// Renders what a template can show before a run, with this environment: every `{{ expr }}`
/// whose value `context` holds becomes text, every other one stays a [`StaticPiece::RunTime`].
/// Block tags and comments (`{% if … %}`, `{# … #}`) stay as written, since a branch may
/// depend on a run: a reader sees every branch. `None` for a template that cannot be cut
/// into pieces (a `{% raw %}` block, an unclosed tag), to be shown as written.
pub fn render_static(
    env: &Environment<'_>,
    source: &str,
    context: &Value,
) -> Option<Vec<StaticPiece>> {
    if source.contains("{% raw") || source.contains("{%- raw") {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = source;
    while let Some(open) = ["{{", "{%", "{#"].iter().filter_map(|o| rest.find(o)).min() {
        if open > 0 {
            pieces.push(StaticPiece::Text(rest[..open].to_string()));
        }
        let inside = &rest[open + 2..];
        if !rest[open..].starts_with("{{") {
            let closing = if rest[open..].starts_with("{%") {
                "%}"
            } else {
                "#}"
            };
            let close = if closing == "%}" {
                tag_end(inside)?
            } else {
                inside.find(closing)?
            };
            pieces.push(StaticPiece::Text(
                rest[open..open + 2 + close + 2].to_string(),
            ));
            rest = &inside[close + 2..];
            continue;
        }
        let close = expression_end(inside, b'}')?;
        let expression = inside[..close]
            .trim_start_matches('-')
            .trim_end_matches('-');
        let expression = expression.trim();
        let value = env
            .compile_expression(expression)
            .ok()
            .and_then(|compiled| compiled.eval(context).ok())
            .filter(|value| !value.is_undefined());
        pieces.push(match value {
            Some(value) => StaticPiece::Text(plain_text(&value)),
            None => StaticPiece::RunTime(expression.to_string()),
        });
        rest = &inside[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(StaticPiece::Text(rest.to_string()));
    }
    Some(pieces)
}

/// Where the `%}` that closes a block tag starts, quotes skipped.
fn tag_end(inside: &str) -> Option<usize> {
    expression_end(inside, b'%')
}

/// Where the `X}` (`}}` or `%}`) that closes an expression or a tag starts, quotes skipped.
fn expression_end(inside: &str, first: u8) -> Option<usize> {
    let bytes = inside.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(bytes[i]),
            (None, c) if c == first && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
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

    #[track_caller]
    fn render_as(escape: Escape, source: &str, value: &str) -> String {
        let env = environment();
        env.template_from_named_str(escape.template_name(), source)
            .unwrap()
            .render(context! { v => value })
            .unwrap()
    }

    #[test]
    fn url_values_cannot_change_the_url() {
        for (value, encoded) in [
            ("evil.com/", "evil.com%2F"),
            ("@evil", "%40evil"),
            ("x#frag", "x%23frag"),
            ("a&x=y", "a%26x%3Dy"),
            ("a b", "a%20b"),
            ("already%2Fencoded", "already%2Fencoded"),
            ("100%", "100%25"),
        ] {
            assert_eq!(
                render_as(Escape::Url, "https://api.example.com/u/{{ v }}?q=1", value),
                format!("https://api.example.com/u/{encoded}?q=1")
            );
        }
        assert_eq!(
            render_as(Escape::Url, "https://h/{{ v | urlencode }}", "a/b c"),
            "https://h/a%2Fb%20c",
            "urlencode exists and does not encode twice"
        );
    }

    #[test]
    fn json_values_cannot_add_keys() {
        let body = render_as(
            Escape::JsonString,
            r#"{"name": "{{ v }}", "raw": {{ v | tojson }}}"#,
            "x\", \"admin\": true, \"y\": \"",
        );
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.as_object().unwrap().len(), 2, "{body}");
        assert_eq!(parsed["name"], "x\", \"admin\": true, \"y\": \"");
    }

    /// Issue 13: a host → value map on the screen is a table; commands get what they got.
    #[test]
    fn a_host_map_is_a_table_on_the_screen_only() {
        let env = environment();
        let map = Value::from(minijinja::value::Serde(&serde_json::json!({
            "lb-1": "web-1 UP\nweb-2 MAINT\n",
            "lb-22": "",
        })));
        let screen = env
            .template_from_named_str(Escape::Screen.template_name(), "{{ v }}")
            .unwrap()
            .render(minijinja::context! { v => map.clone() })
            .unwrap();
        assert_eq!(
            screen,
            "lb-1  │ web-1 UP\n      │ web-2 MAINT\nlb-22 │ (nothing)"
        );
        let text = env
            .template_from_named_str(Escape::Text.template_name(), "{{ v }}")
            .unwrap()
            .render(minijinja::context! { v => map.clone() })
            .unwrap();
        assert!(
            text.starts_with("{'lb-1': 'web-1 UP\\nweb-2 MAINT\\n'"),
            "{text}"
        );
        assert_eq!(
            render_shell("echo {{ inputs.v }}", map.clone()),
            format!("echo {}", shell_quote(&map.to_string()))
        );
        // Anything else shows as it did: a list, a nested map, a plain value.
        for other in [
            serde_json::json!(["a", "b"]),
            serde_json::json!({ "a": { "b": 1 } }),
            serde_json::json!("plain"),
        ] {
            let value = Value::from(minijinja::value::Serde(&other));
            let screen = env
                .template_from_named_str(Escape::Screen.template_name(), "{{ v }}")
                .unwrap()
                .render(minijinja::context! { v => value.clone() })
                .unwrap();
            assert_eq!(screen, value.to_string());
        }
    }

    #[test]
    fn tojson_is_quoted_in_a_shell_command() {
        let rendered = render_shell("echo {{ inputs.v | tojson }}", Value::from("$(id)"));
        assert_eq!(shell_words(&rendered), ["\"$(id)\""]);
    }

    #[test]
    fn filters_tests_and_functions_are_asked_of_the_environment() {
        let env = environment();
        let lexemes = lex(
            "{{ x | lenght }} {{ x | urlencode }} {% if x is defined and y is not odd %}{{ range(3) }}{{ nope(1) }}{{ x.items() }}{% endif %}",
            false,
        )
        .unwrap();
        let used: Vec<(Callable, String, bool)> = callables(&lexemes)
            .into_iter()
            .map(|u| {
                let known = env_has(&env, u.kind, &u.name);
                (u.kind, u.name, known)
            })
            .collect();
        assert_eq!(
            used,
            [
                (Callable::Filter, "lenght".into(), false),
                (Callable::Filter, "urlencode".into(), true),
                (Callable::Test, "defined".into(), true),
                (Callable::Test, "odd".into(), true),
                (Callable::Function, "range".into(), true),
                (Callable::Function, "nope".into(), false),
            ]
        );
        assert!(env_has(&env, Callable::Filter, "tojson"));
        assert!(env_names(&env, Callable::Filter).contains(&"length".to_string()));
        let tags = block_tags(&lex("{% include 'x' %}{% if a %}{% endif %}", false).unwrap());
        assert_eq!(tags[0], ("include".to_string(), 1, 4));
    }

    #[track_caller]
    fn spots(source: &str) -> Vec<ShellSpot> {
        read_shell(&lex(source, false).unwrap())
            .findings
            .into_iter()
            .map(|f| f.spot)
            .collect()
    }

    #[test]
    fn shell_context_of_values() {
        assert_eq!(
            spots("echo {{ a }} '{{ b }}' \"x {{ c }}\""),
            [ShellSpot::SingleQuotes, ShellSpot::DoubleQuotes]
        );
        assert_eq!(spots("sh -c \"echo {{ a }}\""), [ShellSpot::NestedShell]);
        assert_eq!(spots("bash -c 'echo {{ a }}'"), [ShellSpot::NestedShell]);
        assert_eq!(
            spots("cat <<EOF\nhello {{ a }}\nEOF\necho {{ b }}"),
            [ShellSpot::Heredoc]
        );
        assert_eq!(
            spots("{% autoescape false %}echo {{ a }}{% endautoescape %}"),
            [ShellSpot::QuotingOff]
        );
        assert_eq!(spots("echo {{ a }} # it's fine\necho \\\" {{ b }}"), []);
        let reading = read_shell(
            &lex(
                "ssh {{ inputs.host }} uptime --x={{ inputs.flag }} {{ inputs['other'] | lower }}",
                false,
            )
            .unwrap(),
        );
        assert_eq!(
            reading.bare_inputs.into_iter().collect::<Vec<_>>(),
            ["host", "other"]
        );
    }
}
