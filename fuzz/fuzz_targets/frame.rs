//! The frame decoder: never a panic; a decoded frame re-encodes to the bytes it
//! came from.
#![no_main]
use pierhead::frame;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((header, payload))) = frame::decode(rest, 1 << 16) {
        let used = frame::HEADER_LEN + payload.len();
        let mut again = Vec::new();
        frame::encode(header.kind, payload, &mut again);
        assert_eq!(again.len(), used);
        rest = &rest[used..];
    }
});
