//! The engine exports: create/destroy and one function per engine call, each a short delegation
//! to core after the boundary checks (handle, pointers, UTF-8, callback context).

use std::ffi::c_char;
use std::sync::Arc;

use roomlink::{ConnectionState, Engine, ErrorCode, EventHandler, RoomConfig, User};

use super::boundary;
use super::callbacks;
use super::config::{self, roomlink_engine_config};
use super::handler::{CHandler, roomlink_event_handler};
use super::registry;
use super::strings::arg;

/// An engine handle: issued by `roomlink_engine_create`, from 1 upward, never reused. 0 is never a
/// valid handle.
pub type roomlink_engine = u64;

/// A room's coarse connection state (numbered as NERTC/Agora number theirs): `ROOMLINK_STATE_*`,
/// written into the header by build.rs from core's `ConnectionState`.
pub type roomlink_connection_state = u32;

/// 0/1 → bool; anything else is a caller bug (`INVALID_ARGUMENT`), not silently true.
fn flag(value: u32) -> Result<bool, ErrorCode> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ErrorCode::INVALID_ARGUMENT),
    }
}

/// The live engine behind `engine`, for a call not made from inside the log callback.
fn live(engine: roomlink_engine) -> Result<Arc<Engine>, ErrorCode> {
    callbacks::refuse_in_log()?;
    registry::live(engine)
}

/// Creates an engine and writes its handle to `*out_engine`.
///
/// `handler` NULL selects the pull API (`roomlink_poll_event` / `roomlink_wait_event`); otherwise
/// events go to its callbacks (the struct is copied). `config` is borrowed for the call.
///
/// Returns 0; `ROOMLINK_CODE_NULL_POINTER` (`config`, `config->server_url` or `out_engine` NULL),
/// `ROOMLINK_CODE_INVALID_UTF8`, `ROOMLINK_CODE_INVALID_ARGUMENT` (a setting out of range, see
/// `roomlink_engine_config`), `ROOMLINK_CODE_INTERNAL_ERROR` (no thread could be started),
/// `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from the log callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_engine_create(
    config: *const roomlink_engine_config,
    handler: *const roomlink_event_handler,
    out_engine: *mut roomlink_engine,
) -> i32 {
    boundary::call("roomlink_engine_create", || {
        callbacks::refuse_in_log()?;
        // SAFETY: the header's contract for `config`.
        let config = unsafe { config::from_c(config) }?;
        // SAFETY: NULL or a valid struct, read (copied) now.
        let handler = unsafe { handler.as_ref() }.map(|h| Arc::new(CHandler::new(*h)));
        if out_engine.is_null() {
            return Err(ErrorCode::NULL_POINTER);
        }
        let core_handler = (handler.clone()).map(|h| h as Arc<dyn EventHandler>);
        let engine = Engine::new(config, core_handler)?;
        let id = registry::insert(engine, handler.is_none())?;
        if let Some(handler) = handler {
            handler.arm_release();
        }
        // SAFETY: checked non-NULL; the caller passes writable memory for one handle.
        unsafe { out_engine.write(id) };
        Ok(())
    })
}

/// Destroys an engine: logs out of every room (`Logout` events), stops and joins its threads.
/// The handle stays invalid forever: later calls with it return `ROOMLINK_CODE_ENGINE_DESTROYED`
/// (1900005), a second destroy included.
///
/// From any thread, including from inside a callback. Called outside any roomlink callback, it
/// returns after the last callback of this engine has returned (`on_released` included, or the
/// last event-ready call of a pull engine). Called from inside a roomlink callback, of this
/// engine or of another, it returns without waiting for this engine's callbacks: its event
/// thread delivers the events already queued (its `Logout`s) after the callback it may be
/// running, then runs `on_released` (free `user_data` there, not after destroy returns); a
/// pull engine's event-ready call that is running may still finish. Waiting there could
/// deadlock: two engines destroying each other from their callbacks at the same moment would
/// each wait for the other's callback to end (`ffi/tests/c/misuse.c` does exactly that).
/// A pull-mode engine's last events stay readable with `roomlink_poll_event` /
/// `roomlink_wait_event`; once they are taken, both return `ROOMLINK_CODE_ENGINE_DESTROYED` at
/// once, already while destroy is still running on another thread (no event can follow).
///
/// Returns 0; `ROOMLINK_CODE_UNKNOWN_ENGINE`, `ROOMLINK_CODE_ENGINE_DESTROYED`,
/// `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from the log callback).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_engine_destroy(engine: roomlink_engine) -> i32 {
    boundary::call("roomlink_engine_destroy", || {
        callbacks::refuse_in_log()?;
        let core = registry::begin_destroy(engine)?;
        core.destroy();
        registry::end_destroy(engine);
        Ok(())
    })
}

