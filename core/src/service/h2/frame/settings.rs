//! SETTINGS parameters (RFC 9113 section 6.5.2): their identifiers, the bounds
//! a receiver checks, and the parameters of a received SETTINGS frame.

use super::error::Violation;
use super::header::{DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT, MAX_WINDOW};

/// The identifiers RFC 9113 defines.
mod id {
    pub(super) const HEADER_TABLE_SIZE: u16 = 0x1;
    pub(super) const ENABLE_PUSH: u16 = 0x2;
    pub(super) const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub(super) const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub(super) const MAX_FRAME_SIZE: u16 = 0x5;
    pub(super) const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// The bytes of one parameter: a 16-bit identifier, a 32-bit value.
pub(super) const PARAM_LEN: usize = 6;

/// A SETTINGS parameter RFC 9113 defines, with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// SETTINGS_HEADER_TABLE_SIZE (0x1): the HPACK dynamic table the sender's
    /// decoder allows (initially 4096).
    HeaderTableSize(u32),
    /// SETTINGS_ENABLE_PUSH (0x2): 0 or 1 on the wire (initially 1; a server
    /// never sends it).
    EnablePush(bool),
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0x3): streams the sender allows its peer
    /// to open (initially unlimited).
    MaxConcurrentStreams(u32),
    /// SETTINGS_INITIAL_WINDOW_SIZE (0x4): every stream's initial send window
    /// for the peer (at most 2^31-1; initially 65535).
    InitialWindowSize(u32),
    /// SETTINGS_MAX_FRAME_SIZE (0x5): the largest payload the sender accepts
    /// (16384..=16777215; initially 16384).
    MaxFrameSize(u32),
    /// SETTINGS_MAX_HEADER_LIST_SIZE (0x6): advisory bound on a field section
    /// (initially unlimited).
    MaxHeaderListSize(u32),
}

impl Setting {
    /// Its identifier.
    pub fn id(&self) -> u16 {
        match self {
            Setting::HeaderTableSize(_) => id::HEADER_TABLE_SIZE,
            Setting::EnablePush(_) => id::ENABLE_PUSH,
            Setting::MaxConcurrentStreams(_) => id::MAX_CONCURRENT_STREAMS,
            Setting::InitialWindowSize(_) => id::INITIAL_WINDOW_SIZE,
            Setting::MaxFrameSize(_) => id::MAX_FRAME_SIZE,
            Setting::MaxHeaderListSize(_) => id::MAX_HEADER_LIST_SIZE,
        }
    }

    /// Its value as on the wire.
    pub fn value(&self) -> u32 {
        match *self {
            Setting::EnablePush(on) => u32::from(on),
            Setting::HeaderTableSize(v)
            | Setting::MaxConcurrentStreams(v)
            | Setting::InitialWindowSize(v)
            | Setting::MaxFrameSize(v)
            | Setting::MaxHeaderListSize(v) => v,
        }
    }

    /// The setting `id` = `value` says, `Ok(None)` for an identifier RFC 9113
    /// does not define (ignored: h2spec 6.5.2/5), or the connection error its
    /// value is: ENABLE_PUSH not 0 or 1 (PROTOCOL_ERROR, h2spec 6.5.2/1),
    /// INITIAL_WINDOW_SIZE over 2^31-1 (FLOW_CONTROL_ERROR, 6.5.2/2),
    /// MAX_FRAME_SIZE out of 16384..=16777215 (PROTOCOL_ERROR, 6.5.2/3-4).
    pub(super) fn parse(id: u16, value: u32) -> Result<Option<Setting>, Violation> {
        Ok(Some(match id {
            id::HEADER_TABLE_SIZE => Setting::HeaderTableSize(value),
            id::ENABLE_PUSH => match value {
                0 | 1 => Setting::EnablePush(value == 1),
                _ => return Err(Violation::EnablePush(value)),
            },
            id::MAX_CONCURRENT_STREAMS => Setting::MaxConcurrentStreams(value),
            id::INITIAL_WINDOW_SIZE if value > MAX_WINDOW => {
                return Err(Violation::InitialWindowSize(value))
            }
            id::INITIAL_WINDOW_SIZE => Setting::InitialWindowSize(value),
            id::MAX_FRAME_SIZE
                if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&value) =>
            {
                return Err(Violation::MaxFrameSize(value))
            }
            id::MAX_FRAME_SIZE => Setting::MaxFrameSize(value),
            id::MAX_HEADER_LIST_SIZE => Setting::MaxHeaderListSize(value),
            _ => return Ok(None),
        }))
    }
}

/// The identifier and value of each 6-byte parameter of `params` (a multiple of 6).
fn pairs(params: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    params.chunks_exact(PARAM_LEN).map(|p| {
        (
            u16::from_be_bytes([p[0], p[1]]),
            u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
        )
    })
}

/// SETTINGS (RFC 9113 section 6.5), on stream 0. Made only by decoding, so its
/// parameters are within their bounds; to send one, [`super::encode_settings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings<'a> {
    /// ACK: the acknowledgement of the peer's SETTINGS (then no parameters).
    pub ack: bool,
    /// The parameters as received (6 bytes each; unknown ones included).
    params: &'a [u8],
}

impl<'a> Settings<'a> {
    /// Checks every parameter of `params` (a multiple of 6 bytes long).
    pub(super) fn parse(ack: bool, params: &'a [u8]) -> Result<Settings<'a>, Violation> {
        for (id, value) in pairs(params) {
            Setting::parse(id, value)?;
        }
        Ok(Settings { ack, params })
    }

    /// The parameters RFC 9113 defines, in the order received (a later value of
    /// the same parameter replaces an earlier one: apply them in this order);
    /// unknown identifiers are skipped.
    pub fn iter(&self) -> impl Iterator<Item = Setting> + 'a {
        pairs(self.params).filter_map(|(id, value)| Setting::parse(id, value).ok().flatten())
    }

    /// The parameter bytes as received (for re-encoding the frame as it came).
    pub(super) fn raw(&self) -> &'a [u8] {
        self.params
    }
}
