//! HTTP checks against real servers on 127.0.0.1: what is sent, what comes back, and the
//! one-line reasons when nothing does. No other network is touched.

mod support;

use std::time::{Duration, Instant};

use runbook::execute::transport::{HttpClient, HttpRequest, HttpResponse, Interrupt, judge};
use support::http::{Route, Server, closed_port, speaks_first};

fn get(url: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".to_owned(),
        url: url.to_owned(),
        headers: Vec::new(),
        body: None,
        timeout: Duration::from_secs(5),
    }
}

fn send(request: &HttpRequest) -> HttpResponse {
    HttpClient::new()
        .expect("client")
        .send(request, &Interrupt::default())
}

#[test]
fn ok_with_body_contains() {
    let server = Server::start();
    server.route("/health", Route::new(200, "status: ok\n"));
    let response = send(&get(&server.url("/health")));
    assert_eq!(response.error, None);
    assert_eq!(response.status, Some(200));
    assert_eq!(response.body, "status: ok\n");
    assert_eq!(judge(&response, Some(200), Some("ok"), None), Ok(()));
    assert_eq!(judge(&response, None, Some("ok"), None), Ok(()));
}

#[test]
fn status_mismatch() {
    let server = Server::start();
    server.route("/health", Route::new(503, "upstream down\n"));
    let response = send(&get(&server.url("/health")));
    assert_eq!(response.status, Some(503));
    assert_eq!(
        judge(&response, Some(200), Some("ok"), None),
        Err(("status 200".to_owned(), "status 503".to_owned()))
    );
    assert_eq!(
        judge(&response, None, None, None),
        Err(("status 2xx".to_owned(), "status 503".to_owned()))
    );
}

#[test]
fn body_contains_mismatch_shows_last_line() {
    let server = Server::start();
    server.route("/health", Route::new(200, "checking\nstatus: degraded\n"));
    let response = send(&get(&server.url("/health")));
    assert_eq!(
        judge(&response, None, Some("ok"), None),
        Err((
            "body contains `ok`".to_owned(),
            "body does not contain it: status: degraded".to_owned()
        ))
    );
}

