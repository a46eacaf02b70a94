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

/// Bidi embeddings, overrides (U+202A..=U+202E) and isolates (U+2066..=U+2069): they reorder
/// the text *around* a name wherever it is shown (a member list, a chat line), so a name could
/// make another user's words read backwards. The directional marks (U+200E, U+200F, U+061C)
/// affect only neutral characters next to them and stay allowed for right-to-left names.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that draw nothing: general category Cf (format), Unicode's
/// Default_Ignorable_Code_Point set (variation selectors, Hangul fillers, tags, …) and U+2800
/// BRAILLE PATTERN BLANK, a blank glyph commonly used for "invisible" names. A fixed table
/// (Unicode 16) rather than a Unicode-properties crate: the set is small and stable, and this
/// crate ships inside every mobile binding.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A name other members could not see or tell apart from nothing.
fn renders_as_nothing(name: &str) -> bool {
    name.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

pub fn user_name(name: &str) -> Result<(), ErrorCode> {
    if name.is_empty() {
        Err(ErrorCode::USER_NAME_EMPTY)
    } else if name.len() >= USER_NAME_MAX_BYTES {
        Err(ErrorCode::USER_NAME_TOO_LONG)
    } else if name.chars().any(|c| c.is_control() || is_bidi_control(c)) || renders_as_nothing(name)
    {
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

    #[test]
    fn names_that_render_as_nothing_are_invalid() {
        for blank in [
            " ",
            "   ",
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
            "\u{00A0}\u{3000}\u{2003}",
            "\u{200E}\u{200F}",
            "\u{3164}\u{3164}",
            "\u{2800}",
            "\u{FE0F}",
            "\u{E0041}\u{E007F}",
            " \u{200B} \u{00AD} ",
        ] {
            assert_eq!(
                user_name(blank),
                Err(ErrorCode::USER_NAME_INVALID),
                "{blank:?}"
            );
        }
        // One visible character among the invisible ones is a name.
        for visible in [
            "\u{200B}a",
            " . ",
            "a\u{200D}b",
            "\u{05E9}\u{200F}",
            "\u{1F469}\u{200D}\u{1F4BB}",
            "\u{2764}\u{FE0F}",
            "\u{0600}1",
        ] {
            assert_eq!(user_name(visible), Ok(()), "{visible:?}");
        }
    }

    #[test]
    fn bidi_embeddings_overrides_and_isolates_are_invalid_anywhere() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            for name in [
                format!("{c}"),
                format!("ab{c}"),
                format!("{c}ab"),
                format!("a{c}b"),
            ] {
                assert_eq!(
                    user_name(&name),
                    Err(ErrorCode::USER_NAME_INVALID),
                    "{name:?}"
                );
            }
        }
        // The neighbours of both ranges and the directional marks are fine in a name.
        for c in [
            '\u{2029}', '\u{202F}', '\u{2065}', '\u{206A}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            let name = format!("ab{c}");
            assert_eq!(user_name(&name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn the_invisible_table_covers_every_format_character() {
        // General category Cf, Unicode 16 (DerivedGeneralCategory.txt), minus nothing: every
        // format character is invisible for the purpose of "renders as nothing".
        let cf: &[(u32, u32)] = &[
            (0x00AD, 0x00AD),
            (0x0600, 0x0605),
            (0x061C, 0x061C),
            (0x06DD, 0x06DD),
            (0x070F, 0x070F),
            (0x0890, 0x0891),
            (0x08E2, 0x08E2),
            (0x180E, 0x180E),
            (0x200B, 0x200F),
            (0x202A, 0x202E),
            (0x2060, 0x2064),
            (0x2066, 0x206F),
            (0xFEFF, 0xFEFF),
            (0xFFF9, 0xFFFB),
            (0x110BD, 0x110BD),
            (0x110CD, 0x110CD),
            (0x13430, 0x1343F),
            (0x1BCA0, 0x1BCA3),
            (0x1D173, 0x1D17A),
            (0xE0001, 0xE0001),
            (0xE0020, 0xE007F),
        ];
        for &(lo, hi) in cf {
            for c in (lo..=hi).filter_map(char::from_u32) {
                assert!(is_invisible(c), "U+{:04X}", c as u32);
            }
        }
        // Visible neighbours of the table's ranges are not in it.
        for c in [
            'a', '\u{00AC}', '\u{00AE}', '\u{2070}', '\u{2801}', '\u{FFFC}',
        ] {
            assert!(!is_invisible(c), "U+{:04X}", c as u32);
        }
    }
}
