//! The HTML report: one self-contained page (no external file, script, style
//! sheet or font) with the latency percentile curve and the answers per second
//! over time, drawn as inline SVG, the summary figures, and the run's JSON
//! (`<script type="application/json" id="pierhead-bench-result">`) for tools.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::result::{us, BenchResult, Latency};

const W: f64 = 860.0;
const H: f64 = 340.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 50.0;

/// Quantiles the curve is drawn through (the x axis is log10(1 / (1 - q)), as
/// HdrHistogram's plots: 90% at 1, 99% at 2, 99.9% at 3, ...).
const QUANTILES: &[f64] = &[
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96,
    0.97, 0.975, 0.98, 0.985, 0.99, 0.9925, 0.995, 0.9975, 0.999, 0.99925, 0.9995, 0.99975, 0.9999,
    0.99999, 0.999999,
];
const MAX_NINES: f64 = 6.0;

/// The report page for `r`.
pub fn html_report(r: &BenchResult) -> String {
    let mut curves: Vec<(&str, &str, &Histogram<u64>)> = vec![("latency", "#1f6feb", &r.latency)];
    if let Some(h) = &r.uncorrected {
        curves.push(("uncorrected (from the actual send)", "#d29922", h));
    }
    if let Some(h) = &r.fanout {
        curves.push(("last member of the room", "#8250df", h));
    }
    let mut page = String::with_capacity(64 * 1024);
    let title = format!("pierhead bench: {}", r.target);
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 920px; color: #1f2328; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 3px 12px 3px 0; text-align: left; }}
th {{ font-weight: 600; }} td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
svg {{ background: #fff; border: 1px solid #d0d7de; }} .legend span {{ margin-right: 18px; }}
</style></head><body>
<h1 id="title">{t}</h1>
<p id="config">{cfg}</p>
"#,
        t = esc(&title),
        cfg = esc(&config_line(r)),
    );
    page.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n");
    let rows = [
        ("answers", format!("{}", r.requests)),
        ("answers/s", format!("{:.0}", r.requests_per_sec())),
        ("sent", format!("{}", r.sent)),
        ("bytes read", format!("{}", r.bytes_received)),
        ("bytes written", format!("{}", r.bytes_sent)),
        ("errors", error_line(r)),
    ];
    for (k, v) in rows {
        let _ = writeln!(page, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    page.push_str("</table>\n<h2>Latency percentiles</h2>\n<table id=\"percentiles\">\n");
    page.push_str("<tr><th></th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>\n");
    for (name, _, h) in &curves {
        percentile_row(&mut page, name, h);
    }
    if let Some(h) = &r.send_lag {
        percentile_row(&mut page, "send lag behind schedule", h);
    }
    page.push_str("</table>\n");
    page.push_str(&percentile_chart(&curves));
    page.push_str("<h2>Answers and errors per second</h2>\n");
    page.push_str(&timeline_chart(r));
    // `<`, `>` and `&` only occur inside JSON strings: as \u escapes they cannot
    // end the script element.
    let json = r
        .to_json()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let _ = write!(
        page,
        "<script type=\"application/json\" id=\"pierhead-bench-result\">{json}</script>\n</body></html>\n"
    );
    page
}

/// A row of the percentile table: `n/a` in every cell when nothing was recorded.
fn percentile_row(page: &mut String, name: &str, h: &Histogram<u64>) {
    let _ = write!(page, "<tr><th>{}</th>", esc(name));
    if h.is_empty() {
        page.push_str(&"<td class=n>n/a</td>".repeat(6));
    } else {
        let l = Latency::of(h);
        for v in [
            l.p50_us,
            l.p90_us,
            l.p99_us,
            l.p99_9_us,
            l.max_us,
            l.mean_us as u64,
        ] {
            let _ = write!(page, "<td class=n>{}</td>", us(v));
        }
    }
    page.push_str("</tr>\n");
}

fn config_line(r: &BenchResult) -> String {
    let mode = r.mode();
    format!(
        "{} · {:.2} s measured · {} connections on {} thread(s) · pipeline {} · {mode}{}",
        r.protocol.as_str(),
        r.duration.as_secs_f64(),
        r.connections,
        r.threads,
        r.pipeline,
        if r.runs > 1 {
            format!(" · {} runs merged", r.runs)
        } else {
            String::new()
        }
    )
}

fn error_line(r: &BenchResult) -> String {
    format!("{} ({})", r.errors.total(), r.errors)
}

fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        MAX_NINES
    } else {
        (1.0 / (1.0 - q)).log10().min(MAX_NINES)
    }
}

/// A "nice" upper bound for an axis.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

fn percentile_chart(curves: &[(&str, &str, &Histogram<u64>)]) -> String {
    let mut svg = String::new();
    let top_q = curves
        .iter()
        .map(|(_, _, h)| {
            if h.is_empty() {
                0.0
            } else {
                1.0 - 1.0 / h.len() as f64
            }
        })
        .fold(0.9f64, f64::max);
    let x_max = nines(top_q).ceil().clamp(1.0, MAX_NINES);
    let y_max_ms = nice(
        curves
            .iter()
            .map(|(_, _, h)| h.max() as f64 / 1000.0)
            .fold(0.0, f64::max),
    );
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |n: f64| LEFT + n / x_max * pw;
    let y = |ms: f64| TOP + ph - ms / y_max_ms * ph;
    let _ = write!(
        svg,
        r#"<svg id="percentile-chart" role="img" aria-label="latency by percentile" width="{W}" height="{H}" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" font-size="12">"#
    );
    for k in 0..=x_max as usize {
        let label = match k {
            0 => "0%".to_owned(),
            1 => "90%".to_owned(),
            2 => "99%".to_owned(),
            n => format!("99.{}%", "9".repeat(n - 2)),
        };
        let xx = x(k as f64);
        let _ = write!(
            svg,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#eaeef2"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + ph,
            TOP + ph + 18.0
        );
    }
    for k in 0..=4 {
        let ms = y_max_ms * k as f64 / 4.0;
        let yy = y(ms);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#eaeef2"/><text x="{:.1}" y="{:.1}" text-anchor="end">{} ms</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            trim(ms)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + pw / 2.0,
        H - 8.0
    );
    if curves.iter().all(|(_, _, h)| h.is_empty()) {
        let _ = write!(
            svg,
            r#"<text id="no-latency" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="16">n/a: no right answer, no latency</text>"#,
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    for (name, color, h) in curves {
        if h.is_empty() {
            continue;
        }
        let mut points = String::new();
        for &q in QUANTILES {
            if nines(q) > x_max {
                break;
            }
            let v = h.value_at_quantile(q) as f64 / 1000.0;
            let _ = write!(points, "{:.1},{:.1} ", x(nines(q)), y(v));
        }
        let v = h.max() as f64 / 1000.0;
        let _ = write!(points, "{:.1},{:.1}", x(x_max), y(v));
        let _ = write!(
            svg,
            r#"<polyline class="curve" fill="none" stroke="{color}" stroke-width="2" points="{points}"><title>{}</title></polyline>"#,
            esc(name)
        );
    }
    svg.push_str("</svg>\n<p class=\"legend\">");
    for (name, color, _) in curves {
        let _ = write!(svg, "<span style=\"color:{color}\">■ {}</span>", esc(name));
    }
    svg.push_str("</p>\n");
    svg
}

const ANSWERS: &str = "#2da44e";
const ERRORS: &str = "#cf222e";

/// Answers and errors per second, stacked (errors on top of the answers), on one
/// axis scaled to their sum, with a legend.
fn timeline_chart(r: &BenchResult) -> String {
    let mut svg = String::new();
    let n = r.timeline.len().max(1);
    let peak = nice(
        r.timeline
            .iter()
            .map(|s| (s.requests + s.errors) as f64)
            .fold(0.0, f64::max),
    );
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let bw = pw / n as f64;
    let _ = write!(
        svg,
        r#"<svg id="timeline-chart" role="img" aria-label="answers and errors per second" width="{W}" height="{H}" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" font-size="12">"#
    );
    for k in 0..=4 {
        let v = peak * k as f64 / 4.0;
        let yy = TOP + ph - v / peak * ph;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#eaeef2"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            trim(v)
        );
    }
    for (i, s) in r.timeline.iter().enumerate() {
        let x = LEFT + i as f64 * bw + bw * 0.1;
        let w = (bw * 0.8).max(1.0);
        let hgt = s.requests as f64 / peak * ph;
        let title = format!("second {i}: {} answers, {} errors", s.requests, s.errors);
        let _ = write!(
            svg,
            r#"<rect class="second" x="{x:.1}" y="{:.1}" width="{w:.1}" height="{hgt:.1}" fill="{ANSWERS}"><title>{title}</title></rect>"#,
            TOP + ph - hgt,
        );
        if s.errors > 0 {
            // At least 2 px so that a few errors show, never past the top.
            let eh = (s.errors as f64 / peak * ph).max(2.0).min(ph - hgt);
            let _ = write!(
                svg,
                r#"<rect class="errors" x="{x:.1}" y="{:.1}" width="{w:.1}" height="{eh:.1}" fill="{ERRORS}"><title>{title}</title></rect>"#,
                TOP + ph - hgt - eh,
            );
        }
    }
    let step = (n / 10).max(1);
    for i in (0..n).step_by(step) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{i}s</text>"#,
            LEFT + (i as f64 + 0.5) * bw,
            TOP + ph + 18.0
        );
    }
    let _ = write!(
        svg,
        "</svg>\n<p class=\"legend\" id=\"timeline-legend\"><span style=\"color:{ANSWERS}\">■ answers</span><span style=\"color:{ERRORS}\">■ errors</span></p>\n"
    );
    svg
}

