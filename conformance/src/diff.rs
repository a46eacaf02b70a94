//! Unified diff of a canonical trace against an actual one.

use similar::TextDiff;

/// A unified diff (`--- expected`, `+++ actual`), or `None` if the texts are equal.
pub fn unified(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let diff = TextDiff::from_lines(expected, actual);
    let mut out = diff
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string();
    // A trace always ends with a newline; a missing one would otherwise be an invisible difference.
    if !expected.ends_with('\n') || !actual.ends_with('\n') {
        out.push_str("(a trace does not end with a newline)\n");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n"), None);
    }

    #[test]
    fn a_changed_line_shows_as_minus_and_plus() {
        let d = unified(
            "x\nroom_state_changed r1 Reconnected 0\ny\n",
            "x\nroom_state_changed r1 Logined 0\ny\n",
        )
        .unwrap();
        assert!(d.starts_with("--- expected\n+++ actual\n"), "{d}");
        assert!(
            d.contains("\n-room_state_changed r1 Reconnected 0\n"),
            "{d}"
        );
        assert!(d.contains("\n+room_state_changed r1 Logined 0\n"), "{d}");
        assert!(d.contains("\n x\n"), "{d}");
    }

    #[test]
    fn a_missing_line_shows_as_minus_only() {
        let d = unified("a\nb\nc\n", "a\nc\n").unwrap();
        assert!(d.contains("\n-b\n"), "{d}");
        assert!(!d.lines().skip(2).any(|l| l.starts_with('+')), "{d}");
    }
}
