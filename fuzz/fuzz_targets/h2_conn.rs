//! An HTTP/2 server connection fed anything after a client's preface: never a
//! panic, only whole frames sent, at most one GOAWAY and nothing after it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pierhead::fuzzing::h2_conn(data);
});
