//! The frame service: one worker's part of the rooms, a session per connection,
//! the `JOINED` a parked `JOIN` waits for, and the fan-out at the end of each turn.

use std::sync::Arc;

use super::codec::{self, op};
use super::session::{self, Session};
use crate::config::SlowConsumer;
use crate::engine::Peers;
use crate::rooms::hub::Hub;
use crate::rooms::registry::Incoming;
use crate::server_core::ServerCore;
use crate::service::fanout::{self, Member};
use crate::service::{Cx, Next, Park, Progress, Service, Wake};
use crate::stats::Counters;

/// One worker's frame service: its part of the rooms.
pub(crate) struct FrameService {
    hub: Hub,
    shared: Arc<ServerCore>,
    worker: usize,
    max_frame_bytes: usize,
    slow_consumer: SlowConsumer,
    /// Deliveries taken from this worker's inbox (kept for its capacity).
    incoming: Vec<Incoming>,
    /// `ERROR slow consumer`, encoded once.
    slow_error: Vec<u8>,
}

impl Service for FrameService {
    type Session = Session;
    /// The room a parked member's `JOIN` waited for is ready.
    type Event = Arc<str>;
    type Own = ();

    fn start(worker: usize, shared: &Arc<ServerCore>, _own: &()) -> FrameService {
        let c = &shared.config;
        FrameService {
            hub: Hub::new(worker, c.workers, shared.rooms.clone()),
            shared: shared.clone(),
            worker,
            max_frame_bytes: c.max_frame_bytes,
            slow_consumer: c.slow_consumer,
            incoming: Vec::new(),
            slow_error: {
                let mut e = Vec::new();
                codec::encode_control(op::ERROR, b"slow consumer", &mut e);
                e
            },
        }
    }

    #[inline]
    fn open(&mut self) -> Session {
        Session::default()
    }

    #[inline]
    fn on_input(&mut self, s: &mut Session, input: &[u8], cx: &mut Cx<'_>) -> Progress {
        s.on_input(input, cx, &mut self.hub, self.max_frame_bytes)
    }

    /// The room a parked `JOIN` waited for is ready: `JOINED`, and the input after
    /// the `JOIN` goes on.
    fn resume(&mut self, s: &mut Session, why: Wake<Arc<str>>, cx: &mut Cx<'_>) -> Next {
        if let Wake::Event(room) = why {
            if s.awaiting_joined() {
                s.joined();
                session::answer(op::JOINED, room.as_bytes(), cx);
            }
        }
        Next::Continue
    }

    /// Takes what other workers, the backplane and host publishes sent to this
    /// worker: frames for its members (delivered at the end of the turn), and
    /// rooms now ready (their waiting members get `JOINED` now, before any frame
    /// for them).
    fn take_events(&mut self, events: &mut Vec<(mio::Token, Arc<str>)>) {
        self.shared.rooms.inboxes[self.worker].take(&mut self.incoming);
        self.hub.accept(&mut self.incoming);
        events.append(&mut self.hub.joined);
    }

    #[inline]
    fn park(s: &Session) -> Option<Park> {
        s.awaiting_joined().then_some(Park::Event)
    }

    fn end_turn(&mut self, peers: &mut Peers<'_, Session>) {
        let wakers = &self.shared.wakers;
        fanout::fan_out(
            &mut self.hub,
            peers,
            self.slow_consumer,
            &self.slow_error,
            |d| d.frame.clone(),
            |w| {
                // A failed wake only means that worker's loop is already gone.
                let _ = wakers[w].wake();
            },
        );
    }

    fn last_exited(_own: &(), shared: &ServerCore) {
        if let Some(bp) = &shared.rooms.backplane {
            bp.request_stop();
        }
    }

    /// Frames sent whole count as delivered; those lost with a closing member as
    /// dropped (every frame offered to a member is counted once).
    #[inline]
    fn shared_sent(&mut self, sent: u64, lost: u64, counters: &Counters) {
        counters.deliveries.add(sent);
        counters.responses.add(sent);
        counters.frames_dropped.add(lost);
    }

    fn close(&mut self, s: &mut Session) {
        if let Some(m) = s.take_membership() {
            self.hub.leave(m);
        }
    }

    /// Host publishes still queued for this worker are told it is done, so that
    /// `Server::publish` does not wait for a worker that is gone.
    fn exit(&mut self) {
        self.shared.rooms.inboxes[self.worker].take(&mut self.incoming);
        fanout::release(&mut self.incoming);
    }
}
