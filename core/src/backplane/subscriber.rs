//! The subscriber connection's protocol, without a socket ([`Subscriber`]): fed
//! the bytes read and the time, it answers with bytes to write (in its
//! [`Session`]) and events ([`SubEvent`]).
//!
//! It sends `SUBSCRIBE` / `UNSUBSCRIBE` (runs of changes batched into one
//! command, up to [`SUBSCRIBE_BATCH`] channels) and receives messages and
//! confirmations. Confirmations come back in the order the channels were asked
//! for, so one queue of expectations matches them; a confirmed subscription
//! makes its room ready ([`SubEvent::Ready`]). A message on a room channel
//! longer than this server's `max_frame_bytes` is skipped as it arrives (never
//! held whole) and counted as a bad message; the connection stays up.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::local::Room;
use super::resp::{self, Item, Reply, Text};
use super::session::{LinkError, Phase, Session};
use super::url::BackplaneUrl;
use super::{BackplaneState, Command, TEXT_BIT};
use crate::frame::{self as codec, FrameType};

/// Channels per `SUBSCRIBE` / `UNSUBSCRIBE` command.
pub(super) const SUBSCRIBE_BATCH: usize = 512;

/// A reply the subscriber connection is owed, in order.
enum Expect<R> {
    Auth,
    /// The handshake's `PING`.
    Hello,
    Subscribe(Arc<R>),
    Unsubscribe,
}

/// What the subscriber connection tells the link.
#[derive(Debug)]
pub(super) enum SubEvent<R> {
    /// The room may serve its members: its subscription is confirmed, or there
    /// is no broker to wait for.
    Ready(Arc<R>),
    /// A valid frame from another server (whole) for the room's members here.
    Message(Arc<R>, Bytes, bool),
    /// The broker's count of this connection's channels, from a confirmation.
    Subscriptions(u64),
    /// This server's own frame came back from the broker.
    Echo,
    /// A message for a live room that is not a valid data frame (or too large).
    Bad,
}

/// The subscriber connection's protocol state.
pub(super) struct Subscriber<R> {
    pub(super) session: Session,
    /// Replies owed.
    expect: VecDeque<Expect<R>>,
    /// Bytes of an oversized message still to skip.
    skip: u64,
    /// Rooms with members on this server, by name: what is (or is to be)
    /// subscribed, and where messages go.
    rooms: HashMap<Arc<str>, Arc<R>>,
    /// `pierhead/<db>/`: every room channel starts with it.
    prefix: Box<[u8]>,
    /// This server's origin tag: messages with it are its own echo.
    id: u64,
    max_frame_bytes: usize,
}

impl<R: Room> Subscriber<R> {
    pub(super) fn new(prefix: Box<[u8]>, id: u64, max_frame_bytes: usize) -> Self {
        Subscriber {
            session: Session::new(),
            expect: VecDeque::new(),
            skip: 0,
            rooms: HashMap::new(),
            prefix,
            id,
            max_frame_bytes,
        }
    }

    /// Connected: starts the handshake.
    pub(super) fn connected(&mut self, url: &BackplaneUrl, now: Instant) {
        if self.session.hello(url, now) {
            self.expect.push_back(Expect::Auth);
        }
        self.expect.push_back(Expect::Hello);
    }

    /// The connection is gone: nothing is owed, a new one starts connecting (the
    /// rooms stay, to be subscribed again).
    pub(super) fn reset(&mut self) {
        self.session = Session::new();
        self.expect.clear();
        self.skip = 0;
    }

    /// Every live room.
    pub(super) fn rooms(&self) -> impl Iterator<Item = &Arc<R>> {
        self.rooms.values()
    }

    /// Keeps a room without subscribing (the link is finishing).
    pub(super) fn track(&mut self, room: Arc<R>) {
        self.rooms.insert(room.name().clone(), room);
    }

    /// The link is up: subscribes every live room, in batches.
    pub(super) fn resubscribe(&mut self, now: Instant) {
        let rooms: Vec<Arc<R>> = self.rooms.values().cloned().collect();
        for chunk in rooms.chunks(SUBSCRIBE_BATCH) {
            self.send_subscriptions(true, chunk.iter().map(|r| r.name().clone()), now);
            for r in chunk {
                self.expect.push_back(Expect::Subscribe(r.clone()));
            }
        }
    }

