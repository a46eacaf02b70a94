//! Log tags for secrets: a session ID is the resume handle (and ends a session by itself), so log
//! lines carry a short, non-reversible tag of it instead, enough to correlate lines.

use std::fmt;

use sha2::{Digest, Sha256};

/// Formats as the first 8 hex digits of SHA-256 of the secret. Computed only when formatted, so a
/// disabled log line costs nothing.
#[derive(Clone, Copy)]
pub struct Tag<'a>(pub &'a str);

impl fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digest = Sha256::digest(self.0.as_bytes());
        for b in &digest[..4] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_eight_hex_digits_that_do_not_contain_the_secret() {
        let sid = "0123456789abcdef0123456789abcdef";
        let tag = Tag(sid).to_string();
        assert_eq!(tag.len(), 8);
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!sid.contains(&tag), "not a prefix of the secret");
        assert_eq!(tag, Tag(sid).to_string(), "stable, so lines correlate");
        assert_ne!(tag, Tag("another").to_string());
        // SHA-256("abc") starts ba7816bf.
        assert_eq!(Tag("abc").to_string(), "ba7816bf");
    }
}
