//! A streamed body: pieces, pauses and faults inside it (cut, reset), as a
//! timeline each protocol renders its own way.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

/// One step of a streamed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes (one chunk; an empty one is skipped, since an empty chunk
    /// would end the body).
    Send(Bytes),
    /// Send nothing for this long (a stall, or the time between two events).
    Pause(Duration),
    /// Close the connection here, without ending the body: the client sees the
    /// stream end early (an incomplete chunked body).
    Cut,
    /// Reset the connection (RST) here.
    Reset,
}

impl Step {
    /// [`Step::Send`] of a copy of `data`.
    pub fn send(data: impl AsRef<[u8]>) -> Step {
        Step::Send(Bytes::copy_from_slice(data.as_ref()))
    }

    /// [`Step::Pause`].
    pub fn pause(d: Duration) -> Step {
        Step::Pause(d)
    }
}

/// The steps of a streamed body, shared by every connection that sends it.
pub type Steps = Arc<[Step]>;
