//! `frame`: length-prefixed binary frames with rooms (see [`codec`] for the wire
//! format).
//!
//! A connection in no room gets its data frames echoed back. `JOIN <room>` puts it
//! in a room (leaving any other), answered `JOINED <room>` once the membership is in
//! force on every worker; from then on each of its data frames goes to every other
//! member of the room: the session hands the frame, copied once into a shared
//! allocation, to the worker's hub, which queues it for local members and for the
//! workers that have other members. `LEAVE` is answered `LEFT`, `PING` `PONG`. Bad
//! input is answered `ERROR <text>`, then the connection closes. With a backplane,
//! `JOINED` for a room new on this server comes once the broker confirmed the
//! subscription; the frames after such a `JOIN` are looked at only after its
//! `JOINED` went out, so every control frame is answered, in order.
//!
//! A member whose client shuts down its sending side gets the answers to what it
//! sent, and no further room frame, then the connection closes (leaving the room):
//! TCP does not tell a half-close from a close, and a member that closed must not
//! linger in its room.

pub(crate) mod codec;

use bytes::Bytes;

use super::{Ctx, Next, Progress};
use crate::rooms::hub::Membership;
use codec::{op, Control, FrameError, FrameType};

/// Per-connection frame state: the room it is in, if any.
#[derive(Debug, Default)]
pub(crate) struct Session {
    membership: Option<Membership>,
    /// A `JOIN` waits for its room's subscription to the broker: nothing after it
    /// is looked at until its `JOINED` is sent, so that every control frame is
    /// answered, in order.
    awaiting_joined: bool,
    /// Disconnected as a slow consumer: the bytes still to reach it (queued, and
    /// held by the kernel) at the last look.
    evicted_backlog: u32,
}

impl Session {
    /// The membership, taken (the connection is closing: the worker leaves the room).
    pub(crate) fn take_membership(&mut self) -> Option<Membership> {
        self.membership.take()
    }

    /// True while a `JOIN` waits for its `JOINED`: the input after it waits too.
    pub(crate) fn awaiting_joined(&self) -> bool {
        self.awaiting_joined
    }

    /// Disconnected as a slow consumer, `backlog` bytes are still to reach the
    /// member: true if that is less than at the last look (it reads, however
    /// slowly). The first look is at the disconnect.
    pub(crate) fn evicted_progress(&mut self, backlog: usize) -> bool {
        let backlog = u32::try_from(backlog).unwrap_or(u32::MAX);
        let progressed = backlog < self.evicted_backlog;
        self.evicted_backlog = backlog;
        progressed
    }

    /// The worker sent the awaited `JOINED`: the input after the `JOIN` may go on.
    pub(crate) fn joined(&mut self) {
        self.awaiting_joined = false;
    }

    pub(crate) fn on_input(&mut self, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
        let max = ctx.limits.max_frame_bytes;
        let mut pos = 0;
        loop {
            if self.awaiting_joined {
                return Progress {
                    consumed: pos,
                    next: Next::Pause,
                };
            }
            let rest = &input[pos..];
            if rest.is_empty() {
                break;
            }
            if ctx.output_full() {
                return Progress {
                    consumed: pos,
                    next: Next::Pause,
                };
            }
            let (header, payload) = match codec::decode(rest, max) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return fail(&e, input, ctx),
            };
            ctx.counters.requests.incr();
            let whole = &rest[..header.frame_len()];
            let step = match header.kind {
                FrameType::Data => {
                    self.data(whole, ctx);
                    Ok(())
                }
                FrameType::Control => {
                    codec::parse_control(payload).and_then(|c| self.control(c, ctx))
                }
            };
            if let Err(e) = step {
                return fail(&e, input, ctx);
            }
            pos += header.frame_len();
        }
        Progress {
            consumed: pos,
            next: Next::Continue,
        }
    }

    /// A data frame: broadcast in a room, echoed otherwise.
    fn data(&mut self, frame: &[u8], ctx: &mut Ctx<'_>) {
        match (self.membership, ctx.hub.as_deref_mut()) {
            (Some(m), Some(hub)) => {
                ctx.counters.broadcasts.incr();
                hub.broadcast(m, Bytes::copy_from_slice(frame), ctx.token);
            }
            _ => {
                ctx.out.extend_from_slice(frame);
                ctx.counters.responses.incr();
            }
        }
    }

    fn control(&mut self, c: Control<'_>, ctx: &mut Ctx<'_>) -> Result<(), FrameError> {
        match c {
            Control::Join(room) => {
                let Some(hub) = ctx.hub.as_deref_mut() else {
                    return Ok(());
                };
                if let Some(m) = self.membership {
                    if hub.room_name(m) == Some(room) {
                        // Already in it: nothing changes, and it is in force.
                        answer(op::JOINED, room.as_bytes(), ctx);
                        return Ok(());
                    }
                    hub.leave(m);
                    self.membership = None;
                }
                let (m, ready) = hub.join(room, ctx.token);
                self.membership = Some(m);
                if ready {
                    answer(op::JOINED, room.as_bytes(), ctx);
                } else {
                    // The room waits for its subscription to the broker; the
                    // worker answers JOINED once it is confirmed (or the broker
                    // is given up on), and the input after this waits until then.
                    self.awaiting_joined = true;
                }
            }
            Control::Leave => {
                if let (Some(m), Some(hub)) = (self.membership.take(), ctx.hub.as_deref_mut()) {
                    hub.leave(m);
                }
                answer(op::LEFT, b"", ctx);
            }
            Control::Ping(data) => answer(op::PONG, data, ctx),
            // A client may answer a ping of its own peer's; nothing to do.
            Control::Pong(_) => {}
            Control::Error(_) | Control::Joined(_) | Control::Left => {
                return Err(FrameError::BadControl("server-only"));
            }
        }
        Ok(())
    }
}

fn answer(opcode: u8, arg: &[u8], ctx: &mut Ctx<'_>) {
    codec::encode_control(opcode, arg, ctx.out.bytes());
    ctx.counters.responses.incr();
}

/// Bad input: `ERROR <text>`, counted, then close; the rest of the input is dropped.
fn fail(e: &FrameError, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
    ctx.counters.protocol_errors.incr();
    answer(op::ERROR, e.to_string().as_bytes(), ctx);
    Progress {
        consumed: input.len(),
        next: Next::Close,
    }
}
