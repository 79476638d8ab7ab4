//! Value parsers shared by the subcommands' flags: the core's parsers (durations,
//! sizes, names, route specs), with their errors as clap shows them.

use std::time::Duration;

use pierhead::{Protocol, Route, SlowConsumer};

pub fn parse_protocol(s: &str) -> Result<Protocol, String> {
    s.parse()
        .map_err(|e: pierhead::ConfigError| e.problem.to_string())
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    pierhead::parse_duration(s).map_err(|e| e.to_string())
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

/// `--route "METHOD PATH [STATUS [BODY|@FILE]]"`: [`Route::from_spec`].
pub fn parse_route(s: &str) -> Result<Route, String> {
    Route::from_spec(s).map_err(|e| e.to_string())
}
