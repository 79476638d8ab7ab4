//! Rooms for the `frame` protocol: the server-wide registry (which workers have
//! members of which room, locked only to join or leave) and each worker's hub (its
//! local members, the frames it owes them, and the frames it sends to other workers
//! through their inboxes, one locked push and one wake per target per turn), and
//! the host program's publish; and what the backplane's link delivers to them
//! (`remote`).

pub(crate) mod hub;
pub(crate) mod publish;
pub(crate) mod registry;
pub(crate) mod remote;
