//! HTTP checks: one blocking client for the whole run, requests that a Ctrl-C abandons at once,
//! failures told in one line, and the judgement of a response against the runbook's
//! expectations (`status`, `body_contains`, `body_matches`).

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Interrupt;
use crate::model::written_duration;

/// The most of a response body that is kept; the rest is not read.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// How often a waiting request looks at the interrupt flag.
const POLL: Duration = Duration::from_millis(50);

/// How long past its timeout a request may go before it is given up without reqwest's word.
const GRACE: Duration = Duration::from_millis(500);

/// A rendered request: templates already filled in by the engine.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Duration,
}

/// What a request gave: a status and a body, or the reason there was no response.
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: Option<u16>,
    /// The body decoded as text (its charset, else UTF-8), at most 16 MiB of it.
    pub body: String,
    pub duration: Duration,
    /// One-line reason when no response: "connection refused", "DNS lookup failed for `x`",
    /// "TLS: …", "timed out after 5s", "interrupted".
    pub error: Option<String>,
}

/// One client for the whole run (connection reuse), Send + Sync.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::blocking::Client,
}

impl HttpClient {
    /// Builds the client: rustls with the OS trust store, the system's proxy settings, and no
    /// redirects followed — a check talks to the URL it names and nowhere else.
    pub fn new() -> Result<HttpClient, String> {
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("runbook/", env!("CARGO_PKG_VERSION")))
            // Each request sets its own limit; this is only the fallback.
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| format!("cannot set up the HTTP client: {}", chain(&error)))?;
        Ok(HttpClient { client })
    }

    /// Sends the request and reads the response. Never fails: a request that got no response
    /// says why in `error`. A set `interrupt` abandons the request within about 50 ms.
    pub fn send(&self, request: &HttpRequest, interrupt: &Interrupt) -> HttpResponse {
        let started = Instant::now();
        let no_response = |error: String| HttpResponse {
            status: None,
            body: String::new(),
            duration: started.elapsed(),
            error: Some(error),
        };
        let prepared = match self.prepare(request) {
            Ok(prepared) => prepared,
            Err(error) => return no_response(error),
        };
        if interrupt.is_set() {
            return no_response("interrupted".to_owned());
        }
        // The blocking client cannot be cancelled, so it runs on a helper thread that is
        // abandoned on Ctrl-C; its own timeout ends it soon after.
        let (sender, receiver) = mpsc::channel();
        let client = self.client.clone();
        let timeout = request.timeout;
        let spawned = std::thread::Builder::new()
            .name("runbook-http".to_owned())
            .spawn(move || {
                let _ = sender.send(perform(&client, prepared, timeout));
            });
        if let Err(error) = spawned {
            return no_response(format!("cannot start the request: {error}"));
        }
        let deadline = started + request.timeout + GRACE;
        loop {
            match receiver.recv_timeout(POLL) {
                Ok(Ok((status, body))) => {
                    return HttpResponse {
                        status: Some(status),
                        body,
                        duration: started.elapsed(),
                        error: None,
                    };
                }
                Ok(Err(error)) => return no_response(error),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return no_response("the request ended without an answer".to_owned());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if interrupt.is_set() {
                        return no_response("interrupted".to_owned());
                    }
                    if Instant::now() >= deadline {
                        return no_response(timed_out(request.timeout));
                    }
                }
            }
        }
    }

    fn prepare(&self, request: &HttpRequest) -> Result<reqwest::blocking::Request, String> {
        let method = reqwest::Method::from_bytes(request.method.trim().as_bytes())
            .map_err(|_| format!("invalid HTTP method `{}`", request.method))?;
        let url = reqwest::Url::parse(request.url.trim())
            .map_err(|error| format!("invalid URL `{}`: {error}", request.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "invalid URL `{}`: the scheme must be http or https",
                request.url
            ));
        }
        let mut builder = self.client.request(method, url).timeout(request.timeout);
        for (name, value) in &request.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name `{name}`"))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header `{name}`"))?;
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        builder.build().map_err(|error| chain(&error))
    }
}

/// Runs one request on the helper thread: the status and the decoded body, or why not.
fn perform(
    client: &reqwest::blocking::Client,
    request: reqwest::blocking::Request,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let host = request.url().host_str().unwrap_or_default().to_owned();
    let response = client
        .execute(request)
        .map_err(|error| describe(&error, &host, timeout))?;
    let status = response.status().as_u16();
    let charset = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(charset)
        .map(str::to_owned);
    let mut bytes = Vec::new();
    response
        .take(MAX_BODY)
        .read_to_end(&mut bytes)
        .map_err(|error| describe_read(&error, timeout))?;
    Ok((status, decode(&bytes, charset.as_deref())))
}

