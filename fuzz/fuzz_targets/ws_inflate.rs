//! Fuzzes the permessage-deflate inflater (RFC 7692): arbitrary bytes as
//! compressed messages, cut at an arbitrary point, under an arbitrary limit.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let split = usize::from(u16::from_le_bytes([input[0], input[1]]));
    let limit = usize::from(input[2]) << 12;
    pierhead::fuzzing::ws_inflate(&input[4..], split, limit, input[3]);
});
