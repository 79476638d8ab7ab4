//! Value parsers shared by the subcommands' flags: the core's parsers (durations,
//! sizes, names, route specs), with their errors as clap shows them.

use std::str::FromStr;
use std::time::Duration;

use pierhead::{ConfigError, Route};

/// A name the core parses (protocol, slow-consumer policy, certificate kind, TLS
/// fault): its error names the config field, as the bindings' errors do.
pub fn parse_name<T: FromStr<Err = ConfigError>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: ConfigError| e.to_string())
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    pierhead::parse_duration(s).map_err(|e| e.to_string())
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

/// `--route "METHOD PATH [STATUS [BODY|@FILE]]"` (or `"METHOD PATH websocket
/// echo|room NAME"`): [`Route::from_spec`].
pub fn parse_route(s: &str) -> Result<Route, String> {
    Route::from_spec(s).map_err(|e| e.to_string())
}
