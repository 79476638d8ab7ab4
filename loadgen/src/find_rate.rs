//! The search for the highest open-loop rate whose p99 stays under a target:
//! first the closed-loop capacity (the most the target answers at all), then a
//! bisection of open-loop runs between 0 and that capacity. A rate passes when
//! its p99 (from the intended send times) is at most the target, no answer was
//! an error, and the rate was held (at least 99% of it answered).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::BenchConfig;
use crate::result::BenchResult;
use crate::run::{run_until, BenchError};

/// Bisection steps after the capacity run: the answer is within 1/128 of it.
const STEPS: usize = 7;

/// One rate tried.
#[derive(Debug, Clone)]
pub struct RateStep {
    /// The rate asked for (None: the closed-loop capacity run).
    pub rate: f64,
    /// What it measured.
    pub result: BenchResult,
    /// p99 under the target, no errors, and the rate held.
    pub ok: bool,
}

/// What the search found.
#[derive(Debug, Clone)]
pub struct FindRate {
    /// The closed-loop capacity run.
    pub capacity: BenchResult,
    /// Every open-loop rate tried, in order.
    pub steps: Vec<RateStep>,
}

impl FindRate {
    /// The highest rate that met the target, if any did.
    pub fn best(&self) -> Option<&RateStep> {
        self.steps
            .iter()
            .filter(|s| s.ok)
            .max_by(|a, b| a.rate.total_cmp(&b.rate))
    }
}

/// Searches the highest rate whose p99 is at most `p99`; `on_step` sees each
/// rate's result as it is measured. Each run lasts the config's duration. A
/// capacity run that measured nothing ends the search
/// ([`BenchError::NothingMeasured`]).
pub fn find_rate(
    config: &BenchConfig,
    p99: Duration,
    stop: &Arc<AtomicBool>,
    mut on_step: impl FnMut(&RateStep),
) -> Result<FindRate, BenchError> {
    let capacity = run_until(&config.clone().closed_loop(), stop)?;
    let cap = capacity.requests_per_sec().max(1.0);
    let target_us = p99.as_micros() as u64;
    let mut steps: Vec<RateStep> = Vec::new();
    let (mut lo, mut hi) = (0.0f64, cap);
    for k in 0..=STEPS {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let rate = if k == 0 { cap } else { (lo + hi) / 2.0 };
        // A rate that measured nothing failed (the search goes on below it).
        let result = match run_until(&config.clone().rate(rate), stop) {
            Ok(r) => r,
            Err(BenchError::NothingMeasured(n)) => n.result,
            Err(e) => return Err(e),
        };
        let ok = !result.interrupted
            && result.errors.total() == 0
            && result.latency.value_at_quantile(0.99) <= target_us
            && result.requests_per_sec() >= rate * 0.99;
        let step = RateStep { rate, result, ok };
        on_step(&step);
        steps.push(step);
        if ok {
            lo = rate;
            if k == 0 {
                break; // the capacity itself meets the target
            }
        } else {
            hi = rate;
        }
    }
    Ok(FindRate { capacity, steps })
}
