//! The Socket.IO side: spawns `bench/socketio/server.js` and `client.js` with the machine's node
//! and reads their JSON-lines results.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::capacity::{self, Capacity, ROOM_SIZE};
use crate::child::ChildProc;
use crate::fanout::Fanout;

const PATIENCE: Duration = Duration::from_secs(180);

/// Where the node scripts (and their node_modules) are.
#[derive(Clone)]
pub struct SocketIo {
    pub dir: PathBuf,
}

/// A running Socket.IO server process.
pub struct SioServer {
    pub proc: ChildProc,
    pub url: String,
}

fn node(dir: &Path, script: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.current_dir(dir).arg(script);
    cmd
}

fn samples(line: &serde_json::Value, key: &str) -> Result<Vec<u64>, String> {
    line[key]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .ok_or_else(|| format!("socket.io client: no {key} in {line}"))
}

impl SocketIo {
    pub fn start_server(&self) -> Result<SioServer, String> {
        let proc = ChildProc::spawn("socket.io server", node(&self.dir, "server.js"))?;
        let line = proc.next_json(Duration::from_secs(20))?;
        let port = line["port"]
            .as_u64()
            .ok_or_else(|| format!("socket.io server: bad line {line}"))?;
        Ok(SioServer {
            proc,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    fn client(&self, args: &[String]) -> Result<ChildProc, String> {
        let mut cmd = node(&self.dir, "client.js");
        cmd.args(args);
        ChildProc::spawn("socket.io client", cmd)
    }

    /// Connect (websocket transport only) + join with ack, `n` times.
    pub fn login(&self, server: &SioServer, n: usize) -> Result<Vec<u64>, String> {
        let c = self.client(&["login".into(), server.url.clone(), n.to_string()])?;
        let out = samples(&c.next_json(PATIENCE)?, "samples_ns")?;
        c.finish(Duration::from_secs(10))?;
        Ok(out)
    }

    /// A joins → B receives the room broadcast, `n` times.
    pub fn peer(&self, server: &SioServer, n: usize) -> Result<Vec<u64>, String> {
        let c = self.client(&["peer".into(), server.url.clone(), n.to_string()])?;
        let out = samples(&c.next_json(PATIENCE)?, "samples_ns")?;
        c.finish(Duration::from_secs(10))?;
        Ok(out)
    }

    /// One joins a room of `members` sockets → all received the broadcast, `trials` times.
    pub fn fanout(
        &self,
        server: &SioServer,
        members: usize,
        trials: usize,
    ) -> Result<Fanout, String> {
        let c = self.client(&[
            "fanout".into(),
            server.url.clone(),
            members.to_string(),
            trials.to_string(),
        ])?;
        let mut out = Fanout {
            members,
            ..Fanout::default()
        };
        for _ in 0..trials {
            let recv = samples(&c.next_json(PATIENCE)?, "recv_ns")?;
            if recv.len() != members {
                return Err(format!(
                    "socket.io fan-out: {} of {members} received",
                    recv.len()
                ));
            }
            // Already relative to the joiner's emit (same process, same clock).
            out.add_trial(0, &recv);
        }
        c.next_json(PATIENCE)?; // the closing summary line
        c.finish(Duration::from_secs(30))?;
        Ok(out)
    }

    /// Capacity at `sessions` on a fresh server process.
    pub fn capacity(&self, sessions: usize, hold: Duration) -> Result<Capacity, String> {
        let server = self.start_server()?;
        let url = server.url.clone();
        let spawn = |count: usize, source: Ipv4Addr, prefix: &str| {
            self.client(&[
                "load".into(),
                url.clone(),
                count.to_string(),
                source.to_string(),
                ROOM_SIZE.to_string(),
                prefix.into(),
            ])
        };
        let result = capacity::measure(server.proc.pid(), sessions, hold, spawn);
        server.proc.finish(Duration::from_secs(10))?;
        result
    }
}
