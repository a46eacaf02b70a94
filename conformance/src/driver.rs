//! One driver process: spawned with `sh -c COMMAND`, commands written to its stdin, its stdout
//! read by a task that turns JSON lines into [`Msg`]s, its stderr saved to a log file. Every read
//! has a deadline; a driver that dies or prints garbage is an error naming what it did.

use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

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

/// A line that is not one of the protocol's shapes is an error naming the line.
pub fn classify(line: &str) -> Result<Msg, String> {
    let v: Value = serde_json::from_str(line)
        .map_err(|e| format!("the driver printed a line that is not JSON ({e}): {line}"))?;
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

pub struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Result<Msg, String>>,
}

impl Driver {
    /// Starts `sh -c command` with stderr going to `stderr_log`.
    pub fn spawn(command: &str, stderr_log: &Path) -> Result<Driver, String> {
        let log = File::create(stderr_log).map_err(|e| format!("{}: {e}", stderr_log.display()))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the driver `{command}`: {e}"))?;
        let stdout = child.stdout.take().ok_or("the driver has no stdout")?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            loop {
                let msg = match reader.next_line().await {
                    Ok(Some(line)) => classify(&line),
                    Ok(None) => {
                        Err("the driver closed its stdout (did it exit or crash?)".to_string())
                    }
                    Err(e) => Err(format!("reading the driver's stdout: {e}")),
                };
                let end = msg.is_err();
                if tx.send(msg).is_err() || end {
                    return;
                }
            }
        });
        Ok(Driver {
            child,
            stdin,
            lines,
        })
    }

    pub async fn send(&mut self, command: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the driver's stdin is closed")?;
        let line = format!("{command}\n");
        let write = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        };
        write
            .await
            .map_err(|e| format!("writing to the driver: {e} (did it exit?)"))
    }

    /// The next line, or an error at `deadline` or when the driver is gone.
    pub async fn recv(&mut self, deadline: Instant) -> Result<Option<Msg>, String> {
        match tokio::time::timeout_at(deadline, self.lines.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(msg)) => msg.map(Some),
            Ok(None) => Err("the driver's stdout reader stopped".into()),
        }
    }

    /// Closes stdin and waits up to `grace` for the exit status; kills the driver after that.
    pub async fn finish(mut self, grace: Duration) -> Result<(), String> {
        drop(self.stdin.take());
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("the driver exited with {status}")),
            Ok(Err(e)) => Err(format!("waiting for the driver: {e}")),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(format!(
                    "the driver did not exit within {grace:?} of `exit`; killed"
                ))
            }
        }
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
        let cb = r#"{"client":"a","callback_result":{"cmd":"logout","code":0}}"#;
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
}