/// Starts logging in to `room_id` as (`user_id`, `user_name`) with `token`: reports `Logining`,
/// then `Logined` or `LoginFailed`. `user_update`: 1 = receive user updates (the default), 0 = not.
///
/// Returns 0, or at once (nothing changed): the validation codes 1002005..=1002013,
/// `ROOMLINK_CODE_ALREADY_LOGGED_IN`, `ROOMLINK_CODE_INVALID_ARGUMENT` (`user_update` not 0/1),
/// and the boundary codes (NULL pointer, invalid UTF-8, unknown/destroyed engine, log callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_login_room(
    engine: roomlink_engine,
    room_id: *const c_char,
    user_id: *const c_char,
    user_name: *const c_char,
    token: *const c_char,
    user_update: u32,
) -> i32 {
    boundary::call("roomlink_login_room", || {
        let core = live(engine)?;
        // SAFETY (each `arg`): the header's string contract.
        let (room, id, name) = unsafe { (arg(room_id)?, arg(user_id)?, arg(user_name)?) };
        let token = unsafe { arg(token) }?;
        let config = RoomConfig {
            user_update: flag(user_update)?,
        };
        core.login_room(room, User::new(id, name), token, config)
    })
}

/// Logs out of `room_id`: reports `Logout`. For a room not logged in, reports `LogoutFailed`
/// *and* returns `ROOMLINK_CODE_ROOM_NOT_LOGGED_IN` (as ZEGO does).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_logout_room(
    engine: roomlink_engine,
    room_id: *const c_char,
) -> i32 {
    boundary::call("roomlink_logout_room", || {
        let core = live(engine)?;
        // SAFETY: the header's string contract.
        core.logout_room(unsafe { arg(room_id) }?)
    })
}

/// Logs out of `from_room_id` and in to `to_room_id` as the same user, with `token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_switch_room(
    engine: roomlink_engine,
    from_room_id: *const c_char,
    to_room_id: *const c_char,
    token: *const c_char,
) -> i32 {
    boundary::call("roomlink_switch_room", || {
        let core = live(engine)?;
        // SAFETY: the header's string contract.
        let (from, to, token) = unsafe { (arg(from_room_id)?, arg(to_room_id)?, arg(token)?) };
        core.switch_room(from, to, token)
    })
}

/// Replaces the room's token (after `on_room_token_will_expire`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_renew_token(
    engine: roomlink_engine,
    room_id: *const c_char,
    token: *const c_char,
) -> i32 {
    boundary::call("roomlink_renew_token", || {
        let core = live(engine)?;
        // SAFETY: the header's string contract.
        let (room, token) = unsafe { (arg(room_id)?, arg(token)?) };
        core.renew_token(room, token)
    })
}

/// Announces a stream (metadata only) in a logged-in room; `extra_info` may be "".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_publish_stream(
    engine: roomlink_engine,
    room_id: *const c_char,
    stream_id: *const c_char,
    extra_info: *const c_char,
) -> i32 {
    boundary::call("roomlink_publish_stream", || {
        let core = live(engine)?;
        // SAFETY: the header's string contract.
        let (room, stream, extra) = unsafe { (arg(room_id)?, arg(stream_id)?, arg(extra_info)?) };
        core.publish_stream(room, stream, extra)
    })
}

