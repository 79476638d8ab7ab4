//! The name of a route in a server's table: what the table, the request log and
//! the bindings use to point at one route.

/// Identifies a route added to a running server; see `Server::add_route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteId(pub u64);
