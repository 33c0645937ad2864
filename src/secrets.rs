//! Masking of secret values: every occurrence of a secret input's value becomes `***` before
//! text reaches the timeline or the screen (SPEC section 6).
//!
//! Masking works on whole texts, before anything splits them into lines, and finds a secret
//! in the forms the program itself gives it: shell-quoted (even inside a larger quoted word),
//! JSON-escaped and percent-encoded, and cut by line breaks (`\n` or `\r\n`, as a PEM key or
//! a wrapped output is). Each line of a multi-line secret is a secret of its own too, so
//! that a reader that shows only a line or a tail of an output still shows no part of it.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Characters a match may skip: line breaks, and what shell quoting and escaping insert
/// around and inside a word (`'`, `"`, `\`).
fn is_skipped(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\'' | '"' | '\\')
}

/// The shortest line of a multi-line secret that is masked on its own.
const MIN_FRAGMENT: usize = 4;

/// Replaces secret values with `***`. The default masks nothing.
#[derive(Clone, Default)]
pub struct Masker {
    /// `None` when there is no secret to look for.
    matcher: Option<AhoCorasick>,
    /// How many distinct secrets were given (not counting their derived forms).
    secrets: usize,
}

impl Masker {
    /// A masker for these values; empty strings are ignored. Where two secrets overlap, the
    /// longest one is masked, so a secret that contains another never leaks its remainder.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Masker {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        secrets.sort();
        secrets.dedup();
        if secrets.is_empty() {
            return Masker::default();
        }
        let mut patterns: Vec<String> = secrets
            .iter()
            .flat_map(|secret| forms(secret))
            .map(|form| skeleton(&form).0)
            .filter(|pattern| !pattern.is_empty())
            .collect();
        patterns.sort();
        patterns.dedup();
        if patterns.is_empty() {
            // Only secrets made of quotes and line breaks: nothing can be matched safely.
            return Masker::default();
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .expect("a handful of literal secrets always builds an automaton");
        Masker {
            matcher: Some(matcher),
            secrets: secrets.len(),
        }
    }

    /// The text with every occurrence of a secret replaced by `***`; borrowed when there is
    /// nothing to mask. A match may span line breaks and quotes, which it then covers.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(matcher) = &self.matcher else {
            return Cow::Borrowed(text);
        };
        let (stripped, origin) = skeleton(text);
        let mut ranges = matcher.find_iter(&stripped).map(|found| {
            // From the first matched byte to the end of the last matched character.
            (origin[found.start()], origin[found.end() - 1] + 1)
        });
        let Some(first) = ranges.next() else {
            return Cow::Borrowed(text);
        };
        let mut masked = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end) in std::iter::once(first).chain(ranges) {
            masked.push_str(&text[copied..start]);
            masked.push_str(MASK);
            copied = end;
        }
        masked.push_str(&text[copied..]);
        Cow::Owned(masked)
    }

    /// True when there is no secret to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// How many distinct secrets this masker looks for.
    pub fn len(&self) -> usize {
        self.secrets
    }
}

/// The text without the characters a match may skip, and for each byte of it the offset of
/// that byte in the text.
fn skeleton(text: &str) -> (String, Vec<usize>) {
    let mut stripped = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    for (offset, c) in text.char_indices() {
        if is_skipped(c) {
            continue;
        }
        stripped.push(c);
        origin.extend(offset..offset + c.len_utf8());
    }
    (stripped, origin)
}

/// The forms in which the program may show a secret: as it is, JSON-escaped, percent-encoded
/// (as `| urlencode` and as RFC 3986 do), and each long enough line of a multi-line secret.
/// Shell quoting needs no form of its own: it only adds characters a match skips.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    let json = serde_json::to_string(secret).expect("a string always serializes");
    forms.push(json[1..json.len() - 1].to_string());
    forms.push(percent_encode(secret, b"-._~", false));
    forms.push(percent_encode(secret, b"-._~", true));
    forms.push(percent_encode(secret, b"/.-_", false));
    if secret.contains('\n') {
        forms.extend(
            secret
                .lines()
                .map(str::trim)
                .filter(|line| line.chars().count() >= MIN_FRAGMENT)
                .map(String::from),
        );
    }
    forms
}

