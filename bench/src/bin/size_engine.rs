//! Client-footprint proxy until the `ffi/` cdylib lands: the smallest program that creates an
//! engine and logs in. `size-engine URL TOKEN` exits 0 once logged in to room "size" as "size".

use std::process::ExitCode;
use std::time::{Duration, Instant};

use roomlink::{Engine, EngineConfig, Event, RoomConfig, RoomStateChangedReason as R, User};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(token)) = (args.next(), args.next()) else {
        eprintln!("usage: size-engine URL TOKEN");
        return ExitCode::from(2);
    };
    let engine = match Engine::new(EngineConfig::new(url), None) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("engine: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = engine.login_room(
        "size",
        User::new("size", "size"),
        &token,
        RoomConfig::default(),
    ) {
        eprintln!("login_room: {e}");
        return ExitCode::FAILURE;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match engine.wait_event(left) {
            Some(Event::RoomStateChanged {
                reason: R::Logined, ..
            }) => return ExitCode::SUCCESS,
            Some(Event::RoomStateChanged {
                reason: R::LoginFailed,
                error_code,
                ..
            }) => {
                eprintln!("login failed: {error_code}");
                return ExitCode::FAILURE;
            }
            Some(_) => continue,
            None => break,
        }
    }
    eprintln!("no Logined within 20 s");
    ExitCode::FAILURE
}
