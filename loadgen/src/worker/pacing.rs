//! Pacing: when a connection sends. Closed loop: the next batch of `pipeline`
//! requests once the last is answered. Open loop: each sending connection's own
//! schedule, due times in a heap, a send that is due while the connection cannot
//! send going out as soon as it can (its latency counting from when it was due).
//! Frame publishers start once every connection has joined the room.

use std::cmp::Reverse;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::conn::Role;
use super::recording::micros;
use super::Worker;
use crate::config::BenchProtocol;
use crate::proto::frame::{self, Stamp};
use crate::proto::{ws, Reader};

/// An open-loop publisher whose unsent output passes this skips sends.
const MAX_UNSENT: usize = 4 << 20;
/// How long publishers wait for every connection to have joined the room.
const JOIN_WAIT: Duration = Duration::from_secs(5);

impl Worker {
    pub(super) fn may_send(&self) -> bool {
        self.plan.quota.is_none_or(|q| self.measured_sent < q)
    }

    /// After an answer or a write: send what the loop allows now.
    pub(super) fn after_progress(&mut self, i: usize, now: Instant) {
        if !self.conns[i].open() {
            return;
        }
        match self.plan.interval {
            None => self.send_batch(i, now),
            Some(_) => self.pump(i, now),
        }
    }

    /// Closed loop: the next batch, once the last one is answered.
    pub(super) fn send_batch(&mut self, i: usize, now: Instant) {
        let c = &self.conns[i];
        if !c.inflight.is_empty() || !c.unsent.is_empty() || !self.may_send() {
            return;
        }
        let mut n = self.plan.pipeline;
        if let Some(q) = self.plan.quota {
            if self.measuring(now) {
                n = n.min((q - self.measured_sent) as usize);
            }
        }
        match &self.conns[i].role {
            Role::Request(Reader::Http(_)) => {
                let batch = self.batch.clone();
                let len = self.plan.request.len() * n;
                if !self.write(i, &batch[..len], now) {
                    return;
                }
            }
            Role::Request(Reader::Echo(_)) => {
                let batch = self.echo_batches[i].clone();
                let len = self.payloads[i].len() * n;
                if !self.write(i, &batch[..len], now) {
                    return;
                }
            }
            Role::Request(Reader::Ws(_)) => {
                if !self.write_ws_echo(i, n, now) {
                    return;
                }
            }
            Role::Frame {
                publisher: Some(id),
                joined: true,
                ..
            } => {
                if !self.publishing {
                    return;
                }
                let id = *id;
                let t = self.ns(now);
                let mut out = std::mem::take(&mut self.frame_out);
                out.clear();
                for _ in 0..n {
                    let seq = self.conns[i].seq;
                    self.conns[i].seq += 1;
                    let stamp = Stamp {
                        intended_ns: t,
                        sent_ns: t,
                        publisher: id,
                        seq,
                    };
                    self.publish(stamp, &mut out);
                }
                match self.plan.target.protocol {
                    BenchProtocol::Ws => ws::ping(self.mask_keys.next_key(), &mut out),
                    _ => frame::ping(&mut out),
                }
                let ok = self.write(i, &out, now);
                self.frame_out = out;
                if !ok {
                    return;
                }
                self.conns[i].inflight.push_back((now, now));
                self.count_sent(now, n as u64);
                return;
            }
            Role::Frame { .. } => return,
        }
        let c = &mut self.conns[i];
        for _ in 0..n {
            c.inflight.push_back((now, now));
        }
        self.count_sent(now, n as u64);
    }

    /// Appends a publisher's data frame (frame protocol) or message (WebSocket).
    fn publish(&mut self, stamp: Stamp, out: &mut Vec<u8>) {
        let len = self.plan.payload_len;
        match self.plan.target.protocol {
            BenchProtocol::Ws => {
                let key = self.mask_keys.next_key();
                ws::data(stamp, len, key, &mut self.ws_scratch, out);
            }
            _ => frame::data(stamp, len, out),
        }
    }

