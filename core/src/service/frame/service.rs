//! The frame service: one worker's part of the rooms, a session per connection,
//! the `JOINED` a parked `JOIN` waits for, and the fan-out at the end of each turn.

use std::sync::Arc;

use super::codec::{self, op};
use super::session::Session;
use crate::engine::Peers;
use crate::server_core::ServerCore;
use crate::service::fanout::Rooms;
use crate::service::{Cx, Next, Park, Progress, Service, Wake};
use crate::stats::Counters;

/// One worker's frame service: its part of the rooms.
pub(crate) struct FrameService {
    rooms: Rooms,
    max_frame_bytes: usize,
}

impl Service for FrameService {
    type Session = Session;
    /// The room a parked member's `JOIN` waited for is ready.
    type Event = Arc<str>;
    type Own = ();

    fn start(worker: usize, shared: &Arc<ServerCore>, _own: &()) -> FrameService {
        // `ERROR slow consumer`, encoded once.
        let mut slow_error = Vec::new();
        codec::encode_control(op::ERROR, b"slow consumer", &mut slow_error);
        FrameService {
            rooms: Rooms::new(
                worker,
                shared,
                [slow_error.clone(), slow_error.clone(), slow_error],
            ),
            max_frame_bytes: shared.config.max_frame_bytes,
        }
    }

    #[inline]
    fn open(&mut self) -> Session {
        Session::default()
    }

    #[inline]
    fn on_input(&mut self, s: &mut Session, input: &[u8], cx: &mut Cx<'_>) -> Progress {
        s.on_input(input, cx, &mut self.rooms.hub, self.max_frame_bytes)
    }

    /// The room a parked `JOIN` waited for is ready: `JOINED`, and the input after
    /// the `JOIN` goes on.
    fn resume(&mut self, s: &mut Session, why: Wake<Arc<str>>, cx: &mut Cx<'_>) -> Next {
        if let Wake::Event(room) = why {
            s.room_ready(&room, cx);
        }
        Next::Continue
    }

    /// Frames for this worker's members, and rooms now ready (their waiting
    /// members get `JOINED` now, before any frame for them).
    fn take_events(&mut self, events: &mut Vec<(mio::Token, Arc<str>)>) {
        self.rooms.take_events(events);
    }

    #[inline]
    fn park(s: &Session) -> Option<Park> {
        s.awaiting_joined().then_some(Park::Event)
    }

    /// Members get the frame protocol's data frame itself: the bytes the rooms carry.
    fn end_turn(&mut self, peers: &mut Peers<'_, Session>) {
        self.rooms.end_turn(peers, |d, _| d.frame.clone());
    }

    fn last_exited(_own: &(), shared: &ServerCore) {
        Rooms::last_exited(shared);
    }

    #[inline]
    fn shared_sent(&mut self, sent: u64, lost: u64, counters: &Counters) {
        Rooms::shared_sent(sent, lost, counters);
    }

    fn close(&mut self, s: &mut Session) {
        self.rooms.close(s);
    }

    fn exit(&mut self) {
        self.rooms.exit();
    }
}
