//! What a front end prints (`pierhead serve`, and `python -m pierhead serve`
//! through it): the stats line every interval ([`StatsLine`], [`StatsLines`]) and
//! the stop report ([`StopLine`]), laid out by the stats table (each field's
//! `line` and `stop`), showing the figures that mean something for the protocol.

use std::fmt::{self, Display, Formatter};
use std::sync::{Mutex, PoisonError};

use super::figures::{LineSection, StatGroup, StatUnit, StatValue};
use super::table::Stats;
use crate::config::Protocol;
use crate::server::StopReport;

/// One stats line, e.g. `stats: up 2s running | conns active 16 accepted 18
/// refused 0 | requests 191743 (95821/s) responses 191743 | read 7669758 B
/// (3832860 B/s) written 23967875 B | errors protocol 0 timeouts 0 accept 0
/// internal 0`: its `Display` writes it. Rates are per second since `previous`
/// (since the start without one).
#[derive(Debug, Clone, Copy)]
pub struct StatsLine<'a> {
    stats: &'a Stats,
    protocol: Protocol,
    previous: Option<&'a Stats>,
}

impl<'a> StatsLine<'a> {
    /// The line for `stats` of a server speaking `protocol`.
    pub fn new(stats: &'a Stats, protocol: Protocol) -> StatsLine<'a> {
        StatsLine {
            stats,
            protocol,
            previous: None,
        }
    }

    /// With rates since `previous` (an earlier snapshot of the same server).
    pub fn since(self, previous: Option<&'a Stats>) -> StatsLine<'a> {
        StatsLine { previous, ..self }
    }
}

impl Display for StatsLine<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let before = self
            .previous
            .map_or(std::time::Duration::ZERO, |p| p.uptime);
        let secs = self.stats.uptime.saturating_sub(before).as_secs_f64();
        let mut w = Line {
            f,
            protocol: self.protocol.as_str(),
            secs: secs.max(1e-9),
            section: None,
            started: false,
        };
        w.group(self.stats, self.previous.map(|p| p as &dyn StatGroup))
    }
}

struct Line<'f, 'g> {
    f: &'f mut Formatter<'g>,
    protocol: &'static str,
    secs: f64,
    section: Option<LineSection>,
    started: bool,
}

impl Line<'_, '_> {
    fn group(&mut self, group: &dyn StatGroup, previous: Option<&dyn StatGroup>) -> fmt::Result {
        let before = previous.map(|p| p.values());
        for (i, (field, value)) in group.figures().into_iter().enumerate() {
            if !field.meaningful_for(self.protocol) {
                continue;
            }
            let was = before.as_ref().map(|b| b[i]);
            if let StatValue::Group(Some(inner)) = value {
                let was = match was {
                    Some(StatValue::Group(g)) => g,
                    _ => None,
                };
                self.group(inner, was)?;
                continue;
            }
            let Some(item) = field.line else { continue };
            if self.section != Some(item.section) {
                if self.section.is_some() {
                    self.f.write_str(" |")?;
                }
                if let Some(heading) = item.section.heading() {
                    self.word(heading)?;
                }
                self.section = Some(item.section);
            }
            if !item.label.is_empty() {
                self.word(item.label)?;
            }
            match value {
                StatValue::Count(n) => {
                    let unit = if field.unit == StatUnit::Bytes {
                        " B"
                    } else {
                        ""
                    };
                    self.word(&format!("{n}{unit}"))?;
                    if item.rate {
                        let was = match was {
                            Some(StatValue::Count(w)) => w,
                            _ => 0,
                        };
                        let rate = n.saturating_sub(was) as f64 / self.secs;
                        self.word(&format!("({rate:.0}{unit}/s)"))?;
                    }
                }
                StatValue::Time(t) => self.word(&format!("{:.0}s", t.as_secs_f64()))?,
                StatValue::State { now, .. } => self.word(now)?,
                StatValue::Text(t) => self.word(t.unwrap_or("-"))?,
                StatValue::Group(_) => {}
            }
        }
        Ok(())
    }

