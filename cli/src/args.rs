//! Value parsers shared by the subcommands' flags: durations (`500ms`, `10s`),
//! sizes with units (`64k`, through `pierhead::parse_size`), and names.

use std::time::Duration;

use pierhead::{Protocol, SlowConsumer};

pub fn parse_protocol(s: &str) -> Result<Protocol, String> {
    s.parse()
        .map_err(|e: pierhead::ConfigError| e.problem.to_string())
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

pub fn parse_slow_consumer(s: &str) -> Result<SlowConsumer, String> {
    s.parse()
        .map_err(|e: pierhead::ConfigError| e.problem.to_string())
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    pierhead::parse_size(s).map_err(|e| e.to_string())
}

pub fn parse_interval(s: &str) -> Result<Option<Duration>, String> {
    if s == "off" {
        Ok(None)
    } else {
        parse_duration(s).map(Some)
    }
}
