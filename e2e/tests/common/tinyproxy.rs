//! A real HTTP proxy for the tests: Debian's `tinyproxy` (installed by `scripts/setup.sh`), with
//! a config the test writes, on a free loopback port, started and stopped by PID.
//!
//! Without tinyproxy the tests skip with a message, except in CI (`CI=true`), where a missing
//! prerequisite is a failure.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::PATIENCE;

pub struct Tinyproxy {
    child: Option<Child>,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Tinyproxy {
    /// Starts tinyproxy; with `auth`, it demands that user and password (`BasicAuth`). `None`
    /// when tinyproxy is not installed (outside CI: the caller skips).
    pub async fn start(auth: Option<(&str, &str)>) -> Option<Tinyproxy> {
        if Command::new("tinyproxy")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            let msg = "tinyproxy is not installed (scripts/setup.sh installs it)";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
            eprintln!("skipping: {msg}");
            return None;
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "roomlink-tinyproxy-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // A free port: the kernel picks one, tinyproxy takes it over (restarts reuse it).
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 64\nLogLevel Info\n\
             LogFile \"{}\"\n",
            dir.join("tinyproxy.log").display()
        );
        if let Some((user, pass)) = auth {
            conf.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        std::fs::write(dir.join("tinyproxy.conf"), conf).expect("write tinyproxy.conf");
        let mut proxy = Tinyproxy {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        proxy.launch().await;
        Some(proxy)
    }

    async fn launch(&mut self) {
        let child = Command::new("tinyproxy")
            .arg("-d") // foreground: the PID is ours to stop
            .arg("-c")
            .arg(self.dir.join("tinyproxy.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        self.child = Some(child);
        // Ready once it accepts (polled: tinyproxy has no readiness signal).
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(self.addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "tinyproxy did not start listening; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// `http://[user:pass@]127.0.0.1:port`.
    pub fn url(&self, auth: Option<(&str, &str)>) -> String {
        match auth {
            Some((user, pass)) => format!("http://{user}:{pass}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// Kills it (its tunnels die with it) and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = tokio::task::spawn_blocking(move || child.wait())
                .await
                .expect("wait for tinyproxy");
        }
    }

    /// Starts it again on the same port with the same config.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    /// What tinyproxy logged so far (for assertions and failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tinyproxy.log")).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