    /// Subscription changes from the registry, in order, while the link is in
    /// `state`; consecutive ones of a kind go out as one command. A new room is
    /// released at once while the link is down, and waits while the first
    /// connection is being made (subscribed once the link is up, or released if
    /// it fails).
    pub(super) fn apply(
        &mut self,
        commands: &mut Vec<Command<R>>,
        state: BackplaneState,
        now: Instant,
        emit: &mut impl FnMut(SubEvent<R>),
    ) {
        let up = state == BackplaneState::Connected;
        let down = state == BackplaneState::Down;
        let mut run: Vec<Arc<R>> = Vec::new();
        let mut run_unsub: Vec<Arc<str>> = Vec::new();
        for c in commands.drain(..) {
            match c {
                Command::Subscribe(room) => {
                    if !run_unsub.is_empty() {
                        self.flush_unsubscribes(&mut run_unsub, now);
                    }
                    self.rooms.insert(room.name().clone(), room.clone());
                    if up {
                        run.push(room);
                        if run.len() == SUBSCRIBE_BATCH {
                            self.flush_subscribes(&mut run, now);
                        }
                    } else if down {
                        // No broker to wait for: the room is local until it is back.
                        emit(SubEvent::Ready(room));
                    }
                }
                Command::Unsubscribe(name) => {
                    if !run.is_empty() {
                        self.flush_subscribes(&mut run, now);
                    }
                    self.rooms.remove(&name);
                    if up {
                        run_unsub.push(name);
                        if run_unsub.len() == SUBSCRIBE_BATCH {
                            self.flush_unsubscribes(&mut run_unsub, now);
                        }
                    }
                }
            }
        }
        self.flush_subscribes(&mut run, now);
        self.flush_unsubscribes(&mut run_unsub, now);
    }

    fn flush_subscribes(&mut self, run: &mut Vec<Arc<R>>, now: Instant) {
        self.send_subscriptions(true, run.iter().map(|r| r.name().clone()), now);
        for r in run.drain(..) {
            self.expect.push_back(Expect::Subscribe(r));
        }
    }

    fn flush_unsubscribes(&mut self, run: &mut Vec<Arc<str>>, now: Instant) {
        let n = run.len();
        self.send_subscriptions(false, run.drain(..), now);
        for _ in 0..n {
            self.expect.push_back(Expect::Unsubscribe);
        }
    }

    /// Encodes one `SUBSCRIBE` or `UNSUBSCRIBE` for `names` (the caller queues
    /// the expectations).
    fn send_subscriptions(
        &mut self,
        subscribe: bool,
        names: impl ExactSizeIterator<Item = Arc<str>>,
        now: Instant,
    ) {
        if names.len() == 0 {
            return;
        }
        let out = &mut self.session.wbuf;
        resp::array_head(names.len() + 1, out);
        let verb: &[u8] = if subscribe {
            b"SUBSCRIBE"
        } else {
            b"UNSUBSCRIBE"
        };
        resp::bulk(&[verb], out);
        for name in names {
            resp::bulk(&[&self.prefix, name.as_bytes()], out);
        }
        self.session.owe(now);
    }

    /// Handles the complete replies at the front of `buf` (skipping what is left
    /// of an oversized message first); returns the bytes used. An error means the
    /// connection is out of step: the link goes down.
    pub(super) fn handle(
        &mut self,
        buf: &[u8],
        now: Instant,
        emit: &mut impl FnMut(SubEvent<R>),
    ) -> Result<usize, LinkError> {
        let max = self.max_frame_bytes + codec::HEADER_LEN + 8;
        let mut pos = 0;
        loop {
            if self.skip > 0 {
                let k = self.skip.min((buf.len() - pos) as u64);
                pos += k as usize;
                self.skip -= k;
                if self.skip > 0 {
                    break;
                }
            }
            let decoded = resp::decode(&buf[pos..], max).map_err(|e| self.session.resp_error(e))?;
            let Some((reply, used)) = decoded else {
                break;
            };
            pos += used;
            self.reply(reply, now, emit)?;
        }
        Ok(pos)
    }

