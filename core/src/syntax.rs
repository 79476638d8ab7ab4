//! Text every surface reads, parsed once, here: durations (`500ms`, `2m`), `%XX`
//! escapes and query strings, and the HTTP tokens and header fields that routes and
//! responses carry. (Byte sizes, `64k`, are [`parse_size`](crate::parse_size).)
//!
//! The command line, the Python package and the C library call these rather than
//! keep parsers of their own, so the same text means the same thing, and is
//! refused with the same words, everywhere.

use std::borrow::Cow;
use std::time::Duration;

use crate::error::{ConfigError, ConfigProblem};

/// Parses a duration as the command lines take it: a number with a unit, or
/// several added up, e.g. `500ms`, `10s`, `1.5m`, `2h`, `1h 30m` (units `ns`,
/// `us`, `ms`, `s`/`sec`, `m`/`min`, `h`, `d` and their long names). A bare number
/// has no unit and is refused.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(pierhead::parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert!(pierhead::parse_duration("5").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, ConfigProblem> {
    humantime::parse_duration(text.trim()).map_err(|_| ConfigProblem::Malformed {
        got: text.to_owned(),
        expected: "a duration with a unit, e.g. 500ms, 10s, 1.5m or 2h",
    })
}

/// `text` with every `%XX` escape (two hex digits, any case) decoded to its byte
/// (RFC 3986 §2.1); a `%` not followed by two hex digits stays as it is. Borrows
/// when there is no `%`.
///
/// ```
/// assert_eq!(&*pierhead::percent_decode("/caf%C3%A9"), "/café".as_bytes());
/// assert_eq!(&*pierhead::percent_decode("100%"), b"100%");
/// ```
pub fn percent_decode(text: &str) -> Cow<'_, [u8]> {
    decode(text, false)
}

/// A query string (`a=1&b=x+y&c`) as its decoded parameters, in order: `+` is a
/// space, `%XX` a byte, the result read as UTF-8 (invalid bytes replaced); a
/// parameter without `=` has an empty value; a repeated name repeats; empty
/// parameters (`a=1&&b=2`) are skipped.
///
/// ```
/// assert_eq!(
///     pierhead::query_pairs("q=a+b&lang=fr&x"),
///     vec![("q".into(), "a b".into()), ("lang".into(), "fr".into()), ("x".into(), "".into())]
/// );
/// ```
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    let text = |s: &str| String::from_utf8_lossy(&decode(s, true)).into_owned();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (text(k), text(v))
        })
        .collect()
}

/// Decodes `%XX` escapes, and `+` as a space when `plus` (form encoding).
fn decode(text: &str, plus: bool) -> Cow<'_, [u8]> {
    let bytes = text.as_bytes();
    let plain = if plus {
        !bytes.iter().any(|&b| b == b'%' || b == b'+')
    } else {
        !bytes.contains(&b'%')
    };
    if plain {
        return Cow::Borrowed(bytes);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// RFC 9110 `tchar`: a byte of a method or a header name.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header name must be a token; a value must not contain CR, LF or NUL (which
/// would let it inject headers). An error names `field`.
pub(crate) fn check_header(
    field: &'static str,
    name: &str,
    value: &str,
) -> Result<(), ConfigError> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(invalid(field, name, "a header name token"));
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(invalid(
            field,
            value,
            "a header value without CR, LF or NUL",
        ));
    }
    Ok(())
}

/// The error for text `got` in `field` that is not the `expected` form.
pub(crate) fn invalid(field: &'static str, got: &str, expected: &'static str) -> ConfigError {
    ConfigError {
        field,
        problem: ConfigProblem::Malformed {
            got: got.to_owned(),
            expected,
        },
    }
}

/// The one of `all` whose `name` is `got`, in any case and with `-` read as `_`
/// (`drop-newest` is `drop_newest`); otherwise an error for `field` that lists the
/// `expected` names (in the order of `all`, joined by `, `).
pub(crate) fn parse_name<T: Copy>(
    field: &'static str,
    got: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let key = got.to_ascii_lowercase().replace('-', "_");
    all.iter()
        .copied()
        .find(|v| name(*v) == key)
        .ok_or_else(|| ConfigError {
            field,
            problem: ConfigProblem::UnknownName {
                got: got.to_owned(),
                expected,
            },
        })
}

/// Checks a set of names read by [`parse_name`] (for the tests of the types that
/// have them): each name parses back, in upper case and with `-` for `_`, and an
/// unknown name is an error for `field` listing them all, in order.
#[cfg(test)]
pub(crate) fn check_names<T>(field: &str, all: &[T], name: fn(T) -> &'static str)
where
    T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr<Err = ConfigError>,
{
    for v in all {
        let n = name(*v);
        assert_eq!(n.to_ascii_uppercase().parse::<T>(), Ok(*v));
        assert_eq!(n.replace('_', "-").parse::<T>(), Ok(*v));
    }
    let e = "no such name".parse::<T>().unwrap_err();
    assert_eq!(e.field, field);
    let names: Vec<_> = all.iter().map(|v| name(*v)).collect();
    match e.problem {
        ConfigProblem::UnknownName { got, expected } => {
            assert_eq!(got, "no such name");
            assert_eq!(expected, names.join(", "));
        }
        other => panic!("{other}"),
    }
}

/// Strips spaces and tabs (HTTP's optional whitespace) from both ends.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_sums() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("10s"), Ok(ms(10_000)));
        assert_eq!(parse_duration(" 1.5m "), Ok(ms(90_000)));
        assert_eq!(parse_duration("1h 30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "5", "5x", "ms", "-1s", "1.5.2s"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("is not a duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn escapes_decode_to_bytes_and_malformed_ones_stay() {
        assert!(matches!(percent_decode("/plain"), Cow::Borrowed(_)));
        assert_eq!(&*percent_decode("/%7Euser"), b"/~user");
        assert_eq!(&*percent_decode("/caf%c3%a9"), "/café".as_bytes());
        assert_eq!(&*percent_decode("%41"), b"A");
        assert_eq!(&*percent_decode("a%4"), b"a%4");
        assert_eq!(&*percent_decode("%zz%"), b"%zz%");
        assert_eq!(&*percent_decode("a+b"), b"a+b");
    }

    #[test]
    fn query_strings_decode_as_forms() {
        let pairs = |q| query_pairs(q);
        assert_eq!(
            pairs("a=1&b=x+y&a=2"),
            [("a", "1"), ("b", "x y"), ("a", "2")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(
            pairs("na%6De=caf%C3%A9&&flag&e="),
            [("name", "café"), ("flag", ""), ("e", "")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(pairs("x=%FF")[0].1, "\u{FFFD}");
        assert_eq!(pairs("eq=a=b")[0].1, "a=b");
        assert!(pairs("").is_empty());
    }

    #[test]
    fn header_checks_name_the_field() {
        assert!(check_header("f", "X-Ok", "any value").is_ok());
        assert_eq!(check_header("f", "X Bad", "v").unwrap_err().field, "f");
        assert_eq!(check_header("f", "", "v").unwrap_err().field, "f");
        let e = check_header("response.header", "X", "a\r\nB: c").unwrap_err();
        assert!(e.to_string().contains("without CR, LF or NUL"), "{e}");
        assert!(is_token_byte(b'~') && !is_token_byte(b' ') && !is_token_byte(b'/'));
    }
}
