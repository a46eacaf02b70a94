//! A throwaway Redis for a test, a benchmark or a conformance run: `redis-server` (Debian's,
//! installed by `scripts/setup.sh`) on a free loopback port with no persistence, in a directory
//! of its own; stopped by PID when dropped. Never the system service.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long `redis-server` may take to say it is ready (it prints the line at once; this only
/// bounds a broken install).
const READY_WITHIN: Duration = Duration::from_secs(20);

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// Serving TLS only (`rediss://`), see [`Redis::start_tls`].
    tls: bool,
}

/// A certificate for a TLS Redis: the chain (leaf first) and the leaf's key, as PEM, and the CA
/// that signed it (Redis needs a CA file even when it does not ask clients for certificates).
pub struct TlsFiles<'a> {
    pub chain_pem: &'a str,
    pub key_pem: &'a str,
    pub ca_pem: &'a str,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Redis {
    /// Starts on a free port; panics (naming the cause) if it cannot.
    pub fn start() -> Redis {
        Redis::start_on(free_port())
    }

    /// Starts on `port` (e.g. again after [`Redis::stop`], as a restarted Redis would be).
    pub fn start_on(port: u16) -> Redis {
        Redis::try_start_on(port).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Redis::start`], with the cause as an error.
    pub fn try_start() -> Result<Redis, String> {
        Redis::try_start_on(free_port())
    }

    /// Starts on a free port serving TLS only (`rediss://`, no plain port), presenting `files`;
    /// clients are not asked for certificates.
    pub fn start_tls(files: &TlsFiles) -> Redis {
        Redis::try_start_with(free_port(), Some(files)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_on(port: u16) -> Result<Redis, String> {
        Redis::try_start_with(port, None)
    }

    fn try_start_with(port: u16, tls: Option<&TlsFiles>) -> Result<Redis, String> {
        let dir =
            std::env::temp_dir().join(format!("roomlink-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("redis dir {}: {e}", dir.display()))?;
        let mut command = Command::new("redis-server");
        match tls {
            None => command.args(["--port", &port.to_string()]),
            Some(files) => {
                let write = |name: &str, pem: &str| {
                    let path = dir.join(name);
                    std::fs::write(&path, pem)
                        .map(|()| path)
                        .map_err(|e| format!("redis TLS file {name}: {e}"))
                };
                let (cert, key) = (
                    write("tls.crt", files.chain_pem)?,
                    write("tls.key", files.key_pem)?,
                );
                let ca = write("ca.crt", files.ca_pem)?;
                command
                    .args(["--port", "0", "--tls-port", &port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(cert)
                    .arg("--tls-key-file")
                    .arg(key)
                    .arg("--tls-ca-cert-file")
                    .arg(ca)
                    .args(["--tls-auth-clients", "no"])
            }
        };
        let mut child = command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("redis-server does not run ({e}); scripts/setup.sh installs it")
            })?;
        // Ready when it says so: no polling of the port.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut said = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    // Then keep reading until it exits, so the pipe never fills and blocks it.
                    let _ = tx.send(Ok(()));
                    continue;
                }
                said.push(line);
            }
            let _ = tx.send(Err(said.join("\n")));
        });
        let mut redis = Redis {
            child: Some(child),
            port,
            dir,
            tls: tls.is_some(),
        };
        match rx.recv_timeout(READY_WITHIN) {
            Ok(Ok(())) => Ok(redis),
            Ok(Err(out)) => {
                redis.stop();
                Err(format!("redis-server on port {port} exited:\n{out}"))
            }
            Err(_) => {
                redis.stop();
                Err(format!(
                    "redis-server on port {port} not ready within {READY_WITHIN:?}"
                ))
            }
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Freezes the process (SIGSTOP): connections stay open but nothing answers, as in a
    /// network partition. [`Redis::resume`] thaws it with its data.
    pub fn pause(&self) {
        signal(self.pid(), "STOP");
    }

    pub fn resume(&self) {
        signal(self.pid(), "CONT");
    }

    /// Kills the process (its data is gone: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {pid}");
}

impl Drop for Redis {
    fn drop(&mut self) {
        // SIGKILL ends a stopped (paused) process too.
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
