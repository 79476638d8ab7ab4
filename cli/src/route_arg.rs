//! `--route` on the command line: `"METHOD PATH [STATUS [BODY]]"`.
//!
//! METHOD is a method or `*` for any; PATH ending in `*` matches as a prefix;
//! STATUS defaults to 200; BODY is the rest of the text (sent as `text/plain`), or
//! `@FILE` to send a file's bytes. Examples: `"GET /health 200 ok"`,
//! `"* /api/* 503"`, `"GET /big 200 @bench/1k.txt"`.

use pierhead::{Response, Route};

/// Parses one `--route` value; the error says what is wrong.
pub fn parse_route(spec: &str) -> Result<Route, String> {
    let mut parts = spec.trim().splitn(4, ' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty())
        .ok_or("empty route")?;
    let path = parts
        .next()
        .ok_or_else(|| format!("`{spec}`: expected \"METHOD PATH [STATUS [BODY]]\""))?;
    let status = match parts.next() {
        Some(s) => s
            .parse::<u16>()
            .map_err(|_| format!("`{s}` is not a status code"))?,
        None => 200,
    };
    let response = match parts.next() {
        Some(file) if file.starts_with('@') => {
            let bytes = std::fs::read(&file[1..]).map_err(|e| format!("{}: {e}", &file[1..]))?;
            Response::new(status)
                .header("Content-Type", "application/octet-stream")
                .body(bytes)
        }
        Some(text) => Response::text(status, format!("{text}\n")),
        None => Response::new(status),
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
    let route = route.respond(response);
    route.validate().map_err(|e| e.to_string())?;
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pierhead::PathMatch;

    #[test]
    fn parses_methods_paths_statuses_and_bodies() {
        let r = parse_route("GET /health 200 all good").unwrap();
        assert_eq!(r.get_method(), Some("GET"));
        assert_eq!(r.get_path(), &PathMatch::Exact("/health".into()));
        let r = parse_route("* /api/*").unwrap();
        assert_eq!(r.get_method(), None);
        assert_eq!(r.get_path(), &PathMatch::Prefix("/api/".into()));
        assert!(parse_route("GET").unwrap_err().contains("METHOD PATH"));
        assert!(parse_route("GET / abc")
            .unwrap_err()
            .contains("not a status"));
        assert!(parse_route("GET / 200 @/no/such/file").is_err());
        assert!(parse_route("GET nopath")
            .unwrap_err()
            .contains("route.path"));
    }
}
