//! The TLS front and test CA live in the fault proxy crate (feature `tls`), shared with the
//! conformance orchestrator; here only the URL a client dials through one.

#[allow(unused_imports)] // each test binary compiles `common` and uses what it needs
pub use roomlink_faultproxy::tls::{TestCa, TlsFront};

/// `wss://127.0.0.1:port/v1/ws` through `front`.
pub fn url(front: &TlsFront) -> String {
    format!("wss://{}{}", front.addr(), roomlink::protocol::WS_PATH)
}
