//! The broker's address: `redis://[[user]:password@]host[:port][/db]`.

use std::fmt;

use crate::error::{ConfigError, ConfigProblem};

/// The port Redis listens on unless told otherwise.
pub const DEFAULT_REDIS_PORT: u16 = 6379;

/// Where the Redis backplane is, parsed from its URL.
///
/// Redis pub/sub ignores database numbers (a channel is server-wide), so `db` is
/// part of every channel name instead: servers given different `/db` share no
/// rooms, as the URL suggests.
#[derive(Clone, PartialEq, Eq)]
pub struct BackplaneUrl {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port (6379 when the URL has none).
    pub port: u16,
    /// Database number from the path (0 when none): it scopes the channels.
    pub db: u32,
    /// User name for `AUTH` (Redis 6 ACLs); `None` with a password alone.
    pub user: Option<String>,
    /// Password for `AUTH`, if any.
    pub password: Option<String>,
}

impl fmt::Debug for BackplaneUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for BackplaneUrl {
    /// The URL with the password masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        match (&self.user, &self.password) {
            (Some(u), Some(_)) => write!(f, "{u}:***@")?,
            (Some(u), None) => write!(f, "{u}@")?,
            (None, Some(_)) => f.write_str(":***@")?,
            (None, None) => {}
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        write!(f, ":{}/{}", self.port, self.db)
    }
}

impl BackplaneUrl {
    /// Parses a `redis://` URL; a bad one is a [`ConfigError`] for the field
    /// `backplane` saying what is wrong.
    pub fn parse(text: &str) -> Result<BackplaneUrl, ConfigError> {
        let bad = |expected: &'static str| ConfigError {
            field: "backplane",
            problem: ConfigProblem::Malformed {
                got: mask(text),
                expected,
            },
        };
        let rest = match text.split_once("://") {
            Some(("redis", rest)) => rest,
            Some(("rediss", _)) => {
                return Err(bad(
                    "a redis:// URL (TLS to the broker, rediss://, is not supported)",
                ))
            }
            _ => {
                return Err(bad(
                    "a URL of the form redis://[:password@]host[:port][/db]",
                ))
            }
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if path.contains('@') {
            // The authority ends at the first `/`: one in the user name or the
            // password cuts it short.
            return Err(bad(
                "a URL whose user name and password have each `/` percent-encoded \
                 (as %2F): redis://:pa%2Fss@host:6379",
            ));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => {
                    ((!user.is_empty()).then(|| decode(user)), Some(decode(pass)))
                }
                None => (Some(decode(u)), None),
            },
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("a host, with an IPv6 address in brackets"))?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("a URL with a host: redis://host[:port][/db]"));
        }
        let port = match port {
            None => DEFAULT_REDIS_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(bad("a URL whose port is a number from 1 to 65535")),
            },
        };
        let db = match path.trim_end_matches('/') {
            "" => 0,
            d => d
                .parse::<u32>()
                .map_err(|_| bad("a URL whose path is a database number: redis://host:port/0"))?,
        };
        Ok(BackplaneUrl {
            host: host.to_owned(),
            port,
            db,
            user,
            password,
        })
    }

    /// `host:port` for connecting (IPv6 in brackets).
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Percent-decodes userinfo (`%40` for `@` in a password).
fn decode(s: &str) -> String {
    String::from_utf8_lossy(&crate::syntax::percent_decode(s)).into_owned()
}

/// The URL as given, with a password masked, for error messages.
fn mask(text: &str) -> String {
    match (text.split_once("://"), text.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let (userinfo, after) = rest.rsplit_once('@').unwrap_or(("", rest));
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{after}"),
                None => text.to_owned(),
            }
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let u = BackplaneUrl::parse("redis://127.0.0.1:6380").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("127.0.0.1", 6380, 0));
        let u = BackplaneUrl::parse("redis://localhost/3").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("localhost", 6379, 3));
        let u = BackplaneUrl::parse("redis://:s%40cret@[::1]:7000/2").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(u.user, None);
        assert_eq!(u.authority(), "[::1]:7000");
        assert_eq!(u.to_string(), "redis://:***@[::1]:7000/2");
        let u = BackplaneUrl::parse("redis://ann:pw@h:1").unwrap();
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref()),
            (Some("ann"), Some("pw"))
        );
        assert_eq!(format!("{u:?}"), "redis://ann:***@h:1/0");
    }

    #[test]
    fn bad_urls_name_the_field_and_hide_the_password() {
        for bad in [
            "127.0.0.1:6379",
            "http://h:1",
            "rediss://h:1",
            "redis://",
            "redis://h:0",
            "redis://h:99999",
            "redis://h:x",
            "redis://h:1/db",
            "redis://[::1:1",
        ] {
            let e = BackplaneUrl::parse(bad).unwrap_err();
            assert_eq!(e.field, "backplane", "{bad}");
        }
        let e = BackplaneUrl::parse("redis://u:hunter2@h:x").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn a_raw_slash_in_the_password_says_to_percent_encode_it() {
        let e = BackplaneUrl::parse("redis://:hun/ter2@h:6379").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("%2F"), "{text}");
        assert!(!text.contains("is not a URL with a host"), "{text}");
        assert!(!text.contains("ter2"), "{text}");
        let u = BackplaneUrl::parse("redis://:hun%2Fter2@h:6379").unwrap();
        assert_eq!(u.password.as_deref(), Some("hun/ter2"));
    }
}