    fn reply(
        &mut self,
        reply: Reply<'_>,
        now: Instant,
        emit: &mut impl FnMut(SubEvent<R>),
    ) -> Result<(), LinkError> {
        let items = reply.items();
        match (reply, items) {
            (_, [Item::Bulk(Some(kind)), Item::Bulk(Some(ch)), Item::Bulk(Some(payload))])
                if *kind == b"message" =>
            {
                self.message(ch, payload, emit);
                return Ok(());
            }
            (_, [Item::Bulk(Some(kind)), Item::Bulk(Some(_)), Item::Int(count)])
                if *kind == b"subscribe" || *kind == b"unsubscribe" =>
            {
                emit(SubEvent::Subscriptions(*count as u64));
                match (self.expect.pop_front(), *kind == b"subscribe") {
                    (Some(Expect::Subscribe(room)), true) => emit(SubEvent::Ready(room)),
                    (Some(Expect::Unsubscribe), false) => {}
                    _ => {
                        return Err(LinkError::Unexpected(format!(
                            "{} confirmation out of order",
                            Text(kind)
                        )))
                    }
                }
            }
            (_, [Item::Bulk(Some(kind)), Item::Bulk(Some(ch)), Item::Oversized(n)])
                if *kind == b"message" =>
            {
                // Over this server's limit: skipped as it arrives, counted, and the
                // link stays up.
                self.skip = n + 2;
                if self.room_of(ch).is_some() {
                    emit(SubEvent::Bad);
                }
                return Ok(());
            }
            (Reply::One(Item::Simple(_)), _)
                if matches!(self.expect.front(), Some(Expect::Auth)) =>
            {
                self.expect.pop_front();
            }
            (Reply::One(Item::Simple(b"PONG")), _)
                if matches!(self.expect.front(), Some(Expect::Hello)) =>
            {
                self.expect.pop_front();
                self.session.phase = Phase::Ready;
            }
            (Reply::One(Item::Error(e)), _)
                if matches!(self.expect.front(), Some(Expect::Auth)) =>
            {
                return Err(LinkError::Auth(Text(e).to_string()));
            }
            (Reply::One(Item::Error(e)), _)
                if matches!(self.expect.front(), Some(Expect::Hello)) =>
            {
                return Err(LinkError::Refused(Text(e).to_string()));
            }
            (Reply::One(Item::Error(e)), _) => {
                return Err(LinkError::Unexpected(Text(e).to_string()));
            }
            (other, _) => return Err(LinkError::Unexpected(format!("{other:?}"))),
        }
        self.session.answered(!self.expect.is_empty(), now);
        Ok(())
    }

    /// A message on a room channel: another server's frame for local members.
    fn message(&self, channel: &[u8], payload: &[u8], emit: &mut impl FnMut(SubEvent<R>)) {
        let Some(room) = self.room_of(channel) else {
            return; // a room just unsubscribed from: its last member left
        };
        let Some((origin, frame)) = payload.split_first_chunk::<8>() else {
            emit(SubEvent::Bad);
            return;
        };
        let origin = u64::from_be_bytes(*origin);
        if origin & !TEXT_BIT == self.id {
            emit(SubEvent::Echo);
            return;
        }
        let valid = matches!(
            codec::decode(frame, self.max_frame_bytes),
            Ok(Some((h, _))) if h.kind == FrameType::Data && h.frame_len() == frame.len()
        );
        if !valid {
            emit(SubEvent::Bad);
            return;
        }
        emit(SubEvent::Message(
            room.clone(),
            Bytes::copy_from_slice(frame),
            origin & TEXT_BIT != 0,
        ));
    }

