//! The protections a public server needs against a peer that follows the
//! protocol's letter to exhaust it, each bounded by a [`Limits`] field and
//! counted in [`Counters`]:
//!
//! | protection | bound | answer |
//! |---|---|---|
//! | concurrent streams | [`super::Config::max_concurrent_streams`] | RST_STREAM REFUSED_STREAM |
//! | rapid reset (CVE-2023-44487): streams reset by the client (or by us for its errors) | [`Limits::rapid_reset`] per responses completed | GOAWAY ENHANCE_YOUR_CALM |
//! | CONTINUATION flood (CVE-2024-27316 and kin): a header block's bytes and frames | [`Limits::max_header_block`], [`Limits::max_continuations`] | GOAWAY ENHANCE_YOUR_CALM |
//! | SETTINGS, PING, empty DATA floods | [`Limits::settings`], [`Limits::ping`], [`Limits::empty_data`] per frames of real work | GOAWAY ENHANCE_YOUR_CALM |
//! | request body | [`Limits::max_body`] | RST_STREAM ENHANCE_YOUR_CALM |
//!
//! The floods are counted without a clock (the connection is sans-io): at most
//! `max` suspect frames while fewer than `per` units of real work are done;
//! `per` units of work start a new window.

/// At most `max` suspect events per `per` units of real work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FloodLimit {
    /// Suspect events allowed in a window.
    pub max: u32,
    /// Units of real work that close a window.
    pub per: u32,
}

/// The bounds of the protections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The most bytes a header block (HEADERS and its CONTINUATIONs) may join to.
    pub max_header_block: usize,
    /// The most CONTINUATION frames one header block may have.
    pub max_continuations: u32,
    /// The most bytes of a request body.
    pub max_body: usize,
    /// Client resets (and our stream errors) per responses completed.
    pub rapid_reset: FloodLimit,
    /// SETTINGS frames per request frames (HEADERS, non-empty DATA).
    pub settings: FloodLimit,
    /// PING frames per request frames.
    pub ping: FloodLimit,
    /// Empty DATA frames without END_STREAM per request frames.
    pub empty_data: FloodLimit,
}

impl Default for Limits {
    fn default() -> Self {
        let flood = FloodLimit { max: 64, per: 64 };
        Limits {
            max_header_block: 64 * 1024,
            max_continuations: 32,
            max_body: 16 << 20,
            rapid_reset: FloodLimit { max: 128, per: 128 },
            settings: flood,
            ping: flood,
            empty_data: flood,
        }
    }
}

/// A flood detector: suspect events counted in a window of real work.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flood {
    suspect: u32,
    work: u32,
}

impl Flood {
    /// A suspect event: `true` if it is one too many.
    pub(crate) fn suspect(&mut self, limit: FloodLimit) -> bool {
        self.suspect = self.suspect.saturating_add(1);
        self.suspect > limit.max
    }

    /// A unit of real work: a window ends after `limit.per` of them.
    pub(crate) fn work(&mut self, limit: FloodLimit) {
        self.work += 1;
        if self.work >= limit.per {
            *self = Flood::default();
        }
    }
}

/// What a connection saw and did, for the record (and the tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Streams the client opened (refused ones included).
    pub streams_opened: u64,
    /// Requests handed over whole.
    pub requests: u64,
    /// Responses sent to their end.
    pub responses: u64,
    /// Streams refused over the concurrency limit.
    pub refused: u64,
    /// RST_STREAM received on an active stream.
    pub resets_received: u64,
    /// RST_STREAM sent (stream errors, refusals).
    pub resets_sent: u64,
    /// SETTINGS frames received (ACKs excluded).
    pub settings: u64,
    /// PING frames received (ACKs excluded).
    pub pings: u64,
    /// Empty DATA frames without END_STREAM received.
    pub empty_data: u64,
    /// CONTINUATION frames received.
    pub continuations: u64,
    /// Connections ended by a protection (GOAWAY ENHANCE_YOUR_CALM).
    pub calm: u64,
}
