//! Token lifetime: the expiry kick and renewal.

mod common;

use common::*;
use roomlink_proto::protocol::{ClientFrame, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, User};

#[tokio::test]
async fn an_expiring_token_kicks_the_session_with_1002056() {
    let s = server(5000).await;
    let url = s.ws_url();
    let mut l = login("a", "r1");
    l.token = token_until("a", "r1", now_ms() + 500);
    let (mut a, joined) = Client::join(&url, l).await;
    let ServerFrame::Joined {
        token_expires_in_ms,
        ..
    } = joined
    else {
        unreachable!()
    };
    assert!(token_expires_in_ms.is_some_and(|ms| ms <= 500));
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));
    let f = a.recv().await;
    assert!(
        matches!(
            f,
            ServerFrame::Kicked {
                code: ErrorCode::KICKED_TOKEN_EXPIRED,
                ..
            }
        ),
        "{f:?}"
    );
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::UserDelete {
            users: vec![User::new("a", "name-a")]
        }
    );
    s.shutdown().await;
}

#[tokio::test]
async fn renewing_the_token_prevents_the_expiry_kick() {
    let s = server(5000).await;
    let mut l = login("a", "r1");
    l.token = token_until("a", "r1", now_ms() + 500);
    let (mut a, _) = Client::join(&s.ws_url(), l).await;

    a.send(ClientFrame::RenewToken {
        room_id: "r1".into(),
        token: token("b", "r1"),
    });
    a.expect_error(ErrorCode::AUTH_FAILED).await;

    a.send(ClientFrame::RenewToken {
        room_id: "r1".into(),
        token: token_until("a", "r1", now_ms() + 60_000),
    });
    let f = a.recv().await;
    assert!(
        matches!(f, ServerFrame::TokenRenewed { token_expires_in_ms: Some(ms), .. } if ms > 50_000),
        "{f:?}"
    );
    // Past the old expiry: no kick.
    a.expect_silence(900).await;
    s.shutdown().await;
}
