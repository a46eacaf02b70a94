//! The C ABI (`roomlink_*`, header `bindings/c/roomlink.h`, generated from this module by the
//! workspace-root `build.rs` with cbindgen).
//!
//! Conventions (the header's preamble states them for C users):
//! - every fallible export returns `int32_t`: `0` or a code from core's table (`ROOMLINK_CODE_*`);
//! - out-parameters are written only on success;
//! - arguments are checked left to right, before anything happens, so a misuse changes nothing;
//! - engines are `uint64_t` handles from [`registry`], never raw pointers;
//! - every export runs inside [`boundary`]'s one panic boundary.
//!
//! Items here are named as C sees them (`roomlink_user`), hence the lint allowance.
#![allow(non_camel_case_types)]
// The exports' safety contract (valid pointers, NUL-terminated strings) is the header's, written
// once in its preamble and per function; a `# Safety` section per function would only repeat it.
#![allow(clippy::missing_safety_doc)]

mod boundary;
mod callbacks;
pub mod config;
pub mod engine;
pub mod errors;
pub mod events;
mod handler;
pub mod log;
pub mod log_queue;
pub mod pull;
pub mod ready;
mod registry;
mod strings;
pub mod version;
