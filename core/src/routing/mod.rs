//! Programming the HTTP server: routes, responses, handlers and the request log.
//!
//! These are the public types a test suite uses to say what the server answers
//! (`route`, `response`, `handler`), what it received (`request`, `log`), and the
//! shared, lock-free-to-read route table the workers consult (`table`). The wire
//! protocol itself lives in `protocol::http`.

mod chaos;
mod handler;
pub(crate) mod log;
mod request;
mod response;
mod route;
mod stream;
pub(crate) mod table;

pub use chaos::{Chaos, ChaosDecision};
pub use handler::Handler;
pub use log::{ClosedBy, ConnectionRecord};
pub use request::{Request, RequestView};
pub use response::Response;
pub use route::{Fault, PathMatch, Route, RouteId};
pub use stream::{Sse, SseEvent, Step, Steps};

pub(crate) use request::Headers;
pub(crate) use response::{reason, Prepared};
pub(crate) use route::is_token_byte;
