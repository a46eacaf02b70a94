//! Every Redis key and channel the cluster uses, in one place (`docs/PROTOCOL.md`, "Cluster",
//! lists them for operators). The Lua scripts in `scripts.rs` build the same names; keep both in
//! step.
//!
//! A room's keys carry the room ID in braces (a Redis Cluster hash tag), so a room's keys would
//! stay in one slot; the node-wide keys do not, which is why the cluster needs one Redis primary
//! (or Sentinel failover), not Redis Cluster.

/// The room's command log (a Stream): the one total order every replica applies.
pub fn log(room_id: &str) -> String {
    format!("rl:{{{room_id}}}:log")
}

/// The room's latest snapshot (a Hash: `offset`, the entry it was taken after, and `data`), so
/// the log can be trimmed and a node that starts serving the room need not read it all.
pub fn snapshot(room_id: &str) -> String {
    format!("rl:{{{room_id}}}:snap")
}

/// Every room that has a log (a Set), for the admin listing.
pub const ROOMS: &str = "rl:rooms";

/// Node numbers are drawn from this counter, so connection IDs never collide across nodes.
pub const NODE_SEQ: &str = "rl:node:seq";

/// Live nodes (a Hash): node number → the Redis time (unix ms) of its last liveness refresh. It
/// outlives a node's liveness key, so a reaper knows when a dead node was last heard.
pub const NODES: &str = "rl:nodes";

/// A node's liveness key (a String with a TTL, refreshed for all the node's connections at once).
pub fn node_alive(node: u64) -> String {
    format!("rl:node:{node}")
}

/// Rooms where a node appended commands (a Set): where its sessions may be, for the reaper.
pub fn node_rooms(node: u64) -> String {
    format!("rl:node:{node}:rooms")
}

/// The doorbell (pub/sub): a message is a room ID whose log has new entries.
pub const BELL: &str = "rl:bell";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rooms_keys_share_its_hash_tag() {
        assert_eq!(log("r-1"), "rl:{r-1}:log");
        assert_eq!(node_alive(7), "rl:node:7");
        assert_eq!(node_rooms(7), "rl:node:7:rooms");
    }
}
