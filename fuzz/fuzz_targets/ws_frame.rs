//! The WebSocket frame decoder, unmasking, UTF-8 validation and close parsing:
//! never a panic; a decoded header re-encodes to its bytes when minimal (the
//! first four bytes choose the mask requirement, the limit and a cut).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((choice, frames)) = data.split_first_chunk::<4>() {
        pierhead::fuzzing::ws_frame(frames, u32::from_le_bytes(*choice));
    }
});
