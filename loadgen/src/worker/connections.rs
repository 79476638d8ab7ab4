//! Connections: connecting (and again, after a close or a failed connect), the
//! WebSocket opening handshake, sending (what the socket does not take waits in the connection's `unsent`),
//! reading, validating what is read through the protocol's reader, and closing
//! with the error the close stands for.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::conn::{Role, Why};
use super::recording::Kind;
use super::Worker;
use crate::config::BenchProtocol;
use crate::proto::frame::{self, Event};
use crate::proto::ws::{self, Refused};
use crate::proto::{Answers, Framing, Reader};

/// Wait before connecting again after a failed connect.
const RECONNECT_DELAY: Duration = Duration::from_millis(10);

impl Worker {
    pub(super) fn connect(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        c.retry_at = None;
        let mut stream = match TcpStream::connect(self.plan.target.addr) {
            Ok(s) => s,
            Err(_) => {
                c.retry_at = Some(now + RECONNECT_DELAY);
                self.count_error(now, 1, Kind::Connect);
                return;
            }
        };
        if self
            .poll
            .registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            c.retry_at = Some(now + RECONNECT_DELAY);
            self.count_error(now, 1, Kind::Connect);
            return;
        }
        c.stream = Some(stream);
        c.connected = false;
        c.fresh = true;
    }

    pub(super) fn on_writable(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_ref() else {
            return;
        };
        if !c.connected {
            let failed = !matches!(stream.take_error(), Ok(None));
            let state = stream.peer_addr();
            if !failed && matches!(&state, Err(e) if e.kind() == io::ErrorKind::NotConnected) {
                return; // still connecting
            }
            if failed || state.is_err() {
                self.drop_stream(i);
                self.conns[i].retry_at = Some(now + RECONNECT_DELAY);
                self.count_error(now, 1, Kind::Connect);
                return;
            }
            let _ = stream.set_nodelay(true);
            c.connected = true;
            if self.plan.target.protocol == BenchProtocol::Ws {
                self.send_handshake(i, now);
                return;
            }
            self.rec.opened += 1;
            self.set_open();
            self.on_connected(i, now);
            return;
        }
        if !c.unsent.is_empty() && self.flush(i, now) {
            self.after_progress(i, now);
        }
    }

    /// WebSocket: the opening handshake's request, with a fresh key.
    fn send_handshake(&mut self, i: usize, now: Instant) {
        let seed = (self.plan.first_conn + i) as u64 ^ self.ns(now);
        let (key, _) = ws::random_key(seed);
        let t = &self.plan.target;
        let request = ws::request(&t.authority, &t.path, &key);
        let c = &mut self.conns[i];
        c.handshake = Some(ws::Handshake::new(&key));
        c.join_sent = Some(now);
        self.write(i, &request, now);
    }

    /// WebSocket: the handshake's `101` came: the connection is open (a member
    /// has joined its room).
    fn upgraded(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        c.handshake = None;
        c.join_sent = None;
        self.rec.opened += 1;
        self.set_open();
        match self.conns[i].role {
            Role::Frame { .. } => self.frame_event(i, Event::Joined, now),
            Role::Request(_) => self.on_connected(i, now),
        }
    }

    /// WebSocket: writes the pongs owed to the server's pings; false if the
    /// connection was closed.
    fn write_pongs(&mut self, i: usize, now: Instant) -> bool {
        let Some(pongs) = self.conns[i].role.pongs().filter(|p| !p.is_empty()) else {
            return true;
        };
        let mut out = std::mem::take(pongs);
        if !self.write(i, &out, now) {
            return false;
        }
        out.clear();
        if let Some(p) = self.conns[i].role.pongs() {
            *p = out; // the buffer back, for the next pings
        }
        true
    }

    /// A connection is up: a frame connection JOINs; a request connection first
    /// sends again what the server left unanswered when it closed the last one.
    pub(super) fn on_connected(&mut self, i: usize, now: Instant) {
        if let Role::Frame { .. } = self.conns[i].role {
            let join = frame::join(&self.plan.room);
            self.conns[i].join_sent = Some(now);
            self.write(i, &join, now);
            return;
        }
        let again = self.conns[i].inflight.len();
        if again > 0 {
            let (bytes, one) = match &self.conns[i].role {
                Role::Request(Reader::Ws(_)) => (None, 0),
                Role::Request(Reader::Echo(_)) => {
                    (Some(self.echo_batches[i].clone()), self.payloads[i].len())
                }
                _ => (Some(self.batch.clone()), self.plan.request.len()),
            };
            // At most `pipeline` are ever in flight: the batch holds that many.
            let written = match bytes {
                Some(bytes) => self.write(i, &bytes[..one * again], now),
                None => self.write_ws_echo(i, again, now),
            };
            if !written {
                return;
            }
            for r in self.conns[i].inflight.iter_mut() {
                r.1 = now;
            }
        }
        self.after_progress(i, now);
    }

    /// Writes what was left unsent; false if the connection was closed.
    pub(super) fn flush(&mut self, i: usize, now: Instant) -> bool {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
            return false;
        };
        let mut written = 0;
        let result = loop {
            if written == c.unsent.len() {
                break Ok(());
            }
            match stream.write(&c.unsent[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        c.unsent.drain(..written);
        self.rec.bytes_sent += written as u64;
        if result.is_err() {
            self.close(i, Why::Write, now);
            return false;
        }
        true
    }

    /// Writes `bytes` (after anything unsent); false if the connection was closed.
    pub(super) fn write(&mut self, i: usize, bytes: &[u8], now: Instant) -> bool {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
            return false;
        };
        if !c.unsent.is_empty() {
            c.unsent.extend_from_slice(bytes);
            return true;
        }
        let mut written = 0;
        while written < bytes.len() {
            match stream.write(&bytes[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.rec.bytes_sent += written as u64;
                    self.close(i, Why::Write, now);
                    return false;
                }
            }
        }
        self.rec.bytes_sent += written as u64;
        if written < bytes.len() {
            self.conns[i].unsent.extend_from_slice(&bytes[written..]);
        }
        true
    }

    /// Reads what the socket has. A read shorter than the buffer emptied it (the
    /// poll is edge-triggered: more data is a new event), unless the event also
    /// said the peer closed: then the end of the stream is read too, since no
    /// event will come for it.
    pub(super) fn on_readable(&mut self, i: usize, now: Instant, hangup: bool) {
        loop {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            if !c.connected {
                return;
            }
            let mut buf = std::mem::take(&mut self.buf);
            let r = stream.read(&mut buf);
            let outcome = match r {
                Ok(0) => {
                    self.buf = buf;
                    self.on_eof(i, now);
                    return;
                }
                Ok(n) => {
                    self.rec.bytes_received += n as u64;
                    let ok = self.on_data(i, &buf[..n], now);
                    let short = n < buf.len() && !hangup;
                    self.buf = buf;
                    if !ok || short {
                        return;
                    }
                    continue;
                }
                Err(e) => e,
            };
            self.buf = buf;
            match outcome.kind() {
                io::ErrorKind::WouldBlock => return,
                io::ErrorKind::Interrupted => continue,
                _ => {
                    self.close(i, Why::Read, now);
                    return;
                }
            }
        }
    }

    /// The server closed the connection. An answer that runs to the close is
    /// complete, and `answered` reopens the connection (nothing is lost: what
    /// else was sent goes again); a cut answer is a read error; a close between
    /// answers loses those still unanswered (read errors) and reopens.
    pub(super) fn on_eof(&mut self, i: usize, now: Instant) {
        let mut a = Answers::default();
        let r = match &mut self.conns[i].role {
            Role::Request(reader) => reader.eof(&mut a),
            Role::Frame { .. } => Ok(()),
        };
        if r.is_err() {
            self.close(i, Why::Cut, now);
        } else if a.complete > 0 {
            debug_assert!(a.close, "an answer completed by the close says so");
            self.answered(i, a, now);
        } else {
            self.close(i, Why::Read, now);
        }
    }

    /// Bytes from the server; false if the connection was closed.
    pub(super) fn on_data(&mut self, i: usize, mut data: &[u8], now: Instant) -> bool {
        if let Some(hs) = self.conns[i].handshake.as_mut() {
            match hs.feed(data) {
                Ok(None) => return true,
                Ok(Some(n)) => {
                    self.upgraded(i, now);
                    if !self.conns[i].connected {
                        return false;
                    }
                    data = &data[n..];
                }
                Err(Refused::Status(_)) => {
                    self.close(i, Why::Refused, now);
                    return false;
                }
                Err(Refused::Bad(_)) => {
                    self.close(i, Why::Framing, now);
                    return false;
                }
            }
        }
        let why = |e: Framing| match e {
            Framing::WsClosed(_) => Why::Closed,
            _ => Why::Framing,
        };
        match &mut self.conns[i].role {
            Role::Request(reader) => {
                let mut a = Answers::default();
                if let Err(e) = reader.feed(data, &mut a) {
                    // The answers before a close frame count.
                    let closed = matches!(e, Framing::WsClosed(_));
                    if closed && a.complete > 0 && !self.answered(i, a, now) {
                        return false;
                    }
                    self.close(i, why(e), now);
                    return false;
                }
                if !self.write_pongs(i, now) {
                    return false;
                }
                if a.complete > 0 {
                    return self.answered(i, a, now);
                }
                true
            }
            Role::Frame { reader, .. } => {
                let mut events = std::mem::take(&mut self.events);
                events.clear();
                let r: Result<(), Framing> = reader.feed(data, |e| events.push(e));
                if !self.write_pongs(i, now) {
                    self.events = events;
                    return false;
                }
                for &e in &events {
                    self.frame_event(i, e, now);
                }
                self.events = events;
                match r {
                    Ok(()) => true,
                    Err(e) => {
                        self.close(i, why(e), now);
                        false
                    }
                }
            }
        }
    }

    pub(super) fn frame_event(&mut self, i: usize, e: Event, now: Instant) {
        match e {
            Event::Joined => {
                let c = &mut self.conns[i];
                c.fresh = false;
                if let Role::Frame { joined, .. } = &mut c.role {
                    *joined = true;
                }
                if !c.ever_joined {
                    c.ever_joined = true;
                    self.shared.joined.fetch_add(1, Ordering::AcqRel);
                }
                self.after_progress(i, now);
            }
            Event::Pong => {
                self.conns[i].inflight.pop_front();
                self.after_progress(i, now);
            }
            Event::Data(stamp) => self.delivered(stamp, now),
        }
    }

    pub(super) fn drop_stream(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if let Some(mut s) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        let was = c.connected;
        c.connected = false;
        c.handshake = None;
        c.unsent.clear();
        if was {
            self.set_open();
        }
    }

    /// Closes connection `i` and opens it again. After `Why::Done` its unanswered
    /// requests stay in flight, to be sent again on the new connection (the
    /// server said it would not answer them there); otherwise they are errors of
    /// the kind `why` names.
    pub(super) fn close(&mut self, i: usize, why: Why, now: Instant) {
        self.drop_stream(i);
        let role = self.new_role(i);
        let c = &mut self.conns[i];
        c.role = role;
        c.join_sent = None;
        let per_request = matches!(c.role, Role::Request(_));
        let lost = if why == Why::Done && per_request {
            0
        } else {
            c.inflight
                .drain(..)
                .filter(|&(intended, _)| intended >= self.plan.clock.measure_start)
                .count() as u64
        };
        // A frame connection's loss is one error (a publisher's PING stands for
        // frames already sent; a member has nothing outstanding); a request
        // connection's is one per unanswered request, at least one for a failure.
        let n = match (why, per_request) {
            (Why::Done, _) => 0,
            (_, false) => 1,
            (Why::Read, true) => lost,
            (_, true) => lost.max(1),
        };
        let kind = match why {
            Why::Done | Why::Read | Why::Cut | Why::Closed => Kind::Read,
            Why::Refused => Kind::Status,
            Why::Write => Kind::Write,
            Why::Timeout => Kind::Timeout,
            Why::Framing => Kind::Framing,
        };
        self.count_error(now, n, kind);
        if self.shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if self.conns[i].fresh {
            self.conns[i].retry_at = Some(now + RECONNECT_DELAY);
        } else {
            self.connect(i, now);
        }
    }
}
