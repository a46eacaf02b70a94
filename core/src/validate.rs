//! Synchronous input validation, with ZEGO's codes (1002005..=1002013).

use crate::codes::ErrorCode;
use crate::model::User;

/// Longest user ID, exclusive (ZEGO: "less than 64 bytes").
pub const USER_ID_MAX_BYTES: usize = 64;
/// Longest user name, exclusive.
pub const USER_NAME_MAX_BYTES: usize = 256;
/// Longest room ID, exclusive.
pub const ROOM_ID_MAX_BYTES: usize = 128;
/// Longest stream ID, exclusive.
pub const STREAM_ID_MAX_BYTES: usize = 256;
/// Longest stream extra info, inclusive.
pub const STREAM_EXTRA_MAX_BYTES: usize = 1024;

/// IDs accept ASCII letters, digits and ZEGO's punctuation set.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "~!@#$%^&*()_+=-`;',.<>/\\".contains(c)
}

pub fn user_id(id: &str) -> Result<(), ErrorCode> {
    if id.is_empty() {
        Err(ErrorCode::USER_ID_EMPTY)
    } else if id.len() >= USER_ID_MAX_BYTES {
        Err(ErrorCode::USER_ID_TOO_LONG)
    } else if !id.chars().all(is_id_char) {
        Err(ErrorCode::USER_ID_INVALID)
    } else {
        Ok(())
    }
}

pub fn user_name(name: &str) -> Result<(), ErrorCode> {
    if name.is_empty() {
        Err(ErrorCode::USER_NAME_EMPTY)
    } else if name.len() >= USER_NAME_MAX_BYTES {
        Err(ErrorCode::USER_NAME_TOO_LONG)
    } else if name.chars().any(char::is_control) {
        Err(ErrorCode::USER_NAME_INVALID)
    } else {
        Ok(())
    }
}

pub fn user(user: &User) -> Result<(), ErrorCode> {
    user_id(&user.user_id)?;
    user_name(&user.user_name)
}

pub fn room_id(id: &str) -> Result<(), ErrorCode> {
    if id.is_empty() {
        Err(ErrorCode::ROOM_ID_EMPTY)
    } else if id.len() >= ROOM_ID_MAX_BYTES {
        Err(ErrorCode::ROOM_ID_TOO_LONG)
    } else if !id.chars().all(is_id_char) {
        Err(ErrorCode::ROOM_ID_INVALID)
    } else {
        Ok(())
    }
}

/// Stream IDs follow the ID character set; a bad one is `INVALID_ARGUMENT` (ZEGO's publish codes
/// are out of roomlink's scope).
pub fn stream(stream_id: &str, extra_info: &str) -> Result<(), ErrorCode> {
    if stream_id.is_empty()
        || stream_id.len() >= STREAM_ID_MAX_BYTES
        || !stream_id.chars().all(is_id_char)
        || extra_info.len() > STREAM_EXTRA_MAX_BYTES
    {
        Err(ErrorCode::INVALID_ARGUMENT)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_get_zegos_codes() {
        assert_eq!(user_id(""), Err(ErrorCode::USER_ID_EMPTY));
        assert_eq!(user_id("a b"), Err(ErrorCode::USER_ID_INVALID));
        assert_eq!(user_id(&"a".repeat(63)), Ok(()));
        assert_eq!(user_id(&"a".repeat(64)), Err(ErrorCode::USER_ID_TOO_LONG));
        assert_eq!(user_name(""), Err(ErrorCode::USER_NAME_EMPTY));
        assert_eq!(user_name("Zoë 🎧"), Ok(()));
        assert_eq!(user_name("a\nb"), Err(ErrorCode::USER_NAME_INVALID));
        assert_eq!(
            user_name(&"é".repeat(128)),
            Err(ErrorCode::USER_NAME_TOO_LONG)
        );
        assert_eq!(room_id(""), Err(ErrorCode::ROOM_ID_EMPTY));
        assert_eq!(room_id("room/1"), Ok(()));
        assert_eq!(room_id("röom"), Err(ErrorCode::ROOM_ID_INVALID));
        assert_eq!(room_id(&"r".repeat(128)), Err(ErrorCode::ROOM_ID_TOO_LONG));
    }
}
