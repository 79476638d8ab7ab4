//! `discard` (RFC 863): read and drop everything.

use std::sync::Arc;

use super::{Cx, Progress, Service};
use crate::server_core::ServerCore;

/// The discard service: no state at all.
pub(crate) struct Discard;

impl Service for Discard {
    type Session = ();
    type Event = ();
    type Own = ();

    fn start(_worker: usize, _shared: &Arc<ServerCore>, _own: &()) -> Discard {
        Discard
    }

    #[inline]
    fn open(&mut self) {}

    #[inline]
    fn on_input(&mut self, _s: &mut (), input: &[u8], _cx: &mut Cx<'_>) -> Progress {
        Progress::all(input)
    }
}
