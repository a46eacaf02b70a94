//! The node's own life in the cluster: its number, its liveness key, the reaper of dead nodes,
//! and the doorbell subscriber.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Inner, Liveness, keys, scripts};

/// Backoff of the doorbell subscriber's reconnects.
const RESUBSCRIBE_MIN: Duration = Duration::from_millis(100);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(2);

/// Takes a new node number and marks it live.
pub async fn register(
    redis: &mut ConnectionManager,
    liveness: Liveness,
) -> Result<u64, redis::RedisError> {
    let node: u64 = redis::cmd("INCR")
        .arg(keys::NODE_SEQ)
        .query_async(redis)
        .await?;
    scripts::ALIVE
        .key(keys::node_alive(node))
        .key(keys::NODES)
        .key(keys::NODE_SEQ)
        .arg(node)
        .arg(ttl_ms(liveness))
        .arg(1)
        .invoke_async::<i64>(redis)
        .await?;
    Ok(node)
}

/// How long a node must have been in touch with Redis before it may declare others dead: after
/// an outage of Redis every live node's key has expired, and each needs a refresh interval plus
/// a slow command's worth of time to renew it.
fn reap_grace(l: Liveness) -> Duration {
    l.ttl + super::STORE_TIMEOUT
}

fn ttl_ms(l: Liveness) -> u64 {
    l.ttl.as_millis().max(1) as u64
}

/// Refreshes the node's liveness every `refresh`, and reaps dead nodes once this node has been
/// in touch with Redis for [`reap_grace`] (after an outage of Redis, every live node must have
/// had the chance to refresh before anyone is declared dead).
pub async fn liveness(node: Arc<Inner>) {
    let mut stop = node.stop.subscribe();
    let l = node.liveness;
    // Since when every refresh has succeeded (`None`: the last one failed).
    let mut in_touch_since: Option<Instant> = Some(Instant::now());
    let mut ticker = tokio::time::interval(l.refresh);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticker.tick() => {}
        }
        if node.stopped.load(Ordering::Acquire) {
            return;
        }
        let mut redis = node.redis.clone();
        let me = node.node();
        let refreshed = scripts::ALIVE
            .key(keys::node_alive(me))
            .key(keys::NODES)
            .key(keys::NODE_SEQ)
            .arg(me)
            .arg(ttl_ms(l))
            .arg(0)
            .invoke_async::<i64>(&mut redis)
            .await;
        match refreshed {
            Ok(-1) => {
                // Reaped while cut off: its sessions are detached cluster-wide already. A new
                // number first, then every connection closed: a command carries the number its
                // connection's ID was minted with, and a node delivers only to IDs of its own
                // number, so a connection that sent one under the old number (even one accepted
                // while this ran) would never get an answer again. Closed, it resumes under the
                // new one. (If registering fails, the next refresh finds the key gone again.)
                match register(&mut redis, l).await {
                    Ok(n) => {
                        node.node.store(n, Ordering::Release);
                        log::warn!("rejoined the cluster as node {n}");
                    }
                    Err(e) => log::warn!("could not rejoin the cluster: {e}"),
                }
                node.close_all_connections();
                in_touch_since = Some(Instant::now());
                continue;
            }
            Ok(_) => {
                if in_touch_since.is_none() {
                    log::info!("cluster store reachable again");
                }
                in_touch_since.get_or_insert_with(Instant::now);
            }
            Err(e) => {
                if in_touch_since.take().is_some() {
                    log::warn!("cluster store unreachable (liveness refresh): {e}");
                }
                continue;
            }
        }
        if in_touch_since.is_some_and(|since| since.elapsed() >= reap_grace(l)) {
            reap(&node, &mut redis).await;
        }
    }
}

async fn reap(node: &Arc<Inner>, redis: &mut ConnectionManager) {
    let reaped = scripts::REAP
        .key(keys::NODES)
        .arg(node.node())
        .invoke_async::<Vec<String>>(redis)
        .await;
    match reaped {
        Ok(rooms) => {
            for room_id in rooms {
                // Serve the room from now on: its detached sessions need someone to fire their
                // expiry, and the node that held them is gone.
                log::info!("room {room_id}: a dead node's sessions detached");
                node.serve(&room_id);
            }
        }
        Err(e) => log::warn!("reaper: {e}"),
    }
}

/// Subscribes to the doorbell and rings the room tasks. After every (re)subscription every room
/// task reads its log: doorbells published while unsubscribed are lost, entries never are.
///
/// The subscription is on a RESP3 multiplexed connection whose push sender is [`Inner::bell`]
/// itself: each message is handed to its room task from the connection's driver as soon as it
/// is parsed (redis-rs's `PubSub` would pass it through a channel to this task first, one more
/// wake-up on every notification's path). The driver reports the connection's end as a
/// `Disconnection` push, which makes this task subscribe again.
pub async fn doorbell(node: Arc<Inner>) {
    let mut stop = node.stop.subscribe();
    let mut backoff = RESUBSCRIBE_MIN;
    loop {
        if node.stopped.load(Ordering::Acquire) {
            return;
        }
        let lost = Arc::new(Notify::new());
        let sender = {
            // A weak reference: the connection's driver must not keep the node alive.
            let node = Arc::downgrade(&node);
            let lost = lost.clone();
            move |push: PushInfo| -> Result<(), std::convert::Infallible> {
                match push.kind {
                    PushKind::Message => {
                        if let (Some(node), Some(Value::BulkString(payload))) =
                            (node.upgrade(), push.data.get(1))
                        {
                            node.bell(&String::from_utf8_lossy(payload));
                        }
                    }
                    PushKind::Disconnection => lost.notify_one(),
                    _ => {}
                }
                Ok(())
            }
        };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(super::STORE_TIMEOUT))
            .set_push_sender(sender);
        let subscribed = async {
            let mut conn = node
                .bell_client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            conn.subscribe(keys::BELL).await?;
            Ok::<_, redis::RedisError>(conn)
        };
        let conn = tokio::select! {
            _ = stop.changed() => return,
            conn = subscribed => conn,
        };
        match conn {
            Ok(conn) => {
                backoff = RESUBSCRIBE_MIN;
                node.ring_all();
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = lost.notified() => {}
                }
                drop(conn);
                log::warn!("doorbell subscription lost; resubscribing");
            }
            Err(e) => log::debug!("doorbell: {e}"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RESUBSCRIBE_MAX);
    }
}
