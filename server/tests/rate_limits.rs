//! Rate limits and the room cap over real sockets (issue 12, finding 2 and "also found"): a frame
//! flood is answered once and then closed, a member's publish flood reaches its peers at the
//! member budget and never gets a reading peer closed, and a connection holds at most
//! `max_rooms_per_conn` rooms. Each limit is checked at its boundary.

mod common;

use common::{Client, config, login};
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::{ClientFrame, RoomEvent, ServerFrame};
use roomlink_server::{Rate, RateLimits, ServerConfig};

fn with_rates(rates: RateLimits) -> ServerConfig {
    ServerConfig {
        rates,
        ..config(5_000)
    }
}

fn code_of(f: &ServerFrame) -> Option<ErrorCode> {
    match f {
        ServerFrame::Error { code, .. }
        | ServerFrame::LoginFailed { code, .. }
        | ServerFrame::Bye { code, .. } => Some(*code),
        _ => None,
    }
}

#[tokio::test]
async fn a_frame_flood_is_served_to_the_burst_answered_once_then_closed() {
    // One frame per second sustained: the burst is all a quick client gets.
    let s = roomlink_server::start(with_rates(RateLimits {
        frames: Rate {
            per_sec: 1,
            burst: 5,
        },
        ..RateLimits::default()
    }))
    .await
    .unwrap();
    let mut c = Client::connect(&s.ws_url(), vec![], false).await;
    // 5 served, the 6th refused with an answer, 7th..10th dropped, the 11th (the burst's worth of
    // refusals in a row, plus one) closes the connection.
    for _ in 0..11 {
        c.send(ClientFrame::Ping);
    }
    let frames = c.closed().await;
    let pongs = frames.iter().filter(|f| **f == ServerFrame::Pong).count();
    assert_eq!(pongs, 5, "{frames:?}");
    let codes: Vec<ErrorCode> = frames.iter().filter_map(code_of).collect();
    assert_eq!(
        codes,
        [ErrorCode::RATE_LIMITED, ErrorCode::RATE_LIMITED],
        "one error, then the bye: {frames:?}"
    );
    assert!(
        matches!(frames.last(), Some(ServerFrame::Bye { .. })),
        "{frames:?}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_client_within_its_frame_budget_is_never_refused() {
    let s = roomlink_server::start(with_rates(RateLimits {
        frames: Rate {
            per_sec: 1,
            burst: 5,
        },
        ..RateLimits::default()
    }))
    .await
    .unwrap();
    let mut c = Client::connect(&s.ws_url(), vec![], false).await;
    for _ in 0..5 {
        c.send(ClientFrame::Ping);
    }
    for _ in 0..5 {
        assert_eq!(c.recv().await, ServerFrame::Pong);
    }
    c.expect_silence(200).await;
    s.shutdown().await;
}

/// Issue 12, finding 2: 10 000 publish/unpublish frames with 1 KiB `extra_info` from one member
/// used to overflow every peer's queue, closing peers that read. Now the member's budget lets
/// through its burst (and the sustained rate), the rest is refused to the sender alone, and the
/// peer stays connected. Run with the frame limit lifted, so the member budget alone is tested.
#[tokio::test]
async fn a_publish_flood_does_not_disconnect_a_peer_that_reads() {
    let s = roomlink_server::start(with_rates(RateLimits {
        frames: Rate {
            per_sec: roomlink_server::MAX_RATE_PER_SEC,
            burst: u32::MAX,
        },
        ..RateLimits::default()
    }))
    .await
    .unwrap();
    let url = s.ws_url();
    let (mut peer, _) = Client::join(&url, login("peer", "r")).await;
    let (mut attacker, _) = Client::join(&url, login("attacker", "r")).await;
    assert!(matches!(
        common::event(peer.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    let extra = "x".repeat(1024);
    for i in 0..10_000 {
        attacker.send(if i % 2 == 0 {
            ClientFrame::PublishStream {
                room_id: "r".into(),
                stream_id: "attacker-cam".into(),
                extra_info: extra.clone(),
            }
        } else {
            ClientFrame::UnpublishStream {
                room_id: "r".into(),
                stream_id: "attacker-cam".into(),
            }
        });
    }
    // The attacker's last frame: once its answer is in, every frame of the flood was handled.
    attacker.send(ClientFrame::Ping);
    let mut refused = 0;
    loop {
        match attacker.recv().await {
            ServerFrame::Pong => break,
            f if code_of(&f) == Some(ErrorCode::RATE_LIMITED) => refused += 1,
            // An unpublish after a refused publish: there is no such stream.
            f if code_of(&f) == Some(ErrorCode::INVALID_ARGUMENT) => {}
            f => panic!("attacker got {f:?}"),
        }
    }
    // The peer is still connected and gets its pong after what the flood cost it.
    peer.send(ClientFrame::Ping);
    let mut stream_events = 0;
    loop {
        match peer.recv().await {
            ServerFrame::Pong => break,
            ServerFrame::Event { .. } => stream_events += 1,
            f => panic!("peer got {f:?}"),
        }
    }
    let budget = RateLimits::default().member_events;
    println!("peer got {stream_events} stream events; the attacker {refused} refusals");
    // Its burst (less the login's) plus what refilled while the flood was read.
    assert!(
        stream_events >= budget.burst as usize - 1,
        "{stream_events}"
    );
    assert!(
        stream_events < 10_000 / 10,
        "{stream_events} events reached the peer"
    );
    assert!(refused > 4_500, "{refused} refusals");
    s.shutdown().await;
}

#[tokio::test]
async fn a_connection_holds_at_most_max_rooms_per_conn_rooms() {
    let s = roomlink_server::start(with_rates(RateLimits {
        max_rooms_per_conn: 2,
        ..RateLimits::default()
    }))
    .await
    .unwrap();
    let mut c = Client::connect(
        &s.ws_url(),
        vec![login("u", "a"), login("u", "b"), login("u", "c")],
        true,
    )
    .await;
    assert!(matches!(c.recv().await, ServerFrame::Joined { room_id, .. } if room_id == "a"));
    assert!(matches!(c.recv().await, ServerFrame::Joined { room_id, .. } if room_id == "b"));
    let f = c.recv().await;
    assert!(
        matches!(&f, ServerFrame::LoginFailed { room_id, code, .. }
            if room_id == "c" && *code == ErrorCode::TOO_MANY_ROOMS),
        "{f:?}"
    );
    let (_other, joined) = Client::join(&s.ws_url(), login("v", "c")).await;
    assert!(
        matches!(&joined, ServerFrame::Joined { snapshot, .. } if snapshot.users.is_empty()),
        "the refused login joined nothing: {joined:?}"
    );
    // At the cap, a login again to a room it holds is not one more room.
    c.send(ClientFrame::Login(login("u", "b")));
    assert!(matches!(c.recv().await, ServerFrame::Joined { room_id, .. } if room_id == "b"));
    // Leaving a room makes room for another.
    c.send(ClientFrame::Logout {
        room_id: "a".into(),
        session_id: None,
        token: None,
    });
    c.send(ClientFrame::Login(login("u", "c")));
    assert!(matches!(c.recv().await, ServerFrame::Joined { room_id, .. } if room_id == "c"));
    s.shutdown().await;
}