    /// The live room a channel name is for.
    fn room_of(&self, channel: &[u8]) -> Option<&Arc<R>> {
        channel
            .strip_prefix(&*self.prefix)
            .and_then(|r| std::str::from_utf8(r).ok())
            .and_then(|r| self.rooms.get(r))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[derive(Debug)]
    struct TestRoom {
        name: Arc<str>,
        ready: AtomicBool,
    }

    impl Room for TestRoom {
        fn name(&self) -> &Arc<str> {
            &self.name
        }
        fn make_ready(&self) -> bool {
            !self.ready.swap(true, Ordering::AcqRel)
        }
    }

    fn room(name: &str) -> Arc<TestRoom> {
        Arc::new(TestRoom {
            name: Arc::from(name),
            ready: AtomicBool::new(false),
        })
    }

    const ID: u64 = 7;
    const MAX: usize = 64;

    fn subscriber() -> Subscriber<TestRoom> {
        Subscriber::new(Box::from(&b"pierhead/0/"[..]), ID, MAX)
    }

    /// Feeds `input` whole; the events and the bytes used.
    fn feed(
        s: &mut Subscriber<TestRoom>,
        input: &[u8],
    ) -> (Result<usize, LinkError>, Vec<SubEvent<TestRoom>>) {
        let mut events = Vec::new();
        let r = s.handle(input, Instant::now(), &mut |e| events.push(e));
        (r, events)
    }

    fn message(channel: &str, payload: &[u8]) -> Vec<u8> {
        let mut m = format!("*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n", channel.len());
        m.push_str(&format!("${}\r\n", payload.len()));
        let mut m = m.into_bytes();
        m.extend_from_slice(payload);
        m.extend_from_slice(b"\r\n");
        m
    }

    fn tagged(origin: u64, frame: &[u8]) -> Vec<u8> {
        let mut p = origin.to_be_bytes().to_vec();
        p.extend_from_slice(frame);
        p
    }

    /// A subscriber through its handshake, subscribed to `lobby`.
    fn in_lobby() -> (Subscriber<TestRoom>, Arc<TestRoom>) {
        let now = Instant::now();
        let mut s = subscriber();
        s.connected(&BackplaneUrl::parse("redis://127.0.0.1:1").unwrap(), now);
        let (r, _) = feed(&mut s, b"+PONG\r\n");
        assert_eq!(r.unwrap(), 7);
        let lobby = room("lobby");
        let mut cmds = vec![Command::Subscribe(lobby.clone())];
        s.apply(&mut cmds, BackplaneState::Connected, now, &mut |_| {});
        let (r, _) = feed(
            &mut s,
            b"*3\r\n$9\r\nsubscribe\r\n$16\r\npierhead/0/lobby\r\n:1\r\n",
        );
        r.unwrap();
        s.session.written(s.session.unwritten());
        (s, lobby)
    }

    #[test]
    fn the_handshake_ping_makes_it_ready_and_a_refusal_fails() {
        let now = Instant::now();
        let mut s = subscriber();
        s.connected(&BackplaneUrl::parse("redis://127.0.0.1:1").unwrap(), now);
        assert_eq!(s.session.to_write(), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(s.session.phase, Phase::Handshaking);
        let (r, events) = feed(&mut s, b"+PO");
        assert_eq!(
            (r.unwrap(), events.len()),
            (0, 0),
            "incomplete: nothing used"
        );
        let (r, _) = feed(&mut s, b"+PONG\r\n");
        assert_eq!(r.unwrap(), 7);
        assert_eq!(s.session.phase, Phase::Ready);
        assert_eq!(s.session.waiting_since, None, "nothing owed any more");

        let mut s = subscriber();
        s.connected(&BackplaneUrl::parse("redis://127.0.0.1:1").unwrap(), now);
        let (r, _) = feed(&mut s, b"-NOAUTH Authentication required.\r\n");
        assert!(matches!(r, Err(LinkError::Refused(_))), "{r:?}");
        let mut s = subscriber();
        s.connected(&BackplaneUrl::parse("redis://127.0.0.1:1").unwrap(), now);
        let (r, _) = feed(&mut s, b"HTTP/1.1 400 Bad Request\r\n");
        assert!(matches!(r, Err(LinkError::NotRedis(_))), "{r:?}");
    }

    #[test]
    fn subscribe_batches_a_run_and_confirmations_make_rooms_ready() {
        let now = Instant::now();
        let mut s = subscriber();
        let (a, b) = (room("a"), room("b"));
        let mut cmds = vec![
            Command::Subscribe(a.clone()),
            Command::Subscribe(b.clone()),
            Command::Unsubscribe(Arc::from("a")),
        ];
        s.apply(&mut cmds, BackplaneState::Connected, now, &mut |_| {});
        assert_eq!(
            s.session.to_write(),
            &b"*3\r\n$9\r\nSUBSCRIBE\r\n$12\r\npierhead/0/a\r\n$12\r\npierhead/0/b\r\n\
               *2\r\n$11\r\nUNSUBSCRIBE\r\n$12\r\npierhead/0/a\r\n"[..]
        );
        assert_eq!(s.session.waiting_since, Some(now));
        let (r, events) = feed(
            &mut s,
            b"*3\r\n$9\r\nsubscribe\r\n$12\r\npierhead/0/a\r\n:1\r\n\
              *3\r\n$9\r\nsubscribe\r\n$12\r\npierhead/0/b\r\n:2\r\n\
              *3\r\n$11\r\nunsubscribe\r\n$12\r\npierhead/0/a\r\n:1\r\n",
        );
        r.unwrap();
        let ready: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                SubEvent::Ready(r) => Some(&*r.name),
                _ => None,
            })
            .collect();
        assert_eq!(ready, ["a", "b"]);
        assert!(matches!(events.last(), Some(SubEvent::Subscriptions(1))));
        assert_eq!(s.rooms().count(), 1);
        assert_eq!(s.session.waiting_since, None);
    }

