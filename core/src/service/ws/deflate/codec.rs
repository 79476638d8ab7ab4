//! The per-connection streams of permessage-deflate (RFC 7692 7.2): [`Inflater`]
//! decompresses the client's messages within a size limit, [`Deflater`]
//! compresses the server's, and the memory they hold ([`memory_bound`]).

use zlib_rs::{
    Deflate, DeflateConfig as ZConfig, DeflateFlush, Inflate, InflateFlush, Method, Status,
    Strategy,
};

use super::params::{
    compressor_window_bits, decompressor_window_bits, DeflateParams, LEVEL, MEM_LEVEL,
};

/// The empty stored block a sync flush ends with; removed from every compressed
/// message and appended again before inflating its end (RFC 7692 7.2.1, 7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The first step an output buffer grows by while inflating (later steps double
/// with what the message has, always capped by its limit), and the step for a
/// compressor's pending output.
const FIRST_STEP: usize = 4096;

/// The least output one inflate step zero-fills ahead (for the tail and other
/// small pieces; more steps follow when they inflate to more).
const MIN_GUESS: usize = 512;

/// The most output one inflate step zero-fills ahead.
const MAX_STEP: usize = 256 * 1024;

/// The difference of two byte counters of a stream.
fn delta(after: u64, before: u64) -> usize {
    usize::try_from(after - before).unwrap_or(usize::MAX)
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InflateError {
    /// The message inflates past the limit (close with 1009).
    #[error("the message inflates past the size limit")]
    TooBig,
    /// The payload is not a valid deflate stream (close with 1007).
    #[error("the compressed message is not a valid deflate stream")]
    Corrupt,
}

/// Decompresses one connection's messages (client -> server).
pub(crate) struct Inflater {
    /// The zlib stream: None until the first compressed piece, and again after
    /// every message when it keeps no context (freeing its memory).
    stream: Option<Inflate>,
    window_bits: u8,
    /// `client_no_context_takeover`: a fresh stream for every message.
    fresh_each_message: bool,
    /// Bytes inflated so far for the current message.
    produced: usize,
    /// The current message's deflate stream has ended (a block with BFINAL):
    /// what follows in the message is ignored, the next one starts a new stream.
    ended: bool,
}

impl Inflater {
    /// A decompressor for these parameters; it allocates its zlib stream only on
    /// the first call to [`Inflater::inflate`].
    pub(crate) fn new(p: &DeflateParams) -> Inflater {
        Inflater {
            stream: None,
            window_bits: decompressor_window_bits(p),
            fresh_each_message: p.client_no_context_takeover,
            produced: 0,
            ended: false,
        }
    }

    /// Inflates the next piece of a compressed message's payload (`fin`: the last
    /// one; the 00 00 FF FF tail is appended then, and the context reset when
    /// client_no_context_takeover), appending to `out`. Err(TooBig) as soon as
    /// `out` would pass `limit` bytes in total for this message (without
    /// allocating past it: inflate in bounded steps), Err(Corrupt) on a bad
    /// stream. After an error the inflater starts afresh.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let mut result = self.feed(input, out, limit);
        if fin && result.is_ok() {
            result = self.feed(&TAIL, out, limit);
        }
        if result.is_err() || fin {
            self.produced = 0;
            if result.is_err() || self.fresh_each_message || self.ended {
                self.stream = None;
            }
            self.ended = false;
        }
        result
    }

    /// Whether the zlib stream is allocated now.
    #[cfg(test)]
    pub(crate) fn holds_stream(&self) -> bool {
        self.stream.is_some()
    }

    /// Inflates `input` into `out`, growing it in steps capped by the limit.
    fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let window_bits = self.window_bits;
        let stream = self
            .stream
            .get_or_insert_with(|| Inflate::new(false, window_bits));
        while !self.ended {
            // Room for what the limit still allows, plus one byte to notice
            // when the message goes past it. Capacity grows geometrically,
            // never past that; each step zero-fills only about what this input
            // may inflate to.
            let allowed = limit.saturating_sub(self.produced).saturating_add(1);
            if out.capacity() == out.len() {
                out.reserve_exact(allowed.min(out.len().max(FIRST_STEP)));
            }
            let guess = input.len().saturating_mul(4).clamp(MIN_GUESS, MAX_STEP);
            let step = allowed.min(out.capacity() - out.len()).min(guess);
            let start = out.len();
            out.resize(start + step, 0);
            let (in_before, out_before) = (stream.total_in(), stream.total_out());
            let status = stream.decompress(input, &mut out[start..], InflateFlush::NoFlush);
            let consumed = delta(stream.total_in(), in_before);
            let written = delta(stream.total_out(), out_before).min(step);
            out.truncate(start + written);
            self.produced = self.produced.saturating_add(written);
            if self.produced > limit {
                // The extra byte that told is not kept.
                out.truncate(out.len() - (self.produced - limit).min(written));
                return Err(InflateError::TooBig);
            }
            match status {
                Ok(Status::StreamEnd) => self.ended = true,
                Ok(Status::Ok | Status::BufError) => {}
                Err(_) => return Err(InflateError::Corrupt),
            }
            input = &input[consumed.min(input.len())..];
            if input.is_empty() && written < step {
                // All taken in, and nothing more pending (the output had room).
                break;
            }
            if consumed == 0 && written == 0 && !self.ended {
                return Err(InflateError::Corrupt);
            }
        }
        Ok(())
    }
}