    /// Writes `n` WebSocket echo messages, each framed with a mask key of its own;
    /// false if the connection was closed.
    pub(super) fn write_ws_echo(&mut self, i: usize, n: usize, now: Instant) -> bool {
        let mut out = std::mem::take(&mut self.frame_out);
        out.clear();
        let payload = self.expected[i].clone();
        ws::messages(
            &payload,
            self.plan.ws_text,
            n,
            &mut self.mask_keys,
            &mut out,
        );
        let ok = self.write(i, &out, now);
        self.frame_out = out;
        ok
    }

    pub(super) fn count_sent(&mut self, now: Instant, n: u64) {
        if self.measuring(now) {
            self.measured_sent += n;
            self.rec.sent += n;
        }
    }

    /// Open loop: every send that is due and allowed, then back into the heap.
    pub(super) fn pump(&mut self, i: usize, now: Instant) {
        let Some(interval) = self.plan.interval else {
            return;
        };
        if self.sender_index(i).is_none() || !self.conns[i].open() {
            return;
        }
        loop {
            let c = &self.conns[i];
            let due = c.next_due;
            if due > now {
                break;
            }
            let publisher = match &c.role {
                Role::Frame {
                    publisher: Some(id),
                    joined,
                    ..
                } => {
                    if !*joined || !self.publishing {
                        return;
                    }
                    Some(*id)
                }
                Role::Frame { .. } => return,
                Role::Request(_) => None,
            };
            if publisher.is_none() && c.inflight.len() >= self.plan.pipeline {
                return; // answered later: sent then, late
            }
            if !self.may_send() {
                return;
            }
            let sent = match publisher {
                Some(id) => {
                    if c.unsent.len() > MAX_UNSENT {
                        // The server does not take the frames: skip this one (the
                        // lag of later sends shows it).
                        self.conns[i].next_due = due + interval;
                        continue;
                    }
                    let seq = c.seq;
                    let stamp = Stamp {
                        intended_ns: self.ns(due),
                        sent_ns: self.ns(now),
                        publisher: id,
                        seq,
                    };
                    let mut out = std::mem::take(&mut self.frame_out);
                    out.clear();
                    self.publish(stamp, &mut out);
                    let ok = self.write(i, &out, now);
                    self.frame_out = out;
                    if ok {
                        self.conns[i].seq += 1;
                    }
                    ok
                }
                None => match &self.conns[i].role {
                    Role::Request(Reader::Echo(_)) => {
                        let p = self.payloads[i].clone();
                        self.write(i, &p, now)
                    }
                    Role::Request(Reader::Ws(_)) => self.write_ws_echo(i, 1, now),
                    _ => {
                        let r = self.plan.request.clone();
                        self.write(i, &r, now)
                    }
                },
            };
            if !sent {
                return;
            }
            if publisher.is_none() {
                self.conns[i].inflight.push_back((due, now));
            }
            if self.measuring(due) {
                if let Some(lag) = self.rec.send_lag.as_mut() {
                    lag.saturating_record(micros(now.saturating_duration_since(due)));
                }
            }
            if self.measuring(due) {
                self.measured_sent += 1;
                self.rec.sent += 1;
            }
            self.conns[i].next_due = due + interval;
        }
        let c = &mut self.conns[i];
        if !c.in_heap && c.next_due > now {
            c.in_heap = true;
            self.heap.push(Reverse((c.next_due, i)));
        }
    }

    /// Open loop: the connections whose next send is due.
    pub(super) fn fire_due(&mut self, now: Instant) {
        while let Some(Reverse((due, i))) = self.heap.peek().copied() {
            if due > now {
                break;
            }
            self.heap.pop();
            self.conns[i].in_heap = false;
            self.pump(i, now);
        }
    }

    /// Frame protocol: publishers start once every connection has joined (or
    /// after `JOIN_WAIT`).
    pub(super) fn start_publishing(&mut self, now: Instant) {
        if self.publishing || !self.plan.fans_out {
            return;
        }
        let all = self.shared.joined.load(Ordering::Acquire) >= self.shared.connections;
        if !all && now < self.plan.clock.start + JOIN_WAIT {
            return;
        }
        self.publishing = true;
        for i in 0..self.plan.publishers.len() {
            if self.plan.interval.is_some() {
                // The schedule starts now, not at the run's start.
                let c = &mut self.conns[i];
                if c.next_due < now {
                    c.next_due = now + (c.next_due - self.plan.clock.start);
                }
            }
            self.after_progress(i, now);
        }
    }
}
