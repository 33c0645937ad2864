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

/// A Ctrl-C abandons a request that would otherwise wait for the server's 10 s: the answer
/// is "interrupted", not the late body. (The client is made before the interrupt is armed:
/// loading the trust store took longer than the old fixed delay on a busy machine.)
#[test]
fn interrupt_returns_promptly() {
    let server = Server::start();
    server.route(
        "/slow",
        Route::new(200, "late").delay(Duration::from_secs(10)),
    );
    let mut request = get(&server.url("/slow"));
    request.timeout = Duration::from_secs(30);
    let client = HttpClient::new().expect("client");
    let interrupt = Interrupt::default();
    let setter = interrupt.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        setter.set();
    });
    let started = Instant::now();
    let response = client.send(&request, &interrupt);
    assert_eq!(response.error.as_deref(), Some("interrupted"));
    assert_eq!(response.body, "", "the late body never arrives");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "it did not wait for the server"
    );
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

/// Runs a one-step runbook whose check sends `http` (YAML flow mapping), with `--set`s, and
/// returns the exit code and what was printed.
fn run_http_check(http: &str, sets: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attack.yaml");
    std::fs::write(
        &path,
        format!(
            "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: {{ services: [s] }}\ninputs:\n  v: {{ description: a value }}\nsteps:\n  - id: call\n    name: Call\n    check:\n      http: {http}\n    on_failure: stop\n"
        ),
    )
    .unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args(["run", "--yes", "--incident", "INC-1"])
        .arg(&path);
    for (name, value) in sets {
        command.arg("--set").arg(format!("{name}={value}"));
    }
    let out = command.stdin(std::process::Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// An input could move the request (and its Bearer token) to another server: values in a
/// URL were substituted as they are.
#[test]
fn a_value_cannot_change_the_host_or_port() {
    let good = Server::start();
    good.route("/health", Route::new(200, "ok"));
    let evil = Server::start();
    evil.route("/steal", Route::new(200, "ok"));
    for (url, value) in [
        (
            "http://127.0.0.1:{{ inputs.v }}/health".to_string(),
            format!("{}/steal#", evil.port()),
        ),
        (
            format!("http://{{{{ inputs.v }}}}:{}/health", good.port()),
            format!("127.0.0.1:{}/steal#", evil.port()),
        ),
        (
            format!("http://127.0.0.1:{}{{{{ inputs.v }}}}/health", good.port()),
            format!("@127.0.0.1:{}/steal#", evil.port()),
        ),
    ] {
        let http = format!("{{ url: \"{url}\", headers: {{ Authorization: Bearer s3cret }} }}");
        let (_, output) = run_http_check(&http, &[("v", &value)]);
        assert!(
            evil.received().is_empty(),
            "`{value}` in `{url}` sent the request elsewhere:\n{output}"
        );
    }
}

/// An input could add query parameters or path segments.
#[test]
fn a_value_stays_one_path_segment_or_query_value() {
    let server = Server::start();
    server.route(
        "/users/x%2F..%2Fadmin%3Fx%3Dy%26z%23",
        Route::new(200, "ok"),
    );
    let http = format!(
        "{{ url: \"{}/users/{{{{ inputs.v }}}}?q={{{{ inputs.v }}}}\" }}",
        server.url("")
    );
    let (code, output) = run_http_check(&http, &[("v", "x/../admin?x=y&z#")]);
    // The exit code depends on the route; what the server got is the point.
    let received = server.received();
    assert_eq!(received.len(), 1, "{output}");
    assert_eq!(
        received[0].path, "/users/x%2F..%2Fadmin%3Fx%3Dy%26z%23?q=x%2F..%2Fadmin%3Fx%3Dy%26z%23",
        "{output}"
    );
    let _ = code;
}

/// An input could add keys to a JSON body.
#[test]
fn a_value_cannot_add_keys_to_a_json_body() {
    let server = Server::start();
    server.route("/users", Route::new(200, "ok"));
    let http = format!(
        "{{ url: \"{}\", method: POST, headers: {{ Content-Type: application/json }}, body: '{{\"role\": \"viewer\", \"name\": \"{{{{ inputs.v }}}}\"}}' }}",
        server.url("/users")
    );
    let attack = "x\", \"role\": \"admin\", \"y\": \"";
    let (code, output) = run_http_check(&http, &[("v", attack)]);
    let received = server.received();
    assert_eq!(received.len(), 1, "{output}");
    let body: serde_json::Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["role"], "viewer", "{}", received[0].body);
    assert_eq!(body["name"], attack);
    assert_eq!(body.as_object().unwrap().len(), 2);
    assert_eq!(code, 0, "{output}");
}

/// The confirmation of an HTTP action showed only the method and URL: the body and headers
/// went out unseen.
#[test]
fn an_http_action_shows_everything_it_sends_with_secrets_masked() {
    let server = Server::start();
    server.route("/drain", Route::new(200, "ok"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("action.yaml");
    std::fs::write(
        &path,
        format!(
            "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: {{ services: [s] }}\ninputs:\n  token: {{ secret: true }}\nsteps:\n  - id: drain\n    name: Drain\n    action:\n      http: {{ url: \"{}\", method: POST, headers: {{ Authorization: \"Bearer {{{{ inputs.token }}}}\", Content-Type: application/json }}, body: '{{\"backend\": \"web-2\"}}' }}\n      irreversible: test\n",
            server.url("/drain")
        ),
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    // `irreversible` belongs to another change; without it the runbook is the same.
    let text = text.replace("      irreversible: test\n", "");
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runbook"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args([
            "run",
            "--yes",
            "--incident",
            "INC-1",
            "--set",
            "token=s3cr3t-value",
        ])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shown.contains("POST http://"), "{shown}");
    assert!(shown.contains("Content-Type: application/json"), "{shown}");
    assert!(shown.contains("{\"backend\": \"web-2\"}"), "{shown}");
    assert!(shown.contains("Authorization: Bearer ***"), "{shown}");
    assert!(!shown.contains("s3cr3t-value"), "{shown}");
    assert_eq!(server.received().len(), 1, "{shown}");
}
