//! The opening handshake (RFC 6455 section 4.2): an HTTP/1.1 `GET` with
//! `Upgrade: websocket`, checked and answered `101 Switching Protocols` with the
//! `Sec-WebSocket-Accept` of the client's key, or refused with the HTTP status that
//! says why (400, 426 with the version this server speaks, 405, 505 ...).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::deflate::{self, DeflateConfig, DeflateParams};
use crate::service::http::head::{self, HeadError};
use crate::syntax::{percent_decode, trim};

/// The GUID RFC 6455 appends to the client's key (section 1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// An accepted handshake: what the session needs of the request.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The room the path names: the path without its leading `/` and its query,
    /// percent-escapes decoded (`/caf%C3%A9` is `café`, as a frame client's `JOIN
    /// café`); empty for `/`.
    pub(crate) room: String,
    /// permessage-deflate, when negotiated.
    pub(crate) deflate: Option<DeflateParams>,
    /// The subprotocol agreed, if any.
    pub(crate) subprotocol: Option<String>,
}

/// A refused handshake: the status and a one-line reason for the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
}

impl Refusal {
    pub(crate) fn new(status: u16, reason: &'static str) -> Refusal {
        Refusal { status, reason }
    }
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    BASE64.encode(sha.finalize())
}

/// True if the comma-separated header value lists `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// Checks a complete request head (as delimited by [`head::find_end`]) and, if it
/// is a valid WebSocket opening handshake, writes the `101` answer to `out`.
/// Every refusal is answered by the caller with [`refuse`].
pub(crate) fn answer(
    request: &[u8],
    max_headers: usize,
    deflate_cfg: &DeflateConfig,
    out: &mut Vec<u8>,
) -> Result<Accepted, Refusal> {
    let mut slots = head::header_slots();
    let parsed = head::parse(request, &mut slots, max_headers).map_err(|e| match e {
        HeadError::TooManyHeaders => Refusal::new(431, "too many header fields"),
        HeadError::VersionNotSupported => Refusal::new(505, "HTTP version not supported"),
        _ => Refusal::new(400, "malformed request"),
    })?;
    if parsed.head.http10 {
        return Err(Refusal::new(400, "a WebSocket handshake needs HTTP/1.1"));
    }
    if parsed.method != "GET" {
        return Err(Refusal::new(405, "a WebSocket handshake is a GET"));
    }
    if parsed.head.body != head::BodyFraming::None {
        return Err(Refusal::new(400, "a WebSocket handshake has no body"));
    }
    let headers: Vec<(&str, &[u8])> = parsed.headers.iter().map(|h| (h.name, h.value)).collect();
    let room = room_of(parsed.target)?;
    let mut accepted = accept(&headers, deflate_cfg, &[], out)?;
    accepted.room = room;
    Ok(accepted)
}

/// The room a path names: the path without its leading `/` and its query,
/// percent-escapes decoded; not UTF-8 is refused with 400.
fn room_of(target: &str) -> Result<String, Refusal> {
    let path = target.split('?').next().unwrap_or("");
    String::from_utf8(percent_decode(path.trim_start_matches('/')).into_owned())
        .map_err(|_| Refusal::new(400, "the path (a room name) must be UTF-8"))
}