    /// Writes `word`, after a space unless it is the first.
    fn word(&mut self, word: &str) -> fmt::Result {
        if self.started {
            self.f.write_str(" ")?;
        }
        self.started = true;
        self.f.write_str(word)
    }
}

/// Successive stats lines of one server, each with rates since the one before:
/// what `pierhead serve` prints every `--stats-interval`.
#[derive(Debug)]
pub struct StatsLines {
    protocol: Protocol,
    previous: Mutex<Option<Stats>>,
}

impl StatsLines {
    /// Lines for a server speaking `protocol`.
    pub fn new(protocol: Protocol) -> StatsLines {
        StatsLines {
            protocol,
            previous: Mutex::new(None),
        }
    }

    /// The line for `stats`, with rates since the previous call's snapshot.
    pub fn next(&self, stats: &Stats) -> String {
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        let line = StatsLine::new(stats, self.protocol)
            .since(previous.as_ref())
            .to_string();
        *previous = Some(stats.clone());
        line
    }
}

/// The stop report as `pierhead serve` prints it: `stopped in 0.5 ms: 0 idle
/// closed, 0 drained, 0 force-closed; served 18 connections, 246552 requests,
/// 246552 responses, 0 protocol errors`, and with a backplane a second line,
/// `backplane: 1 published, 0 unpublished, ...`. Its `Display` writes them.
#[derive(Debug, Clone, Copy)]
pub struct StopLine<'a> {
    report: &'a StopReport,
    stats: &'a Stats,
    protocol: Protocol,
}

impl<'a> StopLine<'a> {
    /// The report of a stop, with the server's `stats` after it.
    pub fn new(report: &'a StopReport, stats: &'a Stats, protocol: Protocol) -> StopLine<'a> {
        StopLine {
            report,
            stats,
            protocol,
        }
    }

    /// `value label` for each field of `group` with a stop label, separated by
    /// commas (a text goes last, after a semicolon, when there is one).
    fn items(&self, f: &mut Formatter<'_>, group: &dyn StatGroup) -> fmt::Result {
        let mut first = true;
        for (field, value) in group.figures() {
            let Some(label) = field.stop else { continue };
            if !field.meaningful_for(self.protocol.as_str()) {
                continue;
            }
            let comma = if first { "" } else { ", " };
            match value {
                StatValue::Count(n) => write!(f, "{comma}{n} {label}")?,
                StatValue::Time(t) => write!(f, "{comma}{:.1} s {label}", t.as_secs_f64())?,
                StatValue::State { now, .. } => write!(f, "{comma}{now} {label}")?,
                StatValue::Text(Some(text)) => write!(f, "; {label}: {text}")?,
                StatValue::Text(None) | StatValue::Group(_) => continue,
            }
            first = false;
        }
        Ok(())
    }
}

