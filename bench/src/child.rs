//! Helper processes (the roomlink server, load generators, node scripts) that report JSON lines.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child whose stdout lines arrive on a channel, so every read has a deadline. Closing its
/// stdin asks it to finish; dropping it kills it.
pub struct ChildProc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl ChildProc {
    pub fn spawn(name: &str, mut cmd: Command) -> Result<ChildProc, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start {name}: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("{name}: no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(ChildProc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line parsed as JSON, waiting at most `patience`.
    pub fn next_json(&self, patience: Duration) -> Result<serde_json::Value, String> {
        let line = self.lines.recv_timeout(patience).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => {
                format!("{}: no output within {patience:?}", self.name)
            }
            mpsc::RecvTimeoutError::Disconnected => format!("{}: exited early", self.name),
        })?;
        serde_json::from_str(&line).map_err(|e| format!("{}: bad line {line:?}: {e}", self.name))
    }

    /// Writes `data` to the child's stdin (e.g. its input, before `close_stdin`).
    pub fn write_stdin(&mut self, data: &[u8]) -> Result<(), String> {
        use std::io::Write;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{}: stdin already closed", self.name))?;
        stdin
            .write_all(data)
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: writing its stdin: {e}", self.name))
    }

    /// Closes stdin (the child's cue to report and exit).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the child to exit by itself; kills it after `patience`.
    pub fn finish(mut self, patience: Duration) -> Result<(), String> {
        self.close_stdin();
        let deadline = std::time::Instant::now() + patience;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("{} exited with {status}", self.name)),
                Ok(None) if std::time::Instant::now() < deadline => {
                    // Polling a child's exit at 20 ms granularity: std offers no wait with timeout.
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => return Err(format!("{} did not exit within {patience:?}", self.name)),
                Err(e) => return Err(format!("{}: {e}", self.name)),
            }
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `roomlink-bench` itself, to run one of its subcommands in a new process.
pub fn this_binary() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("current_exe: {e}"))
}