/// Withdraws a stream published with `roomlink_publish_stream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_unpublish_stream(
    engine: roomlink_engine,
    room_id: *const c_char,
    stream_id: *const c_char,
) -> i32 {
    boundary::call("roomlink_unpublish_stream", || {
        let core = live(engine)?;
        // SAFETY: the header's string contract.
        let (room, stream) = unsafe { (arg(room_id)?, arg(stream_id)?) };
        core.unpublish_stream(room, stream)
    })
}

/// A hint from the host's connectivity callback: `available` 1 = retry now, 0 = report the outage
/// now. Ignored (returns 0) once the engine is destroyed, as in core.
///
/// Returns 0; `ROOMLINK_CODE_INVALID_ARGUMENT` (`available` not 0/1),
/// `ROOMLINK_CODE_UNKNOWN_ENGINE`, `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from the log callback).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_on_network_changed(engine: roomlink_engine, available: u32) -> i32 {
    boundary::call("roomlink_on_network_changed", || {
        let core = match live(engine) {
            Err(ErrorCode::ENGINE_DESTROYED) => return flag(available).map(drop),
            other => other?,
        };
        core.on_network_changed(flag(available)?);
        Ok(())
    })
}

/// An app-lifecycle hint: the app is going to the background (iOS
/// `applicationDidEnterBackground`, Android `onStop`, Unity `OnApplicationPause(true)`). An open
/// link pings at once, so the server's heartbeat timeout counts from now; the link is kept.
/// Ignored (returns 0) once the engine is destroyed, as in core.
///
/// Returns 0; `ROOMLINK_CODE_UNKNOWN_ENGINE`, `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from the log
/// callback).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_on_app_background(engine: roomlink_engine) -> i32 {
    boundary::call("roomlink_on_app_background", || {
        match live(engine) {
            Err(ErrorCode::ENGINE_DESTROYED) => {}
            other => other?.on_app_background(),
        }
        Ok(())
    })
}

/// An app-lifecycle hint: the app is back in the foreground (iOS `applicationWillEnterForeground`,
/// Android `onStart`, Unity `OnApplicationPause(false)`). Rooms whose retry window passed while it
/// was suspended fail now, an open link is probed (lost if no answer within the heartbeat
/// interval), a link waiting to reconnect retries at once. Ignored (returns 0) once the engine
/// is destroyed, as in core.
///
/// Returns 0; `ROOMLINK_CODE_UNKNOWN_ENGINE`, `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from the log
/// callback).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_on_app_foreground(engine: roomlink_engine) -> i32 {
    boundary::call("roomlink_on_app_foreground", || {
        match live(engine) {
            Err(ErrorCode::ENGINE_DESTROYED) => {}
            other => other?.on_app_foreground(),
        }
        Ok(())
    })
}

/// Writes the room's state (`ROOMLINK_STATE_*`) to `*out_state`: `ROOMLINK_STATE_DISCONNECTED`
/// for a room never logged in, and for every room once the engine is destroyed (returning 0, as
/// core does).
///
/// Returns 0; the boundary codes (NULL pointer, invalid UTF-8, unknown engine, log callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_room_state(
    engine: roomlink_engine,
    room_id: *const c_char,
    out_state: *mut roomlink_connection_state,
) -> i32 {
    boundary::call("roomlink_room_state", || {
        let core = match live(engine) {
            Err(ErrorCode::ENGINE_DESTROYED) => None,
            other => Some(other?),
        };
        // SAFETY: the header's string contract.
        let room = unsafe { arg(room_id) }?;
        if out_state.is_null() {
            return Err(ErrorCode::NULL_POINTER);
        }
        let state = core.map_or(ConnectionState::Disconnected, |c| c.room_state(room));
        // SAFETY: checked non-NULL; the caller passes writable memory for one state.
        unsafe { out_state.write(state as roomlink_connection_state) };
        Ok(())
    })
}
