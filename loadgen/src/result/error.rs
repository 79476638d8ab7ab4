//! Why a result cannot be read ([`ResultError`]) or merged ([`Mismatch`]).

use super::types::SCHEMA;

/// Why runs cannot be merged, or a JSON document read.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// Not JSON of the expected shape.
    #[error("not a pierhead bench result: {0}")]
    Json(#[from] serde_json::Error),
    /// Another schema.
    #[error("schema `{0}` is not {SCHEMA}")]
    Schema(String),
    /// A histogram that does not decode.
    #[error("histogram `{0}` does not decode: {1}")]
    Histogram(&'static str, String),
    /// Runs that measured different things: merged, the result could not say
    /// what it holds.
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
}

/// Two runs that cannot be merged: they differ in what [`Mismatch::field`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot merge: one run is {ours}, the other is {theirs}")]
pub struct Mismatch {
    /// `protocol`, `loop` (closed, or open at a rate) or `pipeline`.
    pub field: &'static str,
    /// What the run merged into is (`closed loop`, `an http run`, `pipeline 1`).
    pub ours: String,
    /// What the other run is.
    pub theirs: String,
}

impl Mismatch {
    /// The message naming both runs: `cannot merge: a.json is closed loop,
    /// b.json is open loop at 1000/s`.
    pub fn naming(&self, ours: &str, theirs: &str) -> String {
        format!(
            "cannot merge: {ours} is {}, {theirs} is {}",
            self.ours, self.theirs
        )
    }
}
