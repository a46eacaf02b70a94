//! A cluster on a TLS Redis (`rediss://`): nodes that trust its CA (`ServerConfig::redis_ca_pem`)
//! form one server; a node given another CA, or none (the system store does not hold the test
//! CA), refuses to start, naming the store; a CA with a plain `redis://` URL is a config error.

mod common;

use common::*;
use roomlink_faultproxy::tls::TestCa;
use roomlink_proto::User;
use roomlink_proto::protocol::RoomEvent;
use roomlink_server::{ServerConfig, ServerHandle, StoreUrl};
use roomlink_testredis::{Redis, TlsFiles};

const ROOM: &str = "tls-room";

fn tls_redis(ca: &TestCa) -> Redis {
    let (chain_pem, key_pem) = ca.leaf_pem().expect("leaf");
    let ca_pem = ca.pem();
    Redis::start_tls(&TlsFiles {
        chain_pem: &chain_pem,
        key_pem: &key_pem,
        ca_pem: &ca_pem,
    })
}

fn node_config(redis: &Redis, ca: Option<&TestCa>) -> ServerConfig {
    let mut c = config(5_000);
    c.redis = Some(StoreUrl(redis.url()));
    c.redis_ca_pem = ca.map(|ca| ca.pem().into_bytes());
    c
}

async fn node(redis: &Redis, ca: &TestCa) -> ServerHandle {
    roomlink_server::start(node_config(redis, Some(ca)))
        .await
        .expect("node starts on the TLS Redis")
}

#[tokio::test]
async fn nodes_on_a_tls_redis_serve_one_room() {
    let ca = TestCa::new("redis test CA").unwrap();
    let redis = tls_redis(&ca);
    assert!(redis.url().starts_with("rediss://"));
    let (a, b) = (node(&redis, &ca).await, node(&redis, &ca).await);
    let (mut alice, _) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let (_bob, _) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    assert_eq!(
        event(alice.recv().await),
        (
            1,
            RoomEvent::UserAdd {
                users: vec![User::new("bob", "name-bob")]
            }
        )
    );
}

#[tokio::test]
async fn a_node_that_does_not_trust_the_redis_certificate_does_not_start() {
    let ca = TestCa::new("redis test CA").unwrap();
    let redis = tls_redis(&ca);
    let other = TestCa::new("some other CA").unwrap();
    for trusted in [Some(&other), None] {
        let err = roomlink_server::start(node_config(&redis, trusted))
            .await
            .err()
            .unwrap_or_else(|| {
                panic!(
                    "a node trusting {:?} started",
                    trusted.map(|_| "another CA")
                )
            });
        let text = err.to_string();
        assert!(text.contains("cluster store"), "{text}");
        assert!(text.contains("certificate"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test]
async fn a_ca_without_rediss_is_a_config_error() {
    let redis = Redis::start();
    let ca = TestCa::new("redis test CA").unwrap();
    let err = roomlink_server::start(node_config(&redis, Some(&ca)))
        .await
        .err()
        .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("rediss://"), "{err}");
}