impl Display for StopLine<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let r = self.report;
        write!(
            f,
            "stopped in {:.1} ms: {} idle closed, {} drained, {} force-closed; served ",
            r.elapsed.as_secs_f64() * 1e3,
            r.idle_closed,
            r.drained,
            r.force_closed
        )?;
        self.items(f, self.stats)?;
        if let Some(b) = &r.backplane {
            f.write_str("\nbackplane: ")?;
            self.items(f, b)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::{StatField, StatGroup, StatKind, StatUnit, StatValue};

    const HTTP: &str = "stats: up 1s stopped | conns active 3 accepted 4 refused 6 | \
        requests 7 (7/s) responses 8 | read 9 B (9 B/s) written 10 B | errors protocol 18 \
        timeouts 19 accept 20 internal 22";

    #[test]
    fn the_stats_line_shows_what_the_protocol_counts() {
        let mut s = Stats::example();
        s.backplane = None;
        assert_eq!(StatsLine::new(&s, Protocol::Http).to_string(), HTTP);
        assert_eq!(
            StatsLine::new(&s, Protocol::Echo).to_string(),
            "stats: up 1s stopped | conns active 3 accepted 4 refused 6 | read 9 B (9 B/s) \
             written 10 B | errors protocol 18 timeouts 19 accept 20 internal 22"
        );
        assert_eq!(
            StatsLine::new(&Stats::example(), Protocol::Frame).to_string(),
            "stats: up 1s stopped | conns active 3 accepted 4 refused 6 | requests 7 (7/s) \
             responses 8 | read 9 B (9 B/s) written 10 B | rooms 11 members 12 broadcasts 13 \
             deliveries 14 dropped 15 slow 16 | backplane connected subscribed 1703 published \
             1704 unpublished 1705 unconfirmed 1706 received 1707 outages 1710 | errors \
             protocol 18 timeouts 19 accept 20 internal 22"
        );
    }

    #[test]
    fn rates_are_since_the_previous_line() {
        let mut before = Stats::example();
        before.backplane = None;
        let mut now = before.clone();
        now.uptime += Duration::from_secs(2);
        now.requests += 1000;
        now.bytes_read += 3000;
        let line = StatsLine::new(&now, Protocol::Http)
            .since(Some(&before))
            .to_string();
        assert!(line.contains("requests 1007 (500/s)"), "{line}");
        assert!(line.contains("read 3009 B (1500 B/s)"), "{line}");
        let lines = StatsLines::new(Protocol::Http);
        assert_eq!(lines.next(&before), HTTP);
        assert_eq!(lines.next(&now), line);
    }

    /// Each group's fields with their values, the nested groups' too.
    fn flat(group: &dyn StatGroup) -> Vec<(&'static StatField, String)> {
        let mut all = Vec::new();
        for (field, value) in group.figures() {
            let shown = match value {
                StatValue::Count(n) => n.to_string(),
                StatValue::Time(t) => format!("{:.0}s", t.as_secs_f64()),
                StatValue::State { now, .. } => now.to_owned(),
                StatValue::Text(t) => t.unwrap_or_default().to_owned(),
                StatValue::Group(g) => {
                    all.extend(g.map(flat).unwrap_or_default());
                    continue;
                }
            };
            all.push((field, shown));
        }
        all
    }

    #[test]
    fn every_figure_the_table_puts_on_the_stats_line_is_there() {
        let s = Stats::example();
        for protocol in ["discard", "echo", "http", "frame"] {
            let p: Protocol = protocol.parse().unwrap();
            let line = StatsLine::new(&s, p).to_string();
            for (field, value) in flat(&s) {
                let Some(item) = field.line else { continue };
                let shown = format!("{} {value}", item.label);
                assert_eq!(
                    line.contains(shown.trim()),
                    field.meaningful_for(protocol),
                    "{} ({protocol}): {line}",
                    field.name
                );
            }
        }
    }

    #[test]
    fn the_stop_report_says_what_the_stop_did_and_what_was_served() {
        let s = Stats::example();
        let mut report = StopReport {
            idle_closed: 1,
            drained: 2,
            force_closed: 3,
            elapsed: Duration::from_micros(500),
            complete: true,
            handlers_abandoned: 0,
            backplane: None,
        };
        let served = "stopped in 0.5 ms: 1 idle closed, 2 drained, 3 force-closed; served";
        assert_eq!(
            StopLine::new(&report, &s, Protocol::Http).to_string(),
            format!("{served} 4 connections, 7 requests, 8 responses, 18 protocol errors")
        );
        assert_eq!(
            StopLine::new(&report, &s, Protocol::Echo).to_string(),
            format!("{served} 4 connections, 18 protocol errors")
        );
        report.backplane = s.backplane.clone();
        assert_eq!(
            StopLine::new(&report, &s, Protocol::Frame).to_string(),
            format!(
                "{served} 4 connections, 7 requests, 8 responses, 18 protocol errors\n\
                 backplane: 1704 published, 1705 unpublished, 1706 unconfirmed, 1707 received \
                 from other servers, 1710 outages, 1713.7 s down; last error: error 1713"
            )
        );
        let all = StopLine::new(&report, &s, Protocol::Frame).to_string();
        for (field, value) in flat(&s) {
            let Some(label) = field.stop else { continue };
            let shown = match field.kind {
                StatKind::Info => format!("{label}: {value}"),
                _ if field.unit == StatUnit::Seconds => format!("s {label}"),
                _ => format!("{value} {label}"),
            };
            assert!(all.contains(&shown), "{}: {all}", field.name);
        }
    }
}
