//! `roomlink join`: a live client that prints every event until Ctrl-C (or until the room ends).

use std::sync::Arc;
use std::time::Instant;

use roomlink::{Engine, EngineConfig, Event, RoomConfig, User};

#[derive(clap::Args)]
pub struct Args {
    /// Server WebSocket URL.
    #[arg(
        long,
        env = "ROOMLINK_SERVER",
        default_value = "ws://127.0.0.1:7700/v1/ws"
    )]
    server: String,
    #[arg(long)]
    room: String,
    #[arg(long)]
    user: String,
    /// Display name (defaults to the user ID).
    #[arg(long)]
    name: Option<String>,
    /// A token; without one, a one-hour token is minted with --token-secret.
    #[arg(long, env = "ROOMLINK_TOKEN")]
    token: Option<String>,
    #[command(flatten)]
    key: crate::key::TokenKey,
}

pub fn run(args: Args) -> Result<(), String> {
    let token = args
        .token
        .clone()
        .unwrap_or_else(|| args.key.mint(&args.user, &args.room, 3600));
    let start = Instant::now();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let handler = move |event: Event| {
        println!(
            "{:>9.3}s {}",
            start.elapsed().as_secs_f64(),
            describe(&event)
        );
        if let Event::RoomStateChanged {
            reason, error_code, ..
        } = event
        {
            if reason.is_terminal() {
                let _ = done_tx.send((reason, error_code));
            }
        }
    };
    let engine = Engine::new(EngineConfig::new(args.server), Some(Arc::new(handler)))
        .map_err(|e| format!("engine: {e}"))?;
    let user = User::new(args.user.clone(), args.name.unwrap_or(args.user));
    engine
        .login_room(&args.room, user, &token, RoomConfig::default())
        .map_err(|e| format!("login_room: {e}"))?;
    // Ends when the room reaches a terminal state (kicked, failed) or the process is interrupted.
    let ended = done_rx.recv();
    engine.destroy();
    match ended {
        Ok((reason, code)) if !code.is_ok() => Err(format!("room {}: {reason} {code}", args.room)),
        _ => Ok(()),
    }
}

/// One line per event, the same words the demo uses.
pub fn describe(event: &Event) -> String {
    match event {
        Event::RoomStateChanged {
            room_id,
            reason,
            error_code,
            extended_data,
        } => {
            let extra = if extended_data.is_empty() {
                String::new()
            } else {
                format!(" {extended_data:?}")
            };
            format!(
                "[{room_id}] state {reason} code {}{extra}",
                error_code.value()
            )
        }
        Event::RoomUserUpdate {
            room_id,
            update_type,
            users,
        } => {
            let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
            format!("[{room_id}] users {update_type:?} {ids:?}")
        }
        Event::RoomOnlineUserCountUpdate { room_id, count } => {
            format!("[{room_id}] online {count}")
        }
        Event::RoomStreamUpdate {
            room_id,
            update_type,
            streams,
            reason,
        } => {
            let ids: Vec<&str> = streams.iter().map(|s| s.stream_id.as_str()).collect();
            format!("[{room_id}] streams {update_type:?} {ids:?} {reason:?}")
        }
        Event::RoomTokenWillExpire {
            room_id,
            remaining_seconds,
        } => {
            format!("[{room_id}] token expires in {remaining_seconds}s")
        }
    }
}
