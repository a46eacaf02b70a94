//! `roomlink serve --redis rediss://… --redis-ca FILE`: a node on a TLS Redis that only its own CA
//! vouches for starts (it prints its address once it joined the cluster); an unreadable CA file
//! is refused before anything starts, naming the flag.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use roomlink_faultproxy::tls::TestCa;
use roomlink_testredis::{Redis, TlsFiles};

fn serve(redis_url: &str, ca_file: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roomlink"));
    c.args(["serve", "--bind", "127.0.0.1:0", "--redis", redis_url])
        .arg("--redis-ca")
        .arg(ca_file);
    c
}

#[test]
fn a_node_joins_a_tls_redis_that_its_ca_file_vouches_for() {
    let ca = TestCa::new("redis test CA").unwrap();
    let (chain_pem, key_pem) = ca.leaf_pem().unwrap();
    let ca_pem = ca.pem();
    let redis = Redis::start_tls(&TlsFiles {
        chain_pem: &chain_pem,
        key_pem: &key_pem,
        ca_pem: &ca_pem,
    });
    let ca_file =
        std::env::temp_dir().join(format!("roomlink-redis-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let mut child = serve(&redis.url(), &ca_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("roomlink serve runs");
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&ca_file);
    assert!(
        line.contains("ws://127.0.0.1:"),
        "no address printed: {line:?}"
    );
}

#[test]
fn an_unreadable_ca_file_is_refused_naming_the_flag() {
    let out = serve(
        "rediss://127.0.0.1:1/",
        std::path::Path::new("/nonexistent/ca.pem"),
    )
    .output()
    .expect("roomlink serve runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--redis-ca /nonexistent/ca.pem"), "{err}");
}
