//! A tiny HTTP/1.1 server on 127.0.0.1 for the HTTP tests: each path answers with a set status,
//! body and delay, and every request it gets is kept for the test to look at.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How one path answers.
#[derive(Debug, Clone)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Route {
    pub fn new(status: u16, body: &str) -> Route {
        Route {
            status,
            body: body.as_bytes().to_vec(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A body of raw bytes, for text in another charset.
    pub fn bytes(status: u16, body: &[u8]) -> Route {
        Route {
            body: body.to_vec(),
            ..Route::new(status, "")
        }
    }

    pub fn delay(mut self, delay: Duration) -> Route {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A running server; it lives until the test process ends.
pub struct Server {
    address: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    /// Starts a server on a free port of 127.0.0.1. Paths without a route answer 404.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (server_routes, server_received) = (Arc::clone(&routes), Arc::clone(&received));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let routes = Arc::clone(&server_routes);
                let received = Arc::clone(&server_received);
                std::thread::spawn(move || {
                    let _ = serve(stream, &routes, &received);
                });
            }
        });
        Server {
            address,
            routes,
            received,
        }
    }

    pub fn route(&self, path: &str, route: Route) -> &Server {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
        self
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A port on 127.0.0.1 where nothing listens: bound, then let go.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A port on 127.0.0.1 where every connection is sent `reply` at once, read from for a moment,
/// then closed: a server that speaks plain text to a TLS client.
pub fn speaks_first(reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.write_all(reply.as_bytes());
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = stream.read(&mut [0; 4096]);
            });
        }
    });
    port
}

/// Answers one connection: one request, then `Connection: close`.
fn serve(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    received: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    received.lock().unwrap().push(Received {
        method,
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let route = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Route::new(404, "not found\n"));
    std::thread::sleep(route.delay);
    let mut response = format!(
        "HTTP/1.1 {} Status\r\nContent-Length: {}\r\nConnection: close\r\n",
        route.status,
        route.body.len()
    );
    for (name, value) in &route.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    let mut stream = stream;
    stream.write_all(response.as_bytes())?;
    stream.write_all(&route.body)?;
    stream.flush()
}
