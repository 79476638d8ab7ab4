//! The link thread: two connections to Redis on one mio loop, off the I/O
//! threads.
//!
//! - The **subscriber** connection sends `SUBSCRIBE` / `UNSUBSCRIBE` (runs of
//!   changes batched into one command, up to [`SUBSCRIBE_BATCH`] channels) and
//!   receives messages and confirmations. Confirmations come back in the order the
//!   channels were asked for, so one queue of expectations matches them; a
//!   confirmed subscription makes its room ready ([`Incoming::Ready`]).
//! - The **publisher** connection writes the workers' frames as pipelined
//!   `PUBLISH` commands (as many as the socket takes per write; no round trip per
//!   frame) and counts the broker's answers as confirmations.
//!
//! A connection is in use only once the broker has answered a `PING` (after
//! `AUTH`, with a password): a TCP connect alone proves nothing, since the kernel
//! of a stopped broker accepts, and so does a server that is not Redis.
//!
//! Losing either connection (an error, EOF, a reply out of step, no answer
//! within [`REPLY_TIMEOUT`]) takes both down: the outage is counted (from the
//! first request left unanswered, when the broker stopped answering), frames
//! written but not confirmed are counted as unconfirmed (the broker may still run
//! them) and frames never written whole as unpublished, rooms waiting for a
//! subscription are released (served locally), and the link reconnects with
//! back-off (50 ms doubling to 2 s, back to 50 ms once a link stayed up for a
//! second), then resubscribes every live room in batches. While the very first
//! connection is being made (at most [`CONNECT_TIMEOUT`]), new rooms wait for it.
//! A connection that idles is pinged every second, so that a broker that vanished
//! without a FIN is noticed.
//!
//! A message on a room channel longer than this server's `max_frame_bytes` is
//! skipped as it arrives (never held whole) and counted as a bad message; the link
//! stays up.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::{Events, Poll, Token};

use super::conn::{Conn, LinkError, Phase};
use super::resp::{self, Item, Reply, Text};
use super::{Backplane, BackplaneState, Command, Outgoing};
use crate::frame::{self as codec, FrameType};
use crate::rooms::registry::{Delivery, Incoming, RoomShared};
use crate::server_core::ServerCore;

/// The waker's token on the link's poll.
pub(crate) const WAKE: Token = Token(0);
const SUB: Token = Token(1);
const PUB: Token = Token(2);

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Connecting (and authenticating) longer than this fails the attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Replies owed for longer than this (with none arriving) mean the broker is gone.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// An idle publisher connection is pinged this often.
const PING_EVERY: Duration = Duration::from_secs(1);
/// Channels per `SUBSCRIBE` / `UNSUBSCRIBE` command.
const SUBSCRIBE_BATCH: usize = 512;
/// A link up this long counts as stable: losing it retries after the shortest
/// back-off again (a broker that accepts and drops at once backs off as failing).
const STABLE: Duration = Duration::from_secs(1);
/// Encoded but unwritten publishes beyond which no more frames are taken from the
/// queue (which then fills up to its bound, and further frames are dropped).
const PUB_WRITE_LIMIT: usize = 1 << 20;

/// A reply the subscriber connection is owed, in order.
enum Expect {
    Auth,
    /// The handshake's `PING`.
    Hello,
    Subscribe(Arc<RoomShared>),
    Unsubscribe,
}

/// A reply the publisher connection is owed, in order (runs of publishes counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    Auth,
    /// The handshake's `PING`.
    Hello,
    Publish(u64),
    Ping,
}

/// Runs the link until the server stops (thread `pierhead-backplane`).
pub(crate) fn run(poll: Poll, bp: Arc<Backplane>, shared: Arc<ServerCore>) {
    let workers = shared.rooms.workers();
    let mut link = Link {
        poll,
        events: Events::with_capacity(64),
        sub: None,
        pubc: None,
        addr: None,
        expect: VecDeque::new(),
        owed: VecDeque::new(),
        skip: 0,
        rooms: HashMap::new(),
        commands: Vec::new(),
        outgoing: Vec::new(),
        out_pos: 0,
        batches: (0..workers).map(|_| Vec::new()).collect(),
        backoff: BACKOFF_MIN,
        retry_at: Some(Instant::now()),
        connect_started: Instant::now(),
        last_ping: Instant::now(),
        ever_up: false,
        up_since: None,
        bp,
        shared,
    };
    // A panic in the link must not take the server down: the rooms go local.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| link.run()));
    if outcome.is_err() {
        link.bp
            .set_error("the backplane thread panicked; rooms are local only".to_owned());
        link.release_waiting();
        link.flush_batches();
    }
    link.finish();
}

