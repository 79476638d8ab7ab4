//! The publisher connection's protocol, without a socket ([`Publisher`]): fed
//! the bytes read and the time, it answers with bytes to write (in its
//! [`Session`]) and events ([`PubEvent`]).
//!
//! It writes the workers' frames as pipelined `PUBLISH` commands (as many as
//! the socket takes per write; no round trip per frame), counts the broker's
//! answers as confirmations, and pings an idle connection so that a broker that
//! vanished without a FIN is noticed. When the connection is lost it settles
//! the account of every frame taken ([`Publisher::settle`]).

use std::collections::VecDeque;
use std::time::Instant;

use super::resp::{self, Item, Reply, Text};
use super::session::{LinkError, Phase, Session};
use super::url::BackplaneUrl;
use super::{Outgoing, TEXT_BIT};

/// Encoded but unwritten publishes beyond which no more frames are taken from the
/// queue (which then fills up to its bound, and further frames are dropped).
const PUB_WRITE_LIMIT: usize = 1 << 20;

/// A reply the publisher connection is owed, in order (runs of publishes counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    Auth,
    /// The handshake's `PING`.
    Hello,
    Publish(u64),
    Ping,
}

/// What the publisher connection tells the link.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PubEvent {
    /// Publishes the broker confirmed.
    Published(u64),
    /// Publishes the broker refused (counted as unpublished).
    Refused(u64),
    /// Why the broker refused a publish.
    Error(String),
}

/// How the frames taken for the broker ended when the connection went.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Settled {
    /// Never written whole (the broker cannot have run them), or taken and not
    /// encoded.
    pub(super) unpublished: u64,
    /// Written whole but not confirmed (the broker may still run them).
    pub(super) unconfirmed: u64,
}

/// The publisher connection's protocol state.
pub(super) struct Publisher {
    pub(super) session: Session,
    /// Replies owed.
    owed: VecDeque<Owed>,
    /// Frames taken from the queue; those before `out_pos` are encoded.
    outgoing: Vec<Outgoing>,
    out_pos: usize,
    /// `pierhead/<db>/`: every room channel starts with it.
    prefix: Box<[u8]>,
    /// This server's origin tag, before every frame.
    tag: [u8; 8],
}

impl Publisher {
    pub(super) fn new(prefix: Box<[u8]>, id: u64) -> Publisher {
        Publisher {
            session: Session::new(),
            owed: VecDeque::new(),
            outgoing: Vec::new(),
            out_pos: 0,
            prefix,
            tag: id.to_be_bytes(),
        }
    }

    /// Connected: starts the handshake.
    pub(super) fn connected(&mut self, url: &BackplaneUrl, now: Instant) {
        if self.session.hello(url, now) {
            self.owed.push_back(Owed::Auth);
        }
        self.owed.push_back(Owed::Hello);
    }

    /// Encodes frames as pipelined `PUBLISH` commands, taking more from the queue
    /// with `take` as long as the unwritten bytes stay under the limit.
    pub(super) fn publish(&mut self, now: Instant, mut take: impl FnMut(&mut Vec<Outgoing>)) {
        let mut encoded = 0u64;
        while self.session.unwritten() < PUB_WRITE_LIMIT {
            if self.out_pos == self.outgoing.len() {
                self.outgoing.clear();
                self.out_pos = 0;
                take(&mut self.outgoing);
                if self.outgoing.is_empty() {
                    break;
                }
            }
            let f = &self.outgoing[self.out_pos];
            let mut tag = self.tag;
            if f.text {
                tag[0] |= (TEXT_BIT >> 56) as u8;
            }
            resp::publish(
                &[&self.prefix, f.room.as_bytes()],
                &[&tag, &f.frame],
                &mut self.session.wbuf,
            );
            self.session.mark();
            self.out_pos += 1;
            encoded += 1;
        }
        if encoded > 0 {
            match self.owed.back_mut() {
                Some(Owed::Publish(n)) => *n += encoded,
                _ => self.owed.push_back(Owed::Publish(encoded)),
            }
            self.session.owe(now);
            // Drop the frames' references now: their memory goes back sooner.
            if self.out_pos == self.outgoing.len() {
                self.outgoing.clear();
                self.out_pos = 0;
            }
        }
    }

