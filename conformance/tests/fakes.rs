//! The orchestrator against tiny misbehaving drivers (`tests/fakes/*.sh`): each run must FAIL
//! with a message naming what the driver did, and no process of the fake's group may survive.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One client, one `create`: enough to reach every failure the fakes provoke.
const SCENARIO: &str = r#"{
  "description": "tiny",
  "clients": [{ "name": "a", "user_id": "alice" }],
  "settle_ms": 50,
  "steps": [{ "op": "create", "client": "a" }]
}"#;

fn fakes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes")
}

/// Runs the orchestrator on `fake` at time scale 0.2; returns its exit success, stdout and the
/// fake's process group.
fn run_fake(fake: &str) -> (bool, String, i32) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fake-{fake}"));
    let _ = std::fs::remove_dir_all(&dir);
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).expect("temp dir");
    std::fs::write(scenarios.join("tiny.json"), SCENARIO).expect("scenario");
    let pgid_file = dir.join("pgid");
    let script = fakes_dir().join(format!("{fake}.sh"));
    let out = Command::new(env!("CARGO_BIN_EXE_roomlink-conformance"))
        .arg("--driver")
        .arg(format!(
            "fake=sh {} {}",
            script.display(),
            pgid_file.display()
        ))
        .arg("--scenarios-dir")
        .arg(&scenarios)
        .arg("--expected-dir")
        .arg(dir.join("expected"))
        .arg("--out-dir")
        .arg(dir.join("out"))
        .args(["--time-scale", "0.2"])
        .output()
        .expect("run the orchestrator");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let pgid = std::fs::read_to_string(&pgid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{fake} did not write its process group; stdout:\n{stdout}"));
    (out.status.success(), stdout, pgid)
}

/// Waits (bounded) until no process of group `pgid` exists; the killed group's orphans may take a
/// moment to be reaped.
fn group_is_gone(pgid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // SAFETY: signal 0 only checks for existence.
        let rc = unsafe { libc::kill(-pgid, 0) };
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_fails_with(fake: &str, message: &str) {
    let (ok, stdout, pgid) = run_fake(fake);
    assert!(!ok, "{fake}: the run passed:\n{stdout}");
    assert!(
        stdout.contains(message),
        "{fake}: expected {message:?} in:\n{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("0 passed, 1 failed"),
        "{fake}:\n{stdout}"
    );
    assert!(group_is_gone(pgid), "{fake}: process group {pgid} survived");
}

#[test]
fn a_line_that_is_not_json_fails() {
    assert_fails_with("garbage", "not JSON");
}

#[test]
fn a_driver_that_dies_early_fails_quoting_its_stderr() {
    assert_fails_with("dies_early", "fatal: the binding crashed");
}

#[test]
fn a_driver_that_never_says_ready_fails() {
    assert_fails_with("no_ready", "did not print its ready line");
}

#[test]
fn a_flooding_driver_fails() {
    assert_fails_with("floods", "too many events");
}

#[test]
fn an_overlong_line_fails() {
    assert_fails_with("long_line", "longer than 65536 bytes");
}

#[test]
fn a_reply_out_of_order_fails() {
    assert_fails_with("out_of_order", "out of order");
}

#[test]
fn a_float_fails_naming_the_field() {
    assert_fails_with("floats", "reason must be an integer, got 1.0");
}

#[test]
fn a_driver_that_never_exits_is_killed() {
    assert_fails_with("never_exits", "did not exit within");
}
