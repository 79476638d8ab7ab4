//! Seeded chaos: a route fault chosen per answer by probability, reproducibly.
//!
//! The choice for a route's `n`-th answer is a function of the seed and `n` only
//! (SplitMix64 of both, as a number in `[0, 1)`, against the cumulative
//! probabilities), so the same seed gives the same faults to the same answers in
//! every run, on every machine, whatever thread serves them. Each decision is in
//! the request log ([`Request::chaos`](crate::Request::chaos) and
//! [`Request::fault`](crate::Request::fault)): a failing run names its seed, and
//! running again with it replays the faults.
//!
//! ```
//! use pierhead::{Chaos, Fault, Response, Route};
//! use std::time::Duration;
//! let chaos = Chaos::new(42)
//!     .with(0.10, Fault::Reset)
//!     .with(0.05, Fault::Delay(Duration::from_millis(200)));
//! let flaky = Route::get("/api").respond(Response::text(200, "ok")).chaos(chaos.clone());
//! // Which answers will be reset or delayed is known in advance:
//! let faults: Vec<_> = (1..=20).map(|n| chaos.decide(n)).collect();
//! # let _ = (flaky, faults);
//! ```

use super::fault::Fault;
use crate::error::ConfigError;
use crate::syntax::invalid;

/// Faults with their probabilities, and the seed that decides them.
#[derive(Debug, Clone, PartialEq)]
pub struct Chaos {
    seed: u64,
    choices: Vec<(f64, Fault)>,
}

/// Which chaos decision an answer got: its seed and the answer's number on the
/// route (1-based). [`Chaos::roll`] of the two is the number that was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaosDecision {
    /// The route's chaos seed.
    pub seed: u64,
    /// Which answer of the route this was (1-based).
    pub nth: u64,
}

impl Chaos {
    /// No fault yet, decided by `seed`.
    pub fn new(seed: u64) -> Chaos {
        Chaos {
            seed,
            choices: Vec::new(),
        }
    }

    /// Adds a fault given to a `probability` (0 to 1) share of the answers. The
    /// probabilities add up to at most 1; the rest of the answers have no fault.
    pub fn with(mut self, probability: f64, fault: Fault) -> Chaos {
        self.choices.push((probability, fault));
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The faults and their probabilities.
    pub fn choices(&self) -> &[(f64, Fault)] {
        &self.choices
    }

    /// The number in `[0, 1)` drawn for the `nth` answer under `seed`.
    pub fn roll(seed: u64, nth: u64) -> f64 {
        // SplitMix64 (Steele, Lea, Flood 2014) of the seed advanced `nth` times.
        let mut z = seed.wrapping_add(nth.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault of the `nth` answer (1-based), if it gets one.
    pub fn decide(&self, nth: u64) -> Option<Fault> {
        let roll = Chaos::roll(self.seed, nth);
        let mut upto = 0.0;
        for (p, fault) in &self.choices {
            upto += p;
            if roll < upto {
                return Some(*fault);
            }
        }
        None
    }

    /// Probabilities in `[0, 1]` adding up to at most 1; an error names `route.chaos`.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |got: String| {
            invalid(
                "route.chaos",
                &got,
                "probabilities from 0 to 1 adding up to at most 1",
            )
        };
        let mut sum = 0.0;
        for (p, _) in &self.choices {
            if !(0.0..=1.0).contains(p) {
                return Err(bad(p.to_string()));
            }
            sum += p;
        }
        if sum > 1.0 + 1e-9 {
            return Err(bad(format!("a sum of {sum}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn decisions_follow_the_probabilities_and_the_seed() {
        let c = Chaos::new(7)
            .with(0.1, Fault::Reset)
            .with(0.05, Fault::Delay(Duration::from_millis(1)));
        let n = 100_000;
        let resets = (1..=n)
            .filter(|&i| c.decide(i) == Some(Fault::Reset))
            .count();
        let delays = (1..=n)
            .filter(|&i| matches!(c.decide(i), Some(Fault::Delay(_))))
            .count();
        assert!((9_500..10_500).contains(&resets), "{resets}");
        assert!((4_600..5_400).contains(&delays), "{delays}");
        let again: Vec<_> = (1..=50)
            .map(|i| Chaos::new(7).with(0.5, Fault::Reset).decide(i))
            .collect();
        let other: Vec<_> = (1..=50)
            .map(|i| Chaos::new(8).with(0.5, Fault::Reset).decide(i))
            .collect();
        let first: Vec<_> = (1..=50)
            .map(|i| Chaos::new(7).with(0.5, Fault::Reset).decide(i))
            .collect();
        assert_eq!(again, first);
        assert_ne!(again, other);
    }

    #[test]
    fn bad_probabilities_are_refused() {
        assert!(Chaos::new(1).with(1.5, Fault::Reset).validate().is_err());
        assert!(Chaos::new(1).with(-0.1, Fault::Reset).validate().is_err());
        let e = Chaos::new(1)
            .with(0.7, Fault::Reset)
            .with(0.4, Fault::NoResponse)
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "route.chaos");
        assert!(Chaos::new(1)
            .with(0.7, Fault::Reset)
            .with(0.3, Fault::NoResponse)
            .validate()
            .is_ok());
    }
}