#[test]
fn body_matches() {
    let server = Server::start();
    server.route("/lag", Route::new(200, "{\"lag\": 42}"));
    let response = send(&get(&server.url("/lag")));
    assert_eq!(judge(&response, None, None, Some(r#""lag": \d+"#)), Ok(()));
    assert_eq!(
        judge(&response, None, None, Some(r#""lag": 0\b"#)),
        Err((
            r#"body matches `"lag": 0\b`"#.to_owned(),
            r#"body does not match it: {"lag": 42}"#.to_owned()
        ))
    );
}

#[test]
fn post_sends_method_headers_and_body() {
    let server = Server::start();
    server.route("/deploy", Route::new(201, "created"));
    let request = HttpRequest {
        method: "POST".to_owned(),
        url: server.url("/deploy"),
        headers: vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("X-Runbook".to_owned(), "user-sync".to_owned()),
        ],
        body: Some("{\"version\": \"1.2.3\"}".to_owned()),
        timeout: Duration::from_secs(5),
    };
    let response = send(&request);
    assert_eq!(response.status, Some(201));
    assert_eq!(judge(&response, Some(201), Some("created"), None), Ok(()));
    let received = server.received();
    assert_eq!(received.len(), 1);
    let received = &received[0];
    assert_eq!(received.method, "POST");
    assert_eq!(received.path, "/deploy");
    assert_eq!(received.header("content-type"), Some("application/json"));
    assert_eq!(received.header("x-runbook"), Some("user-sync"));
    assert!(
        received
            .header("user-agent")
            .is_some_and(|agent| agent.starts_with("runbook/"))
    );
    assert_eq!(received.body, "{\"version\": \"1.2.3\"}");
}

#[test]
fn redirects_are_not_followed() {
    let server = Server::start();
    server.route("/old", Route::new(302, "").header("Location", "/new"));
    server.route("/new", Route::new(200, "ok"));
    let response = send(&get(&server.url("/old")));
    assert_eq!(response.status, Some(302));
    assert_eq!(
        judge(&response, None, None, None),
        Err(("status 2xx".to_owned(), "status 302".to_owned()))
    );
    assert_eq!(server.received().len(), 1);
}

#[test]
fn body_is_decoded_by_its_charset() {
    let server = Server::start();
    server.route(
        "/latin1",
        Route::bytes(200, b"caf\xe9 ok").header("Content-Type", "text/plain; charset=ISO-8859-1"),
    );
    server.route("/utf8", Route::new(200, "café ok"));
    let response = send(&get(&server.url("/latin1")));
    assert_eq!(response.body, "café ok");
    assert_eq!(judge(&response, None, Some("café"), None), Ok(()));
    let response = send(&get(&server.url("/utf8")));
    assert_eq!(response.body, "café ok");
}

#[test]
fn slow_endpoint_times_out() {
    let server = Server::start();
    server.route(
        "/slow",
        Route::new(200, "late").delay(Duration::from_secs(5)),
    );
    let mut request = get(&server.url("/slow"));
    request.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let response = send(&request);
    assert!(started.elapsed() < Duration::from_secs(3), "{response:?}");
    assert_eq!(response.status, None);
    assert_eq!(response.error.as_deref(), Some("timed out after 500ms"));
    assert_eq!(
        judge(&response, Some(200), None, None),
        Err(("status 200".to_owned(), "timed out after 500ms".to_owned()))
    );
}

#[test]
fn timeout_is_told_in_seconds() {
    let server = Server::start();
    server.route(
        "/slow",
        Route::new(200, "late").delay(Duration::from_secs(5)),
    );
    let mut request = get(&server.url("/slow"));
    request.timeout = Duration::from_secs(1);
    let response = send(&request);
    assert_eq!(response.error.as_deref(), Some("timed out after 1s"));
}

#[test]
fn connection_refused() {
    let request = get(&format!("http://127.0.0.1:{}/health", closed_port()));
    let response = send(&request);
    assert_eq!(response.status, None);
    assert_eq!(response.error.as_deref(), Some("connection refused"));
}

#[test]
fn dns_failure_names_the_host() {
    let mut request = get("http://no-such-host.invalid/health");
    request.timeout = Duration::from_secs(3);
    let response = send(&request);
    assert_eq!(response.status, None);
    let error = response.error.expect("an error");
    // The resolver should refuse `.invalid` at once; if it stalls, the timeout ends it.
    assert!(
        error.starts_with("DNS lookup failed for `no-such-host.invalid`")
            || error == "timed out after 3s",
        "{error}"
    );
}

#[test]
fn tls_failure_is_named() {
    // A server that answers a TLS handshake in plain HTTP.
    let port = speaks_first("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    let url = format!("https://127.0.0.1:{port}/health");
    let response = send(&get(&url));
    assert_eq!(response.status, None);
    let error = response.error.expect("an error");
    assert!(error.starts_with("TLS: "), "{error}");
    assert!(error.contains("corrupt message"), "{error}");
    assert!(!error.contains('\n'), "{error}");
}

#[test]
fn invalid_url_and_method() {
    let response = send(&get("not a url"));
    assert!(
        response
            .error
            .as_deref()
            .is_some_and(|error| error.starts_with("invalid URL `not a url`")),
        "{response:?}"
    );
    let response = send(&get("ftp://127.0.0.1/file"));
    assert!(
        response
            .error
            .as_deref()
            .is_some_and(|error| error.contains("scheme must be http or https")),
        "{response:?}"
    );
    let mut request = get("http://127.0.0.1:1/");
    request.method = "GE T".to_owned();
    assert_eq!(
        send(&request).error.as_deref(),
        Some("invalid HTTP method `GE T`")
    );
}

#[test]
fn interrupt_returns_promptly() {
    let server = Server::start();
    server.route(
        "/slow",
        Route::new(200, "late").delay(Duration::from_secs(10)),
    );
    let mut request = get(&server.url("/slow"));
    request.timeout = Duration::from_secs(30);
    let interrupt = Interrupt::default();
    let setter = interrupt.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        setter.set();
    });
    let client = HttpClient::new().expect("client");
    let started = Instant::now();
    let response = client.send(&request, &interrupt);
    let elapsed = started.elapsed();
    assert_eq!(response.error.as_deref(), Some("interrupted"));
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
}

#[test]
fn one_client_serves_many_threads() {
    let server = Server::start();
    server.route("/health", Route::new(200, "ok"));
    let client = HttpClient::new().expect("client");
    let url = server.url("/health");
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let response = client.send(&get(&url), &Interrupt::default());
                assert_eq!(judge(&response, None, Some("ok"), None), Ok(()));
            });
        }
    });
    assert_eq!(server.received().len(), 8);
}
