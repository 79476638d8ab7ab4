//! The link thread: two connections to Redis on one mio loop, off the I/O
//! threads. It owns the sockets ([`Conn`]) and drives the two protocols, which
//! hold no socket: the **subscriber** ([`Subscriber`]: `SUBSCRIBE` /
//! `UNSUBSCRIBE`, messages and confirmations) and the **publisher**
//! ([`Publisher`]: pipelined `PUBLISH` commands and their confirmations). It
//! turns their events into the backplane's counters and hands frames and ready
//! rooms to this server's rooms ([`Local`]).
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
//! back-off ([`Backoff`]), then resubscribes every live room in batches. While the very first
//! connection is being made (at most [`CONNECT_TIMEOUT`]), new rooms wait for it.
//! A connection that idles is pinged every second, so that a broker that vanished
//! without a FIN is noticed.
//!
//! A message on a room channel longer than this server's `max_frame_bytes` is
//! skipped as it arrives (never held whole) and counted as a bad message; the link
//! stays up.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use super::backoff::Backoff;
use super::conn::Conn;
use super::local::{Local, Room};
use super::publisher::{PubEvent, Publisher};
use super::session::{LinkError, Phase};
use super::subscriber::{SubEvent, Subscriber};
use super::{Backplane, BackplaneState, Command};

/// The waker's token on the link's poll.
pub(crate) const WAKE: Token = Token(0);
const SUB: Token = Token(1);
const PUB: Token = Token(2);

/// Connecting (and authenticating) longer than this fails the attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Replies owed for longer than this (with none arriving) mean the broker is gone.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// An idle publisher connection is pinged this often.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Runs the link until the server stops (thread `pierhead-backplane`),
/// delivering to `local`.
pub(crate) fn run<L: Local>(poll: Poll, bp: Arc<Backplane<L::Room>>, local: L) {
    let mut link = Link {
        poll,
        events: Events::with_capacity(64),
        sub_conn: None,
        pub_conn: None,
        addr: None,
        sub: Subscriber::new(bp.prefix.clone(), bp.id, bp.max_frame_bytes),
        publ: Publisher::new(bp.prefix.clone(), bp.id),
        commands: Vec::new(),
        backoff: Backoff::new(),
        retry_at: Some(Instant::now()),
        connect_started: Instant::now(),
        last_ping: Instant::now(),
        ever_up: false,
        bp,
        local,
    };
    // A panic in the link must not take the server down: the rooms go local.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| link.run()));
    if outcome.is_err() {
        link.bp
            .set_error("the backplane thread panicked; rooms are local only".to_owned());
        link.release_waiting();
        link.local.flush();
    }
    link.finish();
}

struct Link<L: Local> {
    bp: Arc<Backplane<L::Room>>,
    local: L,
    poll: Poll,
    events: Events,
    /// The subscriber connection's socket, while there is one.
    sub_conn: Option<Conn>,
    /// The publisher connection's socket, while there is one.
    pub_conn: Option<Conn>,
    /// The broker's address for the attempt under way.
    addr: Option<SocketAddr>,
    sub: Subscriber<L::Room>,
    publ: Publisher,
    commands: Vec<Command<L::Room>>,
    backoff: Backoff,
    /// When to try connecting next (None: connected or trying).
    retry_at: Option<Instant>,
    connect_started: Instant,
    last_ping: Instant,
    ever_up: bool,
}

/// What the subscriber said, turned into counts and deliveries.
fn on_sub_event<L: Local>(bp: &Backplane<L::Room>, local: &mut L, e: SubEvent<L::Room>) {
    let c = &bp.counters;
    match e {
        SubEvent::Ready(room) => make_ready(local, &room),
        SubEvent::Message(room, frame, text) => {
            c.received.fetch_add(1, Relaxed);
            local.deliver(&room, frame, text);
        }
        SubEvent::Subscriptions(n) => c.subscriptions.store(n, Relaxed),
        SubEvent::Echo => {
            c.echoes_dropped.fetch_add(1, Relaxed);
        }
        SubEvent::Bad => {
            c.bad_messages.fetch_add(1, Relaxed);
        }
    }
}

