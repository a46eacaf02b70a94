//! The server refuses names other members could not see or that reorder the text around them,
//! with the same code the client's own validation gives (both use `roomlink_proto::validate`).

mod common;

use common::*;
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::ServerFrame;

#[tokio::test]
async fn invisible_and_bidi_override_names_get_login_failed_with_the_name_code() {
    let s = server(5000).await;
    let (_peer, _) = Client::join(&s.ws_url(), login("peer", "r1")).await;
    for (user, name) in [
        ("u1", "\u{200B}\u{200D}\u{FEFF}"),
        ("u2", "\u{3164}"),
        ("u3", "\u{202E}gnp.exe"),
        ("u4", "ok\u{2066}"),
    ] {
        let mut l = login(user, "r1");
        l.user.user_name = name.into();
        let mut c = Client::connect(&s.ws_url(), vec![l], true).await;
        let f = c.recv().await;
        assert!(
            matches!(&f, ServerFrame::LoginFailed { code, .. } if *code == ErrorCode::USER_NAME_INVALID),
            "{name:?}: {f:?}"
        );
    }
    // A right-to-left name with a directional mark is a name.
    let mut l = login("u5", "r1");
    l.user.user_name = "\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200F}".into();
    Client::join(&s.ws_url(), l).await;
    s.shutdown().await;
}
