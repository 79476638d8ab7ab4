//! What we advertise in our SETTINGS and what the peer's SETTINGS said (RFC 9113
//! section 6.5.2).

use super::super::frame::{Setting, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW};
use super::super::hpack::{DEFAULT_MAX_HEADER_LIST_SIZE, DEFAULT_TABLE_SIZE};
use super::limits::Limits;

/// A server connection's configuration: what it advertises, and its
/// protections.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the client may have open at
    /// once; one more is refused (RST_STREAM REFUSED_STREAM).
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window (at most 2^31-1).
    pub initial_window: u32,
    /// The connection's receive window, raised from 65,535 by a WINDOW_UPDATE
    /// sent after our SETTINGS (at most 2^31-1).
    pub connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload we accept.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the most a request's fields may add up
    /// to (name + value + 32 each); enforced by the HPACK decoder.
    pub max_header_list_size: u32,
    /// The protections and their bounds.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_streams: 100,
            initial_window: 1 << 20,
            connection_window: 1 << 24,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE as u32,
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// The SETTINGS frame we send first: the HPACK table at its initial 4,096
    /// (said explicitly), then the rest.
    pub(crate) fn advertised(&self) -> [Setting; 5] {
        [
            Setting::HeaderTableSize(DEFAULT_TABLE_SIZE as u32),
            Setting::MaxConcurrentStreams(self.max_concurrent_streams),
            Setting::InitialWindowSize(self.initial_window),
            Setting::MaxFrameSize(self.max_frame_size),
            Setting::MaxHeaderListSize(self.max_header_list_size),
        ]
    }
}

/// What the peer's SETTINGS said so far (the RFC's initial values until then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerSettings {
    /// SETTINGS_HEADER_TABLE_SIZE: the table our HPACK encoder may use.
    pub header_table_size: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's initial send window.
    pub initial_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest payload we may send.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (only matters to a pusher: kept for the record).
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (advisory).
    pub max_header_list_size: Option<u32>,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            header_table_size: DEFAULT_TABLE_SIZE as u32,
            initial_window: DEFAULT_WINDOW,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_concurrent_streams: None,
            max_header_list_size: None,
        }
    }
}

impl PeerSettings {
    /// Records one parameter (already within its bounds: the frame layer checked).
    pub(crate) fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::HeaderTableSize(v) => self.header_table_size = v,
            Setting::InitialWindowSize(v) => self.initial_window = v,
            Setting::MaxFrameSize(v) => self.max_frame_size = v,
            Setting::MaxConcurrentStreams(v) => self.max_concurrent_streams = Some(v),
            Setting::MaxHeaderListSize(v) => self.max_header_list_size = Some(v),
            // A client may say it; a server never pushes anyway.
            Setting::EnablePush(_) => {}
        }
    }
}
