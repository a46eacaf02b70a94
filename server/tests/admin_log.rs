//! The admin API's refusals against a captured log: a flood of unauthenticated requests gives a
//! line per interval, not a line per request, and never echoes the bearer that was tried.
//! A file of its own because it installs the process's logger.

mod common;

use std::sync::Mutex;

use common::*;
use roomlink_server::admin::request;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {}", record.level(), record.args());
        LINES.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

#[tokio::test]
async fn a_thousand_bad_admin_requests_give_at_most_a_few_log_lines() {
    log::set_logger(&LOGGER).expect("the only logger in this test binary");
    log::set_max_level(log::LevelFilter::Trace);
    let s = server(5000).await;
    let addr = s.local_addr();
    let tried = "not-the-admin-secret-7f3a";
    for n in 0..1000 {
        let bearer = if n % 2 == 0 { Some(tried) } else { None };
        let (status, _) = request(addr, "GET", "/admin/rooms", bearer, None)
            .await
            .unwrap();
        assert_eq!(status, 401);
    }
    s.shutdown().await;
    let lines = LINES.lock().unwrap().clone();
    let refusals: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("admin request without a valid bearer"))
        .collect();
    // One line per 10 s interval: one for a fast run, a few for a very slow one.
    assert!(
        (1..=3).contains(&refusals.len()),
        "{} refusal lines: {refusals:?}",
        refusals.len()
    );
    assert!(refusals[0].starts_with("WARN "), "{refusals:?}");
    assert!(
        lines.iter().all(|l| !l.contains(tried)),
        "a tried bearer was logged"
    );
}
