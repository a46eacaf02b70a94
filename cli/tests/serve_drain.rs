//! `roomlink serve` drains and exits 0 on SIGTERM and after `POST /admin/drain`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// Starts `roomlink serve` on a free port and returns it with its address (from the line it
/// prints once listening).
fn serve() -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roomlink"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--drain-timeout-ms",
            "5000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run roomlink serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "roomlink server: websocket ws://127.0.0.1:PORT/v1/ws  admin ..."
    let addr = line
        .split("ws://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr)
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("roomlink serve did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let (mut child, _) = serve();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("draining"), "{err}");
}

#[test]
fn an_admin_drain_makes_the_process_exit_zero() {
    let (mut child, addr) = serve();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt
        .block_on(roomlink_server::admin::request(
            addr,
            "POST",
            "/admin/drain",
            Some("dev-admin"),
            None,
        ))
        .unwrap();
    assert_eq!(status, 202, "{body}");
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status:?}");
}
