//! Faults: misbehaviour on purpose, for tests of how clients cope.
//!
//! - An answer's faults ([`Fault`]: delay, drip, cut after the head, reset,
//!   never answer), a streamed body ([`Step`]: pieces, pauses, cut, reset) and
//!   seeded chaos ([`Chaos`]: a fault per answer by probability, replayable) all
//!   become one schedule ([`schedule::Player`]): a head, body pieces, waits, and
//!   how it ends. Each service renders it its own way: HTTP/1 as a response with
//!   its body (chunked when streamed); HTTP/2 DATA frames, WebSocket messages and
//!   proxied bytes next.
//! - Connect-phase faults ([`ConnectFault`]: refuse, hold, close, delay) act on a
//!   connection before any byte of it is read, in the engine's accept path.

mod chaos;
pub(crate) mod connect;
mod fault;
pub(crate) mod schedule;
mod steps;

pub use chaos::{Chaos, ChaosDecision};
pub use connect::{ConnectFault, ConnectFaultError};
pub use fault::Fault;
pub use steps::{Step, Steps};
