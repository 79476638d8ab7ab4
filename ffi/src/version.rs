//! The library version, at compile time (macros in the header) and at run time.

/// Major version (checked against Cargo.toml by a test).
pub const PIERHEAD_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const PIERHEAD_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const PIERHEAD_VERSION_PATCH: u32 = 0;
/// All three parts packed: `MAJOR << 16 | MINOR << 8 | PATCH`, so versions compare
/// as numbers (`#if PIERHEAD_VERSION_NUMBER >= 0x000100`).
pub const PIERHEAD_VERSION_NUMBER: u32 =
    PIERHEAD_VERSION_MAJOR << 16 | PIERHEAD_VERSION_MINOR << 8 | PIERHEAD_VERSION_PATCH;

/// The version of the library loaded at run time, packed like
/// `PIERHEAD_VERSION_NUMBER` (compare the two to detect a header/library mismatch).
#[no_mangle]
pub extern "C" fn pierhead_version() -> u32 {
    PIERHEAD_VERSION_NUMBER
}

/// The run-time version as text, e.g. "0.1.0" (static, never NULL).
#[no_mangle]
pub extern "C" fn pierhead_version_string() -> *const libc::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        let part = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(
            PIERHEAD_VERSION_MAJOR,
            part(env!("CARGO_PKG_VERSION_MAJOR"))
        );
        assert_eq!(
            PIERHEAD_VERSION_MINOR,
            part(env!("CARGO_PKG_VERSION_MINOR"))
        );
        assert_eq!(
            PIERHEAD_VERSION_PATCH,
            part(env!("CARGO_PKG_VERSION_PATCH"))
        );
        assert_eq!(pierhead_version(), PIERHEAD_VERSION_NUMBER);
        assert_eq!(PIERHEAD_VERSION_NUMBER >> 16, PIERHEAD_VERSION_MAJOR);
        assert_eq!(PIERHEAD_VERSION_NUMBER >> 8 & 0xff, PIERHEAD_VERSION_MINOR);
        assert_eq!(PIERHEAD_VERSION_NUMBER & 0xff, PIERHEAD_VERSION_PATCH);
    }
}
