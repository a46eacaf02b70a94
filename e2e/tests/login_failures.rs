//! Logins the server refuses, and logins that cannot reach it.

mod common;

use std::time::Duration;

use common::*;
use roomlink::{ConnectionState, ErrorCode, RoomStateChangedReason as R};
use roomlink_server::token::{Claims, mint, now_unix_ms};

const ROOM: &str = "gate";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_secret_fails_with_auth_failed() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    let forged = mint(
        "not-the-server-secret",
        &Claims {
            app_id: server.config.app_id.clone(),
            user_id: "alice".into(),
            room_id: ROOM.into(),
            expires_at_ms: 0,
        },
    );
    a.login_with_token(ROOM, &forged);
    a.expect(state(R::Logining, ErrorCode::OK), "Logining")
        .await;
    a.expect(
        state(R::LoginFailed, ErrorCode::AUTH_FAILED),
        "LoginFailed 1002033",
    )
    .await;
    assert_eq!(a.room_state(ROOM), ConnectionState::Failed);
    assert!(server.members(ROOM).await.is_empty());
    // A token for someone else is refused the same way.
    a.login_with_token(ROOM, &server.token("bob", ROOM));
    a.expect(
        state(R::LoginFailed, ErrorCode::AUTH_FAILED),
        "LoginFailed 1002033 (foreign token)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_at_login_fails_with_auth_failed() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    a.login_with_token(
        ROOM,
        &server.token_expiring_at("alice", ROOM, now_unix_ms() - 1000),
    );
    a.expect(
        state(R::LoginFailed, ErrorCode::AUTH_FAILED),
        "LoginFailed 1002033",
    )
    .await;
    assert!(server.members(ROOM).await.is_empty());
    // The same engine logs in fine with a good token afterwards.
    a.join(&server, ROOM).await;
    assert_eq!(server.members(ROOM).await, ids(&["alice"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_refuses_one_more_with_room_full() {
    init_log();
    let server = Server::start_with(|c| c.room_capacity = 2).await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    let mut c = Client::new(&server, "carol").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    c.login(&server, ROOM);
    c.expect(
        state(R::LoginFailed, ErrorCode::ROOM_FULL),
        "LoginFailed 1002034",
    )
    .await;
    a.expect_none(QUIET, any_update_of("carol"), "carol never appears")
        .await;
    assert_eq!(server.members(ROOM).await, ids(&["alice", "bob"]));
    // Once someone leaves there is room again. `Logout` is reported as soon as the logout is sent;
    // wait until the server has processed it before the next login races it.
    b.leave(ROOM).await;
    server.wait_members(ROOM, &["alice"]).await;
    c.join(&server, ROOM).await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["carol"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_that_never_reaches_the_server_times_out() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::with_config(&server, "alice", |c| {
        c.login_timeout = Duration::from_secs(1);
    })
    .await;
    a.blackhole();
    a.login(&server, ROOM);
    a.expect(state(R::Logining, ErrorCode::OK), "Logining")
        .await;
    a.expect(
        state(R::LoginFailed, ErrorCode::NETWORK_TIMEOUT),
        "LoginFailed 1002053",
    )
    .await;
    assert_eq!(a.room_state(ROOM), ConnectionState::Failed);
    assert!(server.members(ROOM).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_to_a_closed_port_times_out() {
    init_log();
    // Take a free port and close it again: connections there are refused, which is worth
    // retrying (a server restarting) until the login timeout.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let server = Server::start().await;
    let config = {
        let mut c = client_config(format!(
            "ws://127.0.0.1:{port}{}",
            roomlink::protocol::WS_PATH
        ));
        c.login_timeout = Duration::from_secs(1);
        c
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let engine = roomlink::Engine::new(
        config,
        Some(std::sync::Arc::new(move |e: roomlink::Event| {
            let _ = tx.send(e);
        })),
    )
    .expect("engine");
    engine
        .login_room(
            ROOM,
            roomlink::User::new("alice", "Alice"),
            &server.token("alice", ROOM),
            roomlink::RoomConfig::default(),
        )
        .expect("login_room");
    let fail = state(R::LoginFailed, ErrorCode::NETWORK_TIMEOUT);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let e = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("LoginFailed in time")
            .expect("engine alive");
        if fail(&e) {
            break;
        }
        assert!(
            !matches!(&e, roomlink::Event::RoomStateChanged { reason, .. } if reason.is_terminal()),
            "unexpected {}",
            describe(&e)
        );
    }
    assert_eq!(engine.room_state(ROOM), ConnectionState::Failed);
    tokio::task::block_in_place(|| engine.destroy());
}
