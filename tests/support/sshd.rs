//! A real OpenSSH server on 127.0.0.1 for the SSH tests: throw-away host and user keys, and a
//! client config with aliases `web-1` … `web-N`, `lb-1`, `dead` (a closed port) and `stranger` (the
//! same server, but an empty known_hosts). Killed on drop.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd and the files around it.
pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
}

/// An sshd for the test, or `None` (after a loud note) when OpenSSH is not installed. With
/// `CI=true` a missing OpenSSH fails the test instead.
pub fn sshd_or_skip() -> Option<Sshd> {
    let missing: Vec<&str> = [
        (SSHD, Path::new(SSHD).is_file()),
        ("ssh", on_path("ssh")),
        ("ssh-keygen", on_path("ssh-keygen")),
    ]
    .into_iter()
    .filter(|(_, found)| !found)
    .map(|(name, _)| name)
    .collect();
    if !missing.is_empty() {
        let message = format!(
            "sshd not found — install openssh-server (missing: {})",
            missing.join(", ")
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{message}; CI=true makes this a failure");
        }
        // Straight to stderr: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
        return None;
    }
    Some(Sshd::start(4))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A port that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "runbook-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn write(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path).expect("create a test file");
    file.write_all(text.as_bytes()).expect("write a test file");
}

impl Sshd {
    /// Starts sshd with `hosts` aliases `web-1` … `web-N` in the client config.
    pub fn start(hosts: usize) -> Sshd {
        // sshd running as root wants its privilege separation directory.
        if nix::unistd::Uid::effective().is_root() && !Path::new("/run/sshd").exists() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let dir = tempfile::Builder::new()
            .prefix("runbook-sshd-")
            .tempdir()
            .expect("a temporary directory");
        let path = |name: &str| dir.path().join(name);
        keygen(&path("host_key"));
        keygen(&path("user_key"));
        std::fs::copy(path("user_key.pub"), path("authorized_keys")).expect("authorized_keys");
        let host_key = std::fs::read_to_string(path("host_key.pub")).expect("host key");
        let host_key: Vec<&str> = host_key.split_whitespace().take(2).collect();
        write(&path("stranger_known_hosts"), "");

        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            write(
                &path("known_hosts"),
                &format!("[127.0.0.1]:{port} {}\n", host_key.join(" ")),
            );
            write(
                &path("sshd_config"),
                &format!(
                    "ListenAddress 127.0.0.1:{port}\n\
                     HostKey \"{host_key}\"\n\
                     AuthorizedKeysFile \"{authorized}\"\n\
                     PidFile \"{pid}\"\n\
                     StrictModes no\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     UsePAM no\n\
                     MaxStartups 100\n\
                     MaxSessions 100\n",
                    host_key = path("host_key").display(),
                    authorized = path("authorized_keys").display(),
                    pid = path("sshd.pid").display(),
                ),
            );
            write(&path("ssh_config"), &client_config(dir.path(), port, hosts));
            let log = std::fs::File::create(path("sshd.log")).expect("sshd log");
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(path("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("sshd starts");
            let until = Instant::now() + Duration::from_secs(10);
            loop {
                last_log = std::fs::read_to_string(path("sshd.log")).unwrap_or_default();
                if last_log.contains("Server listening on") {
                    return Sshd { dir, child, port };
                }
                if matches!(child.try_wait(), Ok(Some(_))) || Instant::now() > until {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    /// The client config to pass as `-F`.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// A client config named `NAME_config`: `prefix` (whose options win, ssh keeping the first
    /// value it finds), then the usual config.
    pub fn config_with_prefix(&self, name: &str, prefix: &str) -> PathBuf {
        let usual = std::fs::read_to_string(self.config()).expect("the client config");
        let path = self.dir.path().join(format!("{name}_config"));
        write(&path, &format!("{prefix}{usual}"));
        path
    }

    /// The known_hosts file of `stranger`, empty to begin with.
    pub fn stranger_known_hosts(&self) -> PathBuf {
        self.dir.path().join("stranger_known_hosts")
    }

    /// The private key that the server accepts, for destinations written without an alias.
    pub fn user_key(&self) -> PathBuf {
        self.dir.path().join("user_key")
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// How many SSH connections the server accepted (authenticated) so far.
    pub fn connections(&self) -> usize {
        self.log().matches("Accepted publickey").count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `web-1` … `web-N`, `lb-1` and `stranger` on the server; `dead` on a closed port. `Host *` last: for
/// each option ssh keeps the first value it finds, so `stranger` keeps its own known_hosts.
fn client_config(dir: &Path, port: u16, hosts: usize) -> String {
    let mut config = String::new();
    for n in 1..=hosts {
        config.push_str(&format!(
            "Host web-{n}\n  HostName 127.0.0.1\n  Port {port}\n"
        ));
    }
    config.push_str(&format!(
        "Host lb-1\n  HostName 127.0.0.1\n  Port {port}\n\
         Host dead\n  HostName 127.0.0.1\n  Port {dead}\n\
         Host stranger\n  HostName 127.0.0.1\n  Port {port}\n  UserKnownHostsFile \"{stranger}\"\n\
         Host *\n  IdentityFile \"{key}\"\n  IdentitiesOnly yes\n  UserKnownHostsFile \"{known}\"\n  \
         GlobalKnownHostsFile /dev/null\n",
        dead = free_port(),
        stranger = dir.join("stranger_known_hosts").display(),
        key = dir.join("user_key").display(),
        known = dir.join("known_hosts").display(),
    ));
    config
}
