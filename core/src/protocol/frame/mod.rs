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
//! subscription (answers to later control frames may come before it).

pub(crate) mod codec;

use bytes::Bytes;

use super::{Ctx, Next, Progress};
use crate::rooms::hub::Membership;
use codec::{op, Control, FrameError, FrameType};

/// Per-connection frame state: the room it is in, if any.
#[derive(Debug, Default)]
pub(crate) struct Session {
    membership: Option<Membership>,
}

impl Session {
    /// The membership, taken (the connection is closing: the worker leaves the room).
    pub(crate) fn take_membership(&mut self) -> Option<Membership> {
        self.membership.take()
    }

    pub(crate) fn on_input(&mut self, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
        let max = ctx.limits.max_frame_bytes;
        let mut pos = 0;
        loop {
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
                if let Some(m) = self.membership.take() {
                    hub.leave(m);
                }
                let (m, ready) = hub.join(room, ctx.token);
                self.membership = Some(m);
                // Otherwise the room waits for its subscription to the broker; the
                // worker answers JOINED once it is confirmed.
                if ready {
                    answer(op::JOINED, room.as_bytes(), ctx);
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