/// Checks the header fields of a `GET` that asks to upgrade (its method, version
/// and body already checked) and, if they make a valid opening handshake, writes
/// the `101` answer to `out`; the subprotocol agreed is the first the client
/// lists that is in `subprotocols`. (`Accepted::room` is left empty.)
pub(crate) fn accept(
    headers: &[(&str, &[u8])],
    deflate_cfg: &DeflateConfig,
    subprotocols: &[String],
    out: &mut Vec<u8>,
) -> Result<Accepted, Refusal> {
    let (mut upgrade, mut connection, mut version) = (false, false, None);
    let mut key: Option<&[u8]> = None;
    let mut keys = 0;
    let mut extensions: Vec<&[u8]> = Vec::new();
    let mut subprotocol: Option<&str> = None;
    for &(name, value) in headers {
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(value, b"websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(value, b"upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            version = Some(trim(value));
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            key = Some(trim(value));
            keys += 1;
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            extensions.push(value);
        } else if subprotocol.is_none() && name.eq_ignore_ascii_case("sec-websocket-protocol") {
            subprotocol = value
                .split(|&b| b == b',')
                .map(trim)
                .find_map(|p| subprotocols.iter().find(|s| s.as_bytes() == p))
                .map(String::as_str);
        }
    }
    if !upgrade || !connection {
        return Err(Refusal::new(
            426,
            "this server speaks WebSocket: send Upgrade: websocket and Connection: Upgrade",
        ));
    }
    if version != Some(b"13".as_slice()) {
        return Err(Refusal::new(426, "Sec-WebSocket-Version must be 13"));
    }
    let key = match key {
        Some(k) if keys == 1 && BASE64.decode(k).is_ok_and(|d| d.len() == 16) => k,
        _ => {
            return Err(Refusal::new(
                400,
                "Sec-WebSocket-Key must be one base64-encoded 16-byte value",
            ))
        }
    };
    let negotiated = deflate::negotiate(&extensions, deflate_cfg);
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept_key(key).as_bytes());
    if let Some((_, value)) = &negotiated {
        out.extend_from_slice(b"\r\nSec-WebSocket-Extensions: ");
        out.extend_from_slice(value.as_bytes());
    }
    if let Some(p) = subprotocol {
        out.extend_from_slice(b"\r\nSec-WebSocket-Protocol: ");
        out.extend_from_slice(p.as_bytes());
    }
    out.extend_from_slice(b"\r\n\r\n");
    Ok(Accepted {
        room: String::new(),
        deflate: negotiated.map(|(p, _)| p),
        subprotocol: subprotocol.map(str::to_owned),
    })
}

/// Writes the HTTP answer to a refused handshake (the connection closes after it).
pub(crate) fn refuse(r: &Refusal, out: &mut Vec<u8>) {
    let reason = crate::routing::reason(r.status);
    let body_len = r.reason.len() + 1;
    out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", r.status).as_bytes());
    if r.status == 426 {
        out.extend_from_slice(b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    }
    if r.status == 405 {
        out.extend_from_slice(b"Allow: GET\r\n");
    }
    out.extend_from_slice(
        format!("Content-Type: text/plain\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n{}\n", r.reason)
            .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(enabled: bool) -> DeflateConfig {
        DeflateConfig {
            enabled,
            server_no_context_takeover: false,
            server_max_window_bits: 15,
        }
    }

    #[test]
    fn the_rfc_example_key_is_accepted() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    fn request(extra: &str) -> Vec<u8> {
        format!("GET /lobby?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").into_bytes()
    }

    #[test]
    fn a_valid_handshake_is_answered_101() {
        let mut out = Vec::new();
        let a = answer(&request(""), 100, &cfg(true), &mut out).unwrap();
        assert_eq!(a.room, "lobby");
        assert!(a.deflate.is_none());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn deflate_is_negotiated_only_when_enabled() {
        let req =
            request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        let mut out = Vec::new();
        let a = answer(&req, 100, &cfg(true), &mut out).unwrap();
        assert!(a.deflate.is_some());
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("Sec-WebSocket-Extensions: permessage-deflate"));
        let mut out = Vec::new();
        let a = answer(&req, 100, &cfg(false), &mut out).unwrap();
        assert!(a.deflate.is_none());
        assert!(!String::from_utf8(out).unwrap().contains("Extensions"));
    }

    #[test]
    fn the_path_names_the_room_decoded() {
        let req = |path: &str| {
            format!("GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").into_bytes()
        };
        for (path, room) in [("/", ""), ("/caf%C3%A9?x=1", "café"), ("/a%20b", "a b")] {
            let mut out = Vec::new();
            assert_eq!(
                answer(&req(path), 100, &cfg(false), &mut out).unwrap().room,
                room
            );
        }
        let mut out = Vec::new();
        let r = answer(&req("/%FF"), 100, &cfg(false), &mut out).unwrap_err();
        assert_eq!(r.status, 400);
        assert!(out.is_empty());
    }

    #[test]
    fn bad_handshakes_are_refused_with_their_status() {
        let cases: [(&str, u16); 6] = [
            ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 426),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 405),
            ("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426),
            ("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
            ("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
        ];
        for (req, status) in cases {
            let mut out = Vec::new();
            let r = answer(req.as_bytes(), 100, &cfg(true), &mut out).unwrap_err();
            assert_eq!(r.status, status, "{req}");
            assert!(out.is_empty());
            refuse(&r, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
            assert!(text.contains("Connection: close"));
        }
    }
}