    #[test]
    fn rooms_wait_while_connecting_and_are_released_while_down() {
        let now = Instant::now();
        let mut s = subscriber();
        let mut events = Vec::new();
        let mut cmds = vec![Command::Subscribe(room("early"))];
        s.apply(&mut cmds, BackplaneState::Connecting, now, &mut |e| {
            events.push(e)
        });
        assert!(events.is_empty() && s.session.to_write().is_empty());
        let mut cmds = vec![Command::Subscribe(room("late"))];
        s.apply(&mut cmds, BackplaneState::Down, now, &mut |e| {
            events.push(e)
        });
        assert!(matches!(&events[..], [SubEvent::Ready(r)] if &*r.name == "late"));
        assert!(s.session.to_write().is_empty());
        s.resubscribe(now);
        assert!(s
            .session
            .to_write()
            .starts_with(b"*3\r\n$9\r\nSUBSCRIBE\r\n"));
    }

    #[test]
    fn the_tags_top_bit_says_text_and_is_not_part_of_the_origin() {
        let (mut s, _lobby) = in_lobby();
        let frame = codec::data_frame(b"hello");
        let mut input = message("pierhead/0/lobby", &tagged(1 | TEXT_BIT, &frame));
        input.extend(message("pierhead/0/lobby", &tagged(ID | TEXT_BIT, &frame)));
        let (r, events) = feed(&mut s, &input);
        assert_eq!(r.unwrap(), input.len());
        assert!(
            matches!(&events[..], [SubEvent::Message(_, _, true), SubEvent::Echo]),
            "{events:?}"
        );
    }

    #[test]
    fn a_message_is_delivered_and_the_echo_and_garbage_are_not() {
        let (mut s, lobby) = in_lobby();
        let frame = codec::data_frame(b"hello");
        let mut input = message("pierhead/0/lobby", &tagged(1, &frame));
        input.extend(message("pierhead/0/lobby", &tagged(ID, &frame)));
        input.extend(message("pierhead/0/lobby", &tagged(1, b"not a frame")));
        input.extend(message("pierhead/0/other", &tagged(1, &frame)));
        let (r, events) = feed(&mut s, &input);
        assert_eq!(r.unwrap(), input.len());
        match &events[..] {
            [SubEvent::Message(r, f, false), SubEvent::Echo, SubEvent::Bad] => {
                assert!(Arc::ptr_eq(r, &lobby));
                assert_eq!(&f[..], &frame[..]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_oversized_message_is_skipped_as_it_arrives() {
        let (mut s, _lobby) = in_lobby();
        let big = tagged(1, &codec::data_frame(&[b'x'; MAX + 1]));
        let small = codec::data_frame(b"after");
        let mut input = message("pierhead/0/lobby", &big);
        input.extend(message("pierhead/0/lobby", &tagged(1, &small)));
        // In two pieces, cut inside the large payload: the skip goes on into the
        // second.
        let cut = 100;
        let (r, events) = feed(&mut s, &input[..cut]);
        assert_eq!(r.unwrap(), cut, "skipped bytes are used, not kept");
        assert!(matches!(&events[..], [SubEvent::Bad]), "{events:?}");
        let (r, events) = feed(&mut s, &input[cut..]);
        assert_eq!(r.unwrap(), input.len() - cut);
        assert!(
            matches!(&events[..], [SubEvent::Message(_, f, false)] if f[..] == small[..]),
            "{events:?}"
        );
    }

    #[test]
    fn a_broken_reply_fails_the_connection() {
        let (mut s, _lobby) = in_lobby();
        let (r, _) = feed(&mut s, b"?what\r\n");
        assert!(matches!(r, Err(LinkError::Resp(_))), "{r:?}");
        let (mut s, _lobby) = in_lobby();
        let (r, _) = feed(&mut s, b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n");
        assert!(
            matches!(r, Err(LinkError::Unexpected(_))),
            "out of order: {r:?}"
        );
        let (mut s, _lobby) = in_lobby();
        let (r, _) = feed(&mut s, b"-ERR nope\r\n");
        assert!(matches!(r, Err(LinkError::Unexpected(_))), "{r:?}");
    }
}
