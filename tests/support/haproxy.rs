//! A real HAProxy on 127.0.0.1 for the load-balancer tests: one frontend, one `backend web` with
//! `web-1` … `web-N` on the given ports, and an admin-level runtime socket (driven with `socat`).
//! Killed on drop.
//!
//! HAProxy's own health checks are OFF on purpose: the servers stay `ready` until someone (the
//! runbook's drain) puts them in maintenance, so what the test sees is what the runbook did, not
//! a race with a 200 ms check timer.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::sshd::free_port;

/// A running HAProxy and its files.
pub struct Haproxy {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

/// An HAProxy in front of `backends` (ports of 127.0.0.1, named `web-1` … in that order), or
/// `None` (after a loud note) when `haproxy` or `socat` is not installed. With `CI=true` a
/// missing tool fails the test instead.
pub fn haproxy_or_skip(backends: &[u16]) -> Option<Haproxy> {
    let missing: Vec<&str> = ["haproxy", "socat"]
        .into_iter()
        .filter(|program| find(program).is_none())
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "haproxy not found — install haproxy socat (missing: {})",
            missing.join(", ")
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{message}; CI=true makes this a failure");
        }
        // Straight to stderr: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
        return None;
    }
    Some(Haproxy::start(backends))
}

/// `program` on PATH, or in /usr/sbin and /sbin (where Debian puts haproxy, often off a user's
/// PATH).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn config(dir: &Path, port: u16, backends: &[u16]) -> String {
    let mut config = format!(
        "global\n\
         \x20   stats socket \"{socket}\" mode 600 level admin\n\
         \x20   maxconn 256\n\
         \n\
         defaults\n\
         \x20   mode http\n\
         \x20   timeout connect 1s\n\
         \x20   timeout client 5s\n\
         \x20   timeout server 5s\n\
         \n\
         frontend front\n\
         \x20   bind 127.0.0.1:{port}\n\
         \x20   default_backend web\n\
         \n\
         backend web\n\
         \x20   balance roundrobin\n",
        socket = dir.join("admin.sock").display(),
    );
    for (n, backend) in backends.iter().enumerate() {
        config.push_str(&format!("    server web-{} 127.0.0.1:{backend}\n", n + 1));
    }
    config
}

impl Haproxy {
    /// Starts `haproxy -db` (foreground) and waits until the frontend accepts connections and
    /// the admin socket answers.
    pub fn start(backends: &[u16]) -> Haproxy {
        let haproxy = find("haproxy").expect("haproxy is installed");
        let dir = tempfile::Builder::new()
            .prefix("runbook-haproxy-")
            .tempdir()
            .expect("a temporary directory");
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let cfg = dir.path().join("haproxy.cfg");
            std::fs::write(&cfg, config(dir.path(), port, backends)).expect("write haproxy.cfg");
            let _ = std::fs::remove_file(dir.path().join("admin.sock"));
            let log = std::fs::File::create(dir.path().join("haproxy.log")).expect("haproxy log");
            let mut child = Command::new(&haproxy)
                .arg("-f")
                .arg(&cfg)
                .arg("-db")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("haproxy log"))
                .stderr(log)
                .spawn()
                .expect("haproxy starts");
            let until = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && dir.path().join("admin.sock").exists()
                {
                    return Haproxy { dir, child, port };
                }
                if matches!(child.try_wait(), Ok(Some(_))) || Instant::now() > until {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_log =
                        std::fs::read_to_string(dir.path().join("haproxy.log")).unwrap_or_default();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Most likely the port was taken in between: try another one.
        }
        panic!("haproxy did not start; its log:\n{last_log}");
    }

    /// The admin socket (`level admin`), for `socat stdio SOCKET`.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn frontend_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What HAProxy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }

    /// Sends one runtime API command through `socat` and returns its answer.
    pub fn admin(&self, command: &str) -> String {
        let mut child = Command::new("socat")
            .arg("stdio")
            .arg(self.socket())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("socat starts");
        child
            .stdin
            .take()
            .expect("socat stdin")
            .write_all(format!("{command}\n").as_bytes())
            .expect("write to socat");
        let output = child.wait_with_output().expect("socat runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The administrative state of server `name` of backend `web`, from the `srv_admin_state`
    /// column of `show servers state web`: `"ready"` (0), `"maint"` (any maintenance bit:
    /// forced 0x01, inherited 0x02, config 0x04, resolution 0x20, hostname 0x40) or `"drain"`
    /// (0x08 or 0x10). Panics when the server is not listed.
    pub fn server_state(&self, name: &str) -> String {
        let answer = self.admin("show servers state web");
        let mut columns: Vec<&str> = Vec::new();
        for line in answer.lines() {
            if let Some(header) = line.strip_prefix('#') {
                columns = header.split_whitespace().collect();
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let column = |wanted: &str| {
                columns
                    .iter()
                    .position(|c| *c == wanted)
                    .and_then(|i| fields.get(i).copied())
            };
            if column("srv_name") != Some(name) {
                continue;
            }
            let admin: u32 = column("srv_admin_state")
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("no srv_admin_state for {name} in:\n{answer}"));
            return if admin & 0x67 != 0 {
                "maint"
            } else if admin & 0x18 != 0 {
                "drain"
            } else {
                "ready"
            }
            .to_owned();
        }
        panic!("server web/{name} not in `show servers state web`:\n{answer}");
    }

    /// Stops HAProxy as a crash would: the process is gone, its admin socket file stays behind
    /// (nothing listens on it any more).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `GET path` through the frontend: the status code, or 0 when there was no answer.
    pub fn get(&self, path: &str) -> u16 {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return 0;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return 0;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
