//! Negotiation of permessage-deflate (RFC 7692 sections 5 and 7.1): the
//! `Sec-WebSocket-Extensions` offers of a request, parsed by the grammar of RFC
//! 6455 section 9.1 (`extension *( ";" param [ "=" (token | quoted-string) ] )`,
//! comma-separated), and the first acceptable permessage-deflate offer turned into
//! the connection's parameters and the response header's value.

use super::params::{DeflateConfig, DeflateParams};

/// The extension's name.
const NAME: &str = "permessage-deflate";

/// From the values of every Sec-WebSocket-Extensions header of the request (each
/// a comma-separated list of offers with `;` parameters, RFC 7692 5 and 7): the
/// first acceptable permessage-deflate offer, and the response header's value. An
/// offer with an unknown or duplicate parameter or an invalid value is declined
/// (skipped, RFC 7692 5.1), not an error; None when nothing is acceptable or
/// config disables it.
///
/// What is answered (RFC 7692 7.1): `server_no_context_takeover` when the client
/// asked for it or the config wants it; `client_no_context_takeover` when the
/// client offered it; `server_max_window_bits=N` when the client asked for a
/// limit, N the smaller of its limit and the config's; `client_max_window_bits=N`
/// when the client offered the parameter with a value N (echoed, so that the
/// limit binds the client: without it the client may use 15). Without a
/// `server_max_window_bits` offer the server still compresses within the
/// config's window, which any peer can inflate.
pub(crate) fn negotiate(offers: &[&[u8]], cfg: &DeflateConfig) -> Option<(DeflateParams, String)> {
    if !cfg.enabled {
        return None;
    }
    offers
        .iter()
        .flat_map(|value| split_outside_quotes(value, b','))
        .filter_map(parse_offer)
        .find_map(|offer| accept(&offer, cfg))
}

/// One permessage-deflate offer's parameters, as validated.
#[derive(Debug, Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (`Some(None)`) or `client_max_window_bits=N`.
    client_max_window_bits: Option<Option<u8>>,
}

/// The parameters and response for an acceptable offer.
fn accept(offer: &Offer, cfg: &DeflateConfig) -> Option<(DeflateParams, String)> {
    let cfg_bits = cfg.server_max_window_bits.clamp(8, 15);
    let params = DeflateParams {
        server_no_context_takeover: offer.server_no_context_takeover
            || cfg.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover,
        server_max_window_bits: offer.server_max_window_bits.unwrap_or(15).min(cfg_bits),
        client_max_window_bits: offer.client_max_window_bits.flatten().unwrap_or(15),
    };
    let mut response = String::from(NAME);
    if params.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if offer.server_max_window_bits.is_some() {
        response.push_str(&format!(
            "; server_max_window_bits={}",
            params.server_max_window_bits
        ));
    }
    if let Some(Some(bits)) = offer.client_max_window_bits {
        response.push_str(&format!("; client_max_window_bits={bits}"));
    }
    Some((params, response))
}

/// One element of an extension list: a permessage-deflate offer with valid
/// parameters, or None (another extension, a syntax error, or a declined offer).
fn parse_offer(element: &[u8]) -> Option<Offer> {
    let mut parts = split_outside_quotes(element, b';');
    let name = trim(parts.next()?);
    if !name.eq_ignore_ascii_case(NAME.as_bytes()) {
        return None;
    }
    let mut offer = Offer::default();
    for part in parts {
        let (key, value) = parse_param(part)?;
        let key = key.to_ascii_lowercase();
        match key.as_slice() {
            b"server_no_context_takeover" => {
                flag(&mut offer.server_no_context_takeover, value.as_deref())?
            }
            b"client_no_context_takeover" => {
                flag(&mut offer.client_no_context_takeover, value.as_deref())?
            }
            b"server_max_window_bits" => {
                if offer.server_max_window_bits.is_some() {
                    return None;
                }
                offer.server_max_window_bits = Some(window_bits(value.as_deref()?)?);
            }
            b"client_max_window_bits" => {
                if offer.client_max_window_bits.is_some() {
                    return None;
                }
                offer.client_max_window_bits = Some(match value {
                    None => None,
                    Some(v) => Some(window_bits(&v)?),
                });
            }
            _ => return None,
        }
    }
    Some(offer)
}

/// Sets a valueless flag parameter; None (declined) if it has a value or was
/// already set.
fn flag(slot: &mut bool, value: Option<&[u8]>) -> Option<()> {
    if *slot || value.is_some() {
        return None;
    }
    *slot = true;
    Some(())
}

/// A window-bits value: a decimal 8..=15 without leading zeros (RFC 7692 7.1.2).
fn window_bits(value: &[u8]) -> Option<u8> {
    match value {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// `name [ "=" (token | quoted-string) ]`, trimmed; the value unquoted. None on a
/// syntax error.
fn parse_param(part: &[u8]) -> Option<(&[u8], Option<Vec<u8>>)> {
    let part = trim(part);
    let (key, value) = match part.iter().position(|&b| b == b'=') {
        None => (part, None),
        Some(eq) => (trim(&part[..eq]), Some(trim(&part[eq + 1..]))),
    };
    if !is_token(key) {
        return None;
    }
    let value = match value {
        None => None,
        Some(v) if is_token(v) => Some(v.to_vec()),
        Some(v) => Some(unquote(v)?),
    };
    Some((key, value))
}

/// The content of a quoted-string (`"` ... `"` with `\` escapes), which RFC 7692
/// requires to be a token once unescaped.
fn unquote(v: &[u8]) -> Option<Vec<u8>> {
    let inner = v.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => out.push(*bytes.next()?),
            b'"' => return None,
            _ => out.push(b),
        }
    }
    is_token(&out).then_some(out)
}

/// An HTTP token (RFC 9110 5.6.2): one or more tchars.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `s` without leading and trailing spaces and tabs.
fn trim(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// The pieces of `s` between the `sep` bytes that are not inside a quoted
/// string; empty pieces (list elements like `a,,b`) are skipped.
fn split_outside_quotes(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || loop {
        let s = rest?;
        let mut quoted = false;
        let mut escaped = false;
        let mut end = s.len();
        for (i, &b) in s.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                _ if b == sep && !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        rest = (end < s.len()).then(|| &s[end + 1..]);
        let piece = &s[..end];
        if sep == b';' || !trim(piece).is_empty() {
            return Some(piece);
        }
    })
}
