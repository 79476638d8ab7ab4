//! The chunked-body decoder: never a panic, and the same bytes however the input
//! is cut in two (the first byte chooses where).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&split, body)) = data.split_first() {
        pierhead::fuzzing::chunked(body, split as usize * 7);
    }
});