/// Percent-encodes every byte but ASCII letters, digits and `keep`; a space as `+` when
/// `plus_for_space` (HTML forms).
fn percent_encode(text: &str, keep: &[u8], plus_for_space: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || keep.contains(&byte) {
            encoded.push(byte as char);
        } else if byte == b' ' && plus_for_space {
            encoded.push('+');
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Never prints the secrets, only how many there are.
impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Masker")
            .field("secrets", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(secrets: &[&str]) -> Masker {
        Masker::new(secrets.iter().map(|s| s.to_string()))
    }

    #[track_caller]
    fn case(secrets: &[&str], text: &str, expected: &str) {
        assert_eq!(masker(secrets).mask(text), expected, "secrets {secrets:?}");
    }

    #[test]
    fn masks_every_occurrence() {
        case(
            &["hunter2"],
            "pass=hunter2 again hunter2",
            "pass=*** again ***",
        );
        case(&["s3cr3t"], "no secret here", "no secret here");
        case(&["a", "b"], "abc", "******c");
        case(&["tok"], "", "");
        case(&["é€"], "x é€ y", "x *** y");
    }

    #[test]
    fn longest_overlapping_secret_wins() {
        case(&["abc", "abcdef"], "xabcdefx", "x***x");
        case(&["abcdef", "abc"], "abc abcdef", "*** ***");
        case(&["cd", "abcdef"], "abcdef", "***");
    }

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nq4s=\n-----END PRIVATE KEY-----";

    #[test]
    fn a_multi_line_secret_is_masked_whole_and_line_by_line() {
        case(&[PEM], &format!("key:\n{PEM}\ndone"), "key:\n***\ndone");
        // The same key with Windows line breaks, or cut into lines by the output.
        case(
            &[PEM],
            &format!("{}\r\n", PEM.replace('\n', "\r\n")),
            "***\r\n",
        );
        // A reader that kept only a line or the tail of the output shows none of it.
        case(&[PEM], "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "***");
        case(
            &[PEM],
            "tail: q4s=\n-----END PRIVATE KEY-----",
            "tail: ***\n***",
        );
    }

    #[test]
    fn a_secret_split_over_two_lines_is_masked() {
        case(&["s3cr3t-token"], "s3cr3t-\ntoken and more", "*** and more");
        case(&["s3cr3t-token"], "s3cr\r\n3t-token", "***");
    }

    #[test]
    fn the_forms_the_program_produces_are_masked() {
        let secret = "to'k\"en $x\\y";
        let masker = masker(&[secret]);
        let shown = |text: &str| masker.mask(text).into_owned();
        // Shell-quoted alone, and inside a larger quoted word (`'Bearer ' ~ token`): no part
        // of it shows, whatever the quotes the quoter put around its pieces.
        let hidden = |masked: &str| {
            masked.contains(MASK)
                && !["to", "k", "en", "x", "y"]
                    .iter()
                    .any(|p| masked.contains(p))
        };
        let quoted = crate::template::shell_quote(secret);
        let masked = shown(&format!("curl -H {quoted}"));
        assert!(hidden(&masked), "{quoted} → {masked}");
        let bearer = crate::template::shell_quote(&format!("Bearer {secret}"));
        let masked = shown(&format!("curl -H {bearer}"));
        assert!(hidden(&masked), "{bearer} → {masked}");
        // JSON-escaped, in a body or in the timeline's own lines.
        let json = serde_json::to_string(&serde_json::json!({ "token": secret })).unwrap();
        assert_eq!(shown(&json), r#"{"token":***}"#.replace("***", "\"***\""));
        // Percent-encoded, as `| urlencode` and RFC 3986 write it.
        assert_eq!(
            shown("https://x/?t=to%27k%22en%20%24x%5Cy"),
            "https://x/?t=***"
        );
        assert_eq!(shown("t=to%27k%22en+%24x%5Cy&u=1"), "t=***&u=1");
    }

    #[test]
    fn a_multi_line_secret_json_escaped_is_masked() {
        let json = serde_json::to_string(PEM).unwrap();
        case(&[PEM], &format!("{{\"key\":{json}}}"), "{\"key\":\"***\"}");
    }

    #[test]
    fn empty_secrets_are_ignored() {
        let masker = masker(&["", ""]);
        assert!(masker.is_empty());
        assert_eq!(masker.mask("anything"), "anything");
        assert!(Masker::default().is_empty());
        assert!(!self::masker(&["", "x"]).is_empty());
    }

    #[test]
    fn borrows_when_nothing_is_masked() {
        assert!(matches!(masker(&["zzz"]).mask("abc"), Cow::Borrowed(_)));
        assert!(matches!(Masker::default().mask("abc"), Cow::Borrowed(_)));
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let debug = format!("{:?}", masker(&["hunter2", "s3cr3t"]));
        assert!(
            !debug.contains("hunter2") && !debug.contains("s3cr3t"),
            "{debug}"
        );
        assert!(debug.contains('2'), "{debug}");
    }
}
