//! The frame protocol as the generator speaks it: every connection JOINs the
//! room; publishers send data frames stamped with their intended and actual send
//! times (nanoseconds since the run's start, one clock for all threads), their id
//! and sequence number; a closed-loop publisher follows each batch with a PING and
//! sends the next batch on its PONG (the server has then handed the frames to the
//! room).

use pierhead::frame::{self, op, Control, FrameType};

use super::answer::Framing;

/// Bytes of the stamp at the front of every data frame's payload.
pub(crate) const STAMP_LEN: usize = 28;

/// What a publisher's frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) intended_ns: u64,
    pub(crate) sent_ns: u64,
    pub(crate) publisher: u32,
    pub(crate) seq: u64,
}

/// `JOIN room`.
pub(crate) fn join(room: &str) -> Vec<u8> {
    let mut f = Vec::new();
    frame::encode_control(op::JOIN, room.as_bytes(), &mut f);
    f
}

/// `PING`.
pub(crate) fn ping(out: &mut Vec<u8>) {
    frame::encode_control(op::PING, b"", out);
}

/// Appends a data frame of `payload_len` bytes (at least the stamp's).
pub(crate) fn data(stamp: Stamp, payload_len: usize, out: &mut Vec<u8>) {
    frame::encode_header(FrameType::Data, payload_len.max(STAMP_LEN), out);
    put_stamp(stamp, payload_len, out);
}

/// Appends a publisher's payload of `payload_len` bytes (at least the stamp's):
/// the stamp, then padding. The WebSocket rooms mode sends the same payload.
pub(crate) fn put_stamp(stamp: Stamp, payload_len: usize, out: &mut Vec<u8>) {
    let len = payload_len.max(STAMP_LEN);
    out.extend_from_slice(&stamp.intended_ns.to_be_bytes());
    out.extend_from_slice(&stamp.sent_ns.to_be_bytes());
    out.extend_from_slice(&stamp.publisher.to_be_bytes());
    out.extend_from_slice(&stamp.seq.to_be_bytes());
    out.resize(out.len() + len - STAMP_LEN, b'f');
}

/// The stamp at the front of a payload.
pub(crate) fn parse_stamp(s: &[u8; STAMP_LEN]) -> Stamp {
    let u64_at = |i: usize| u64::from_be_bytes(s[i..i + 8].try_into().unwrap_or_default());
    Stamp {
        intended_ns: u64_at(0),
        sent_ns: u64_at(8),
        publisher: u32::from_be_bytes(s[16..20].try_into().unwrap_or_default()),
        seq: u64_at(20),
    }
}

/// What a connection received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Joined,
    Pong,
    Data(Stamp),
}

/// Decodes what the server sends one connection.
#[derive(Debug)]
pub(crate) struct Reader {
    partial: Vec<u8>,
    max: usize,
}

impl Reader {
    pub(crate) fn new(max_payload: usize) -> Reader {
        Reader {
            partial: Vec::new(),
            max: max_payload.max(STAMP_LEN),
        }
    }

    /// Reads `data`, calling `on` for every complete frame.
    pub(crate) fn feed(&mut self, data: &[u8], mut on: impl FnMut(Event)) -> Result<(), Framing> {
        if self.partial.is_empty() {
            let used = decode_all(data, self.max, &mut on)?;
            self.partial.extend_from_slice(&data[used..]);
        } else {
            self.partial.extend_from_slice(data);
            let used = decode_all(&self.partial, self.max, &mut on)?;
            self.partial.drain(..used);
        }
        Ok(())
    }
}

fn decode_all(mut data: &[u8], max: usize, on: &mut impl FnMut(Event)) -> Result<usize, Framing> {
    let total = data.len();
    loop {
        let Some((h, payload)) =
            frame::decode(data, max).map_err(|e| Framing::Frame(e.to_string()))?
        else {
            return Ok(total - data.len());
        };
        match h.kind {
            FrameType::Data => {
                let stamp = payload
                    .get(..STAMP_LEN)
                    .and_then(|s| s.try_into().ok())
                    .map(parse_stamp)
                    .ok_or_else(|| Framing::Frame("data frame without a stamp".to_owned()))?;
                on(Event::Data(stamp));
            }
            FrameType::Control => match frame::parse_control(payload) {
                Ok(Control::Joined(_)) => on(Event::Joined),
                Ok(Control::Pong(_)) => on(Event::Pong),
                Ok(Control::Error(text)) => {
                    return Err(Framing::Frame(format!("the server sent ERROR {text}")))
                }
                Ok(_) => {}
                Err(e) => return Err(Framing::Frame(e.to_string())),
            },
        }
        data = &data[h.frame_len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_any_split() {
        let stamp = Stamp {
            intended_ns: 1,
            sent_ns: 2,
            publisher: 3,
            seq: 4,
        };
        let mut wire = Vec::new();
        frame::encode_control(op::JOINED, b"r", &mut wire);
        data(stamp, 64, &mut wire);
        frame::encode_control(op::PONG, b"", &mut wire);
        for cut in 0..wire.len() {
            let mut r = Reader::new(1024);
            let mut got = Vec::new();
            r.feed(&wire[..cut], |e| got.push(e)).unwrap();
            r.feed(&wire[cut..], |e| got.push(e)).unwrap();
            assert_eq!(
                got,
                [Event::Joined, Event::Data(stamp), Event::Pong],
                "cut {cut}"
            );
        }
        let mut r = Reader::new(1024);
        let mut err = Vec::new();
        frame::encode_control(op::ERROR, b"slow consumer", &mut err);
        assert!(r.feed(&err, |_| {}).is_err());
        assert!(Reader::new(1024)
            .feed(b"\0\0\0\0garbage.........", |_| {})
            .is_err());
    }
}
