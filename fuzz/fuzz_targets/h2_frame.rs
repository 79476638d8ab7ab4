//! The HTTP/2 frame decoder: never a panic; a decoded frame re-encodes to a
//! frame that decodes equal; the same frames and errors whole as cut in two
//! (the first four bytes choose the cut, the side and the maximum frame size).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((choice, frames)) = data.split_first_chunk::<4>() {
        let choice = u32::from_le_bytes(*choice);
        pierhead::fuzzing::h2_frame(frames, (choice >> 8) as usize, choice as u8);
    }
});
