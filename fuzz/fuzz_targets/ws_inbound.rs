//! The WebSocket sessions' reader (frames into messages and control frames):
//! never a panic, the same events whole as cut in two (the first four bytes
//! choose the cut and the message limit).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((choice, frames)) = data.split_first_chunk::<4>() {
        let choice = u32::from_le_bytes(*choice);
        let limit = if choice & 1 != 0 { 100 } else { 1 << 16 };
        pierhead::fuzzing::ws_inbound(frames, (choice >> 8) as usize, limit);
    }
});
