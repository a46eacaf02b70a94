//! Server frames as a client reads them: decoding never panics, and a frame that decodes
//! re-encodes to text that decodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomlink_proto::protocol::ServerFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = ServerFrame::decode(text, 64 * 1024) {
        let again =
            ServerFrame::decode(&frame.encode(), usize::MAX).expect("an encoded frame decodes");
        assert_eq!(frame, again);
    }
});