/// What the publisher said, turned into counts.
fn on_pub_event<R: Room>(bp: &Backplane<R>, e: PubEvent) {
    match e {
        PubEvent::Published(n) => {
            bp.counters.published.fetch_add(n, Relaxed);
        }
        PubEvent::Refused(n) => bp.count_unpublished(n),
        PubEvent::Error(e) => bp.set_error(e),
    }
}

/// Marks a room ready and tells the workers (its waiting members get JOINED).
fn make_ready<L: Local>(local: &mut L, room: &Arc<L::Room>) {
    if room.make_ready() {
        local.ready(room);
    }
}

impl<L: Local> Link<L> {
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
            self.local.flush();
        }
    }

    fn connected(&self) -> bool {
        self.bp.state() == BackplaneState::Connected
    }

    fn poll_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Instant> = self.retry_at;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.sub_conn.is_some() && !self.connected() {
            consider(self.connect_started + CONNECT_TIMEOUT);
        }
        for s in [&self.sub.session, &self.publ.session] {
            if let Some(t) = s.waiting_since {
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
        self.sub_conn = Some(Conn::open(&self.poll, addr, SUB)?);
        self.pub_conn = Some(Conn::open(&self.poll, addr, PUB)?);
        Ok(())
    }

    /// Moves a connection on from connecting: its protocol sends `AUTH` (with a
    /// password) and `PING`, pipelined; it is ready once `PING` is answered.
    fn advance(&mut self, which: Token, now: Instant) -> Result<(), LinkError> {
        let addr = self.addr.ok_or(LinkError::Closed)?;
        let url = &self.bp.url;
        if which == SUB {
            let Some(conn) = self.sub_conn.as_mut() else {
                return Ok(());
            };
            if self.sub.session.phase == Phase::Connecting && conn.connected(addr)? {
                self.sub.connected(url, now);
                conn.write(&mut self.sub.session)?;
            }
        } else {
            let Some(conn) = self.pub_conn.as_mut() else {
                return Ok(());
            };
            if self.publ.session.phase == Phase::Connecting && conn.connected(addr)? {
                self.publ.connected(url, now);
                conn.write(&mut self.publ.session)?;
            }
        }
        Ok(())
    }

    /// Both connections ready: the link is up; resubscribe every live room.
    fn maybe_up(&mut self, now: Instant) -> Result<(), LinkError> {
        if self.connected()
            || self.sub.session.phase != Phase::Ready
            || self.publ.session.phase != Phase::Ready
        {
            return Ok(());
        }
        self.bp.set_state(BackplaneState::Connected);
        if self.ever_up {
            self.bp.counters.reconnects.fetch_add(1, Relaxed);
        }
        self.ever_up = true;
        self.backoff.up(now);
        self.last_ping = now;
        self.sub.resubscribe(now);
        if let Some(conn) = self.sub_conn.as_mut() {
            conn.write(&mut self.sub.session)?;
        }
        Ok(())
    }

    /// Subscription changes from the registry, in order.
    fn apply_commands(&mut self, now: Instant) {
        let mut commands = std::mem::take(&mut self.commands);
        self.bp.take_commands(&mut commands, false);
        if commands.is_empty() {
            self.commands = commands;
            return;
        }
        let (bp, local) = (&self.bp, &mut self.local);
        let state = bp.state();
        self.sub.apply(&mut commands, state, now, &mut |e| {
            on_sub_event(bp, local, e)
        });
        self.commands = commands;
        if let Some(conn) = self.sub_conn.as_mut() {
            if let Err(e) = conn.write(&mut self.sub.session) {
                self.lose(e);
            }
        }
    }

    fn release_waiting(&mut self) {
        for room in self.sub.rooms() {
            make_ready(&mut self.local, room);
        }
    }

    /// Readiness on a connection: finish connecting, write what is pending, then
    /// read and handle every complete reply until the socket is drained.
    fn serve(&mut self, which: Token, now: Instant) -> Result<(), LinkError> {
        self.advance(which, now)?;
        loop {
            let (bp, local) = (&self.bp, &mut self.local);
            if which == SUB {
                let sub = &mut self.sub;
                let Some(conn) = self.sub_conn.as_mut() else {
                    return Ok(());
                };
                if !conn.exchange(&mut sub.session)? {
                    return Ok(());
                }
                let used = sub.handle(conn.unread(), now, &mut |e| on_sub_event(bp, local, e))?;
                conn.consume(used);
            } else {
                let publ = &mut self.publ;
                let Some(conn) = self.pub_conn.as_mut() else {
                    return Ok(());
                };
                if !conn.exchange(&mut publ.session)? {
                    return Ok(());
                }
                let used = publ.handle(conn.unread(), now, &mut |e| on_pub_event(bp, e))?;
                conn.consume(used);
            }
            self.maybe_up(now)?;
        }
    }

    /// Encodes queued frames as pipelined PUBLISH commands and writes them.
    fn publish(&mut self, now: Instant) -> Result<(), LinkError> {
        if !self.connected() {
            return Ok(());
        }
        let Some(conn) = self.pub_conn.as_mut() else {
            return Ok(());
        };
        let bp = &self.bp;
        self.publ.publish(now, |into| bp.take_outbound(into));
        conn.write(&mut self.publ.session)
    }

    fn check_timers(&mut self, now: Instant) -> Result<(), LinkError> {
        if self.retry_at.is_some_and(|t| now >= t) {
            return self.connect(now);
        }
        if self.sub_conn.is_some()
            && !self.connected()
            && now >= self.connect_started + CONNECT_TIMEOUT
        {
            return Err(LinkError::ConnectTimeout);
        }
        for s in [&self.sub.session, &self.publ.session] {
            if s.waiting_since.is_some_and(|t| now >= t + REPLY_TIMEOUT) {
                return Err(LinkError::ReplyTimeout(REPLY_TIMEOUT));
            }
        }
        if self.connected() && now >= self.last_ping + PING_EVERY {
            self.last_ping = now;
            if let Some(conn) = self.pub_conn.as_mut() {
                if self.publ.ping(now) {
                    conn.write(&mut self.publ.session)?;
                }
            }
        }
        Ok(())
    }

    /// The link is lost (or could not be made): count it, release waiting rooms,
    /// and retry after the back-off. A broker that stopped answering is down
    /// since the first request it left unanswered, not since the timeout.
    fn lose(&mut self, e: LinkError) {
        let now = Instant::now();
        let since = match e {
            LinkError::ReplyTimeout(_) => [&self.sub.session, &self.publ.session]
                .into_iter()
                .filter_map(|s| s.waiting_since)
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
        self.retry_at = Some(self.backoff.lost(now));
    }

    /// At stop (or after a panic): a last write of what is encoded, frames never
    /// sent counted, the connections closed (the broker drops their
    /// subscriptions), and no room left waiting for a link that is gone.
    fn finish(&mut self) {
        let mut commands = std::mem::take(&mut self.commands);
        self.bp.take_commands(&mut commands, true);
        for c in commands.drain(..) {
            if let Command::Subscribe(room) = c {
                self.sub.track(room);
            }
        }
        self.release_waiting();
        self.local.flush();
        if let Some(conn) = self.pub_conn.as_mut() {
            let _ = conn.write(&mut self.publ.session);
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
        let settled = self.publ.settle();
        let mut queued = Vec::new();
        self.bp.take_outbound(&mut queued);
        self.bp
            .count_unpublished(settled.unpublished + queued.len() as u64);
        self.bp
            .counters
            .unconfirmed
            .fetch_add(settled.unconfirmed, Relaxed);
        for conn in [self.sub_conn.take(), self.pub_conn.take()]
            .into_iter()
            .flatten()
        {
            conn.close();
        }
        self.sub.reset();
        self.bp.counters.subscriptions.store(0, Relaxed);
    }
}
