//! The one panic boundary every export goes through (rustls-ffi's `ffi_panic_boundary!`, as a
//! function): a panic inside the library must never unwind into C, so it becomes the export's
//! "panicked" value (`PANICKED` 1900104 for code-returning exports) and a `log::error!` line.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use roomlink::ErrorCode;

/// What an export returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for i32 {
    fn on_panic() -> i32 {
        ErrorCode::PANICKED.value()
    }
}

impl OnPanic for u32 {
    fn on_panic() -> u32 {
        0
    }
}

impl OnPanic for *const c_char {
    fn on_panic() -> *const c_char {
        c"".as_ptr()
    }
}

/// Runs an export's body; a panic is logged (naming the export) and turned into `R::on_panic()`.
pub(crate) fn guard<R: OnPanic>(export: &'static str, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let what = (payload.downcast_ref::<&str>().copied())
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            log::error!("{export} panicked: {what}");
            // Dropping an exotic payload could itself panic: contain that too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            R::on_panic()
        }
    }
}

/// [`guard`] for the usual export shape: `Ok` is `0`, `Err(code)` is the code.
pub(crate) fn call(export: &'static str, body: impl FnOnce() -> Result<(), ErrorCode>) -> i32 {
    guard(export, || body().err().map_or(0, ErrorCode::value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_panicked_and_the_next_call_works() {
        let code = call("test_export", || panic!("boom"));
        assert_eq!(code, ErrorCode::PANICKED.value());
        let code = call("test_export", || Err(ErrorCode::NULL_POINTER));
        assert_eq!(code, ErrorCode::NULL_POINTER.value());
        assert_eq!(call("test_export", || Ok(())), 0);
        let s: *const c_char = guard("test_export", || panic!("{}", String::from("formatted")));
        assert!(!s.is_null());
        assert_eq!(guard::<u32>("test_export", || panic!()), 0);
    }
}