/// The `charset` parameter of a `Content-Type` value.
fn charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// Decodes a body by its charset; UTF-8 when none is named or the name is unknown.
fn decode(bytes: &[u8], charset: Option<&str>) -> String {
    let encoding = charset
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

/// One line on why a request got no response.
fn describe(error: &reqwest::Error, host: &str, timeout: Duration) -> String {
    if error.is_timeout() || sources(error).any(is_timeout) {
        return timed_out(timeout);
    }
    for source in sources(error) {
        let kind = source
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        let message = source.to_string().to_lowercase();
        if kind == Some(std::io::ErrorKind::ConnectionRefused)
            || message.contains("connection refused")
        {
            return "connection refused".to_owned();
        }
        if kind == Some(std::io::ErrorKind::ConnectionReset) || message.contains("connection reset")
        {
            return "connection reset by the server".to_owned();
        }
    }
    let messages: Vec<String> = sources(error).map(ToString::to_string).collect();
    if let Some(position) = messages.iter().position(|message| message == "dns error") {
        let reason = messages[position + 1..]
            .last()
            .map(|reason| {
                reason
                    .trim_start_matches("failed to lookup address information: ")
                    .to_owned()
            })
            .filter(|reason| !reason.is_empty());
        return match reason {
            Some(reason) => format!("DNS lookup failed for `{host}`: {reason}"),
            None => format!("DNS lookup failed for `{host}`"),
        };
    }
    // The first message holds the URL, whose words must not be taken for a TLS failure.
    if let Some(tls) = sources(error).skip(1).find(|source| is_tls(*source)) {
        return format!("TLS: {}", innermost(tls));
    }
    match std::error::Error::source(error) {
        // reqwest's own message only repeats the URL, which is shown beside the error.
        Some(source) if error.url().is_some() => chain(source),
        _ => chain(error),
    }
}

/// One line on why reading the body failed.
fn describe_read(error: &std::io::Error, timeout: Duration) -> String {
    if error.kind() == std::io::ErrorKind::TimedOut || sources(error).any(is_timeout) {
        return timed_out(timeout);
    }
    format!("reading the body: {}", chain(error))
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", written_duration(timeout))
}

fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(error) = error.downcast_ref::<reqwest::Error>() {
        return error.is_timeout();
    }
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        return io.kind() == std::io::ErrorKind::TimedOut;
    }
    false
}

/// rustls errors reach us boxed inside `io::Error`s; they are known by what they say, since the
/// crate does not depend on rustls itself.
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let message = error.to_string().to_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "peer sent",
        "alert",
    ]
    .iter()
    .any(|word| message.contains(word))
}

/// The last error of the chain starting at `error`: the most precise reason.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

fn sources<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |error| error.source())
}

/// The error and its causes joined with ": ", leaving out a message its successor repeats.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let messages: Vec<String> = sources(error)
        .map(ToString::to_string)
        .filter(|message| !message.is_empty())
        .collect();
    let mut kept: Vec<&str> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let repeated = messages
            .get(index + 1)
            .is_some_and(|next| message.contains(next.as_str()));
        if !repeated {
            kept.push(message);
        }
    }
    kept.join(": ")
}

/// Judges a response against the runbook's expectations: `Ok`, or what was expected and what
/// happened, one line each — `("status 200", "status 503")`,
/// ``("body contains `ok`", "body does not contain it: <last line of body>")``.
/// Without an expected `status`, any 2xx passes.
pub fn judge(
    response: &HttpResponse,
    status: Option<u16>,
    body_contains: Option<&str>,
    body_matches: Option<&str>,
) -> Result<(), (String, String)> {
    let expected_status = match status {
        Some(status) => format!("status {status}"),
        None => "status 2xx".to_owned(),
    };
    let Some(actual) = response.status else {
        let error = response.error.as_deref().unwrap_or("no response");
        return Err((expected_status, error.to_owned()));
    };
    let status_ok = match status {
        Some(status) => actual == status,
        None => (200..300).contains(&actual),
    };
    if !status_ok {
        return Err((expected_status, format!("status {actual}")));
    }
    if let Some(needle) = body_contains
        && !response.body.contains(needle)
    {
        return Err((
            format!("body contains `{needle}`"),
            format!("body does not contain it: {}", last_line(&response.body)),
        ));
    }
    if let Some(pattern) = body_matches {
        let expected = format!("body matches `{pattern}`");
        let regex = regex::Regex::new(pattern).map_err(|error| {
            let reason = error.to_string();
            let reason = reason.lines().last().unwrap_or_default().trim().to_owned();
            (expected.clone(), format!("invalid regex: {reason}"))
        })?;
        if !regex.is_match(&response.body) {
            return Err((
                expected,
                format!("body does not match it: {}", last_line(&response.body)),
            ));
        }
    }
    Ok(())
}

