//! `frame`: length-prefixed binary frames with rooms (see [`codec`] for the wire
//! format), on this worker's part of the rooms ([`crate::rooms::hub::Hub`]).
//!
//! A connection in no room gets its data frames echoed back. `JOIN <room>` puts it
//! in a room (leaving any other), answered `JOINED <room>` once the membership is in
//! force on every worker; from then on each of its data frames goes to every other
//! member of the room: the session hands the frame, copied once into a shared
//! allocation, to the hub, which queues it for local members and for the workers
//! that have other members; at the end of the turn the service offers each frame
//! to every local member ([`crate::service::fanout`]), under the slow-consumer policy. `LEAVE` is
//! answered `LEFT`, `PING` `PONG`. Bad input is answered `ERROR <text>`, then the
//! connection closes. With a backplane, `JOINED` for a room new on this server
//! comes once the broker confirmed the subscription: the session parks on its
//! `JOIN` and is resumed with the room's readiness, so the frames after such a
//! `JOIN` are looked at only after its `JOINED` went out and every control frame
//! is answered, in order.
//!
//! A member whose client shuts down its sending side gets the answers to what it
//! sent, and no further room frame, then the connection closes (leaving the room):
//! TCP does not tell a half-close from a close, and a member that closed must not
//! linger in its room.

pub(crate) mod codec;
mod service;
mod session;

pub(crate) use service::FrameService;
pub(crate) use session::Session;
