//! Several server nodes on one Redis (`ServerConfig::redis`): every node serves every room, a
//! session resumes on any node, a dead node's sessions resume elsewhere or expire exactly once,
//! duplicate logins and admin calls act cluster-wide, and a Redis that stops answering for a
//! while costs nobody their session.
//!
//! A node "crashes" here by `ServerHandle::shutdown`: it drops its connections and stops
//! without telling the cluster anything, as a SIGKILL would (cli/tests/cluster_kill.rs kills a
//! real process).

mod common;

use std::time::Duration;

use common::*;
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::{ClientFrame, RoomEvent, ServerFrame};
use roomlink_proto::{StreamDeleteReason, User};
use roomlink_server::{ServerHandle, StoreUrl};
use roomlink_testredis::Redis;

const ROOM: &str = "cluster-room";

async fn node(redis: &Redis, heartbeat_ms: u64) -> ServerHandle {
    let mut c = config(heartbeat_ms);
    c.redis = Some(StoreUrl(redis.url()));
    roomlink_server::start(c).await.expect("node starts")
}

fn user(id: &str) -> User {
    User::new(id, format!("name-{id}"))
}

fn users_of(f: &ServerFrame) -> Vec<String> {
    match f {
        ServerFrame::Joined { snapshot, .. } => {
            snapshot.users.iter().map(|u| u.user_id.clone()).collect()
        }
        other => panic!("expected Joined, got {other:?}"),
    }
}

async fn admin(node: &ServerHandle, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    roomlink_server::admin::request(node.local_addr(), method, path, Some("dev-admin"), body)
        .await
        .expect("admin request")
}

