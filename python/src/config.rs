//! Turning `Server(...)` keyword arguments into a core [`Config`].
//!
//! Every option has the name of the core builder method. Sizes and counts are
//! integers, durations are seconds (int or float), `fixed_response` and
//! `tls_resumption` are bools. An unknown name or a value of the wrong type or
//! range raises `ConfigError` naming the option.

use std::time::Duration;

use pierhead::{Config, Protocol, SlowConsumer};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt};

use crate::errors::{config_error, from_config_error};

/// The options `Server(**limits)` accepts, by kind.
const COUNTS: &[&str] = &[
    "max_connections",
    "listen_backlog",
    "max_header_bytes",
    "max_headers",
    "max_body_bytes",
    "max_output_bytes",
    "max_frame_bytes",
    "max_message_bytes",
    "unmatched_status",
    "request_log",
    "request_log_body_bytes",
    "handler_threads",
];
const DURATIONS: &[&str] = &[
    "idle_timeout",
    "header_timeout",
    "write_timeout",
    "handler_timeout",
    "stats_interval",
];
const FLAGS: &[&str] = &["fixed_response", "tls_resumption", "ws_deflate"];
const NAMES: &[&str] = &[
    "slow_consumer",
    "backplane",
    "metrics",
    "tls_client_ca",
    "tls_fault",
];
/// `tls`: True, a (cert, key) pair of paths, or the name of a bad certificate.
const TLS: &str = "tls";

/// Defaults that differ from the core's because a Python server is a test peer:
/// one worker (starts fastest, serves thousands of connections), a request log for
/// assertions, and a request no expectation matches is an error (500, as
/// pytest-httpserver answers) even before the first expectation, instead of the
/// core's fixed `hello` response.
pub(crate) const DEFAULT_WORKERS: usize = 1;
pub(crate) const DEFAULT_REQUEST_LOG: usize = 10_000;
pub(crate) const DEFAULT_UNMATCHED_STATUS: u16 = 500;

