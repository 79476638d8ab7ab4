//! A route written on one line, as `pierhead serve --route` and
//! `python -m pierhead serve --route` take it: `METHOD PATH [STATUS [BODY|@FILE]]`,
//! or `METHOD PATH websocket echo|room NAME` for a WebSocket endpoint.

use std::io;
use std::path::PathBuf;

use super::response::Response;
use super::route::Route;
use super::websocket::WebSocket;
use crate::error::ConfigError;
use crate::syntax::invalid;

/// The form of a route spec, as error messages show it.
const FORM: &str = "`METHOD PATH [STATUS [BODY|@FILE]]` or `METHOD PATH websocket echo|room NAME`";

/// Why a route spec was refused.
#[derive(Debug, thiserror::Error)]
pub enum RouteSpecError {
    /// The text is not a route spec, or the route it describes is not valid; the
    /// error names the field (`route`, `route.status`, `route.method`,
    /// `route.path`, `response.status`).
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// The `@FILE` of the body could not be read.
    #[error("invalid config field `route.body`: cannot read `{}`: {source}", path.display())]
    File {
        /// The file named.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
}

impl RouteSpecError {
    /// The field the error is about (`route.body` for a file that cannot be read).
    pub fn field(&self) -> &'static str {
        match self {
            RouteSpecError::Invalid(e) => e.field,
            RouteSpecError::File { .. } => "route.body",
        }
    }
}

