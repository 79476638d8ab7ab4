//! Byte sizes as the command lines write them (`64k`, `10MiB`), parsed once here.

use crate::error::ConfigProblem;

/// Parses a byte size as the command lines take it: a number of bytes, or one with
/// a binary unit: `k`, `m`, `g` (any case, optionally followed by `b`, `ib`),
/// e.g. `65536`, `64k`, `10MiB`, `1g`. Used by the CLI and `python -m pierhead`.
pub fn parse_size(text: &str) -> Result<u64, ConfigProblem> {
    let bad = || ConfigProblem::Malformed {
        got: text.to_owned(),
        expected: "a size in bytes, optionally with k, m or g (KiB, MiB, GiB)",
    };
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let unit = t[digits..].trim().to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1 g"), Ok(1 << 30));
        assert_eq!(parse_size("2KB"), Ok(2048));
        for bad in ["", "k", "1.5m", "-1", "1t", "99999999999999999999"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
