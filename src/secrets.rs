//! Masking of secret values: every occurrence of a secret input's value becomes `***` before
//! text reaches the timeline or the screen (SPEC section 6).

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Replaces secret values with `***`. The default masks nothing.
#[derive(Clone, Default)]
pub struct Masker {
    /// `None` when there is no secret to look for.
    matcher: Option<AhoCorasick>,
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
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&secrets)
            .expect("a handful of literal secrets always builds an automaton");
        Masker {
            matcher: Some(matcher),
        }
    }

    /// The text with every occurrence of a secret replaced by `***`; borrowed when there is
    /// nothing to mask.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(matcher) if matcher.is_match(text) => {
                let mut masked = String::with_capacity(text.len());
                matcher.replace_all_with(text, &mut masked, |_, _, out| {
                    out.push_str(MASK);
                    true
                });
                Cow::Owned(masked)
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// True when there is no secret to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// How many distinct secrets this masker looks for.
    pub fn len(&self) -> usize {
        self.matcher.as_ref().map_or(0, AhoCorasick::patterns_len)
    }
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
