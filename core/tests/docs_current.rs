//! `docs/STATE_DIAGRAM.md` is generated from the transition table; this fails when it is stale.
//! Regenerate with `ROOMLINK_BLESS=1 cargo test -p roomlink --test docs_current`.

use std::path::PathBuf;

#[test]
fn state_diagram_doc_matches_the_transition_table() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/STATE_DIAGRAM.md");
    let want = roomlink::transitions::state_diagram_doc();
    if std::env::var_os("ROOMLINK_BLESS").is_some() {
        std::fs::write(&path, &want).expect("write docs/STATE_DIAGRAM.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date with proto/src/transitions.rs; run `ROOMLINK_BLESS=1 cargo test -p roomlink --test docs_current` and commit it",
        path.display()
    );
}
