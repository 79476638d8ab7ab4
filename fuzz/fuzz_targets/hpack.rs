//! HPACK: arbitrary header blocks decoded (never a panic, never a field past the
//! header list limit), and the fields of each block that decodes, encoded again,
//! decode to the same fields (the first byte chooses the table size, the limit and
//! how fields are encoded again; each block is preceded by its length byte).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pierhead::fuzzing::hpack(data);
});
