//! `roomlink_engine_config`: the engine's settings as a flat C struct (durations in ms).

use std::ffi::c_char;
use std::time::Duration;

use roomlink::{EngineConfig, ErrorCode, RoomMode};

use super::boundary;
use super::strings;

/// ZEGO's room modes (`roomlink_engine_config.room_mode`).
pub type roomlink_room_mode = u32;
/// One room at a time: logging in to a second room fails with `ROOMLINK_CODE_ALREADY_LOGGED_IN`.
pub const ROOMLINK_ROOM_MODE_SINGLE_ROOM: roomlink_room_mode = 0;
/// Several rooms at once over the one link.
pub const ROOMLINK_ROOM_MODE_MULTI_ROOM: roomlink_room_mode = 1;

/// An engine's settings. Start from `roomlink_engine_config_default()` and set `server_url`.
/// Borrowed by `roomlink_engine_create` for the call only (the engine copies what it needs).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomlink_engine_config {
    /// `ws://host:port/path` or `wss://...` (UTF-8, NUL-terminated). The default is NULL: set it.
    pub server_url: *const c_char,
    /// `ROOMLINK_ROOM_MODE_*`.
    pub room_mode: roomlink_room_mode,
    /// How often a ping is sent while the link is idle (default 10 000).
    pub heartbeat_interval_ms: u64,
    /// No inbound frame for this long = link lost, `Reconnecting` (default 25 000; must be above
    /// the heartbeat interval).
    pub ping_timeout_ms: u64,
    /// A login not done after this long fails with 1002053 (default 30 000).
    pub login_timeout_ms: u64,
    /// After a link loss, retry this long before `ReconnectFailed` 1002053 (default 1 200 000).
    pub retry_window_ms: u64,
    /// Full-jitter exponential backoff base (default 300).
    pub backoff_base_ms: u64,
    /// Backoff cap, at least the base (default 8 000).
    pub backoff_cap_ms: u64,
    /// `on_room_token_will_expire` fires this long before the token expires (default 30 000).
    pub token_warning_ms: u64,
    /// Larger frames are a protocol error (default 65 536; at least 1024).
    pub max_frame_bytes: u64,
    /// More servers, tried in order after `server_url`: an array of `more_server_urls_count`
    /// NUL-terminated UTF-8 URLs (default NULL, count 0). A failed attempt moves on to the next
    /// URL at once; after a full round of failures the backoff applies. Borrowed for the call.
    pub more_server_urls: *const *const c_char,
    /// The number of entries in `more_server_urls` (0: none; then the pointer may be NULL).
    pub more_server_urls_count: usize,
    /// NULL (the default) to connect directly, or an HTTP proxy to tunnel through,
    /// `http://[user:pass@]host:port` (UTF-8, NUL-terminated). Credentials in it are never logged.
    pub proxy_url: *const c_char,
    /// NULL (the default) to verify `wss://` servers with the platform's verifier and the OS
    /// trust store, or a PEM bundle of CA certificates to trust instead (only those: pinning an
    /// app's own CA), `tls_ca_pem_len` bytes, borrowed for the call. A bundle without a
    /// certificate is `ROOMLINK_CODE_INVALID_ARGUMENT` when the engine is created.
    pub tls_ca_pem: *const u8,
    /// The length of `tls_ca_pem` in bytes (no NUL needed).
    pub tls_ca_pem_len: usize,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The defaults (fit for production), with `server_url` NULL.
fn defaults() -> roomlink_engine_config {
    let d = EngineConfig::default();
    roomlink_engine_config {
        server_url: std::ptr::null(),
        room_mode: d.room_mode as roomlink_room_mode,
        heartbeat_interval_ms: ms(d.heartbeat_interval),
        ping_timeout_ms: ms(d.ping_timeout),
        login_timeout_ms: ms(d.login_timeout),
        retry_window_ms: ms(d.retry_window),
        backoff_base_ms: ms(d.backoff_base),
        backoff_cap_ms: ms(d.backoff_cap),
        token_warning_ms: ms(d.token_warning),
        max_frame_bytes: d.max_frame_bytes as u64,
        more_server_urls: std::ptr::null(),
        more_server_urls_count: 0,
        proxy_url: std::ptr::null(),
        tls_ca_pem: std::ptr::null(),
        tls_ca_pem_len: 0,
    }
}

