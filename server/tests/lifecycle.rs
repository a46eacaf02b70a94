//! Shutdown and restart on the same port.

mod common;

use common::*;
use roomlink_proto::protocol::ServerFrame;

#[tokio::test]
async fn shutdown_drops_connections_and_a_restart_forgets_everything() {
    let s = server(2000).await;
    let addr = s.local_addr();
    let (mut a, joined) = Client::join(&s.ws_url(), login("a", "r1")).await;
    let sid = session_id(&joined);
    s.shutdown().await;
    a.closed().await;

    let s2 = roomlink_server::start(roomlink_server::ServerConfig {
        bind: addr,
        ..config(2000)
    })
    .await
    .unwrap();
    assert_eq!(s2.local_addr(), addr);
    let mut a2 = Client::connect(&s2.ws_url(), vec![resume(login("a", "r1"), &sid, 0)], true).await;
    let f = a2.recv().await;
    assert!(
        matches!(f, ServerFrame::Joined { ref session_id, .. } if *session_id != sid),
        "{f:?}"
    );
    s2.shutdown().await;
}

#[tokio::test]
async fn start_refuses_an_invalid_config_with_invalid_input() {
    use std::time::Duration;
    let cases = [
        (
            roomlink_server::ServerConfig {
                admin_secret: String::new(),
                ..config(2000)
            },
            "admin_secret",
        ),
        (
            roomlink_server::ServerConfig {
                token_secret: String::new(),
                ..config(2000)
            },
            "token_secret",
        ),
        (
            roomlink_server::ServerConfig {
                heartbeat_timeout: Duration::MAX,
                ..config(2000)
            },
            "heartbeat_timeout",
        ),
        (
            roomlink_server::ServerConfig {
                max_frame_bytes: usize::MAX,
                ..config(2000)
            },
            "max_frame_bytes",
        ),
        (
            roomlink_server::ServerConfig {
                room_capacity: 0,
                ..config(2000)
            },
            "room_capacity",
        ),
    ];
    for (cfg, field) in cases {
        let err = match roomlink_server::start(cfg.clone()).await {
            Ok(s) => {
                s.shutdown().await;
                panic!("{field}: started");
            }
            Err(e) => e,
        };
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{field}");
        assert!(err.to_string().contains(field), "{field}: {err}");
        // Another backend gets the same check.
        let registry =
            std::sync::Arc::new(roomlink_server::memory::MemoryRegistry::new(cfg.clone()));
        let err = roomlink_server::start_with_registry(cfg, registry)
            .await
            .err()
            .expect("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{field}");
    }
}
