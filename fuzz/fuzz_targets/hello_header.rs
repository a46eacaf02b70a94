//! The `roomlink-hello` upgrade header as the server decodes it (server/src/ws.rs): decoding never
//! panics, and a hello that decodes survives `to_header` / `from_header` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomlink_proto::protocol::Hello;

fuzz_target!(|data: &[u8]| {
    // Header values reach the server as bytes; ws.rs only decodes those that are valid UTF-8.
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(hello) = Hello::from_header(value, 16 * 1024) {
        let again = Hello::from_header(&hello.to_header(), usize::MAX).expect("a header decodes");
        assert_eq!(hello, again);
    }
});
