//! A request's head from its decoded fields, with the rules of RFC 9113
//! section 8.2 (field validity, connection-specific fields) and 8.3 (request
//! pseudo-header fields). A request that breaks one is malformed: a stream
//! error of type PROTOCOL_ERROR (section 8.1.1).

/// A field as received: name and value.
pub(crate) type FieldPair = (Vec<u8>, Vec<u8>);

/// A request's head: the pseudo-header fields and the regular fields in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestHead {
    /// `:method`.
    pub method: Vec<u8>,
    /// `:scheme` (empty for CONNECT).
    pub scheme: Vec<u8>,
    /// `:authority` (empty if not sent).
    pub authority: Vec<u8>,
    /// `:path` (empty for CONNECT).
    pub path: Vec<u8>,
    /// The regular fields, in order, names lowercase.
    pub fields: Vec<FieldPair>,
    /// `content-length`, when given.
    pub content_length: Option<u64>,
}

/// Why a request (or its trailers) is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// A name with an uppercase letter or a character no field name may have,
    /// or an empty name (8.2.1).
    BadName,
    /// A value with NUL, CR or LF, or leading or trailing whitespace (8.2.1).
    BadValue,
    /// A connection-specific field, or TE other than "trailers" (8.2.2).
    ConnectionSpecific,
    /// A pseudo-header after a regular field (8.3).
    PseudoAfterRegular,
    /// A pseudo-header not defined for requests, or in trailers (8.3, 8.1).
    UnknownPseudo,
    /// A pseudo-header twice (8.3.1).
    DuplicatePseudo,
    /// `:method`, `:scheme` or `:path` missing, or `:path` empty; for CONNECT,
    /// `:authority` missing or `:scheme`/`:path` present (8.3.1, 8.5).
    MissingPseudo,
    /// A `content-length` not a number, or two that differ (8.1.1).
    BadContentLength,
}

/// A field section being checked field by field (a request's head or its
/// trailers); the first violation is kept and the rest of the section only
/// read (the HPACK decoder must still see every field).
#[derive(Debug, Default)]
pub(crate) struct HeadBuilder {
    head: RequestHead,
    trailers: bool,
    regular: bool,
    seen: [bool; 4],
    error: Option<Malformed>,
}

/// The request pseudo-header fields, in `seen` order.
const PSEUDO: [&[u8]; 4] = [b":method", b":scheme", b":authority", b":path"];

impl HeadBuilder {
    /// A builder for a request's head.
    pub(crate) fn request() -> HeadBuilder {
        HeadBuilder::default()
    }

    /// A builder for trailers (no pseudo-header fields allowed).
    pub(crate) fn trailers() -> HeadBuilder {
        HeadBuilder {
            trailers: true,
            ..HeadBuilder::default()
        }
    }

    /// One field, in order.
    pub(crate) fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.check(name, value) {
                self.error = Some(e);
            }
        }
    }

    fn check(&mut self, name: &[u8], value: &[u8]) -> Result<(), Malformed> {
        if !valid_value(value) {
            return Err(Malformed::BadValue);
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            if self.trailers {
                return Err(Malformed::UnknownPseudo);
            }
            if self.regular {
                return Err(Malformed::PseudoAfterRegular);
            }
            let i = PSEUDO
                .iter()
                .position(|p| &p[1..] == pseudo)
                .ok_or(Malformed::UnknownPseudo)?;
            if std::mem::replace(&mut self.seen[i], true) {
                return Err(Malformed::DuplicatePseudo);
            }
            let slot = match i {
                0 => &mut self.head.method,
                1 => &mut self.head.scheme,
                2 => &mut self.head.authority,
                _ => &mut self.head.path,
            };
            *slot = value.to_vec();
            return Ok(());
        }
        if !valid_name(name) {
            return Err(Malformed::BadName);
        }
        self.regular = true;
        match name {
            b"connection" | b"proxy-connection" | b"keep-alive" | b"transfer-encoding"
            | b"upgrade" => return Err(Malformed::ConnectionSpecific),
            b"te" if value != b"trailers" => return Err(Malformed::ConnectionSpecific),
            b"content-length" if !self.trailers => {
                let n = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or(Malformed::BadContentLength)?;
                if self.head.content_length.is_some_and(|m| m != n) {
                    return Err(Malformed::BadContentLength);
                }
                self.head.content_length = Some(n);
            }
            _ => {}
        }
        self.head.fields.push((name.to_vec(), value.to_vec()));
        Ok(())
    }

    /// The head, or why it is malformed.
    pub(crate) fn finish(self) -> Result<RequestHead, Malformed> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !self.trailers {
            let [method, scheme, authority, path] = self.seen;
            let ok = if self.head.method == b"CONNECT" {
                authority && !scheme && !path
            } else {
                method && scheme && path && !self.head.path.is_empty()
            };
            if !ok {
                return Err(Malformed::MissingPseudo);
            }
        }
        Ok(self.head)
    }
}

/// A field name: token characters (RFC 9110 section 5.6.2) without uppercase.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

/// A field value: no NUL, CR or LF, no whitespace at either end.
fn valid_value(value: &[u8]) -> bool {
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    !value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n')
        && !value.first().is_some_and(ws)
        && !value.last().is_some_and(ws)
}
