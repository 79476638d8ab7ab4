//! A request for a WebSocket route: the opening handshake checked against the
//! request as parsed (or as collected), answered `101` and handed to the
//! endpoint's session ([`crate::service::ws::endpoint`]), or refused with the
//! status that says why (or the one the endpoint refuses with on purpose).

use std::sync::Arc;

use super::ctx::{Ctx, Next};
use super::hold::Meta;
use crate::routing::{RequestView, RouteId, WebSocket, WsPeer};
use crate::service::ws::endpoint::Endpoint;
use crate::service::ws::handshake::{self, Refusal};

/// Answers a request for WebSocket route `route` (logged by the caller).
pub(super) fn upgrade(
    ws: &Arc<WebSocket>,
    route: RouteId,
    view: RequestView<'_>,
    meta: Meta,
    ctx: &mut Ctx<'_>,
) -> Next {
    let refusal = if let Some(status) = ws.refuse {
        Some(Refusal::new(
            status,
            "this endpoint refuses upgrades (on purpose)",
        ))
    } else if meta.version == 0 {
        Some(Refusal::new(400, "a WebSocket handshake needs HTTP/1.1"))
    } else if view.method() != "GET" {
        Some(Refusal::new(405, "a WebSocket handshake is a GET"))
    } else if !view.body().is_empty() {
        Some(Refusal::new(400, "a WebSocket handshake has no body"))
    } else {
        None
    };
    let accepted = match refusal {
        Some(r) => Err(r),
        None => handshake::accept(
            &view.headers(),
            &ctx.limits.ws_deflate,
            &ws.subprotocols,
            ctx.out.bytes(),
        ),
    };
    ctx.counters.responses.incr();
    let accepted = match accepted {
        Ok(a) => a,
        Err(r) => {
            if ws.refuse.is_none() {
                ctx.counters.protocol_errors.incr();
            }
            handshake::refuse(&r, ctx.out.bytes());
            return Next::Close;
        }
    };
    let log = ctx.ws_log.map(|l| {
        l.open(
            ctx.conn_id,
            view.target(),
            route,
            accepted.subprotocol.as_deref(),
        )
    });
    let peer = WsPeer {
        connection_id: ctx.conn_id,
        target: view.target().to_owned(),
        subprotocol: accepted.subprotocol.clone(),
        nth: 0,
    };
    let (endpoint, next) = Endpoint::open(
        ws.clone(),
        accepted,
        peer,
        log,
        ctx.limits.max_message_bytes,
        ctx.out,
        ctx.now,
    );
    Next::Upgrade(endpoint, next)
}
