//! One driver process: spawned with `sh -c COMMAND` in its own process group, commands written to
//! its stdin, its stdout read by a task that turns JSON lines into [`Msg`]s, its stderr saved to a
//! log file. Every read has a deadline; a driver that dies or prints garbage is an error naming
//! what it did. The whole process group is killed on every way out (drop, error, exit grace,
//! SIGINT/SIGTERM via [`kill_all`]), because `sh -c` does not always exec its command and a
//! launcher's children would otherwise outlive the run.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The longest stdout line a driver may print; a longer one fails the run (and bounds memory).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Lines read ahead of the orchestrator; the driver blocks on its stdout beyond this.
const CHANNEL_LINES: usize = 64;
/// How much of the driver's stderr log a "the driver died" error quotes.
const STDERR_TAIL_LINES: usize = 10;

/// The process groups of live drivers, for [`kill_all`] on SIGINT/SIGTERM.
static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn groups() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// SIGKILLs one process group (no-op if it is already gone).
fn kill_group(pgid: i32) {
    // SAFETY: killpg has no memory effects; pgid is a group this process created (> 0).
    let rc = unsafe { libc::killpg(pgid, libc::SIGKILL) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            log::warn!("killing driver process group {pgid}: {err}");
        }
    }
}

/// Kills every live driver's process group (the signal handler's first act).
pub fn kill_all() {
    let all: Vec<i32> = std::mem::take(&mut *groups()).into_iter().collect();
    all.into_iter().for_each(kill_group);
}

/// One line from the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Ready,
    /// `{"id":…,"code":…}` (with `state` or `error`).
    Reply(Value),
    Event {
        client: String,
        line: Value,
    },
    CallbackResult {
        client: String,
        result: Value,
    },
}

/// The first number in `v` that is not a JSON integer, as (field path, number).
fn first_non_integer(v: &Value, path: &str) -> Option<(String, String)> {
    match v {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => Some((path.to_string(), n.to_string())),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            first_non_integer(x, &p)
        }),
        Value::Array(a) => {
            (a.iter().enumerate()).find_map(|(i, x)| first_non_integer(x, &format!("{path}[{i}]")))
        }
        _ => None,
    }
}

/// A line that is not one of the protocol's shapes is an error naming the line.
pub fn classify(line: &str) -> Result<Msg, String> {
    let v: Value = serde_json::from_str(line)
        .map_err(|e| format!("the driver printed a line that is not JSON ({e}): {line}"))?;
    // Every number of the protocol is an integer: a float is a driver bug (e.g. Gson's 1.0).
    if let Some((field, number)) = first_non_integer(&v, "") {
        return Err(format!(
            "{field} must be an integer, got {number} in the driver's line: {line}"
        ));
    }
    let client = v["client"].as_str().map(str::to_string);
    if v["ready"] == Value::Bool(true) {
        return Ok(Msg::Ready);
    }
    if v.get("id").is_some() && v.get("code").is_some() {
        return Ok(Msg::Reply(v));
    }
    match (client, v.get("event"), v.get("callback_result")) {
        (Some(client), Some(Value::String(_)), None) => Ok(Msg::Event { client, line: v }),
        (Some(client), None, Some(result)) if result.is_object() => Ok(Msg::CallbackResult {
            client,
            result: result.clone(),
        }),
        _ => Err(format!(
            "the driver printed a line that is not a reply, event or callback result: {line}"
        )),
    }
}

/// Why the reader stopped: the driver went away (quote its stderr) or broke the protocol.
#[derive(Debug)]
enum ReadEnd {
    Gone(String),
    Bad(String),
}

/// Reads one `\n`-terminated line of at most `max` bytes (without the newline); `Ok(None)` at EOF.
async fn read_line_capped<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    max: usize,
) -> Result<Option<String>, ReadEnd> {
    let mut buf = Vec::new();
    loop {
        let available = reader
            .fill_buf()
            .await
            .map_err(|e| ReadEnd::Gone(format!("reading the driver's stdout: {e}")))?;
        if available.is_empty() {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(ReadEnd::Gone(
                    "the driver closed its stdout in the middle of a line".into(),
                ))
            };
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if buf.len() + chunk.len() > max {
            return Err(ReadEnd::Bad(format!(
                "the driver printed a line longer than {max} bytes"
            )));
        }
        buf.extend_from_slice(chunk);
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        if done.is_some() {
            return String::from_utf8(buf)
                .map(Some)
                .map_err(|_| ReadEnd::Bad("the driver printed a line that is not UTF-8".into()));
        }
    }
}

/// The last `n` lines of a log file, for an error message.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

pub struct Driver {
    child: Child,
    pgid: i32,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Result<Msg, ReadEnd>>,
    stderr_log: PathBuf,
}

