//! The ABI version: what a host checks before using the library.

use std::ffi::c_char;

use super::boundary;

/// The ABI this header describes. It changes whenever a program compiled against an older header
/// could break with this library (a function, struct, constant or meaning changed or removed);
/// additions that leave existing programs working keep it. A host checks
/// `roomlink_abi_version() == ROOMLINK_ABI_VERSION` at start and refuses to run otherwise.
/// 3: `roomlink_engine_config` grew `tls_ca_pem` / `tls_ca_pem_len` (a larger struct).
pub const ROOMLINK_ABI_VERSION: u32 = 3;

/// The ABI version of the loaded library (compare with `ROOMLINK_ABI_VERSION`).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_abi_version() -> u32 {
    boundary::guard("roomlink_abi_version", || ROOMLINK_ABI_VERSION)
}

/// The library's version, e.g. "0.1.0" (static, never freed).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_version() -> *const c_char {
    boundary::guard("roomlink_version", || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}
