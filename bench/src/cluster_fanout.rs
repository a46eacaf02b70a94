//! Fan-out over 4 nodes: one join into a room whose members are spread round robin over 4 nodes
//! of one Redis (the joiner on the first), against the same room on one in-memory server, in the
//! same run. The members are fanout.rs's: they ping like real clients while the room is built.

use serde::Serialize;

use crate::fanout::{self, Fanout};
use crate::server::ServerProc;

pub const NODES: usize = 4;

#[derive(Serialize)]
pub struct ClusterFanout {
    pub nodes: usize,
    pub single: Fanout,
    pub cluster: Fanout,
}

pub fn run(members: usize, trials: usize) -> Result<ClusterFanout, String> {
    let single = {
        let server = ServerProc::start()?;
        let f = fanout::roomlink(server.addr, members, trials);
        server.stop()?;
        f?
    };
    let redis = crate::cluster::start_redis()?;
    let nodes: Vec<ServerProc> = (0..NODES)
        .map(|_| ServerProc::start_on(Some(&redis.url()), None))
        .collect::<Result<_, String>>()?;
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let f = fanout::roomlink_on(&addrs, members, trials);
    let stopped: Vec<Result<(), String>> = nodes.into_iter().map(ServerProc::stop).collect();
    let cluster = f?;
    stopped.into_iter().collect::<Result<Vec<()>, String>>()?;
    Ok(ClusterFanout {
        nodes: NODES,
        single,
        cluster,
    })
}
