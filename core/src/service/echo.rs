//! `echo` (RFC 862): send back every byte received, in order.

use std::sync::Arc;

use super::{Cx, Progress, Service};
use crate::server_core::ServerCore;

/// The echo service: no state at all.
pub(crate) struct Echo;

impl Service for Echo {
    type Session = ();
    type Event = ();
    type Own = ();

    fn start(_worker: usize, _shared: &Arc<ServerCore>, _own: &()) -> Echo {
        Echo
    }

    #[inline]
    fn open(&mut self) {}

    #[inline]
    fn on_input(&mut self, _s: &mut (), input: &[u8], cx: &mut Cx<'_>) -> Progress {
        cx.out.extend_from_slice(input);
        Progress::all(input)
    }
}