/// Where to listen, formatted for the core (`[::1]:0` for IPv6).
pub(crate) fn bind_address(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The protocol named `name` (the core's names and its error).
pub(crate) fn protocol(py: Python<'_>, name: &str) -> PyResult<Protocol> {
    name.parse().map_err(|e| from_config_error(py, &e))
}

/// Builds and validates the config (the stats callback is added by the caller).
pub(crate) fn build(
    py: Python<'_>,
    protocol_name: &str,
    host: &str,
    port: u16,
    workers: usize,
    limits: Option<&Bound<'_, PyDict>>,
) -> PyResult<Config> {
    let mut config = Config::new()
        .protocol(protocol(py, protocol_name)?)
        .bind(bind_address(host, port))
        .workers(workers)
        .request_log(DEFAULT_REQUEST_LOG)
        .unmatched_status(DEFAULT_UNMATCHED_STATUS)
        .fixed_response(false);
    if let Some(limits) = limits {
        for (key, value) in limits.iter() {
            let name: String = key.extract()?;
            config = apply(py, config, &name, &value)?;
        }
    }
    config.validate().map_err(|e| match e.field {
        // The core's `bind` is `host` and `port` here.
        "bind" => config_error(py, "host", e.to_string().replace("`bind`", "`host`")),
        _ => from_config_error(py, &e),
    })?;
    Ok(config)
}

fn apply(py: Python<'_>, c: Config, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Config> {
    if COUNTS.contains(&name) {
        let n = count(py, name, value)?;
        let small = |max: u64| {
            if n > max {
                Err(config_error(
                    py,
                    name,
                    format!("invalid config field `{name}`: must be at most {max}, got {n}"),
                ))
            } else {
                Ok(n)
            }
        };
        return Ok(match name {
            "max_connections" => c.max_connections(n as usize),
            "listen_backlog" => c.listen_backlog(small(u32::MAX.into())? as u32),
            "max_header_bytes" => c.max_header_bytes(n as usize),
            "max_headers" => c.max_headers(n as usize),
            "max_body_bytes" => c.max_body_bytes(n),
            "max_output_bytes" => c.max_output_bytes(n as usize),
            "max_frame_bytes" => c.max_frame_bytes(n as usize),
            "max_message_bytes" => c.max_message_bytes(n as usize),
            "unmatched_status" => c.unmatched_status(small(u16::MAX.into())? as u16),
            "request_log" => c.request_log(n as usize),
            "request_log_body_bytes" => c.request_log_body_bytes(n as usize),
            _ => c.handler_threads(n as usize),
        });
    }
    if DURATIONS.contains(&name) {
        let d = seconds(py, name, value)?;
        return Ok(match name {
            "idle_timeout" => c.idle_timeout(d),
            "header_timeout" => c.header_timeout(d),
            "write_timeout" => c.write_timeout(d),
            "handler_timeout" => c.handler_timeout(d),
            _ => c.stats_interval(d),
        });
    }
    if FLAGS.contains(&name) {
        if !value.is_instance_of::<PyBool>() {
            return Err(wrong_type(py, name, value, "a bool"));
        }
        let on = value.is_truthy()?;
        return Ok(match name {
            "fixed_response" => c.fixed_response(on),
            "ws_deflate" => c.ws_deflate(on),
            _ => c.tls_resumption(on),
        });
    }
    if name == TLS {
        return tls(py, c, value);
    }
    if NAMES.contains(&name) {
        let text: String = value
            .extract()
            .map_err(|_| wrong_type(py, name, value, "a str"))?;
        match name {
            "backplane" => return Ok(c.backplane(text)),
            "metrics" => return Ok(c.metrics(text)),
            "tls_client_ca" => return Ok(c.tls_client_ca(text)),
            "tls_fault" => {
                let f: pierhead::TlsFault = text.parse().map_err(|e| from_config_error(py, &e))?;
                return Ok(c.tls_fault(f));
            }
            _ => {}
        }
        let policy: SlowConsumer = text.parse().map_err(|e| from_config_error(py, &e))?;
        return Ok(c.slow_consumer(policy));
    }
    let known: Vec<&str> = COUNTS
        .iter()
        .chain(DURATIONS)
        .chain(FLAGS)
        .chain(NAMES)
        .chain(&[TLS])
        .copied()
        .collect();
    Err(config_error(
        py,
        name,
        format!(
            "unknown option `{name}`; the options are: workers, on_stats, {}",
            known.join(", ")
        ),
    ))
}

/// `tls=`: True (generated certificates), False or None (plain), a
/// `(cert, key)` pair of PEM paths, or the name of a misbehaving certificate
/// (`"expired"`, `"not_yet_valid"`, `"wrong_host"`, `"self_signed"`, `"untrusted_ca"`).
fn tls(py: Python<'_>, c: Config, value: &Bound<'_, PyAny>) -> PyResult<Config> {
    if value.is_none() {
        return Ok(c);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(if value.is_truthy()? { c.tls_auto() } else { c });
    }
    if let Ok(name) = value.extract::<String>() {
        let bad: pierhead::BadCert = name.parse().map_err(|_| {
            config_error(
                py,
                TLS,
                format!(
                    "invalid config field `tls`: `{name}` is not a certificate kind: \
                     expired, not_yet_valid, wrong_host, self_signed, untrusted_ca"
                ),
            )
        })?;
        return Ok(c.tls_auto().tls_bad_cert(bad));
    }
    if let Ok((cert, key)) = value.extract::<(std::path::PathBuf, std::path::PathBuf)>() {
        return Ok(c.tls_files(cert, key));
    }
    Err(wrong_type(
        py,
        TLS,
        value,
        "True, a (cert, key) pair of paths, or a certificate kind",
    ))
}

/// A non-negative integer (a bool is refused: `True` is not a size).
fn count(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        return Err(wrong_type(py, name, value, "an integer"));
    }
    value.extract::<u64>().map_err(|_| {
        config_error(
            py,
            name,
            format!("invalid config field `{name}`: must be at least 0, got {value}"),
        )
    })
}

/// Seconds as a finite, non-negative int or float.
pub(crate) fn seconds(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let numeric = (value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
        && !value.is_instance_of::<PyBool>();
    if !numeric {
        return Err(wrong_type(py, name, value, "a number of seconds"));
    }
    grace(py, name, value.extract()?)
}

/// Seconds given as a float, finite and non-negative.
pub(crate) fn grace(py: Python<'_>, name: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        config_error(
            py,
            name,
            format!(
                "invalid config field `{name}`: must be a finite, non-negative number of seconds, got {secs}"
            ),
        )
    })
}

fn wrong_type(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>, expected: &str) -> PyErr {
    let got = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    config_error(
        py,
        name,
        format!("invalid config field `{name}`: must be {expected}, got {got}"),
    )
}
