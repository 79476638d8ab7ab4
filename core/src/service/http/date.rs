//! The `Date` header value, formatted once per second per worker.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
const LEN: usize = 29;

#[derive(Debug)]
pub(crate) struct DateCache {
    secs: u64,
    value: [u8; LEN],
}

impl DateCache {
    pub(crate) fn new() -> DateCache {
        let mut d = DateCache {
            secs: u64::MAX,
            value: [b' '; LEN],
        };
        d.refresh(SystemTime::now());
        d
    }

    /// Re-formats the value if `now` is in another second than the cached one;
    /// true if it did.
    #[inline]
    pub(crate) fn refresh(&mut self, now: SystemTime) -> bool {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs == self.secs {
            return false;
        }
        self.secs = secs;
        let s = httpdate::fmt_http_date(now);
        if s.len() == LEN {
            self.value.copy_from_slice(s.as_bytes());
        }
        true
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_imf_fixdate() {
        let mut d = DateCache::new();
        d.refresh(UNIX_EPOCH + Duration::from_secs(784_111_777));
        assert_eq!(d.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
