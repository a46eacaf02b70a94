//! The commands of a room's log: every input the rules take, made replayable.
//!
//! What would differ between nodes is settled by the node that appends, and carried in the
//! command: the token's verdict (tokens themselves are never stored), the minted session and
//! room-session IDs, and connection IDs that embed the node's number. What is the same
//! everywhere is left to the rules: the time is the entry's (Redis's), and the rules run on
//! every replica alike. So every replica that applies a log ends in the same state and decides
//! the same frames, each node sending only those for its own connections.

use roomlink_proto::protocol::Login;
use roomlink_server_core::{AuthError, Grant};
use serde::{Deserialize, Serialize};

/// A connection ID in the cluster: the node's number in the high bits, the node's own
/// connection counter in the low ones.
pub type ClusterConn = u64;

/// Bits of a [`ClusterConn`] that are the node's own connection number.
pub const LOCAL_BITS: u32 = 40;

pub fn cluster_conn(node: u64, local: u64) -> ClusterConn {
    (node << LOCAL_BITS) | (local & ((1 << LOCAL_BITS) - 1))
}

pub fn node_of(conn: ClusterConn) -> u64 {
    conn >> LOCAL_BITS
}

pub fn local_of(conn: ClusterConn) -> u64 {
    conn & ((1 << LOCAL_BITS) - 1)
}

/// A token's verdict, as the appending node found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "v", rename_all = "snake_case")]
pub enum Verdict {
    Granted { expires_at_ms: u64 },
    Invalid,
    Expired,
}

impl Verdict {
    pub fn of(r: Result<Grant, AuthError>) -> Self {
        match r {
            Ok(g) => Verdict::Granted {
                expires_at_ms: g.expires_at_ms,
            },
            Err(AuthError::Invalid) => Verdict::Invalid,
            Err(AuthError::Expired) => Verdict::Expired,
        }
    }

    pub fn result(self) -> Result<Grant, AuthError> {
        match self {
            Verdict::Granted { expires_at_ms } => Ok(Grant { expires_at_ms }),
            Verdict::Invalid => Err(AuthError::Invalid),
            Verdict::Expired => Err(AuthError::Expired),
        }
    }
}

/// One entry of a room's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Command {
    /// A login (fresh or resume); `login.token` is always empty.
    Login {
        conn: ClusterConn,
        login: Box<Login>,
        auth: Verdict,
        /// Used if the login creates a session / the room.
        session_id: String,
        room_session_id: String,
    },
    Logout {
        conn: ClusterConn,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// With `session_id`: the user the logout's token names, as the appending node found it
        /// (signed by this app, for this room, expired or not); `None` without a token or with a
        /// bad one. The token itself is never stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<String>,
    },
    Renew {
        conn: ClusterConn,
        auth: Verdict,
    },
    Publish {
        conn: ClusterConn,
        stream_id: String,
        extra_info: String,
    },
    Unpublish {
        conn: ClusterConn,
        stream_id: String,
    },
    /// The connection is gone: closed (its sessions detach; they were last heard
    /// `silent_for_ms` before the entry's time) or silent for the heartbeat timeout (`None`:
    /// they expire at once).
    ConnEnded {
        conn: ClusterConn,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        silent_for_ms: Option<u64>,
    },
    /// Fires what is due at the entry's time (every entry does that first; a tick only that).
    Tick,
    Kick {
        user_id: String,
        reason: String,
    },
    Close {
        reason: String,
    },
    /// Appended by a reaper: `node` died; its sessions detach as if their connections closed
    /// when the node was last heard.
    NodeLost {
        node: u64,
        last_heard_ms: u64,
    },
}

impl Command {
    pub fn encode(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_keep_node_and_local_number_apart() {
        let c = cluster_conn(3, 12345);
        assert_eq!(node_of(c), 3);
        assert_eq!(local_of(c), 12345);
        assert_ne!(cluster_conn(1, 5), cluster_conn(2, 5));
    }

    #[test]
    fn the_reapers_hand_written_entry_decodes() {
        // scripts.rs builds this JSON in Lua; it must stay what `Command` reads.
        let c =
            Command::decode(r#"{"t":"node_lost","node":4,"last_heard_ms":1700000000000}"#).unwrap();
        assert_eq!(
            c,
            Command::NodeLost {
                node: 4,
                last_heard_ms: 1_700_000_000_000
            }
        );
        assert_eq!(Command::decode(r#"{"t":"tick"}"#).unwrap(), Command::Tick);
    }
}
