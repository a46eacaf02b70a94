//! Build script of the `ffi` crate (it lives at the workspace root, where our layout puts it).
//! Generates the C header in a later step.
fn main() {}
