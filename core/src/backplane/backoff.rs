//! When the link tries the broker again after losing it ([`Backoff`]): 50 ms
//! doubling to 2 s, back to 50 ms once a link stayed up for a second (a broker
//! that accepts and drops at once backs off as failing). No clock inside: the
//! link passes the time.

use std::time::{Duration, Instant};

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// A link up this long counts as stable: losing it retries after the shortest
/// back-off again.
const STABLE: Duration = Duration::from_secs(1);

/// The reconnect back-off.
#[derive(Debug)]
pub(super) struct Backoff {
    /// The wait after the next loss.
    next: Duration,
    /// Since when the link is up.
    up_since: Option<Instant>,
}

impl Backoff {
    pub(super) fn new() -> Backoff {
        Backoff {
            next: BACKOFF_MIN,
            up_since: None,
        }
    }

    /// The link is up from `now`.
    pub(super) fn up(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// The link is lost (or could not be made) at `now`: when to try again.
    pub(super) fn lost(&mut self, now: Instant) -> Instant {
        if self
            .up_since
            .take()
            .is_some_and(|t| now.saturating_duration_since(t) >= STABLE)
        {
            self.next = BACKOFF_MIN;
        }
        let at = now + self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn failures_double_the_wait_up_to_two_seconds() {
        let t = Instant::now();
        let mut b = Backoff::new();
        let waits: Vec<Duration> = (0..8).map(|_| b.lost(t) - t).collect();
        assert_eq!(
            waits,
            [50, 100, 200, 400, 800, 1600, 2000, 2000].map(ms).to_vec()
        );
    }

    #[test]
    fn a_link_that_stayed_up_a_second_retries_soon_and_a_short_one_does_not() {
        let t = Instant::now();
        let mut b = Backoff::new();
        b.lost(t);
        b.lost(t);
        b.up(t);
        assert_eq!(
            b.lost(t + ms(999)) - (t + ms(999)),
            ms(200),
            "up too briefly"
        );
        b.up(t);
        assert_eq!(b.lost(t + ms(1000)) - (t + ms(1000)), ms(50), "stable");
        assert_eq!(b.lost(t) - t, ms(100));
    }
}
