//! A frame published by the host program (`Server::publish`): sent to every
//! worker that has members of the room through its inbox, and waited for until
//! each has queued it, so that the report counts every member; with a backplane,
//! also handed to it once for the members on other servers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::registry::{Delivery, Incoming, Tally};
use crate::backplane::{BackplaneState, Outgoing};
use crate::config::Protocol;
use crate::frame::{data_frame, MAX_ROOM_BYTES};
use mio::Waker;

use super::registry::Registry;
use crate::config::Config;

/// How long `publish` waits for the workers to have queued the frame (they do it
/// within a loop turn; the bound only matters when a stop races with it).
const PUBLISH_WAIT: Duration = Duration::from_secs(2);

/// What a host publish ([`Server::publish`](crate::Server::publish)) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublishReport {
    /// Members the frame was queued for. (Should a member be disconnected as a
    /// slow consumer before it is sent, `Stats::frames_dropped` counts it then;
    /// `Stats::deliveries` counts each once it is sent whole.)
    pub delivered: u64,
    /// Frames dropped for it: members over their output limit with the
    /// `drop_newest` policy (or `drop_oldest` with nothing older to drop), plus
    /// older frames `drop_oldest` dropped to make room.
    pub dropped: u64,
    /// Members disconnected as slow consumers (`disconnect` policy).
    pub disconnected: u64,
    /// Handed to the backplane for the members on other servers (false without
    /// one, and while the broker is down: then it counts as unpublished).
    pub forwarded: bool,
}

/// Why a host publish was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The server has no rooms: it speaks neither the frame protocol nor
    /// WebSocket, nor HTTP (whose WebSocket routes may be rooms).
    #[error("publish needs rooms (the frame protocol, ws, or http's WebSocket room routes); this server speaks {0}")]
    NotFrameProtocol(Protocol),
    /// The payload is longer than `max_frame_bytes`.
    #[error("payload of {len} bytes is over max_frame_bytes ({max})")]
    TooLong {
        /// The payload length.
        len: usize,
        /// `max_frame_bytes`.
        max: usize,
    },
    /// The room name is empty or longer than 64 bytes.
    #[error("room name must be 1 to 64 bytes, got {0}")]
    BadRoom(usize),
    /// The server is stopping.
    #[error("the server is stopping")]
    Stopping,
    /// The server has stopped (or failed).
    #[error("the server is stopped")]
    Stopped,
}

/// Publishes `payload` to `room` (see `Server::publish`) through `registry` to
/// the workers that `wakers` wake (a server that is stopping refuses first).
pub(crate) fn publish(
    registry: &Registry,
    wakers: &[Waker],
    config: &Config,
    room: &str,
    payload: &[u8],
) -> Result<PublishReport, PublishError> {
    if !matches!(
        config.protocol,
        Protocol::Frame | Protocol::Ws | Protocol::Http
    ) {
        return Err(PublishError::NotFrameProtocol(config.protocol));
    }
    if payload.len() > config.max_frame_bytes {
        return Err(PublishError::TooLong {
            len: payload.len(),
            max: config.max_frame_bytes,
        });
    }
    if room.is_empty() || room.len() > MAX_ROOM_BYTES {
        return Err(PublishError::BadRoom(room.len()));
    }
    let frame = Bytes::from(data_frame(payload));
    let forwarded = match &registry.backplane {
        Some(bp) => {
            let up = bp.state() == BackplaneState::Connected;
            bp.offer(&mut vec![Outgoing {
                room: Arc::from(room),
                frame: frame.clone(),
                text: false,
            }]);
            up
        }
        None => false,
    };
    let Some(target) = registry.get(room) else {
        // No member here: nothing broadcast locally.
        return Ok(PublishReport {
            forwarded,
            ..PublishReport::default()
        });
    };
    registry.count_host_publish();
    let workers: Vec<usize> = (0..config.workers)
        .filter(|&w| target.members_on(w) > 0)
        .collect();
    let tally = Arc::new(Tally::new(workers.len()));
    for &w in &workers {
        registry.inboxes[w].push(&mut vec![Incoming::Frame(Delivery {
            room: target.name.clone(),
            frame: frame.clone(),
            text: false,
            tally: Some(tally.clone()),
        })]);
        // A failed wake means the worker has exited; it released its inbox.
        let _ = wakers[w].wake();
    }
    tally.wait(Instant::now() + PUBLISH_WAIT);
    Ok(PublishReport {
        delivered: tally.delivered.load(Ordering::Relaxed),
        dropped: tally.dropped.load(Ordering::Relaxed),
        disconnected: tally.disconnected.load(Ordering::Relaxed),
        forwarded,
    })
}
