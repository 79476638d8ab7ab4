//! Checking a config ([`Config::validate`]): every field against its bounds, the
//! addresses parsed or resolved, the backplane URL parsed; the first bad field is
//! an error naming it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::limits::{MAX_HEADERS, MAX_WORKERS};
use super::protocol::Protocol;
use super::Config;
use crate::backplane::BackplaneUrl;
use crate::error::{ConfigError, ConfigProblem};
use crate::tls::TlsCert;

impl Config {
    /// Checks every field; the first bad one is reported by name.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve_bind()?;
        range("workers", self.workers as u64, 1, MAX_WORKERS as u64)?;
        range(
            "max_connections",
            self.max_connections as u64,
            1,
            10_000_000,
        )?;
        range("listen_backlog", self.listen_backlog as u64, 1, 65_535)?;
        nonzero("idle_timeout", self.idle_timeout)?;
        nonzero("header_timeout", self.header_timeout)?;
        nonzero("write_timeout", self.write_timeout)?;
        nonzero("stats_interval", self.stats_interval)?;
        range(
            "max_header_bytes",
            self.max_header_bytes as u64,
            64,
            1 << 24,
        )?;
        range(
            "max_headers",
            self.max_headers as u64,
            1,
            MAX_HEADERS as u64,
        )?;
        range("max_body_bytes", self.max_body_bytes, 0, 1 << 40)?;
        range(
            "max_output_bytes",
            self.max_output_bytes as u64,
            1024,
            1 << 32,
        )?;
        range("max_frame_bytes", self.max_frame_bytes as u64, 1, 1 << 30)?;
        range(
            "max_message_bytes",
            self.max_message_bytes as u64,
            1,
            1 << 30,
        )?;
        check_unmatched_status(self.unmatched_status)?;
        range("request_log", self.request_log as u64, 0, 10_000_000)?;
        range("handler_threads", self.handler_threads as u64, 1, 1024)?;
        nonzero("handler_timeout", self.handler_timeout)?;
        for route in &self.routes {
            route.validate()?;
        }
        self.backplane_url()?;
        if let Some(addr) = &self.metrics {
            resolve("metrics", addr)?;
        }
        if let Some(t) = &self.tls {
            if t.bad_cert.is_some() && t.cert != TlsCert::Auto {
                return Err(ConfigError {
                    field: "tls_bad_cert",
                    problem: ConfigProblem::Requires {
                        needs: "generated certificates (tls_auto), not certificate files",
                    },
                });
            }
        }
        Ok(())
    }

    /// The backplane's URL, parsed, if one is set; it needs the frame protocol.
    pub(crate) fn backplane_url(&self) -> Result<Option<BackplaneUrl>, ConfigError> {
        let Some(text) = &self.backplane else {
            return Ok(None);
        };
        let url = BackplaneUrl::parse(text)?;
        if !matches!(self.protocol, Protocol::Frame | Protocol::Ws) {
            return Err(ConfigError {
                field: "backplane",
                problem: ConfigProblem::Requires {
                    needs: "the frame protocol or ws (rooms are what it shares)",
                },
            });
        }
        Ok(Some(url))
    }

    /// The listen address, parsed, or resolved when it names a host.
    pub(crate) fn resolve_bind(&self) -> Result<SocketAddr, ConfigError> {
        resolve("bind", &self.bind)
    }
}

/// A socket address, parsed, or resolved when it names a host; a bad one is an
/// error for `field`.
fn resolve(field: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |reason: String| ConfigError {
        field,
        problem: ConfigProblem::BadAddress {
            got: text.to_owned(),
            reason,
        },
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let mut addrs = text.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| bad("resolves to no address".to_owned()))
}

fn range(field: &'static str, got: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if got < min {
        Err(ConfigError {
            field,
            problem: ConfigProblem::TooSmall { min, got },
        })
    } else if got > max {
        Err(ConfigError {
            field,
            problem: ConfigProblem::TooLarge { max, got },
        })
    } else {
        Ok(())
    }
}

fn nonzero(field: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError {
            field,
            problem: ConfigProblem::ZeroDuration,
        })
    } else {
        Ok(())
    }
}

/// The unmatched status must be a three-digit status code.
pub(crate) fn check_unmatched_status(status: u16) -> Result<(), ConfigError> {
    range("unmatched_status", status.into(), 100, 999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_finite() {
        let c = Config::new();
        c.validate().unwrap();
        assert!(c.idle_timeout < Duration::from_secs(3600));
    }

    #[test]
    fn errors_name_the_field() {
        let e = Config::new().workers(0).validate().unwrap_err();
        assert_eq!(e.field, "workers");
        assert!(e.to_string().contains("`workers`"), "{e}");
        let e = Config::new().bind("not an address").validate().unwrap_err();
        assert_eq!(e.field, "bind");
        let e = Config::new()
            .idle_timeout(Duration::ZERO)
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "idle_timeout");
        let e = Config::new().max_connections(0).validate().unwrap_err();
        assert_eq!(e.field, "max_connections");
        let e = Config::new()
            .protocol(Protocol::Frame)
            .backplane("localhost:6379")
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "backplane");
        let e = Config::new()
            .backplane("redis://localhost:6379")
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "backplane");
        assert!(e.to_string().contains("frame protocol"), "{e}");
        Config::new()
            .protocol(Protocol::Frame)
            .backplane("redis://localhost:6379/1")
            .validate()
            .unwrap();
        let e = "gopher".parse::<Protocol>().unwrap_err();
        assert_eq!(e.field, "protocol");
        assert!(e.to_string().contains("gopher"));
    }

    #[test]
    fn bind_accepts_ipv6_and_hostnames() {
        assert!(Config::new()
            .bind("[::1]:0")
            .resolve_bind()
            .unwrap()
            .is_ipv6());
        assert!(Config::new().bind("localhost:0").resolve_bind().is_ok());
    }
}