/// Core's config from the C struct. NULL or a NULL `server_url` is `NULL_POINTER`, a URL that is
/// not UTF-8 `INVALID_UTF8`, an unknown room mode `INVALID_ARGUMENT` (core's `validate` checks
/// the rest, the proxy URL's form included, when the engine is created).
///
/// A NULL `more_server_urls` with a non-zero count, or a NULL entry, is `NULL_POINTER`.
///
/// # Safety
/// `config` is NULL or points to a valid struct whose `server_url` and `proxy_url` are each NULL
/// or a NUL-terminated string, whose `more_server_urls` is NULL or points to
/// `more_server_urls_count` pointers, each NULL or a NUL-terminated string, and whose
/// `tls_ca_pem` is NULL or points to `tls_ca_pem_len` bytes, all alive for the call.
pub(crate) unsafe fn from_c(
    config: *const roomlink_engine_config,
) -> Result<EngineConfig, ErrorCode> {
    // SAFETY: the caller's promise.
    let c = unsafe { config.as_ref() }.ok_or(ErrorCode::NULL_POINTER)?;
    // SAFETY: the caller's promise.
    let url = unsafe { strings::arg(c.server_url) }?;
    let proxy = if c.proxy_url.is_null() {
        None
    } else {
        // SAFETY: the caller's promise.
        Some(roomlink::ProxyUrl::from(unsafe {
            strings::arg(c.proxy_url)
        }?))
    };
    let tls_ca_pem = if c.tls_ca_pem.is_null() {
        None
    } else {
        // SAFETY: the caller's promise: `tls_ca_pem_len` readable bytes.
        let pem = unsafe { std::slice::from_raw_parts(c.tls_ca_pem, c.tls_ca_pem_len) };
        Some(roomlink::CaPem(pem.to_vec()))
    };
    let room_mode = match c.room_mode {
        ROOMLINK_ROOM_MODE_SINGLE_ROOM => RoomMode::SingleRoom,
        ROOMLINK_ROOM_MODE_MULTI_ROOM => RoomMode::MultiRoom,
        _ => return Err(ErrorCode::INVALID_ARGUMENT),
    };
    let mut more_server_urls = Vec::new();
    if c.more_server_urls_count > 0 {
        if c.more_server_urls.is_null() {
            return Err(ErrorCode::NULL_POINTER);
        }
        // SAFETY: the caller's promise: `more_server_urls_count` readable pointers.
        let entries =
            unsafe { std::slice::from_raw_parts(c.more_server_urls, c.more_server_urls_count) };
        for &entry in entries {
            // SAFETY: the caller's promise.
            more_server_urls.push(unsafe { strings::arg(entry) }?.to_string());
        }
    }
    Ok(EngineConfig {
        more_server_urls,
        room_mode,
        heartbeat_interval: Duration::from_millis(c.heartbeat_interval_ms),
        ping_timeout: Duration::from_millis(c.ping_timeout_ms),
        login_timeout: Duration::from_millis(c.login_timeout_ms),
        retry_window: Duration::from_millis(c.retry_window_ms),
        backoff_base: Duration::from_millis(c.backoff_base_ms),
        backoff_cap: Duration::from_millis(c.backoff_cap_ms),
        token_warning: Duration::from_millis(c.token_warning_ms),
        max_frame_bytes: usize::try_from(c.max_frame_bytes)
            .map_err(|_| ErrorCode::INVALID_ARGUMENT)?,
        proxy,
        tls_ca_pem,
        ..EngineConfig::new(url)
    })
}

