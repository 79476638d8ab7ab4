//! The worker's one timer structure: a min-heap of (deadline, connection).
//!
//! A connection keeps its current deadline itself and has at most one "armed" heap
//! entry that is not later than it. Activity only moves a deadline later, which needs
//! no heap work: when the entry fires early, the worker re-arms it at the true
//! deadline. So the heap costs O(log n) per timeout period, not per request. Entries
//! whose connection closed are recognised by their generation and dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::token::ConnToken;

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, ConnToken)>>,
}

impl Timers {
    /// Adds an entry for `conn` at `at`.
    pub(crate) fn arm(&mut self, at: Instant, conn: ConnToken) {
        self.heap.push(Reverse((at, conn)));
    }

    /// The earliest entry's time, if any.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns one entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, ConnToken)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Number of entries, including stale ones.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let mut t = Timers::default();
        let now = Instant::now();
        let a = ConnToken {
            index: 1,
            generation: 1,
        };
        let b = ConnToken {
            index: 2,
            generation: 2,
        };
        t.arm(now + Duration::from_millis(20), a);
        t.arm(now + Duration::from_millis(10), b);
        assert_eq!(t.next(), Some(now + Duration::from_millis(10)));
        assert_eq!(t.pop_due(now), None);
        let later = now + Duration::from_millis(30);
        assert_eq!(t.pop_due(later).map(|e| e.1), Some(b));
        assert_eq!(t.pop_due(later).map(|e| e.1), Some(a));
        assert_eq!(t.pop_due(later), None);
        assert_eq!(t.len(), 0);
    }
}
