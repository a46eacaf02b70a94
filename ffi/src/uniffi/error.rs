//! The one error type of the UniFFI API: a small enum to switch on, every case carrying the
//! number of the README's code table (`code`, what apps compare and drivers report) and a
//! human-readable `detail`.
//!
//! The text field is not called `message`: Kotlin's generated exception already has a `message`
//! property (Throwable's), and a field of that name does not compile there.

use roomlink::codes::ErrorCode;

/// Kotlin: `RoomlinkException` (sealed, one subclass per case); Swift: `RoomlinkError: Error`;
/// Python: `RoomlinkError` with nested exception classes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
pub enum RoomlinkError {
    /// An argument is malformed or out of range (1002005..=1002013 bad IDs, 1900004); nothing
    /// happened.
    InvalidArgument { code: i32, detail: String },
    /// The call does not fit the room's or engine's state (1002001 already logged in, 1002002 not
    /// logged in, 1900005 engine destroyed, 1900105 called from inside a log sink); nothing
    /// happened.
    InvalidState { code: i32, detail: String },
    /// Anything else (1900003 internal error, a code from a newer core).
    Internal { code: i32, detail: String },
}

impl RoomlinkError {
    /// The code of the README's table.
    pub fn code(&self) -> i32 {
        match self {
            Self::InvalidArgument { code, .. }
            | Self::InvalidState { code, .. }
            | Self::Internal { code, .. } => *code,
        }
    }
}

impl std::fmt::Display for RoomlinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (Self::InvalidArgument { code, detail }
        | Self::InvalidState { code, detail }
        | Self::Internal { code, detail }) = self;
        write!(f, "{code}: {detail}")
    }
}

impl std::error::Error for RoomlinkError {}

impl From<ErrorCode> for RoomlinkError {
    fn from(code: ErrorCode) -> Self {
        let detail = match code.info() {
            Some(info) => format!("{}: {}", info.name, info.meaning),
            None => format!("UNKNOWN: error code {}", code.value()),
        };
        let code_value = code.value();
        match code {
            ErrorCode::ALREADY_LOGGED_IN
            | ErrorCode::ROOM_NOT_LOGGED_IN
            | ErrorCode::ENGINE_DESTROYED
            | ErrorCode::CALLED_FROM_CALLBACK => Self::InvalidState {
                code: code_value,
                detail,
            },
            ErrorCode::USER_ID_EMPTY
            | ErrorCode::USER_ID_INVALID
            | ErrorCode::USER_ID_TOO_LONG
            | ErrorCode::USER_NAME_EMPTY
            | ErrorCode::USER_NAME_INVALID
            | ErrorCode::USER_NAME_TOO_LONG
            | ErrorCode::ROOM_ID_EMPTY
            | ErrorCode::ROOM_ID_INVALID
            | ErrorCode::ROOM_ID_TOO_LONG
            | ErrorCode::INVALID_ARGUMENT
            | ErrorCode::NULL_POINTER
            | ErrorCode::INVALID_UTF8 => Self::InvalidArgument {
                code: code_value,
                detail,
            },
            _ => Self::Internal {
                code: code_value,
                detail,
            },
        }
    }
}

/// The constant's name of a code of the README's table (`"ALREADY_LOGGED_IN"`), or `"UNKNOWN"`.
#[uniffi::export]
pub fn error_name(code: i32) -> String {
    ErrorCode(code).name().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_table_keeps_its_number_and_names_itself() {
        for info in ErrorCode::ALL.iter().filter(|info| !info.code.is_ok()) {
            let error = RoomlinkError::from(info.code);
            assert_eq!(error.code(), info.code.value(), "{}", info.name);
            assert!(error.to_string().contains(info.name), "{error}");
            assert_eq!(error_name(info.code.value()), info.name);
        }
    }

    #[test]
    fn codes_fall_into_the_expected_cases() {
        let case = |code| match RoomlinkError::from(code) {
            RoomlinkError::InvalidArgument { .. } => "argument",
            RoomlinkError::InvalidState { .. } => "state",
            RoomlinkError::Internal { .. } => "internal",
        };
        assert_eq!(case(ErrorCode::USER_ID_EMPTY), "argument");
        assert_eq!(case(ErrorCode::ROOM_ID_TOO_LONG), "argument");
        assert_eq!(case(ErrorCode::INVALID_ARGUMENT), "argument");
        assert_eq!(case(ErrorCode::ALREADY_LOGGED_IN), "state");
        assert_eq!(case(ErrorCode::ROOM_NOT_LOGGED_IN), "state");
        assert_eq!(case(ErrorCode::ENGINE_DESTROYED), "state");
        assert_eq!(case(ErrorCode::CALLED_FROM_CALLBACK), "state");
        assert_eq!(case(ErrorCode::INTERNAL_ERROR), "internal");
        assert_eq!(case(ErrorCode(1_999_999)), "internal");
    }

    #[test]
    fn an_unknown_code_is_kept_and_called_unknown() {
        let error = RoomlinkError::from(ErrorCode(1_999_999));
        assert_eq!(error.code(), 1_999_999);
        assert_eq!(error_name(1_999_999), "UNKNOWN");
        assert_eq!(error_name(0), "OK");
    }
}
