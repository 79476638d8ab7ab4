//! What a service may do to its connections outside their own events
//! ([`crate::service::Service::end_turn`]): queue output for them (a broadcast to
//! a room's members), drop what is queued, and evict one (a slow consumer). What
//! is queued is sent by the engine right after, once per connection, with one
//! vectored send each; nothing here closes a connection (the sends after
//! `end_turn` do, on an error).

use bytes::Bytes;
use slab::Slab;

use super::connection::live;
use super::connection::{sink, Connection, Phase};
use super::driver::Driver;
use super::token::ConnToken;
use crate::net;
use crate::stats::Counters;

/// The worker's connections, as a service sees them at the end of a turn.
pub(crate) struct Peers<'a, Session> {
    conns: &'a mut Slab<Connection<Session>>,
    driver: &'a mut Driver,
}

impl<'a, Session> Peers<'a, Session> {
    pub(super) fn new(
        conns: &'a mut Slab<Connection<Session>>,
        driver: &'a mut Driver,
    ) -> Peers<'a, Session> {
        Peers { conns, driver }
    }

    /// The connection `token` names, if it is still live (a closed connection's
    /// token names nothing, even when its slot was reused).
    #[inline]
    pub(crate) fn get(&mut self, token: mio::Token) -> Option<Peer<'_, Session>> {
        let ct = ConnToken::from_token(token)?;
        let conn = live(self.conns, ct)?;
        Some(Peer {
            conn,
            driver: self.driver,
        })
    }

    /// The pending-output limit per connection (`max_output_bytes`).
    #[inline]
    pub(crate) fn max_output(&self) -> usize {
        self.driver.max_output
    }

    /// The worker's counters.
    #[inline]
    pub(crate) fn counters(&self) -> &Counters {
        self.driver.counters()
    }
}

/// One connection, as a service acts on it at the end of a turn.
pub(crate) struct Peer<'a, Session> {
    conn: &'a mut Connection<Session>,
    driver: &'a mut Driver,
}

impl<Session> Peer<'_, Session> {
    /// Its session.
    #[inline]
    pub(crate) fn session(&mut self) -> &mut Session {
        &mut self.conn.session
    }

    /// It takes more output: open (not closing, evicted or lingering), and its
    /// client has not shut down its sending side (it closes once answered).
    #[inline]
    pub(crate) fn receptive(&self) -> bool {
        self.conn.phase == Phase::Open && !self.conn.read_closed
    }

    /// Bytes queued for it and not yet sent.
    #[inline]
    pub(crate) fn pending(&self) -> usize {
        self.conn.output.len()
    }

    /// Sends what is queued for it as far as the socket takes it now. (An error
    /// shows in the send after the turn, which closes it.)
    pub(crate) fn send_now(&mut self) {
        let conn = &mut *self.conn;
        let (n, _) = conn.output.send(
            &mut sink(&conn.stream, &mut conn.tls),
            &mut self.driver.pool,
            &mut self.driver.shared_sent,
        );
        self.driver.note_written(conn, n);
    }

    /// Queues a shared slice (a broadcast frame) without copying it.
    #[inline]
    pub(crate) fn queue_shared(&mut self, data: Bytes) {
        self.conn.output.push_shared(data);
        self.mark();
    }

    /// Drops queued shared slices not yet started, oldest first, until `need` bytes
    /// are freed; returns how many were dropped.
    pub(crate) fn drop_queued_shared(&mut self, need: usize) -> u64 {
        self.conn.output.drop_queued_shared(need)
    }

    /// Evicts it: what is queued is cut after a segment partly sent (so its client
    /// never sees half of something followed by something else), `last_words`
    /// follow, and the connection closes once they are sent, or when it makes no
    /// progress for a grace ([`super::connection::EVICT_GRACE`]; what the kernel
    /// still holds for it counts). Returns how many shared slices were cut.
    pub(crate) fn evict(&mut self, last_words: &[u8]) -> u64 {
        let conn = &mut *self.conn;
        let cut = conn.output.truncate_to_started(&mut self.driver.pool);
        conn.output.push_copy(last_words, &mut self.driver.pool);
        conn.phase = Phase::Evicted;
        conn.started = Some(self.driver.now);
        conn.input_paused = false;
        let backlog = conn.pending_output() + net::kernel_unsent(&conn.stream).unwrap_or(0);
        self.driver.evicted.push((conn.token, backlog));
        self.mark();
        cut
    }

    /// Puts it on the list to send after the turn (once).
    #[inline]
    fn mark(&mut self) {
        if !self.conn.queued {
            self.conn.queued = true;
            self.driver.flushing.push(self.conn.token);
        }
    }
}
