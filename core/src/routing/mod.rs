//! Programming the HTTP server: routes, responses, handlers and the request log.
//!
//! These are the public types a test suite uses to say what the server answers
//! (`route`, `response`, `handler`, `websocket` endpoints, and `spec`: a route
//! written on one line),
//! what it received (`request`, `log`, `ws_log`), and the shared, lock-free-to-read route
//! table the workers consult (`table`; `id` names its routes). The wire protocol
//! itself lives in `service::http`; the faults a route can give, in `faults`;
//! the syntax checks routes and responses share are `crate::syntax`.

mod handler;
mod id;
pub(crate) mod log;
mod request;
mod response;
mod route;
mod spec;
mod stream;
pub(crate) mod table;
mod websocket;
pub(crate) mod ws_log;

pub use handler::Handler;
pub use id::RouteId;
pub use log::{ClosedBy, ConnectionRecord};
pub use request::{Request, RequestView};
pub use response::Response;
pub use route::{PathMatch, Route};
pub use spec::RouteSpecError;
pub use stream::{Sse, SseEvent};
pub use websocket::{
    WebSocket, WsFault, WsHandler, WsHandlerError, WsMatch, WsMessage, WsPeer, WsReply,
};
pub use ws_log::WsConnection;

pub(crate) use websocket::Behavior as WsBehavior;

pub(crate) use request::Headers;
pub(crate) use response::{reason, Prepared};
