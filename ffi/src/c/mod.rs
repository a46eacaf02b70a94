//! The C ABI (`roomlink_*`). Every export goes through one panic boundary.
