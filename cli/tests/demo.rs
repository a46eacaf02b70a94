//! The README's demo command must keep working: run it and require every expected callback.

use std::process::Command;

#[test]
fn demo_runs_the_whole_story_and_every_expected_callback_arrives() {
    let out = Command::new(env!("CARGO_BIN_EXE_roomlink"))
        .args(["demo", "--quiet"])
        .output()
        .expect("run roomlink demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for line in [
        "A: Reconnected 0 (session resumed)",
        "B: saw nothing of A's short outage",
        "B: sees A leave at the heartbeat timeout (Delete alice)",
        "A: KickOut 1002055",
        "A: KickOut 1002050 (same user logged in elsewhere)",
        "B: Logout 0",
        "done: all 20 expected callbacks arrived",
    ] {
        assert!(
            stdout.contains(line),
            "demo output lacks {line:?}\n{stdout}"
        );
    }
}

#[test]
fn token_subcommand_mints_a_token_the_server_accepts() {
    let out = Command::new(env!("CARGO_BIN_EXE_roomlink"))
        .args([
            "token",
            "--user",
            "u1",
            "--room",
            "r1",
            "--token-secret",
            "s3cret",
            "--app-id",
            "app",
        ])
        .output()
        .expect("run roomlink token");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let now = roomlink_server::token::now_unix_ms();
    let claims = roomlink_server::token::verify("s3cret", "app", &token, "u1", "r1", now)
        .expect("valid token");
    assert_eq!(claims.user_id, "u1");
    assert!(roomlink_server::token::verify("other", "app", &token, "u1", "r1", now).is_err());
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_roomlink"))
        .args(["serve", "--bind", "not-an-address"])
        .output()
        .expect("run roomlink serve");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
}

#[test]
fn serve_and_join_work_together_and_join_exits_when_the_room_ends() {
    use std::io::{BufRead, BufReader};
    let mut server = Command::new(env!("CARGO_BIN_EXE_roomlink"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run roomlink serve");
    let mut first = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("banner");
    // "roomlink server: websocket ws://127.0.0.1:PORT/v1/ws  admin ..."
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .expect("ws url in banner")
        .to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_roomlink"))
        .args([
            "join", "--server", &url, "--room", "r1", "--user", "u1", "--token", "forged",
        ])
        .output()
        .expect("run roomlink join");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("state Logining code 0"), "{stdout}");
    assert!(
        stdout.contains("state LoginFailed code 1002033"),
        "{stdout}"
    );
}

#[test]
fn the_cluster_demo_runs_and_every_expected_callback_arrives() {
    let out = Command::new(env!("CARGO_BIN_EXE_roomlink"))
        .args(["demo", "--cluster", "--quiet"])
        .output()
        .expect("run roomlink demo --cluster");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo --cluster failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for line in [
        "A: Reconnected 0 (session resumed on another node)",
        "B: saw nothing of A's node crashing",
        "C: saw nothing of the drain",
        "C: KickOut 1002055",
        "done: all 14 expected callbacks arrived",
    ] {
        assert!(
            stdout.contains(line),
            "demo --cluster output lacks {line:?}\n{stdout}"
        );
    }
}
