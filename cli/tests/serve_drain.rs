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

#[test]
fn a_second_signal_exits_at_once_without_waiting_for_the_drain() {
    let (mut child, addr) = serve();
    // A WebSocket client that never reads, so it never answers the drain's close: the drain
    // would wait its whole 5 s deadline for it.
    let mut mute = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut mute,
        format!(
            "GET /v1/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             roomlink-version: 1\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut mute, &mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let term = |child: &Child| {
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    term(&child);
    // Only once the first signal was taken (two pending signals of a kind would merge into one).
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("roomlink server: draining") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no drain line");
    }
    assert!(child.try_wait().unwrap().is_none(), "still draining");
    let began = Instant::now();
    term(&child);
    let status = wait_exit(&mut child);
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "exited at once, not at the 5 s drain deadline: {:?}",
        began.elapsed()
    );
    assert!(
        !status.success(),
        "an interrupted drain is not a clean exit: {status:?}"
    );
    drop(mute);
}