fn trim(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BenchProtocol;
    use crate::result::{histogram, ErrorCounts, Second};
    use std::time::Duration;

    #[test]
    fn the_page_is_self_contained_and_escapes_the_target() {
        let mut h = histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let r = BenchResult {
            target: "http://h:1/<script>".to_owned(),
            protocol: BenchProtocol::Http,
            connections: 1,
            threads: 1,
            pipeline: 1,
            rate: Some(100.0),
            duration: Duration::from_secs(3),
            requests: 1000,
            sent: 1000,
            bytes_sent: 1,
            bytes_received: 1,
            errors: ErrorCounts::default(),
            latency: h.clone(),
            uncorrected: Some(h.clone()),
            send_lag: Some(h),
            fanout: None,
            timeline: vec![
                Second {
                    requests: 333,
                    errors: 1
                };
                3
            ],
            runs: 1,
            interrupted: false,
        };
        let page = html_report(&r);
        assert!(!page.contains("<script>"), "the target is escaped");
        assert!(
            !page.contains(" src=") && !page.contains("<link"),
            "nothing external"
        );
        assert_eq!(page.matches("class=\"second\"").count(), 3);
        assert_eq!(page.matches("class=\"curve\"").count(), 2);
        let start = page.find("id=\"pierhead-bench-result\">").unwrap() + 27;
        let end = page[start..].find("</script>").unwrap() + start;
        let back = BenchResult::from_json(&page[start..end]).unwrap();
        assert_eq!(back.latency, r.latency);
        assert_eq!(back.target, r.target);
    }

    #[test]
    fn errors_share_the_axis_and_no_answer_is_n_a() {
        // Issue 22: 50,000 errors a second over a 0-1 axis scaled to the answers.
        let r = BenchResult {
            target: "http://h:1/".to_owned(),
            protocol: BenchProtocol::Http,
            connections: 1,
            threads: 1,
            pipeline: 1,
            rate: None,
            duration: Duration::from_secs(2),
            requests: 0,
            sent: 100_000,
            bytes_sent: 1,
            bytes_received: 1,
            errors: ErrorCounts {
                status: 100_000,
                ..ErrorCounts::default()
            },
            latency: histogram(),
            uncorrected: None,
            send_lag: None,
            fanout: None,
            timeline: vec![
                Second {
                    requests: 0,
                    errors: 50_000
                };
                2
            ],
            runs: 1,
            interrupted: false,
        };
        let page = html_report(&r);
        let red: Vec<&str> = page
            .split("<rect ")
            .skip(1)
            .filter(|r| r.contains("fill=\"#cf222e\""))
            .collect();
        assert_eq!(red.len(), 2);
        for rect in red {
            let attr = |name: &str| -> f64 {
                let v = rect.split(&format!(" {name}=\"")).nth(1).unwrap();
                v.split('"').next().unwrap().parse().unwrap()
            };
            let (y, h) = (attr("y"), attr("height"));
            assert!(y >= TOP && y + h <= H - BOTTOM + 0.05, "y {y}, height {h}");
        }
        assert!(
            page.contains(">50000</text>"),
            "the axis reaches the errors"
        );
        assert!(page.contains("■ answers</span>") && page.contains("■ errors</span>"));
        assert!(page.contains("<td class=n>n/a</td>") && !page.contains("0us"));
    }
}
