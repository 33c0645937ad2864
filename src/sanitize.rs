//! The one sanitiser for text that comes from outside the program (command output, input
//! values, alert text, captures, timelines) before it reaches a terminal: control characters
//! become visible escapes, so that such text can neither move the cursor, erase a line, set the
//! window title, write the clipboard (OSC 52) nor reorder what is shown (bidi overrides).

use std::borrow::Cow;
use std::fmt::Write as _;

/// The text with every control character written as a visible escape: `\r`, `\x1b`, `\x7f`,
/// `\u{9b}`, `\u{202e}`… Newlines and tabs stay. An escape sequence loses its ESC (or C1
/// introducer), so the rest of it shows as plain text and does nothing. Borrowed when the text
/// is clean.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            push_escape(&mut clean, c);
        } else {
            clean.push(c);
        }
    }
    Cow::Owned(clean)
}

/// [`sanitize`] for an owned string, without a copy when it is clean.
pub fn sanitize_owned(text: String) -> String {
    match sanitize(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

/// [`sanitize`] for a text the program has already styled: the escape sequences of `styles`
/// (and their resets) are kept, everything else is sanitised. A value that holds one of those
/// sequences can change a colour, nothing more.
pub fn sanitize_styled(text: &str, styles: &[anstyle::Style]) -> String {
    let mut kept: Vec<String> = styles
        .iter()
        .flat_map(|style| [style.render().to_string(), style.render_reset().to_string()])
        .filter(|sequence| !sequence.is_empty())
        .collect();
    // Longest first, so that a sequence that extends another is kept whole.
    kept.sort_by_key(|sequence| std::cmp::Reverse(sequence.len()));
    let mut clean = String::with_capacity(text.len());
    let mut rest = text;
    // Only a character that starts a kept sequence (ESC) needs the search.
    let starts: Vec<char> = kept.iter().filter_map(|s| s.chars().next()).collect();
    while let Some(c) = rest.chars().next() {
        if starts.contains(&c)
            && let Some(sequence) = kept.iter().find(|s| rest.starts_with(s.as_str()))
        {
            clean.push_str(sequence);
            rest = &rest[sequence.len()..];
            continue;
        }
        if is_unsafe(c) {
            push_escape(&mut clean, c);
        } else {
            clean.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    clean
}

/// Sanitises every string of a JSON value in place (keys included).
pub fn sanitize_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            if let Cow::Owned(clean) = sanitize(text) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sanitize_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                sanitize_json(&mut item);
                map.insert(sanitize_owned(key), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// True for what a terminal acts on instead of showing: C0 controls but `\n` and `\t`, DEL,
/// C1 controls, and the characters that change the direction or the breaking of lines.
fn is_unsafe(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Bidi embeddings, overrides and isolates, and the marks: text shown in another order
        // than it is stored ("Trojan source").
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}' => {
            true
        }
        // Line and paragraph separators: a line break some terminals and viewers honour.
        '\u{2028}' | '\u{2029}' => true,
        _ => false,
    }
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\r' => out.push_str("\\r"),
        '\u{0}'..='\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(text: &str, expected: &str) {
        assert_eq!(sanitize(text), expected, "{text:?}");
    }

    #[test]
    fn control_characters_become_visible() {
        case("plain text, é € 🚨", "plain text, é € 🚨");
        case("two\nlines\tand a tab", "two\nlines\tand a tab");
        case(
            "rm -rf /\r\x1b[2Kecho hello",
            "rm -rf /\\r\\x1b[2Kecho hello",
        );
        case("bell\x07 nul\0 del\x7f", "bell\\x07 nul\\x00 del\\x7f");
        case("\u{9b}2K c1 csi", "\\u{9b}2K c1 csi");
        case("backspace\x08\x08", "backspace\\x08\\x08");
    }

    #[test]
    fn terminal_sequences_lose_their_introducer() {
        // OSC 52: write the clipboard; OSC 0: set the window title; hidden text (SGR 8).
        case("\x1b]52;c;cm0gLXJmIH4K\x07", "\\x1b]52;c;cm0gLXJmIH4K\\x07");
        case("\x1b]0;owned\x1b\\", "\\x1b]0;owned\\x1b\\");
        case("\x1b[8mhidden\x1b[0m", "\\x1b[8mhidden\\x1b[0m");
        case("\u{9d}52;c;eA==\u{9c}", "\\u{9d}52;c;eA==\\u{9c}");
    }

    #[test]
    fn bidi_and_line_separators_are_shown() {
        case("file\u{202e}txt.exe", "file\\u{202e}txt.exe");
        case("a\u{2066}b\u{2069}", "a\\u{2066}b\\u{2069}");
        case("x\u{2028}y", "x\\u{2028}y");
        // Ordinary right-to-left text is left alone.
        case("שלום", "שלום");
    }

    #[test]
    fn styled_text_keeps_its_own_styles_only() {
        let bold = anstyle::Style::new().bold();
        let text = format!("{bold}title{bold:#} value\x1b]52;c;eA==\x07 \x1b[8mhidden");
        assert_eq!(
            sanitize_styled(&text, &[bold]),
            format!("{bold}title{bold:#} value\\x1b]52;c;eA==\\x07 \\x1b[8mhidden")
        );
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(sanitize("nothing to do\n"), Cow::Borrowed(_)));
        assert_eq!(sanitize_owned("a\rb".into()), "a\\rb");
    }

    #[test]
    fn json_strings_and_keys_are_sanitised() {
        let mut value = serde_json::json!({"k\x1b": ["a\rb", 1, {"c": "\x07"}]});
        sanitize_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"k\\x1b": ["a\\rb", 1, {"c": "\\x07"}]})
        );
    }
}