impl Driver {
    /// Starts `sh -c command` in a new process group with stderr going to `stderr_log`.
    pub fn spawn(command: &str, stderr_log: &Path) -> Result<Driver, String> {
        let log = File::create(stderr_log).map_err(|e| format!("{}: {e}", stderr_log.display()))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the driver `{command}`: {e}"))?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or("the driver exited before it could be tracked")?;
        groups().insert(pgid);
        let stdout = child.stdout.take();
        let (tx, lines) = mpsc::channel(CHANNEL_LINES);
        let driver = Driver {
            stdin: child.stdin.take(),
            child,
            pgid,
            lines,
            stderr_log: stderr_log.to_path_buf(),
        };
        // From here on, an early return drops `driver`, which kills the group.
        let stdout = stdout.ok_or("the driver has no stdout")?;
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            loop {
                let msg = match read_line_capped(&mut reader, MAX_LINE_BYTES).await {
                    Ok(Some(line)) => classify(&line).map_err(ReadEnd::Bad),
                    Ok(None) => Err(ReadEnd::Gone(
                        "the driver closed its stdout (did it exit or crash?)".to_string(),
                    )),
                    Err(end) => Err(end),
                };
                let end = msg.is_err();
                if tx.send(msg).await.is_err() || end {
                    return;
                }
            }
        });
        Ok(driver)
    }

    /// `message` plus the tail of the driver's stderr, for "the driver went away" errors.
    fn with_stderr(&self, message: String) -> String {
        let tail = tail(&self.stderr_log, STDERR_TAIL_LINES);
        if tail.is_empty() {
            format!("{message} (its stderr is empty)")
        } else {
            format!("{message}; the end of its stderr:\n{tail}")
        }
    }

    pub async fn send(&mut self, command: &Value) -> Result<(), String> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("the driver's stdin is closed".into());
        };
        let line = format!("{command}\n");
        let write = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        };
        match write.await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.with_stderr(format!("writing to the driver: {e} (did it exit?)"))),
        }
    }

    /// The next line, `None` at `deadline`, or an error when the driver is gone or misbehaves.
    pub async fn recv(&mut self, deadline: Instant) -> Result<Option<Msg>, String> {
        match tokio::time::timeout_at(deadline, self.lines.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(Ok(msg))) => Ok(Some(msg)),
            Ok(Some(Err(ReadEnd::Bad(e)))) => Err(e),
            Ok(Some(Err(ReadEnd::Gone(e)))) => Err(self.with_stderr(e)),
            Ok(None) => Err("the driver's stdout reader stopped".into()),
        }
    }

    /// Closes stdin and waits up to `grace` for the exit status; kills the group after that.
    /// Whatever happens, no process of the group survives.
    pub async fn finish(mut self, grace: Duration) -> Result<(), String> {
        drop(self.stdin.take());
        let result = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(self.with_stderr(format!("the driver exited with {status}"))),
            Ok(Err(e)) => Err(format!("waiting for the driver: {e}")),
            Err(_) => Err(format!(
                "the driver did not exit within {grace:?} of `exit`; killed"
            )),
        };
        // Drop kills the group: the launcher may have exited and left children behind.
        drop(self);
        result
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        groups().remove(&self.pgid);
        kill_group(self.pgid);
        // The direct child is reaped by tokio (kill_on_drop); the rest are orphans init reaps.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_classified_by_shape() {
        assert_eq!(
            classify(r#"{"ready":true,"driver":"rust"}"#),
            Ok(Msg::Ready)
        );
        assert_eq!(
            classify(r#"{"id":3,"code":0}"#),
            Ok(Msg::Reply(json!({"id":3,"code":0})))
        );
        let event =
            r#"{"client":"a","event":"room_online_user_count_update","room":"r1","count":1}"#;
        assert!(matches!(classify(event), Ok(Msg::Event { client, .. }) if client == "a"));
        let cb = r#"{"client":"a","callback_result":{"hook":4,"cmd":"logout","code":0}}"#;
        assert!(
            matches!(classify(cb), Ok(Msg::CallbackResult { result, .. }) if result["cmd"] == "logout")
        );
    }

    #[test]
    fn garbage_is_an_error_that_quotes_the_line() {
        assert!(classify("hello").unwrap_err().contains("hello"));
        assert!(
            classify(r#"{"event":"room_user_update"}"#)
                .unwrap_err()
                .contains("not a reply")
        );
    }

    #[test]
    fn floats_are_rejected_naming_the_field() {
        let e = classify(r#"{"client":"a","event":"room_state_changed","room":"r1","reason":1.0,"code":0,"extended_data":{}}"#)
            .unwrap_err();
        assert!(e.starts_with("reason must be an integer, got 1.0"), "{e}");
        let e = classify(r#"{"id":2e0,"code":0}"#).unwrap_err();
        assert!(e.starts_with("id must be an integer"), "{e}");
        let e = classify(r#"{"client":"a","callback_result":{"hook":3,"cmd":"x","code":0.5}}"#)
            .unwrap_err();
        assert!(
            e.starts_with("callback_result.code must be an integer"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn long_lines_are_refused_without_buffering_them() {
        let mut input = vec![b'x'; 100];
        input.push(b'\n');
        input.extend_from_slice(b"ok\n");
        let mut r = BufReader::with_capacity(16, &input[..]);
        assert!(
            matches!(read_line_capped(&mut r, 50).await, Err(ReadEnd::Bad(e)) if e.contains("longer than 50"))
        );
        let mut r = BufReader::with_capacity(16, &b"ab\ncd"[..]);
        assert_eq!(
            read_line_capped(&mut r, 50).await.ok().flatten().as_deref(),
            Some("ab")
        );
        assert!(matches!(
            read_line_capped(&mut r, 50).await,
            Err(ReadEnd::Gone(_))
        ));
        let mut r = BufReader::new(&b""[..]);
        assert!(matches!(read_line_capped(&mut r, 50).await, Ok(None)));
    }
}
