//! `http`: HTTP/1.1 and 1.0 with keep-alive and pipelining, programmable with
//! routes, faults, handlers and a request log.
//!
//! A connection's [`session`] parses requests as they arrive and answers every
//! complete one, in order, into one reply, so that a pipelined batch goes out in
//! one write; [`answer`] picks the route, applies its fault, or hands the request
//! to a handler ([`handlers`]: threads off the I/O threads). An answer that is
//! not complete at once (a delay, a drip, a stream, a handler) is held
//! ([`hold`]): the session parks, and the [`service`] finishes it when it is due
//! or when its handler's result comes back, mapping handler outcomes to HTTP
//! answers. A request for a WebSocket route upgrades ([`upgrade`]): the
//! connection becomes that endpoint's ([`crate::service::ws::endpoint`]).

pub(crate) mod answer;
pub(crate) mod chunked;
mod ctx;
mod date;
pub(crate) mod handlers;
pub(crate) mod head;
mod hold;
pub(crate) mod response;
mod service;
pub(crate) mod session;
pub(crate) mod shared;
mod upgrade;

pub(crate) use response::unmatched_answer;
#[cfg(test)]
pub(crate) use service::HttpSession;
pub(crate) use service::{HttpOwn, HttpService};
