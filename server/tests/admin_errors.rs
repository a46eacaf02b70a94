//! Every admin API error is JSON `{"error": …}`, the router's own refusals too (404 for an unknown
//! path, 405 for a wrong method, 413 for a body over the limit, 414 for a URI over the limit), and
//! room IDs are percent-decoded path segments.

mod common;

use common::*;

async fn admin(
    s: &roomlink_server::ServerHandle,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    roomlink_server::admin::request(s.local_addr(), method, path, Some("dev-admin"), body)
        .await
        .expect("admin request")
}

fn error_text(status: u16, body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {body:?}"));
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{status}: no \"error\" string: {body}"))
        .to_string()
}

#[tokio::test]
async fn router_refusals_are_json() {
    let s = server(5000).await;
    let (status, body) = admin(&s, "GET", "/admin/nothing-here", None).await;
    assert_eq!(status, 404);
    error_text(status, &body);
    let (status, body) = admin(&s, "DELETE", "/admin/rooms", None).await;
    assert_eq!(status, 405);
    error_text(status, &body);
    let big = format!(
        "{{\"reason\":\"{}\"}}",
        "x".repeat(roomlink_server::admin::MAX_BODY_BYTES)
    );
    let (status, body) = admin(&s, "POST", "/admin/rooms/r1/close", Some(&big)).await;
    assert_eq!(status, 413);
    error_text(status, &body);
    let long = format!(
        "/admin/rooms/{}",
        "r".repeat(roomlink_server::admin::MAX_URI_BYTES)
    );
    let (status, body) = admin(&s, "GET", &long, None).await;
    assert_eq!(status, 414);
    error_text(status, &body);
    // Just under the limits is served as usual.
    let ok = format!(
        "{{\"reason\":\"{}\"}}",
        "x".repeat(roomlink_server::admin::MAX_BODY_BYTES - 20)
    );
    let (status, body) = admin(&s, "POST", "/admin/rooms/r1/close", Some(&ok)).await;
    assert_eq!(status, 404, "{body}");
    error_text(status, &body);
    s.shutdown().await;
}

#[tokio::test]
async fn room_ids_in_admin_paths_are_percent_decoded() {
    let s = server(5000).await;
    let url = s.ws_url();
    let room = "a/b#c%d";
    let (_a, _) = Client::join(&url, login("a", room)).await;
    let (status, body) = admin(&s, "GET", "/admin/rooms/a%2Fb%23c%25d", None).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["room_id"], room);
    // Unencoded, the slash is a path separator: another route, which does not exist.
    let (status, body) = admin(&s, "GET", "/admin/rooms/a/b%23c%25d", None).await;
    assert_eq!(status, 404);
    error_text(status, &body);
    s.shutdown().await;
}