    /// Pings the broker if nothing is owed (an idle connection); true if so.
    pub(super) fn ping(&mut self, now: Instant) -> bool {
        if !self.owed.is_empty() {
            return false;
        }
        resp::command(&[b"PING"], &mut self.session.wbuf);
        self.owed.push_back(Owed::Ping);
        self.session.owe(now);
        true
    }

    /// Handles the complete replies at the front of `buf`; returns the bytes
    /// used. An error means the connection is out of step: the link goes down.
    pub(super) fn handle(
        &mut self,
        buf: &[u8],
        now: Instant,
        emit: &mut impl FnMut(PubEvent),
    ) -> Result<usize, LinkError> {
        let mut pos = 0;
        let mut published = 0u64;
        let mut refused = 0u64;
        while let Some((reply, used)) =
            resp::decode(&buf[pos..], 1 << 20).map_err(|e| self.session.resp_error(e))?
        {
            pos += used;
            let Some(front) = self.owed.front_mut() else {
                return Err(LinkError::Unexpected(format!(
                    "{reply:?} with nothing asked"
                )));
            };
            match (*front, reply) {
                (Owed::Auth, Reply::One(Item::Simple(_))) => {
                    self.owed.pop_front();
                }
                (Owed::Hello, Reply::One(Item::Simple(b"PONG"))) => {
                    self.owed.pop_front();
                    self.session.phase = Phase::Ready;
                }
                (Owed::Auth, Reply::One(Item::Error(e))) => {
                    return Err(LinkError::Auth(Text(e).to_string()))
                }
                (Owed::Hello, Reply::One(Item::Error(e))) => {
                    return Err(LinkError::Refused(Text(e).to_string()))
                }
                (Owed::Publish(n), Reply::One(item)) => {
                    match item {
                        Item::Int(_) => published += 1,
                        Item::Error(e) => {
                            refused += 1;
                            emit(PubEvent::Error(format!("PUBLISH refused: {}", Text(e))));
                        }
                        other => {
                            return Err(LinkError::Unexpected(format!("{other:?} to PUBLISH")))
                        }
                    }
                    if n <= 1 {
                        self.owed.pop_front();
                    } else {
                        *front = Owed::Publish(n - 1);
                    }
                }
                (Owed::Ping, Reply::One(Item::Simple(_))) => {
                    self.owed.pop_front();
                }
                (_, other) => return Err(LinkError::Unexpected(format!("{other:?}"))),
            }
        }
        emit(PubEvent::Published(published));
        emit(PubEvent::Refused(refused));
        self.session.answered(!self.owed.is_empty(), now);
        Ok(pos)
    }

