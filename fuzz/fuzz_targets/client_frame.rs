//! Client frames as the server reads them: decoding never panics, and a frame that decodes
//! re-encodes to text that decodes to the same frame (the server relays what it decoded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomlink_proto::protocol::ClientFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = ClientFrame::decode(text, 64 * 1024) {
        let again =
            ClientFrame::decode(&frame.encode(), usize::MAX).expect("an encoded frame decodes");
        assert_eq!(frame, again);
    }
});
