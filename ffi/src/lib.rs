//! roomlink for every language, in one library: a stable C ABI (`c`, header
//! `bindings/c/roomlink.h`, used by C, Unity C# and Flutter/Dart) and UniFFI exports (`uniffi`,
//! used by Kotlin, Swift and Python).
//!
//! This crate is a thin, mechanical shell over `roomlink` (core): it converts types, checks
//! arguments at the boundary and catches panics. Behaviour lives in core, so every language sees
//! the same events.

#[cfg(target_os = "android")]
mod android;
pub mod c;
#[allow(dead_code)] // used by the C ABI and UniFFI modules (next commits)
mod log_bridge;
pub mod uniffi;

::uniffi::setup_scaffolding!("roomlink");