#[tokio::test]
async fn members_on_different_nodes_see_each_other() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, 5_000).await, node(&redis, 5_000).await);
    let (mut alice, _) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let (mut bob, joined) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    assert_eq!(
        users_of(&joined),
        vec!["alice"],
        "bob's snapshot, on another node"
    );
    assert_eq!(
        event(alice.recv().await),
        (
            1,
            RoomEvent::UserAdd {
                users: vec![user("bob")]
            }
        )
    );
    bob.send(ClientFrame::PublishStream {
        room_id: ROOM.into(),
        stream_id: "bob-cam".into(),
        extra_info: "hd".into(),
    });
    let (seq, ev) = event(alice.recv().await);
    assert_eq!(seq, 2);
    assert!(matches!(ev, RoomEvent::StreamAdd { streams } if streams[0].stream_id == "bob-cam"));
    // A third node that never served the room learns it from the log alone.
    let c = node(&redis, 5_000).await;
    let (_carol, joined) = Client::join(&c.ws_url(), login("carol", ROOM)).await;
    assert_eq!(users_of(&joined), vec!["alice", "bob"]);
    match joined {
        ServerFrame::Joined { snapshot, .. } => assert_eq!(snapshot.streams.len(), 1),
        _ => unreachable!(),
    }
    assert_eq!(
        event(bob.recv().await),
        (
            1,
            RoomEvent::UserAdd {
                users: vec![user("carol")]
            }
        )
    );
    for n in [a, b, c] {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn a_session_resumes_on_another_node_and_peers_see_nothing() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, 5_000).await, node(&redis, 5_000).await);
    let (alice, joined) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let sid = session_id(&joined);
    let (mut bob, _) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    alice.drop_link();
    // While alice is away, bob publishes: she must be replayed it, from another node.
    bob.send(ClientFrame::PublishStream {
        room_id: ROOM.into(),
        stream_id: "bob-cam".into(),
        extra_info: String::new(),
    });
    let mut alice = Client::connect(
        &b.ws_url(),
        vec![resume(login("alice", ROOM), &sid, 0)],
        true,
    )
    .await;
    match alice.recv().await {
        ServerFrame::Resumed {
            session_id,
            events,
            seq,
            ..
        } => {
            assert_eq!(session_id, sid);
            let kinds: Vec<_> = events.iter().map(|e| (e.seq, e.event.clone())).collect();
            assert_eq!(
                kinds[0],
                (
                    1,
                    RoomEvent::UserAdd {
                        users: vec![user("bob")]
                    }
                )
            );
            assert!(matches!(&kinds[1].1, RoomEvent::StreamAdd { .. }));
            assert_eq!(seq, 2);
        }
        other => panic!("expected Resumed, got {other:?}"),
    }
    bob.expect_silence(300).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_dead_nodes_sessions_resume_elsewhere_or_expire_exactly_once() {
    let redis = Redis::start();
    // Heartbeat 1.5 s: liveness refreshed every 250 ms, a node is dead 500 ms after its last.
    let hb = 1_500;
    let (a, b, c) = (
        node(&redis, hb).await,
        node(&redis, hb).await,
        node(&redis, hb).await,
    );
    let (_alice, joined) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let alice_sid = session_id(&joined);
    let (_carol, _) = Client::join(
        &a.ws_url(),
        login_publishing("carol", ROOM, "carol-cam", ""),
    )
    .await;
    let (mut bob, _) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    let (mut dave, _) = Client::join(&c.ws_url(), login("dave", ROOM)).await;
    // bob sees dave join; dave sees nothing more yet.
    assert!(matches!(
        event(bob.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    a.shutdown().await;
    // alice comes back on another node within the heartbeat timeout: nobody notices.
    let mut alice = Client::connect(
        &c.ws_url(),
        vec![resume(login("alice", ROOM), &alice_sid, 0)],
        true,
    )
    .await;
    assert!(matches!(alice.recv().await, ServerFrame::Resumed { .. }));
    // carol never comes back: at her last-heard + heartbeat timeout, once, for everyone.
    for peer in [&mut bob, &mut dave, &mut alice] {
        let (_, ev) = event(peer.recv().await);
        assert_eq!(
            ev,
            RoomEvent::StreamDelete {
                streams: vec![roomlink_proto::StreamInfo {
                    stream_id: "carol-cam".into(),
                    user: user("carol"),
                    extra_info: String::new(),
                }],
                reason: StreamDeleteReason::UserTimedOut,
            }
        );
        let (_, ev) = event(peer.recv().await);
        assert_eq!(
            ev,
            RoomEvent::UserDelete {
                users: vec![user("carol")]
            }
        );
    }
    // Exactly once: two reapers and two nodes' timers, one expiry.
    for peer in [&mut bob, &mut dave, &mut alice] {
        peer.expect_silence(hb).await;
    }
    b.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_login_on_another_node_kicks_the_older_session() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, 5_000).await, node(&redis, 5_000).await);
    let (mut first, _) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let (_second, _) = Client::join(&b.ws_url(), login("alice", ROOM)).await;
    match first.recv().await {
        ServerFrame::Kicked { code, .. } => assert_eq!(code, ErrorCode::KICKED_DUPLICATE_LOGIN),
        other => panic!("expected Kicked, got {other:?}"),
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_of_any_node_acts_on_the_whole_cluster() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, 5_000).await, node(&redis, 5_000).await);
    let (mut alice, _) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let (status, body) = admin(&b, "GET", "/admin/rooms", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("alice") && body.contains(ROOM), "{body}");
    let (status, _) = admin(&b, "GET", "/admin/rooms/nowhere", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(
        &b,
        "POST",
        "/admin/rooms/nowhere/kick",
        Some(r#"{"user_id":"x"}"#),
    )
    .await;
    assert_eq!(status, 404, "a kick in a room that does not exist");
    let path = format!("/admin/rooms/{ROOM}/kick");
    let (status, body) = admin(
        &b,
        "POST",
        &path,
        Some(r#"{"user_id":"alice","reason":"r"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    match alice.recv().await {
        ServerFrame::Kicked { code, reason, .. } => {
            assert_eq!(code, ErrorCode::KICKED_BY_SERVER);
            assert_eq!(reason, "r");
        }
        other => panic!("expected Kicked, got {other:?}"),
    }
    let (status, _) = admin(&b, "POST", &path, Some(r#"{"user_id":"alice"}"#)).await;
    assert_eq!(status, 404, "kicked once");
    let (mut bob, _) = Client::join(&a.ws_url(), login("bob", ROOM)).await;
    let (status, _) = admin(&b, "POST", &format!("/admin/rooms/{ROOM}/close"), None).await;
    assert_eq!(status, 200);
    assert!(
        matches!(bob.recv().await, ServerFrame::Kicked { code, .. } if code == ErrorCode::ROOM_CLOSED)
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn while_redis_is_away_logins_fail_retryably_and_links_stay() {
    let redis = Redis::start();
    let hb = 1_500;
    let (a, b) = (node(&redis, hb).await, node(&redis, hb).await);
    let (mut alice, _) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let (mut bob, _) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    assert!(matches!(
        event(alice.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    redis.pause();
    let mut carol = Client::connect(&a.ws_url(), vec![login("carol", ROOM)], true).await;
    match carol.recv().await {
        ServerFrame::LoginFailed { code, .. } => assert_eq!(code.value(), 1_900_009),
        other => panic!("expected LoginFailed, got {other:?}"),
    }
    // Links stay up and answer pings; nobody expires while nobody can append a timer.
    tokio::time::sleep(Duration::from_millis(2 * hb)).await;
    alice.send(ClientFrame::Ping);
    assert_eq!(alice.recv().await, ServerFrame::Pong);
    redis.resume();
    // Back: carol can join, and every list converges on alice, bob and carol.
    let (_carol, joined) = Client::join(&a.ws_url(), login("carol", ROOM)).await;
    assert_eq!(users_of(&joined), vec!["alice", "bob"]);
    for peer in [&mut alice, &mut bob] {
        let (_, ev) = event(peer.recv().await);
        assert_eq!(
            ev,
            RoomEvent::UserAdd {
                users: vec![user("carol")]
            },
            "no one was dropped first"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_redis_that_lost_its_data_makes_members_resync_under_a_new_incarnation() {
    let mut redis = Redis::start();
    let (a, b) = (node(&redis, 5_000).await, node(&redis, 5_000).await);
    let (mut alice, joined) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let (alice_sid, old_incarnation) = match &joined {
        ServerFrame::Joined {
            session_id,
            room_session_id,
            ..
        } => (session_id.clone(), room_session_id.clone()),
        _ => unreachable!(),
    };
    let (mut bob, joined) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    let bob_sid = session_id(&joined);
    assert!(matches!(
        event(alice.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    // Restarted without persistence: every key is gone.
    let port = redis.port;
    redis.stop();
    let _redis = Redis::start_on(port);
    // Each node finds out (its liveness was forgotten, the room's log lost what the replica was
    // built from) and closes its members' links, so they come back.
    alice.closed().await;
    bob.closed().await;
    let mut alice = Client::connect(
        &a.ws_url(),
        vec![resume(login("alice", ROOM), &alice_sid, 1)],
        true,
    )
    .await;
    let incarnation = match alice.recv().await {
        ServerFrame::Joined {
            room_session_id, ..
        } => room_session_id,
        other => panic!("a resume on a lost log must be a fresh session, got {other:?}"),
    };
    assert_ne!(incarnation, old_incarnation, "a new room incarnation");
    let mut bob = Client::connect(
        &b.ws_url(),
        vec![resume(login("bob", ROOM), &bob_sid, 0)],
        true,
    )
    .await;
    let joined = bob.recv().await;
    assert_eq!(users_of(&joined), vec!["alice"], "lists converge");
    assert_eq!(
        event(alice.recv().await),
        (
            1,
            RoomEvent::UserAdd {
                users: vec![user("bob")]
            }
        )
    );
    a.shutdown().await;
    b.shutdown().await;
}

fn xlen(redis: &Redis, key: &str) -> u64 {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "XLEN", key])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a length")
}

#[tokio::test]
async fn the_log_is_trimmed_behind_snapshots_and_a_new_node_starts_from_one() {
    let redis = Redis::start();
    let mut cfg = config(5_000);
    cfg.redis = Some(StoreUrl(redis.url()));
    cfg.snapshot_every = 8;
    let a = roomlink_server::start(cfg.clone()).await.unwrap();
    let (alice, joined) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let sid = session_id(&joined);
    let (bob, _) = Client::join(&a.ws_url(), login("bob", ROOM)).await;
    // alice is away (detached) while bob publishes 20 streams: her ring holds them.
    alice.drop_link();
    let mut bob = bob;
    for half in 0..2 {
        for i in 0..10 {
            bob.send(ClientFrame::PublishStream {
                room_id: ROOM.into(),
                stream_id: format!("s{half}{i}"),
                extra_info: String::new(),
            });
        }
        // A connection's frames are applied in order, so once a bad unpublish is answered every
        // publish before it is applied (and the snapshot they call for is stored).
        bob.send(ClientFrame::UnpublishStream {
            room_id: ROOM.into(),
            stream_id: "nope".into(),
        });
        bob.expect_error(ErrorCode::INVALID_ARGUMENT).await;
        let (_, body) = admin(&a, "GET", &format!("/admin/rooms/{ROOM}"), None).await;
        assert!(body.contains(&format!("s{half}9")), "{body}");
    }
    // 23 entries; a snapshot once 8 were applied (at the 8th or later: commands are applied in
    // batches) and one once 16 were, trimming the log below the first: 16 entries at most left.
    let entries = xlen(&redis, &format!("rl:{{{ROOM}}}:log"));
    assert!(entries <= 16, "23 entries written, {entries} kept");
    // A node that never served the room starts from the snapshot and what follows it.
    let c = roomlink_server::start(cfg).await.unwrap();
    let (_carol, joined) = Client::join(&c.ws_url(), login("carol", ROOM)).await;
    match &joined {
        ServerFrame::Joined { snapshot, .. } => {
            assert_eq!(snapshot.streams.len(), 20);
            assert_eq!(users_of(&joined), vec!["alice", "bob"]);
        }
        _ => unreachable!(),
    }
    // ... with the sessions' replay rings: alice resumes there and is replayed all she missed.
    let mut alice = Client::connect(
        &c.ws_url(),
        vec![resume(login("alice", ROOM), &sid, 1)],
        true,
    )
    .await;
    match alice.recv().await {
        ServerFrame::Resumed { events, seq, .. } => {
            let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
            assert_eq!(
                seqs,
                (2..=22).collect::<Vec<_>>(),
                "20 streams and carol, in order"
            );
            assert_eq!(seq, 22);
        }
        other => panic!("expected Resumed, got {other:?}"),
    }
    a.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn the_room_cap_per_connection_holds_on_a_cluster_node() {
    let redis = Redis::start();
    let mut cfg = config(5_000);
    cfg.redis = Some(StoreUrl(redis.url()));
    cfg.rates.max_rooms_per_conn = 2;
    let a = roomlink_server::start(cfg).await.unwrap();
    let rooms = ["r1", "r2", "r3"];
    let mut c = Client::connect(
        &a.ws_url(),
        rooms.iter().map(|r| login("alice", r)).collect(),
        true,
    )
    .await;
    let mut answers = Vec::new();
    for _ in rooms {
        answers.push(match c.recv().await {
            ServerFrame::Joined { room_id, .. } => (room_id, None),
            ServerFrame::LoginFailed { room_id, code, .. } => (room_id, Some(code)),
            other => panic!("unexpected {other:?}"),
        });
    }
    answers.sort();
    assert_eq!(
        answers,
        vec![
            ("r1".to_string(), None),
            ("r2".to_string(), None),
            ("r3".to_string(), Some(ErrorCode::TOO_MANY_ROOMS)),
        ]
    );
    // Leaving a room gives its place back.
    c.send(ClientFrame::Logout {
        room_id: "r1".into(),
        session_id: None,
        token: None,
    });
    c.send(ClientFrame::Login(login("alice", "r3")));
    assert!(matches!(c.recv().await, ServerFrame::Joined { room_id, .. } if room_id == "r3"));
    a.shutdown().await;
}

/// One server answers a connection's frames in the order it sent them, whatever rooms they are
/// for; a cluster node must too (each room has its own log and task, so without care the answer
/// for a second room could overtake the first's).
#[tokio::test]
async fn a_connections_answers_come_in_the_order_it_sent_its_frames() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, 5_000).await, node(&redis, 5_000).await);
    let rooms: Vec<String> = (0..6).map(|i| format!("order-{i}")).collect();
    for round in 0..10 {
        let n = if round % 2 == 0 { &a } else { &b };
        let user = format!("u{round}");
        let logins = rooms.iter().map(|r| login(&user, r)).collect();
        let mut c = Client::connect(&n.ws_url(), logins, true).await;
        for r in &rooms {
            match c.recv().await {
                ServerFrame::Joined { room_id, .. } => assert_eq!(&room_id, r, "round {round}"),
                other => panic!("expected Joined, got {other:?}"),
            }
        }
        // And a publish in the last room, then a logout of the first: answered in order.
        c.send(ClientFrame::PublishStream {
            room_id: rooms[5].clone(),
            stream_id: format!("{user}-cam"),
            extra_info: String::new(),
        });
        c.send(ClientFrame::Logout {
            room_id: rooms[0].clone(),
            session_id: None,
            token: None,
        });
        c.send(ClientFrame::UnpublishStream {
            room_id: rooms[5].clone(),
            stream_id: "nope".into(),
        });
        c.expect_error(ErrorCode::INVALID_ARGUMENT).await;
        c.drop_link();
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// A logout by session ID from another node: the appending node settles the proof (the user
/// the token names) without putting the token in the log; the holder on the first node is told.
#[tokio::test]
async fn a_logout_by_id_on_another_node_needs_the_users_token_and_kicks_the_holder() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, 5_000).await, node(&redis, 5_000).await);
    let (mut alice, joined) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let sid = session_id(&joined);
    let (mut bob, _) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    assert!(matches!(
        event(alice.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    let mut other = Client::connect(&b.ws_url(), vec![], true).await;
    let by_id = |token: Option<String>| ClientFrame::Logout {
        room_id: ROOM.into(),
        session_id: Some(sid.clone()),
        token,
    };
    for proof in [
        None,
        Some(token("bob", ROOM)),
        Some(token("alice", "elsewhere")),
    ] {
        other.send(by_id(proof.clone()));
        other.expect_error(ErrorCode::LOGOUT_UNPROVEN).await;
        // Nothing changed: alice is still a member for a node that never served her.
        let (status, body) = admin(&b, "GET", &format!("/admin/rooms/{ROOM}"), None).await;
        assert_eq!(status, 200);
        assert!(body.contains("\"alice\""), "{proof:?}: {body}");
    }
    let expired = token_until("alice", ROOM, now_ms() - 1_000);
    other.send(by_id(Some(expired)));
    let f = alice.recv().await;
    assert!(
        matches!(&f, ServerFrame::Kicked { code, .. } if *code == ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE),
        "{f:?}"
    );
    assert_eq!(
        event(bob.recv().await).1,
        RoomEvent::UserDelete {
            users: vec![user("alice")]
        }
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_login_still_in_flight_at_the_login_deadline_is_answered_not_closed() {
    // Found by the 4-node fan-out bench: 10 000 logins queued on Redis took longer than the
    // login deadline, and the node closed members whose login it had not answered yet.
    let redis = Redis::start();
    let login_timeout = Duration::from_millis(200);
    let mut c = config(5_000);
    c.redis = Some(StoreUrl(redis.url()));
    c.login_timeout = login_timeout;
    let a = roomlink_server::start(c).await.expect("node starts");
    // Redis holds every answer; its 2 s response timeout is far off.
    redis.pause();
    let mut carol = Client::connect(&a.ws_url(), vec![login("carol", ROOM)], true).await;
    let mut bad = login("dave", ROOM);
    bad.token = token("mallory", ROOM);
    let mut dave = Client::connect(&a.ws_url(), vec![bad], true).await;
    // The login deadline passes (2.5 times over) with both logins in flight.
    carol.expect_silence(500).await;
    redis.resume();
    // Answered, not closed: `recv` panics if the link closed at the deadline.
    assert!(matches!(carol.recv().await, ServerFrame::Joined { .. }));
    carol.send(ClientFrame::Ping);
    assert_eq!(carol.recv().await, ServerFrame::Pong);
    // A login answered with a failure after the deadline: closed as soon as it is told.
    let frames = dave.closed().await;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::LoginFailed { .. }]),
        "{frames:?}"
    );
    a.shutdown().await;
}
