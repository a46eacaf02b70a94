//! `uniffi-bindgen` pinned to the workspace's UniFFI version, so generated sources always match
//! the scaffolding compiled into `libroomlink_ffi`. Run it through `scripts/uniffi-generate.sh`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