impl Route {
    /// The route a one-line spec describes: `METHOD PATH [STATUS [BODY|@FILE]]`,
    /// fields separated by single spaces. METHOD is a method token or `*` for any;
    /// a PATH ending in `*` matches as a prefix; STATUS defaults to 200; BODY is
    /// the rest of the line, sent as `text/plain` with a newline added, or `@FILE`
    /// to send that file's bytes as `application/octet-stream`; without a BODY the
    /// answer is empty. The route is validated (and only then is the file read).
    /// `METHOD PATH websocket echo` and `METHOD PATH websocket room NAME` make a
    /// WebSocket endpoint ([`Route::websocket`]) that echoes, or joins room NAME.
    ///
    /// ```
    /// use pierhead::{PathMatch, Route};
    /// let r = Route::from_spec("* /api/* 503").unwrap();
    /// assert_eq!(r.get_method(), None);
    /// assert_eq!(r.get_path(), &PathMatch::Prefix("/api/".into()));
    /// let e = Route::from_spec("GET /x hello world").unwrap_err();
    /// assert_eq!(e.field(), "route.status");
    /// assert!(Route::from_spec("GET /chat websocket room lobby").is_ok());
    /// ```
    pub fn from_spec(spec: &str) -> Result<Route, RouteSpecError> {
        let mut parts = spec.trim().splitn(4, ' ');
        let (Some(method), Some(path)) = (parts.next().filter(|m| !m.is_empty()), parts.next())
        else {
            return Err(invalid("route", spec, FORM).into());
        };
        let (path, prefix) = match path.strip_suffix('*') {
            Some(p) if p.starts_with('/') => (p, true),
            _ => (path, false),
        };
        let mut route = if method == "*" {
            Route::any(path)
        } else {
            Route::new(method, path)
        };
        if prefix {
            route = route.prefix();
        }
        let third = parts.next();
        if third == Some("websocket") {
            let rest = parts.next().unwrap_or("");
            let endpoint = match rest.split_once(' ') {
                None if rest == "echo" => WebSocket::echo(),
                Some(("room", name)) if !name.is_empty() => WebSocket::room(name),
                _ => return Err(invalid("route.websocket", rest, "`echo` or `room NAME`").into()),
            };
            let route = route.websocket(endpoint);
            route.validate()?;
            return Ok(route);
        }
        let status = match third {
            Some(s) => s
                .parse::<u16>()
                .map_err(|_| invalid("route.status", s, "a status code (100..=999)"))?,
            None => 200,
        };
        route = route.respond(Response::new(status));
        route.validate()?;
        Ok(match parts.next() {
            Some(file) if file.starts_with('@') => {
                let path = PathBuf::from(&file[1..]);
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(source) => return Err(RouteSpecError::File { path, source }),
                };
                route.respond(
                    Response::new(status)
                        .header("Content-Type", "application/octet-stream")
                        .body(bytes),
                )
            }
            Some(text) => route.respond(Response::text(status, format!("{text}\n"))),
            None => route,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::route::Action;
    use crate::PathMatch;

    fn response(r: &Route) -> &Response {
        match &r.action {
            Action::Static(r) => r,
            Action::Handler(_) | Action::WebSocket(_) => panic!("not a response"),
        }
    }

    #[test]
    fn websocket_specs_make_endpoints() {
        for (spec, room) in [
            ("GET /ws websocket echo", None),
            ("GET /chat websocket room café lobby", Some("café lobby")),
        ] {
            let r = Route::from_spec(spec).unwrap();
            match &r.action {
                Action::WebSocket(w) => match (&w.behavior, room) {
                    (crate::routing::WsBehavior::Echo, None) => {}
                    (crate::routing::WsBehavior::Room(n), Some(room)) => assert_eq!(n, room),
                    (b, _) => panic!("{spec}: {b:?}"),
                },
                _ => panic!("{spec}: not a WebSocket route"),
            }
        }
        for bad in [
            "GET /ws websocket",
            "GET /ws websocket room",
            "GET /ws websocket talk",
        ] {
            assert_eq!(
                Route::from_spec(bad).unwrap_err().field(),
                "route.websocket"
            );
        }
    }

    #[test]
    fn parses_methods_paths_statuses_and_bodies() {
        let r = Route::from_spec("GET /health 200 all good").unwrap();
        assert_eq!(r.get_method(), Some("GET"));
        assert_eq!(r.get_path(), &PathMatch::Exact("/health".into()));
        assert_eq!(response(&r).body, b"all good\n");
        let r = Route::from_spec("* /api/*").unwrap();
        assert_eq!(r.get_method(), None);
        assert_eq!(r.get_path(), &PathMatch::Prefix("/api/".into()));
        assert_eq!(response(&r).status, 200);
        assert!(response(&r).body.is_empty());
        let r = Route::from_spec("  DELETE /x 204 ").unwrap();
        assert_eq!((r.get_method(), response(&r).status), (Some("DELETE"), 204));
    }

    #[test]
    fn a_file_body_is_sent_as_bytes() {
        let path = std::env::temp_dir().join(format!("pierhead-spec-{}", std::process::id()));
        std::fs::write(&path, b"\x00\x01bytes").unwrap();
        let r = Route::from_spec(&format!("GET /f 201 @{}", path.display())).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(response(&r).status, 201);
        assert_eq!(response(&r).body, b"\x00\x01bytes");
        assert!(response(&r)
            .headers
            .contains(&("Content-Type".into(), "application/octet-stream".into())));
    }

    #[test]
    fn errors_name_the_field() {
        let e = Route::from_spec("GET").unwrap_err();
        assert_eq!(e.field(), "route");
        assert!(e.to_string().contains("METHOD PATH"), "{e}");
        assert_eq!(Route::from_spec("").unwrap_err().field(), "route");
        let e = Route::from_spec("GET / abc").unwrap_err();
        assert_eq!(e.field(), "route.status");
        assert!(e.to_string().contains("not a status"), "{e}");
        // The rest of the text is a body only after a status.
        assert_eq!(
            Route::from_spec("GET /x hello world").unwrap_err().field(),
            "route.status"
        );
        let e = Route::from_spec("GET / 200 @/no/such/file").unwrap_err();
        assert_eq!(e.field(), "route.body");
        assert!(e.to_string().contains("/no/such/file"), "{e}");
        let e = Route::from_spec("GET nopath").unwrap_err();
        assert!(e.to_string().contains("route.path"), "{e}");
        assert_eq!(
            Route::from_spec("G@T /").unwrap_err().field(),
            "route.method"
        );
        assert_eq!(
            Route::from_spec("GET / 1000").unwrap_err().field(),
            "response.status"
        );
        // A bad route is refused before its file is read.
        assert_eq!(
            Route::from_spec("GET nopath 200 @/no/such/file")
                .unwrap_err()
                .field(),
            "route.path"
        );
    }
}
