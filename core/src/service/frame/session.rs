//! One frame connection: the room it is in, and what its frames mean. A data frame
//! is echoed in no room and broadcast in one (handed to the worker's hub, copied
//! once into a shared allocation); `JOIN`, `LEAVE` and `PING` are answered `JOINED`,
//! `LEFT` and `PONG`; bad input is answered `ERROR <text>`, then the connection
//! closes. A `JOIN` whose room waits for the broker parks the session until its
//! `JOINED` (see the module above).

use bytes::Bytes;

use super::codec::{self, op, Control, FrameError, FrameType};
use crate::rooms::hub::{Hub, Membership};
use crate::service::{Cx, Next, Progress};

/// Per-connection frame state: the room it is in, if any.
#[derive(Debug, Default)]
pub(crate) struct Session {
    membership: Option<Membership>,
    /// A `JOIN` waits for its room's subscription to the broker: nothing after it
    /// is looked at until its `JOINED` is sent, so that every control frame is
    /// answered, in order.
    awaiting_joined: bool,
}

impl crate::service::fanout::Member for Session {
    /// The membership, taken (the connection is closing: the worker leaves the room).
    fn take_membership(&mut self) -> Option<Membership> {
        self.membership.take()
    }
}

impl Session {
    /// True while a `JOIN` waits for its `JOINED`: the input after it waits too.
    pub(crate) fn awaiting_joined(&self) -> bool {
        self.awaiting_joined
    }

    /// The room `room` a parked `JOIN` waited for is ready: `JOINED`, and the
    /// input after the `JOIN` may go on.
    pub(crate) fn room_ready(&mut self, room: &str, cx: &mut Cx<'_>) {
        if self.awaiting_joined {
            self.awaiting_joined = false;
            answer(op::JOINED, room.as_bytes(), cx);
        }
    }

    /// Feeds input; `hub` is the worker's rooms, `max` the largest payload.
    pub(crate) fn on_input(
        &mut self,
        input: &[u8],
        cx: &mut Cx<'_>,
        hub: &mut Hub,
        max: usize,
    ) -> Progress {
        let mut pos = 0;
        loop {
            if self.awaiting_joined {
                return Progress {
                    consumed: pos,
                    next: Next::Park,
                };
            }
            let rest = &input[pos..];
            if rest.is_empty() {
                break;
            }
            if cx.output_full() {
                return Progress {
                    consumed: pos,
                    next: Next::Pause,
                };
            }
            let (header, payload) = match codec::decode(rest, max) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return fail(&e, input, cx),
            };
            cx.counters.requests.incr();
            let whole = &rest[..header.frame_len()];
            let step = match header.kind {
                FrameType::Data => {
                    self.data(whole, cx, hub);
                    Ok(())
                }
                FrameType::Control => {
                    codec::parse_control(payload).and_then(|c| self.control(c, cx, hub))
                }
            };
            if let Err(e) = step {
                return fail(&e, input, cx);
            }
            pos += header.frame_len();
        }
        Progress {
            consumed: pos,
            next: Next::Continue,
        }
    }

    /// A data frame: broadcast in a room, echoed otherwise.
    fn data(&mut self, frame: &[u8], cx: &mut Cx<'_>, hub: &mut Hub) {
        match self.membership {
            Some(m) => {
                cx.counters.broadcasts.incr();
                hub.broadcast(m, Bytes::copy_from_slice(frame), false, cx.token);
            }
            None => {
                cx.out.extend_from_slice(frame);
                cx.counters.responses.incr();
            }
        }
    }

    fn control(
        &mut self,
        c: Control<'_>,
        cx: &mut Cx<'_>,
        hub: &mut Hub,
    ) -> Result<(), FrameError> {
        match c {
            Control::Join(room) => {
                if let Some(m) = self.membership {
                    if hub.room_name(m) == Some(room) {
                        // Already in it: nothing changes, and it is in force.
                        answer(op::JOINED, room.as_bytes(), cx);
                        return Ok(());
                    }
                    hub.leave(m);
                    self.membership = None;
                }
                let (m, ready) = hub.join(room, cx.token);
                self.membership = Some(m);
                if ready {
                    answer(op::JOINED, room.as_bytes(), cx);
                } else {
                    // The room waits for its subscription to the broker; the
                    // worker answers JOINED once it is confirmed (or the broker
                    // is given up on), and the input after this waits until then.
                    self.awaiting_joined = true;
                }
            }
            Control::Leave => {
                if let Some(m) = self.membership.take() {
                    hub.leave(m);
                }
                answer(op::LEFT, b"", cx);
            }
            Control::Ping(data) => answer(op::PONG, data, cx),
            // A client may answer a ping of its own peer's; nothing to do.
            Control::Pong(_) => {}
            Control::Error(_) | Control::Joined(_) | Control::Left => {
                return Err(FrameError::BadControl("server-only"));
            }
        }
        Ok(())
    }
}

/// Writes a control answer.
pub(super) fn answer(opcode: u8, arg: &[u8], cx: &mut Cx<'_>) {
    codec::encode_control(opcode, arg, cx.out.bytes());
    cx.counters.responses.incr();
}

/// Bad input: `ERROR <text>`, counted, then close; the rest of the input is dropped.
fn fail(e: &FrameError, input: &[u8], cx: &mut Cx<'_>) -> Progress {
    cx.counters.protocol_errors.incr();
    answer(op::ERROR, e.to_string().as_bytes(), cx);
    Progress {
        consumed: input.len(),
        next: Next::Close,
    }
}