struct Link {
    bp: Arc<Backplane>,
    shared: Arc<ServerCore>,
    poll: Poll,
    events: Events,
    sub: Option<Conn>,
    pubc: Option<Conn>,
    /// The broker's address for the attempt under way.
    addr: Option<SocketAddr>,
    /// Replies owed on the subscriber connection.
    expect: VecDeque<Expect>,
    /// Replies owed on the publisher connection.
    owed: VecDeque<Owed>,
    /// Bytes of an oversized message still to skip on the subscriber connection.
    skip: u64,
    /// Rooms with members on this server, by name: what is (or is to be)
    /// subscribed, and where messages go.
    rooms: HashMap<Arc<str>, Arc<RoomShared>>,
    commands: Vec<Command>,
    /// Frames taken from the queue; those before `out_pos` are encoded.
    outgoing: Vec<Outgoing>,
    out_pos: usize,
    /// What to push into each worker's inbox after this turn.
    batches: Box<[Vec<Incoming>]>,
    backoff: Duration,
    /// When to try connecting next (None: connected or trying).
    retry_at: Option<Instant>,
    connect_started: Instant,
    last_ping: Instant,
    ever_up: bool,
    /// Since when the link is up.
    up_since: Option<Instant>,
}

impl Link {
    fn run(&mut self) {
        loop {
            if self.bp.stop_requested() {
                return;
            }
            let timeout = self.poll_timeout();
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.lose(LinkError::Io(e));
                    // The poll itself failed: rooms stay local; nothing more to do.
                    return;
                }
            }
            let mut sub_ready = false;
            let mut pub_ready = false;
            for event in self.events.iter() {
                match event.token() {
                    SUB => sub_ready = true,
                    PUB => pub_ready = true,
                    _ => {}
                }
            }
            let now = Instant::now();
            for (ready, which) in [(sub_ready, SUB), (pub_ready, PUB)] {
                if ready {
                    if let Err(e) = self.serve(which, now) {
                        self.lose(e);
                    }
                }
            }
            self.apply_commands(now);
            if let Err(e) = self.publish(now) {
                self.lose(e);
            }
            if let Err(e) = self.check_timers(now) {
                self.lose(e);
            }
            self.flush_batches();
        }
    }

    fn connected(&self) -> bool {
        self.bp.state() == BackplaneState::Connected
    }

    fn poll_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Instant> = self.retry_at;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.sub.is_some() && !self.connected() {
            consider(self.connect_started + CONNECT_TIMEOUT);
        }
        for c in [&self.sub, &self.pubc].into_iter().flatten() {
            if let Some(t) = c.waiting_since {
                consider(t + REPLY_TIMEOUT);
            }
        }
        if self.connected() {
            consider(self.last_ping + PING_EVERY);
        }
        next.map(|t| t.saturating_duration_since(now) + Duration::from_millis(1))
    }

    /// Starts connecting both connections.
    fn connect(&mut self, now: Instant) -> Result<(), LinkError> {
        self.retry_at = None;
        self.connect_started = now;
        let authority = self.bp.url.authority();
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| LinkError::Resolve(authority.clone(), e.to_string()))?
            .next()
            .ok_or_else(|| LinkError::Resolve(authority.clone(), "no address".to_owned()))?;
        self.addr = Some(addr);
        self.sub = Some(Conn::open(&self.poll, addr, SUB)?);
        self.pubc = Some(Conn::open(&self.poll, addr, PUB)?);
        Ok(())
    }

    /// Moves a connection on from connecting: sends `AUTH` (with a password) and
    /// `PING`, pipelined; the connection is ready once `PING` is answered.
    fn advance(&mut self, which: Token, now: Instant) -> Result<(), LinkError> {
        let addr = self.addr.ok_or(LinkError::Closed)?;
        let url = &self.bp.url;
        let conn = if which == SUB {
            self.sub.as_mut()
        } else {
            self.pubc.as_mut()
        };
        let Some(conn) = conn else {
            return Ok(());
        };
        if conn.phase != Phase::Connecting || !conn.connected(addr)? {
            return Ok(());
        }
        let auth = url.password.is_some();
        if let Some(pw) = &url.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &url.user {
                args.push(user.as_bytes());
            }
            args.push(pw.as_bytes());
            resp::command(&args, &mut conn.wbuf);
        }
        resp::command(&[b"PING"], &mut conn.wbuf);
        conn.phase = Phase::Handshaking;
        conn.owe(now);
        conn.write()?;
        if which == SUB {
            if auth {
                self.expect.push_back(Expect::Auth);
            }
            self.expect.push_back(Expect::Hello);
        } else {
            if auth {
                self.owed.push_back(Owed::Auth);
            }
            self.owed.push_back(Owed::Hello);
        }
        Ok(())
    }

    /// Both connections ready: the link is up; resubscribe every live room.
    fn maybe_up(&mut self, now: Instant) -> Result<(), LinkError> {
        let ready = |c: &Option<Conn>| c.as_ref().is_some_and(|c| c.phase == Phase::Ready);
        if self.connected() || !ready(&self.sub) || !ready(&self.pubc) {
            return Ok(());
        }
        self.bp.set_state(BackplaneState::Connected);
        if self.ever_up {
            self.bp
                .counters
                .reconnects
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.ever_up = true;
        self.up_since = Some(now);
        self.last_ping = now;
        let rooms: Vec<Arc<RoomShared>> = self.rooms.values().cloned().collect();
        for chunk in rooms.chunks(SUBSCRIBE_BATCH) {
            self.send_subscriptions(true, chunk.iter().map(|r| r.name.clone()), now);
            for r in chunk {
                self.expect.push_back(Expect::Subscribe(r.clone()));
            }
        }
        if let Some(sub) = self.sub.as_mut() {
            sub.write()?;
        }
        Ok(())
    }

    /// Encodes one `SUBSCRIBE` or `UNSUBSCRIBE` for `names` on the subscriber
    /// connection (the caller queues the expectations).
    fn send_subscriptions(
        &mut self,
        subscribe: bool,
        names: impl ExactSizeIterator<Item = Arc<str>>,
        now: Instant,
    ) {
        let Some(sub) = self.sub.as_mut() else {
            return;
        };
        if names.len() == 0 {
            return;
        }
        resp::array_head(names.len() + 1, &mut sub.wbuf);
        let verb: &[u8] = if subscribe {
            b"SUBSCRIBE"
        } else {
            b"UNSUBSCRIBE"
        };
        resp::bulk(&[verb], &mut sub.wbuf);
        for name in names {
            resp::bulk(&[&self.bp.prefix, name.as_bytes()], &mut sub.wbuf);
        }
        sub.owe(now);
    }

    /// Subscription changes from the registry, in order; consecutive ones of a
    /// kind go out as one command.
    fn apply_commands(&mut self, now: Instant) {
        let mut commands = std::mem::take(&mut self.commands);
        self.bp.take_commands(&mut commands, false);
        if commands.is_empty() {
            self.commands = commands;
            return;
        }
        let up = self.connected();
        let down = self.bp.state() == BackplaneState::Down;
        let mut run: Vec<Arc<RoomShared>> = Vec::new();
        let mut run_unsub: Vec<Arc<str>> = Vec::new();
        for c in commands.drain(..) {
            match c {
                Command::Subscribe(room) => {
                    if !run_unsub.is_empty() {
                        self.flush_unsubscribes(&mut run_unsub, now);
                    }
                    self.rooms.insert(room.name.clone(), room.clone());
                    if up {
                        run.push(room);
                        if run.len() == SUBSCRIBE_BATCH {
                            self.flush_subscribes(&mut run, now);
                        }
                    } else if down {
                        // No broker to wait for: the room is local until it is back.
                        self.make_ready(&room);
                    }
                    // While the first connection is being made, the room waits:
                    // it is subscribed once the link is up, or released if it fails.
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
        self.commands = commands;
        if let Some(sub) = self.sub.as_mut() {
            if let Err(e) = sub.write() {
                self.lose(e);
            }
        }
    }

    fn flush_subscribes(&mut self, run: &mut Vec<Arc<RoomShared>>, now: Instant) {
        self.send_subscriptions(true, run.iter().map(|r| r.name.clone()), now);
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

    /// Marks a room ready and tells every worker (its waiting members get JOINED).
    fn make_ready(&mut self, room: &Arc<RoomShared>) {
        if room.make_ready() {
            for batch in self.batches.iter_mut() {
                batch.push(Incoming::Ready(room.clone()));
            }
        }
    }

    fn release_waiting(&mut self) {
        let rooms: Vec<Arc<RoomShared>> = self.rooms.values().cloned().collect();
        for r in &rooms {
            self.make_ready(r);
        }
    }

    fn conn_mut(&mut self, which: Token) -> Option<&mut Conn> {
        if which == SUB {
            self.sub.as_mut()
        } else {
            self.pubc.as_mut()
        }
    }

    /// Readiness on a connection: finish connecting, write what is pending, then
    /// read and handle every complete reply until the socket is drained.
    fn serve(&mut self, which: Token, now: Instant) -> Result<(), LinkError> {
        if self.conn_mut(which).map(|c| c.phase) == Some(Phase::Connecting) {
            self.advance(which, now)?;
        }
        loop {
            let Some(c) = self.conn_mut(which) else {
                return Ok(());
            };
            if c.phase == Phase::Connecting {
                return Ok(());
            }
            c.write()?;
            if !c.read_chunk()? {
                return Ok(());
            }
            let buf = std::mem::take(&mut c.rbuf);
            let len = c.rlen;
            let used = if which == SUB {
                self.sub_replies(&buf[..len], now)?
            } else {
                self.pub_replies(&buf[..len], now)?
            };
            if let Some(c) = self.conn_mut(which) {
                c.rbuf = buf;
                c.consume(used);
            }
        }
    }

    /// Handles the complete replies at the front of `buf` (skipping what is left
    /// of an oversized message first); returns the bytes used.
    fn sub_replies(&mut self, buf: &[u8], now: Instant) -> Result<usize, LinkError> {
        let max = self.bp.max_frame_bytes + codec::HEADER_LEN + 8;
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
            let decoded = resp::decode(&buf[pos..], max).map_err(|e| self.resp_error(SUB, e))?;
            let Some((reply, used)) = decoded else {
                break;
            };
            pos += used;
            self.sub_reply(reply, now)?;
        }
        Ok(pos)
    }

    /// Input that is not RESP: during the handshake, most likely not a Redis server.
    fn resp_error(&self, which: Token, e: resp::RespError) -> LinkError {
        let conn = if which == SUB { &self.sub } else { &self.pubc };
        match conn.as_ref().map(|c| c.phase) {
            Some(Phase::Handshaking) => LinkError::NotRedis(e),
            _ => LinkError::Resp(e),
        }
    }

    fn sub_reply(&mut self, reply: Reply<'_>, now: Instant) -> Result<(), LinkError> {
        let items = reply.items();
        match (reply, items) {
            (_, [Item::Bulk(Some(kind)), Item::Bulk(Some(ch)), Item::Bulk(Some(payload))])
                if *kind == b"message" =>
            {
                self.on_message(ch, payload);
                return Ok(());
            }
            (_, [Item::Bulk(Some(kind)), Item::Bulk(Some(_)), Item::Int(count)])
                if *kind == b"subscribe" || *kind == b"unsubscribe" =>
            {
                self.bp
                    .counters
                    .subscriptions
                    .store(*count as u64, std::sync::atomic::Ordering::Relaxed);
                match (self.expect.pop_front(), *kind == b"subscribe") {
                    (Some(Expect::Subscribe(room)), true) => self.make_ready(&room),
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
                    self.bp
                        .counters
                        .bad_messages
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                if let Some(sub) = self.sub.as_mut() {
                    sub.phase = Phase::Ready;
                }
                self.maybe_up(now)?;
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
        if let Some(sub) = self.sub.as_mut() {
            sub.waiting_since = (!self.expect.is_empty()).then_some(now);
        }
        Ok(())
    }

    /// A message on a room channel: another server's frame for local members.
    fn on_message(&mut self, channel: &[u8], payload: &[u8]) {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.bp.counters;
        let Some(room) = self.room_of(channel).cloned() else {
            return; // a room just unsubscribed from: its last member left
        };
        let Some((origin, frame)) = payload.split_first_chunk::<8>() else {
            c.bad_messages.fetch_add(1, Relaxed);
            return;
        };
        if u64::from_be_bytes(*origin) == self.bp.id {
            c.echoes_dropped.fetch_add(1, Relaxed);
            return;
        }
        let valid = matches!(
            codec::decode(frame, self.bp.max_frame_bytes),
            Ok(Some((h, _))) if h.kind == FrameType::Data && h.frame_len() == frame.len()
        );
        if !valid {
            c.bad_messages.fetch_add(1, Relaxed);
            return;
        }
        c.received.fetch_add(1, Relaxed);
        let frame = Bytes::copy_from_slice(frame);
        for (w, batch) in self.batches.iter_mut().enumerate() {
            if room.members_on(w) > 0 {
                batch.push(Incoming::Frame(Delivery {
                    room: room.name.clone(),
                    frame: frame.clone(),
                    tally: None,
                }));
            }
        }
    }

    /// The live room a channel name is for.
    fn room_of(&self, channel: &[u8]) -> Option<&Arc<RoomShared>> {
        channel
            .strip_prefix(&*self.bp.prefix)
            .and_then(|r| std::str::from_utf8(r).ok())
            .and_then(|r| self.rooms.get(r))
    }

    fn pub_replies(&mut self, buf: &[u8], now: Instant) -> Result<usize, LinkError> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut pos = 0;
        let mut published = 0u64;
        let mut refused = 0u64;
        while let Some((reply, used)) =
            resp::decode(&buf[pos..], 1 << 20).map_err(|e| self.resp_error(PUB, e))?
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
                    if let Some(pc) = self.pubc.as_mut() {
                        pc.phase = Phase::Ready;
                    }
                    self.maybe_up(now)?;
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
                            self.bp.set_error(format!("PUBLISH refused: {}", Text(e)));
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
        self.bp.counters.published.fetch_add(published, Relaxed);
        self.bp.count_unpublished(refused);
        if let Some(pc) = self.pubc.as_mut() {
            pc.waiting_since = (!self.owed.is_empty()).then_some(now);
        }
        Ok(pos)
    }

    /// Encodes queued frames as pipelined PUBLISH commands and writes them.
    fn publish(&mut self, now: Instant) -> Result<(), LinkError> {
        if !self.connected() {
            return Ok(());
        }
        let Some(pc) = self.pubc.as_mut() else {
            return Ok(());
        };
        let tag = self.bp.id.to_be_bytes();
        let mut encoded = 0u64;
        while pc.unwritten() < PUB_WRITE_LIMIT {
            if self.out_pos == self.outgoing.len() {
                self.outgoing.clear();
                self.out_pos = 0;
                self.bp.take_outbound(&mut self.outgoing);
                if self.outgoing.is_empty() {
                    break;
                }
            }
            let f = &self.outgoing[self.out_pos];
            resp::publish(
                &[&self.bp.prefix, f.room.as_bytes()],
                &[&tag, &f.frame],
                &mut pc.wbuf,
            );
            pc.mark();
            self.out_pos += 1;
            encoded += 1;
        }
        if encoded > 0 {
            match self.owed.back_mut() {
                Some(Owed::Publish(n)) => *n += encoded,
                _ => self.owed.push_back(Owed::Publish(encoded)),
            }
            pc.owe(now);
            // Drop the frames' references now: their memory goes back sooner.
            if self.out_pos == self.outgoing.len() {
                self.outgoing.clear();
                self.out_pos = 0;
            }
        }
        pc.write()
    }

    fn check_timers(&mut self, now: Instant) -> Result<(), LinkError> {
        if self.retry_at.is_some_and(|t| now >= t) {
            return self.connect(now);
        }
        if self.sub.is_some() && !self.connected() && now >= self.connect_started + CONNECT_TIMEOUT
        {
            return Err(LinkError::ConnectTimeout);
        }
        for c in [&self.sub, &self.pubc].into_iter().flatten() {
            if c.waiting_since.is_some_and(|t| now >= t + REPLY_TIMEOUT) {
                return Err(LinkError::ReplyTimeout(REPLY_TIMEOUT));
            }
        }
        if self.connected() && now >= self.last_ping + PING_EVERY {
            self.last_ping = now;
            if let Some(pc) = self.pubc.as_mut() {
                if self.owed.is_empty() {
                    resp::command(&[b"PING"], &mut pc.wbuf);
                    self.owed.push_back(Owed::Ping);
                    pc.owe(now);
                    pc.write()?;
                }
            }
        }
        Ok(())
    }

    /// The link is lost (or could not be made): count it, release waiting rooms,
    /// and retry after the back-off. A broker that stopped answering is down
    /// since the first request it left unanswered, not since the timeout.
    fn lose(&mut self, e: LinkError) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = Instant::now();
        let since = match e {
            LinkError::ReplyTimeout(_) => [&self.sub, &self.pubc]
                .into_iter()
                .flatten()
                .filter_map(|c| c.waiting_since)
                .min(),
            _ => None,
        };
        self.bp.set_error(e.to_string());
        self.close_connections();
        if self.bp.state() != BackplaneState::Down {
            self.bp.counters.outages.fetch_add(1, Relaxed);
            self.bp
                .set_state_at(BackplaneState::Down, since.unwrap_or(now).min(now));
        }
        self.release_waiting();
        if self.up_since.take().is_some_and(|t| t.elapsed() >= STABLE) {
            self.backoff = BACKOFF_MIN;
        }
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// Pushes what this turn produced into the workers' inboxes, one wake each.
    fn flush_batches(&mut self) {
        for (w, batch) in self.batches.iter_mut().enumerate() {
            if !batch.is_empty() {
                self.shared.rooms.inboxes[w].push(batch);
                // A failed wake only means that worker's loop is already gone.
                let _ = self.shared.wakers[w].wake();
            }
        }
    }

    /// At stop (or after a panic): a last write of what is encoded, frames never
    /// sent counted, the connections closed (the broker drops their
    /// subscriptions), and no room left waiting for a link that is gone.
    fn finish(&mut self) {
        let mut commands = std::mem::take(&mut self.commands);
        self.bp.take_commands(&mut commands, true);
        for c in commands.drain(..) {
            if let Command::Subscribe(room) = c {
                self.rooms.insert(room.name.clone(), room);
            }
        }
        self.release_waiting();
        self.flush_batches();
        if let Some(pc) = self.pubc.as_mut() {
            let _ = pc.write();
        }
        self.close_connections();
        self.bp.set_state(BackplaneState::Stopped);
    }

    /// Closes both connections and settles the account of every frame taken for
    /// the broker: those written whole but not confirmed are unconfirmed (the
    /// broker may still run them: a stopped one does when it resumes); those
    /// never written whole, taken or still queued, are unpublished. Nothing is
    /// owed any more.
    fn close_connections(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        let owed: u64 = self
            .owed
            .iter()
            .map(|o| match o {
                Owed::Publish(n) => *n,
                _ => 0,
            })
            .sum();
        let unsent = self.pubc.as_ref().map_or(0, Conn::unsent).min(owed);
        let never_taken = (self.outgoing.len() - self.out_pos) as u64;
        self.outgoing.clear();
        self.out_pos = 0;
        self.bp.take_outbound(&mut self.outgoing);
        let queued = self.outgoing.len() as u64;
        self.outgoing.clear();
        self.bp.count_unpublished(unsent + never_taken + queued);
        self.bp
            .counters
            .unconfirmed
            .fetch_add(owed - unsent, Relaxed);
        for c in [self.sub.take(), self.pubc.take()].into_iter().flatten() {
            c.close();
        }
        self.expect.clear();
        self.owed.clear();
        self.skip = 0;
        self.bp.counters.subscriptions.store(0, Relaxed);
    }
}