/// Writes the default settings to `*out` (`server_url` = NULL). Returns 0, or
/// `ROOMLINK_CODE_NULL_POINTER` if `out` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_engine_config_default(out: *mut roomlink_engine_config) -> i32 {
    boundary::call("roomlink_engine_config_default", || {
        // SAFETY: the caller passes NULL or a pointer to writable memory for one struct.
        let out = unsafe { out.as_mut() }.ok_or(ErrorCode::NULL_POINTER)?;
        *out = defaults();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_round_trip_to_core_defaults() {
        let mut c = defaults();
        c.server_url = c"ws://127.0.0.1:1/v1/ws".as_ptr();
        let config = unsafe { from_c(&c) }.unwrap();
        assert_eq!(config, EngineConfig::new("ws://127.0.0.1:1/v1/ws"));
    }

    #[test]
    fn more_server_urls_are_copied_in_order_and_a_null_entry_is_refused() {
        let mut c = defaults();
        c.server_url = c"ws://a/v1/ws".as_ptr();
        let more = [c"ws://b/v1/ws".as_ptr(), c"ws://c/v1/ws".as_ptr()];
        c.more_server_urls = more.as_ptr();
        c.more_server_urls_count = more.len();
        let config = unsafe { from_c(&c) }.unwrap();
        assert_eq!(
            config.urls().collect::<Vec<_>>(),
            ["ws://a/v1/ws", "ws://b/v1/ws", "ws://c/v1/ws"]
        );
        let with_null = [c"ws://b/v1/ws".as_ptr(), std::ptr::null()];
        c.more_server_urls = with_null.as_ptr();
        assert_eq!(unsafe { from_c(&c) }, Err(ErrorCode::NULL_POINTER));
        c.more_server_urls = std::ptr::null();
        assert_eq!(unsafe { from_c(&c) }, Err(ErrorCode::NULL_POINTER));
        c.more_server_urls_count = 0;
        assert!(unsafe { from_c(&c) }.is_ok());
    }

    #[test]
    fn an_unknown_room_mode_is_invalid() {
        let mut c = defaults();
        c.server_url = c"ws://127.0.0.1:1/v1/ws".as_ptr();
        c.room_mode = 2;
        assert_eq!(unsafe { from_c(&c) }, Err(ErrorCode::INVALID_ARGUMENT));
        c.server_url = std::ptr::null();
        assert_eq!(unsafe { from_c(&c) }, Err(ErrorCode::NULL_POINTER));
    }

    #[test]
    fn a_proxy_url_is_carried_and_bad_utf8_is_refused() {
        let mut c = defaults();
        c.server_url = c"ws://127.0.0.1:1/v1/ws".as_ptr();
        c.proxy_url = c"http://u:p@127.0.0.1:3128".as_ptr();
        let config = unsafe { from_c(&c) }.unwrap();
        assert_eq!(
            config.proxy,
            Some(roomlink::ProxyUrl::from("http://u:p@127.0.0.1:3128"))
        );
        let bad = [0xffu8, 0];
        c.proxy_url = bad.as_ptr().cast();
        assert_eq!(unsafe { from_c(&c) }, Err(ErrorCode::INVALID_UTF8));
    }

    #[test]
    fn a_ca_pem_is_copied_with_its_length() {
        let mut c = defaults();
        c.server_url = c"wss://127.0.0.1:1/v1/ws".as_ptr();
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n<ignored>";
        c.tls_ca_pem = pem.as_ptr();
        c.tls_ca_pem_len = pem.len() - "<ignored>".len();
        let config = unsafe { from_c(&c) }.unwrap();
        assert_eq!(
            config.tls_ca_pem.map(|p| p.0),
            Some(pem[..c.tls_ca_pem_len].to_vec())
        );
        assert_eq!(defaults().tls_ca_pem_len, 0);
        assert!(defaults().tls_ca_pem.is_null());
    }
}
