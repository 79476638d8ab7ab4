//! The route matcher: a route built from the first part of the input matched
//! against a request built from the rest; never a panic, and a route matches a
//! request for its own exact path.
#![no_main]
use pierhead::{Request, Route};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (path, target, header, body) = (
        parts.next().unwrap_or("/"),
        parts.next().unwrap_or("/"),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let route = Route::any(format!("/{path}"));
    if route.validate().is_err() {
        return;
    }
    let (name, value) = header.split_once(':').unwrap_or(("x", header));
    let request = |target: String| Request {
        method: "GET".into(),
        target,
        version: 1,
        headers: vec![(name.to_owned(), value.as_bytes().to_vec())],
        body: body.as_bytes().to_vec(),
        body_len: body.len() as u64,
        body_digest: None,
        connection_id: 1,
        received: std::time::Instant::now(),
        route: None,
        fault: None,
        chaos: None,
    };
    let _ = route.matches(&request(target.to_owned()));
    let _ = route
        .clone()
        .prefix()
        .matches(&request(format!("/{target}")));
    let _ = route
        .clone()
        .header(name.trim(), value.trim())
        .matches(&request(format!("/{path}")));
    assert!(
        route.matches(&request(format!("/{path}"))),
        "a route must match its own path /{path:?}"
    );
});
