//! Figures 2 and 3 on roomlink: login (fresh connection each time) and peer notification, with
//! full engines in this process against the server process over loopback.

use roomlink::{EngineConfig, RoomMode, RoomStateChangedReason as R, UpdateType};

use crate::engines::Stamped;
use crate::sys::mono_ns;

/// `login_room` → `Logined` callback, a fresh engine (so a fresh connection) per sample.
pub fn login(url: &str, samples: usize) -> Result<Vec<u64>, String> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples + 10 {
        let app = Stamped::new(EngineConfig::new(url))?;
        let room = format!("login-{i}");
        let t0 = mono_ns();
        app.login(&room, "alice")?;
        let t1 = app.wait_reason(&room, R::Logined)?;
        // The first few warm up the server (allocator, first connections); not counted.
        if i >= 10 {
            out.push(t1 - t0);
        }
        app.engine
            .logout_room(&room)
            .map_err(|e| format!("logout_room: {e}"))?;
        app.wait_reason(&room, R::Logout)?;
        app.engine.destroy();
    }
    Ok(out)
}

/// A (already connected: multi-room mode, logged in to another room) logs in to B's room →
/// B's user Add callback. The same shape as Socket.IO's "connected socket joins a room".
pub fn peer(url: &str, samples: usize) -> Result<Vec<u64>, String> {
    peer_between(url, url, samples)
}

/// [`peer`] with A connected to `url_a` and B to `url_b` (two nodes of a cluster, or one).
pub fn peer_between(url_a: &str, url_b: &str, samples: usize) -> Result<Vec<u64>, String> {
    let url = url_a;
    let b = Stamped::new(EngineConfig::new(url_b))?;
    b.login("peer", "bob")?;
    b.wait_reason("peer", R::Logined)?;
    let a = Stamped::new(EngineConfig {
        room_mode: RoomMode::MultiRoom,
        ..EngineConfig::new(url)
    })?;
    a.login("home-alice", "alice")?;
    a.wait_reason("home-alice", R::Logined)?;
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples + 10 {
        let t0 = mono_ns();
        a.login("peer", "alice")?;
        let t1 = b.wait_user("peer", UpdateType::Add, "alice")?;
        if i >= 10 {
            out.push(t1 - t0);
        }
        a.wait_reason("peer", R::Logined)?;
        a.engine
            .logout_room("peer")
            .map_err(|e| format!("logout_room: {e}"))?;
        b.wait_user("peer", UpdateType::Delete, "alice")?;
        a.wait_reason("peer", R::Logout)?;
    }
    a.engine.destroy();
    b.engine.destroy();
    Ok(out)
}
