//! The HTTP request-head parser: any bytes, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pierhead::fuzzing::http_head(data));
