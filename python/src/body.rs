//! Python values as the bytes pierhead sends or matches: a body from `str`,
//! `bytes` or `bytearray` (with the content type it gets by default), and header
//! pairs from a mapping or an iterable of pairs. Shared by `Response`, `Step`,
//! `Matcher` and `Server.publish`.

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::errors::config_error;

/// `str` as UTF-8 or `bytes`/`bytearray` as they are, with the content type a body
/// of that kind gets by default; `None` for any other type.
pub(crate) fn body_of(body: &Bound<'_, PyAny>) -> Option<PyResult<(Vec<u8>, &'static str)>> {
    if let Ok(s) = body.cast::<PyString>() {
        let text = s.to_cow().map(|t| t.as_bytes().to_vec());
        return Some(text.map(|t| (t, "text/plain; charset=utf-8")));
    }
    if let Ok(b) = body.cast::<PyBytes>() {
        return Some(Ok((b.as_bytes().to_vec(), "application/octet-stream")));
    }
    if let Ok(b) = body.cast::<PyByteArray>() {
        return Some(Ok((b.to_vec(), "application/octet-stream")));
    }
    None
}

/// [`body_of`], or `ConfigError` naming `field` for another type.
pub(crate) fn body_bytes(
    py: Python<'_>,
    body: &Bound<'_, PyAny>,
    field: &str,
) -> PyResult<(Vec<u8>, &'static str)> {
    body_of(body).unwrap_or_else(|| {
        Err(config_error(
            py,
            field,
            format!("invalid config field `{field}`: must be str or bytes"),
        ))
    })
}

/// (name, value) pairs from a mapping or an iterable of pairs.
pub(crate) fn header_pairs(headers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(h) = headers else {
        return Ok(Vec::new());
    };
    let items = if h.hasattr("items")? {
        h.call_method0("items")?
    } else {
        h.clone()
    };
    let mut pairs = Vec::new();
    for item in items.try_iter()? {
        pairs.push(item?.extract::<(String, String)>()?);
    }
    Ok(pairs)
}
