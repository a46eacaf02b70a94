//! Strings across the boundary: borrowed, NUL-terminated UTF-8 in both directions.

use std::ffi::{CStr, CString, c_char};

use roomlink::ErrorCode;

/// A string argument: `NULL_POINTER` for NULL, `INVALID_UTF8` for bytes that are not UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and unchanged for `'a`
/// (the duration of the export's call).
pub(crate) unsafe fn arg<'a>(ptr: *const c_char) -> Result<&'a str, ErrorCode> {
    if ptr.is_null() {
        return Err(ErrorCode::NULL_POINTER);
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string alive for 'a.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|_| ErrorCode::INVALID_UTF8)
}

/// A string for C. Only free-form data (an admin's kick reason, a stream's extra info) can hold a
/// NUL byte; C would stop reading there anyway, so the string is cut at it (and it is logged).
pub(crate) fn to_c(s: &str) -> CString {
    match CString::new(s) {
        Ok(c) => c,
        Err(e) => {
            let at = e.nul_position();
            log::warn!("a string for C had a NUL byte at {at}; cut there");
            let mut bytes = e.into_vec();
            bytes.truncate(at);
            CString::new(bytes).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_for_null_and_utf8() {
        assert_eq!(
            unsafe { arg(std::ptr::null()) },
            Err(ErrorCode::NULL_POINTER)
        );
        let bad = [0xffu8, 0xfe, 0];
        assert_eq!(
            unsafe { arg(bad.as_ptr().cast()) },
            Err(ErrorCode::INVALID_UTF8)
        );
        assert_eq!(unsafe { arg(c"héllo".as_ptr()) }, Ok("héllo"));
    }

    #[test]
    fn a_nul_byte_cuts_the_string() {
        assert_eq!(to_c("ab\0cd").as_bytes(), b"ab");
        assert_eq!(to_c("abc").as_bytes(), b"abc");
    }
}
