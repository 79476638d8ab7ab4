//! The engine: worker threads, each with one `mio::Poll`, one listener handle, one
//! slab of connections, and the service that speaks the server's protocol.
//!
//! The engine knows sockets, readiness, buffers and their pool, timers, the read
//! and answer budgets, send queues, TLS ([`tls_io`], a layer under any service),
//! outbound connections ([`upstream`]) and closing; what bytes mean is the
//! service's ([`crate::service`]). The loop ([`worker`]) is generic over the
//! service, so each protocol gets its own monomorphised copy and no dynamic
//! dispatch.
//!
//! | module | what it holds |
//! |---|---|
//! | [`worker`] | the loop: events, wake-ups, requeues, timers, the end of a turn, stop, closing |
//! | [`admission`] | accepting, the connect fault, `max_connections`, a new connection's set-up |
//! | [`driver`] | the per-worker driving state; sending a reply, flushing a send queue |
//! | [`drive`] | driving one connection through its service: reads, parks, settling, deadlines |
//! | [`upstream_io`] | driving a connection's outbound side |
//! | [`peers`] | what a service may do to other connections at the end of a turn |
//! | [`connection`], [`upstream`], [`send_queue`], [`pool`], [`timers`], [`token`], [`gate`], [`accept`], [`tls_io`] | the parts |

mod accept;
mod admission;
mod connection;
mod drive;
mod driver;
mod gate;
mod peers;
mod pool;
pub(crate) mod send_queue;
mod timers;
mod tls_io;
mod token;
mod upstream;
mod upstream_io;
mod worker;

pub(crate) use peers::{Peer, Peers};
pub(crate) use token::{LISTENER, WAKER};
pub(crate) use upstream::Outbound;
#[cfg(test)]
pub(crate) use worker::connection_size;
pub(crate) use worker::{run, WorkerReport, WorkerSetup};