/// Compresses messages (server -> client), one whole message a call.
pub(crate) struct Deflater {
    stream: Deflate,
    /// `server_no_context_takeover`: reset after every message.
    reset_each_message: bool,
}

impl Deflater {
    /// A compressor for these parameters (allocates its zlib stream: create it on
    /// the first message to compress).
    pub(crate) fn new(p: &DeflateParams) -> Deflater {
        let config = ZConfig {
            level: i32::from(LEVEL),
            method: Method::Deflated,
            window_bits: -i32::from(compressor_window_bits(p)),
            mem_level: i32::from(MEM_LEVEL),
            strategy: Strategy::Default,
        };
        Deflater {
            stream: Deflate::new_with_config(config),
            reset_each_message: p.server_no_context_takeover,
        }
    }

    /// Appends the compressed message (sync flush, the 00 00 FF FF tail removed;
    /// context reset after when server_no_context_takeover).
    pub(crate) fn deflate(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        if !self.compress(payload, out) {
            // Cannot happen with a stream built from valid parameters; should it,
            // the message still goes out valid: stored (uncompressed) blocks, and
            // a fresh stream, which refers to nothing from before.
            out.truncate(start);
            stored_blocks(payload, out);
            self.stream.reset();
            return;
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        } else if out.len() == start {
            // An empty message right after a flush: zlib-rs writes nothing (C zlib
            // writes an empty stored block). The receiver appends 00 00 FF FF, so
            // the message must bring the stored block's header: one 00 byte (RFC
            // 7692 7.2.3.6).
            out.push(0x00);
        }
        if self.reset_each_message {
            self.stream.reset();
        }
    }

    /// Compresses `payload` with a sync flush into `out`; false if zlib failed.
    fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> bool {
        // Enough for the whole message in one call, almost always (a sync flush
        // adds a few bytes, stored blocks 5 per 64 KiB); then pending output.
        let mut step = input.len() + input.len() / 8 + 64;
        loop {
            let start = out.len();
            out.resize(start + step, 0);
            let (in_before, out_before) = (self.stream.total_in(), self.stream.total_out());
            let status = self
                .stream
                .compress(input, &mut out[start..], DeflateFlush::SyncFlush);
            let consumed = delta(self.stream.total_in(), in_before);
            let written = delta(self.stream.total_out(), out_before).min(step);
            out.truncate(start + written);
            if status.is_err() {
                return false;
            }
            input = &input[consumed.min(input.len())..];
            // A flush is complete when the output was not filled.
            if input.is_empty() && written < step {
                return true;
            }
            if consumed == 0 && written == 0 {
                return false;
            }
            step = FIRST_STEP;
        }
    }
}

/// `payload` as stored deflate blocks (BFINAL 0), at most 65,535 bytes each.
fn stored_blocks(payload: &[u8], out: &mut Vec<u8>) {
    for chunk in payload.chunks(usize::from(u16::MAX)) {
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// zlib-rs' deflate state beyond its buffers (the state struct and alignment
/// padding), as measured.
// Read by the docs' memory figures and their test.
#[cfg_attr(not(test), allow(dead_code))]
const DEFLATE_STATE_BYTES: usize = 3200;
/// zlib-rs' fixed hash table: 65,536 two-byte heads.
// Read by the docs' memory figures and their test.
#[cfg_attr(not(test), allow(dead_code))]
const DEFLATE_HASH_BYTES: usize = 65536 * 2;
/// zlib-rs' inflate allocation, whatever the window: 32 KiB window, padding,
/// state and decoding tables, as measured.
// Read by the docs' memory figures and their test.
#[cfg_attr(not(test), allow(dead_code))]
const INFLATE_BYTES: usize = 47552;

/// Bytes of memory a [`Deflater`] and an [`Inflater`] hold for these params (their
/// zlib-rs allocations plus the structs themselves; see the module doc).
// Read by the docs' memory figures and their test.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn memory_bound(p: &DeflateParams) -> (usize, usize) {
    let w = usize::from(compressor_window_bits(p));
    let deflate = (4usize << w)
        + DEFLATE_HASH_BYTES
        + (7usize << (usize::from(MEM_LEVEL) + 6))
        + DEFLATE_STATE_BYTES
        + std::mem::size_of::<Deflater>();
    let inflate = INFLATE_BYTES + std::mem::size_of::<Inflater>();
    (deflate, inflate)
}
