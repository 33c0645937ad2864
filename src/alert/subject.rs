//! Alertmanager's default notification subject, `[FIRING:2] KubePodCrashLooping (prod api)`:
//! the status, the count, the group's alert name and the common label values. Read so that a
//! subject pasted from an e-mail or a chat message is an alert with a name, not a service
//! called `FIRING:2`.

/// A subject taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `firing` or `resolved`, lowercased.
    pub status: String,
    /// How many alerts the notification held (`[FIRING:3]`); 1 when not said.
    pub count: u32,
    /// The first group label value, when it reads like an alert name.
    pub alertname: Option<String>,
    /// The rest of the subject after the status bracket.
    pub rest: String,
}

/// Reads `[FIRING:N] …` or `[RESOLVED] …`; `None` for any other text.
pub fn parse(text: &str) -> Option<Subject> {
    let text = text.trim_start();
    let inner = text.strip_prefix('[')?;
    let (status_part, rest) = inner.split_once(']')?;
    let (status, count) = match status_part.split_once(':') {
        Some((status, count)) => (status.trim(), count.trim().parse().ok()?),
        None => (status_part.trim(), 1),
    };
    if !["FIRING", "RESOLVED"].contains(&status.to_ascii_uppercase().as_str()) {
        return None;
    }
    let rest = rest.trim().to_string();
    let alertname = rest
        .split_whitespace()
        .next()
        .filter(|word| is_alert_name(word))
        .map(str::to_string);
    Some(Subject {
        status: status.to_ascii_lowercase(),
        count,
        alertname,
        rest,
    })
}

/// Prometheus alert names are identifiers: `[A-Za-z_][A-Za-z0-9_]*`, with a capital or `_`
/// somewhere in practice (`KubePodCrashLooping`, `node_down`); a plain lowercase word is more
/// likely the start of a sentence.
fn is_alert_name(word: &str) -> bool {
    let mut chars = word.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && word
            .chars()
            .skip(1)
            .any(|c| c.is_ascii_uppercase() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(text: &str, expected: Option<(&str, u32, Option<&str>)>) {
        let found = parse(text);
        let found = found
            .as_ref()
            .map(|s| (s.status.as_str(), s.count, s.alertname.as_deref()));
        assert_eq!(found, expected, "{text}");
    }

    #[test]
    fn subjects_are_read() {
        case(
            "[FIRING:1] KubePodCrashLooping (default crashy kube-state-metrics critical)",
            Some(("firing", 1, Some("KubePodCrashLooping"))),
        );
        case(
            "[FIRING:12] NodeFilesystemSpaceFillingUp",
            Some(("firing", 12, Some("NodeFilesystemSpaceFillingUp"))),
        );
        case(
            "[RESOLVED] TargetDown (node)",
            Some(("resolved", 1, Some("TargetDown"))),
        );
        case("[FIRING:2] disk is full", Some(("firing", 2, None)));
        case("[payments-api] refund stuck", None);
        case("[FIRING:x] Foo", None);
    }
}