    /// The connection is gone: settles the account of every frame taken (those
    /// written whole but not confirmed are unconfirmed, those never written
    /// whole unpublished); nothing is owed any more, a new connection starts
    /// connecting.
    pub(super) fn settle(&mut self) -> Settled {
        let owed: u64 = self
            .owed
            .iter()
            .map(|o| match o {
                Owed::Publish(n) => *n,
                _ => 0,
            })
            .sum();
        let unsent = self.session.unsent().min(owed);
        let never_encoded = (self.outgoing.len() - self.out_pos) as u64;
        self.outgoing.clear();
        self.out_pos = 0;
        self.owed.clear();
        self.session = Session::new();
        Settled {
            unpublished: unsent + never_encoded,
            unconfirmed: owed - unsent,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    fn ready() -> Publisher {
        let mut p = Publisher::new(Box::from(&b"pierhead/0/"[..]), 1);
        p.connected(
            &BackplaneUrl::parse("redis://127.0.0.1:1").unwrap(),
            Instant::now(),
        );
        let n = p.session.unwritten();
        p.session.written(n);
        p.handle(b"+PONG\r\n", Instant::now(), &mut |_| {}).unwrap();
        assert_eq!(p.session.phase, Phase::Ready);
        p
    }

    fn frames(n: usize) -> Vec<Outgoing> {
        (0..n)
            .map(|_| Outgoing {
                room: Arc::from("r"),
                frame: Bytes::from_static(b"F"),
                text: false,
            })
            .collect()
    }

    fn feed(p: &mut Publisher, input: &[u8]) -> (Result<usize, LinkError>, Vec<PubEvent>) {
        let mut events = Vec::new();
        let r = p.handle(input, Instant::now(), &mut |e| events.push(e));
        (r, events)
    }

    #[test]
    fn the_handshake_sends_auth_then_ping() {
        let mut p = Publisher::new(Box::from(&b"p/"[..]), 1);
        let url = BackplaneUrl::parse("redis://:secret@127.0.0.1:1").unwrap();
        p.connected(&url, Instant::now());
        assert_eq!(
            p.session.to_write(),
            b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n"
        );
        let (r, _) = feed(&mut p, b"-WRONGPASS invalid password\r\n");
        assert!(matches!(r, Err(LinkError::Auth(_))), "{r:?}");
    }

    #[test]
    fn publishes_are_pipelined_and_confirmations_counted() {
        let mut p = ready();
        let now = Instant::now();
        let mut queue = frames(3);
        p.publish(now, |into| std::mem::swap(into, &mut queue));
        let one = b"*3\r\n$7\r\nPUBLISH\r\n$12\r\npierhead/0/r\r\n$9\r\n\0\0\0\0\0\0\0\x01F\r\n";
        assert_eq!(p.session.to_write(), one.repeat(3));
        assert_eq!(p.session.waiting_since, Some(now));
        let (r, events) = feed(&mut p, b":2\r\n-ERR no\r\n");
        r.unwrap();
        assert_eq!(
            events,
            [
                PubEvent::Error("PUBLISH refused: ERR no".to_owned()),
                PubEvent::Published(1),
                PubEvent::Refused(1)
            ]
        );
        assert!(p.session.waiting_since.is_some(), "one more owed");
        // Written in part: the rest never reached the broker.
        p.session.written(one.len() + 3);
        assert_eq!(
            p.settle(),
            Settled {
                unpublished: 1,
                unconfirmed: 0
            }
        );
        assert_eq!(p.session.phase, Phase::Connecting);
    }

    #[test]
    fn written_and_unanswered_publishes_are_unconfirmed() {
        let mut p = ready();
        let mut queue = frames(4);
        p.publish(Instant::now(), |into| std::mem::swap(into, &mut queue));
        let n = p.session.unwritten();
        p.session.written(n);
        feed(&mut p, b":1\r\n").0.unwrap();
        assert_eq!(
            p.settle(),
            Settled {
                unpublished: 0,
                unconfirmed: 3
            }
        );
    }

    #[test]
    fn an_idle_connection_is_pinged_and_a_broken_reply_fails() {
        let mut p = ready();
        let now = Instant::now();
        assert!(p.ping(now));
        assert_eq!(p.session.to_write(), b"*1\r\n$4\r\nPING\r\n");
        assert!(!p.ping(now + Duration::from_secs(1)), "one ping at a time");
        feed(&mut p, b"+PONG\r\n").0.unwrap();
        assert_eq!(p.session.waiting_since, None);
        let (r, _) = feed(&mut p, b":1\r\n");
        assert!(
            matches!(r, Err(LinkError::Unexpected(_))),
            "nothing asked: {r:?}"
        );
        let mut p = ready();
        assert!(p.ping(now));
        let (r, _) = feed(&mut p, b"$");
        assert_eq!(r.unwrap(), 0, "incomplete");
        let (r, _) = feed(&mut p, b"!x\r\n");
        assert!(matches!(r, Err(LinkError::Resp(_))), "{r:?}");
    }
}