/// The last non-blank line of a body, trimmed and cut to 200 characters, or `(empty body)`.
fn last_line(body: &str) -> String {
    let Some(line) = body.lines().map(str::trim).rfind(|line| !line.is_empty()) else {
        return "(empty body)".to_owned();
    };
    let mut cut: String = line.chars().take(200).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status: Some(status),
            body: body.to_owned(),
            ..HttpResponse::default()
        }
    }

    #[track_caller]
    fn case(
        response: HttpResponse,
        status: Option<u16>,
        contains: Option<&str>,
        matches: Option<&str>,
        expected: Result<(), (&str, &str)>,
    ) {
        let expected = expected.map_err(|(want, got)| (want.to_owned(), got.to_owned()));
        assert_eq!(judge(&response, status, contains, matches), expected);
    }

    #[test]
    fn status() {
        case(response(200, ""), None, None, None, Ok(()));
        case(response(204, ""), None, None, None, Ok(()));
        case(response(299, ""), None, None, None, Ok(()));
        case(
            response(301, ""),
            None,
            None,
            None,
            Err(("status 2xx", "status 301")),
        );
        case(
            response(503, "down"),
            Some(200),
            None,
            None,
            Err(("status 200", "status 503")),
        );
        case(response(503, ""), Some(503), None, None, Ok(()));
        case(
            response(200, ""),
            Some(404),
            None,
            None,
            Err(("status 404", "status 200")),
        );
    }

    #[test]
    fn no_response() {
        let refused = HttpResponse {
            error: Some("connection refused".to_owned()),
            ..HttpResponse::default()
        };
        case(
            refused.clone(),
            Some(200),
            Some("ok"),
            None,
            Err(("status 200", "connection refused")),
        );
        case(
            refused,
            None,
            None,
            None,
            Err(("status 2xx", "connection refused")),
        );
        case(
            HttpResponse::default(),
            None,
            None,
            None,
            Err(("status 2xx", "no response")),
        );
    }

    #[test]
    fn body_contains() {
        case(
            response(200, "status: ok\n"),
            None,
            Some("ok"),
            None,
            Ok(()),
        );
        case(
            response(200, "starting\nstatus: degraded\n\n"),
            None,
            Some("ok"),
            None,
            Err((
                "body contains `ok`",
                "body does not contain it: status: degraded",
            )),
        );
        case(
            response(200, ""),
            None,
            Some("ok"),
            None,
            Err((
                "body contains `ok`",
                "body does not contain it: (empty body)",
            )),
        );
        // The status is judged first.
        case(
            response(500, "ok"),
            None,
            Some("ok"),
            None,
            Err(("status 2xx", "status 500")),
        );
    }

    #[test]
    fn body_matches() {
        case(
            response(200, "{\"lag\": 12}"),
            None,
            None,
            Some(r#""lag": \d{1,3}\b"#),
            Ok(()),
        );
        case(
            response(200, "{\"lag\": 12345}"),
            None,
            None,
            Some(r#""lag": \d{1,3}\b"#),
            Err((
                r#"body matches `"lag": \d{1,3}\b`"#,
                r#"body does not match it: {"lag": 12345}"#,
            )),
        );
        case(response(200, "up"), None, Some("up"), Some("^up$"), Ok(()));
        let invalid = judge(&response(200, "x"), None, None, Some("(")).unwrap_err();
        assert_eq!(invalid.0, "body matches `(`");
        assert!(invalid.1.starts_with("invalid regex: "), "{}", invalid.1);
        assert!(!invalid.1.contains('\n'));
    }

    #[test]
    fn last_line_is_cut() {
        let long = "x".repeat(300);
        let line = last_line(&format!("first\n{long}\n"));
        assert_eq!(line.chars().count(), 201);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn charset_and_decoding() {
        assert_eq!(
            charset("text/plain; charset=ISO-8859-1"),
            Some("ISO-8859-1")
        );
        assert_eq!(charset("text/plain;Charset=\"utf-8\""), Some("utf-8"));
        assert_eq!(charset("application/json"), None);
        assert_eq!(decode(b"caf\xe9", Some("iso-8859-1")), "café");
        assert_eq!(decode("café".as_bytes(), None), "café");
        assert_eq!(decode(b"caf\xe9", Some("no-such")), "caf\u{fffd}");
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|layer| layer as _)
        }
    }

    fn layers(messages: &[&'static str]) -> Layer {
        let (last, rest) = messages.split_last().unwrap();
        rest.iter().rev().fold(Layer(last, None), |inner, outer| {
            Layer(outer, Some(Box::new(inner)))
        })
    }

    #[test]
    fn chain_joins_and_leaves_out_repeats() {
        assert_eq!(chain(&layers(&["a", "b", "c"])), "a: b: c");
        assert_eq!(chain(&layers(&["a", "a", "c"])), "a: c");
        assert_eq!(
            chain(&layers(&["io: broken pipe", "broken pipe"])),
            "broken pipe"
        );
        assert_eq!(chain(&layers(&["a", "", "c"])), "a: c");
    }

    #[test]
    fn tls_reason_is_the_innermost() {
        let error = layers(&[
            "client error (Connect)",
            "invalid peer certificate: UnknownIssuer",
        ]);
        let tls = sources(&error).find(|source| is_tls(*source)).unwrap();
        assert_eq!(innermost(tls), "invalid peer certificate: UnknownIssuer");
    }

    #[test]
    fn client_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HttpClient>();
    }
}
