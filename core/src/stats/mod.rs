//! Stats: the counters every thread writes, the snapshot that sums them, and
//! what is made of it, all from one table of figures.
//!
//! - `table`: the stats table, the one declaration of every figure (name, kind,
//!   unit, doc, and where it appears), from which [`Stats`], [`BackplaneStats`],
//!   the per-worker `Counters` and the backplane's `LinkCounters` are generated;
//! - `figures`: the table's vocabulary ([`StatField`], [`StatValue`]) and the
//!   `stats_table!` macro;
//! - `counter`: the single-writer counter of the worker blocks;
//! - `state`: [`State`] and [`BackplaneState`];
//! - `prometheus`: the Prometheus text and the endpoint serving it;
//! - `lines`: the stats line and the stop report that `pierhead serve` prints.

mod counter;
mod figures;
mod lines;
mod prometheus;
mod state;
mod table;

pub use figures::{LineItem, LineSection, StatField, StatGroup, StatKind, StatUnit, StatValue};
pub use lines::{StatsLine, StatsLines, StopLine};
pub(crate) use prometheus::{endpoint_config, METRICS_STOP};
pub use prometheus::{prometheus_text, PROMETHEUS_CONTENT_TYPE};
pub use state::{BackplaneState, State};
pub use table::{BackplaneStats, Stats};
pub(crate) use table::{Counters, LinkCounters, RoomCounts};
