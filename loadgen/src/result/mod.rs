//! What a run measured: [`BenchResult`], its human summary, its JSON form (a
//! stable schema, `pierhead-bench/1`, with the exact histograms), and the lossless
//! merge of runs (from several threads, or several machines). This module only
//! declares the parts and re-exports them:
//!
//! | module | what it holds |
//! |---|---|
//! | `types` | the result types, the histograms, the figures derived from them |
//! | `error` | why a result cannot be read or merged |
//! | `json` | the JSON form, histograms encoded exactly |
//! | `merge` | the lossless merge, and which runs can be merged |
//! | `summary` | the human summary and its units |

mod error;
mod json;
mod merge;
mod summary;
mod types;

pub use error::{Mismatch, ResultError};
pub(crate) use summary::us;
pub(crate) use types::{fit_timeline, histogram};
pub use types::{BenchResult, ErrorCounts, Latency, Second, SCHEMA};
