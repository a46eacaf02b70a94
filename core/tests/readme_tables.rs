//! The README's reason and error-code tables are generated from the code's tables; this test fails
//! when they drift. Run with `ROOMLINK_BLESS=1` to rewrite the README's generated blocks.

use std::path::PathBuf;

fn readme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md")
}

/// Replaces the text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`.
fn splice(doc: &str, name: &str, body: &str) -> Option<String> {
    let open = format!("<!-- generated:{name} -->\n");
    let close = format!("<!-- /generated:{name} -->");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find(&close)?;
    Some(format!("{}{}{}", &doc[..start], body, &doc[end..]))
}

#[test]
fn readme_tables_match_the_code() {
    let path = readme_path();
    let current = std::fs::read_to_string(&path).expect("README.md is readable");
    let mut expected = current.clone();
    for (name, body) in [
        ("reasons", roomlink::reason::markdown_table()),
        ("codes", roomlink::codes::markdown_table()),
    ] {
        expected = splice(&expected, name, &body)
            .unwrap_or_else(|| panic!("README.md lacks the <!-- generated:{name} --> block"));
    }
    if std::env::var_os("ROOMLINK_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write README.md");
        return;
    }
    assert!(
        current == expected,
        "README.md's generated tables are out of date: run `ROOMLINK_BLESS=1 cargo test -p roomlink --test readme_tables`"
    );
}
