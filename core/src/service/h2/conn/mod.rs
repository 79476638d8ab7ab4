//! The server side of an HTTP/2 connection (RFC 9113), sans-io like
//! [`crate::service::ws`]'s endpoint: fed the bytes received
//! ([`Connection::on_input`]), it appends what it sends to an output `Vec`,
//! queues what it learnt as [`Event`]s (a whole request, a reset), and never
//! does I/O; [`Connection::respond`] queues a response and
//! [`Connection::goaway`] stops it.
//!
//! What it does, in the order it was built (tests in `tests.rs`, named after
//! the h2spec cases they match where there is one):
//!
//! 1. The preface: the client's 24 bytes then its SETTINGS (anything else first
//!    is a PROTOCOL_ERROR); ours sent first ([`Config::advertised`]: the HPACK
//!    table at 4,096, max concurrent streams, initial window, max frame size, max
//!    header list size), then a WINDOW_UPDATE raising the connection window.
//!    The peer's SETTINGS applied ([`PeerSettings`]) and ACKed, PING answered,
//!    GOAWAY received (no new streams, close once the active ones are done),
//!    unknown frames ignored; every connection error answered by GOAWAY (the
//!    last stream processed, the code) and [`Step::Close`].
//! 2. Requests: HEADERS and its CONTINUATIONs joined (nothing else may come
//!    between them), decoded by HPACK into a [`RequestHead`] checked by the
//!    rules of RFC 9113 sections 8.2 and 8.3 (a malformed request is reset with
//!    PROTOCOL_ERROR), stream identifiers odd and increasing, the stream states
//!    of `stream` with the errors h2spec 5.1 expects, DATA gathered per stream
//!    (checked against content-length), trailers, and at END_STREAM
//!    [`Event::Request`].
//! 3. Flow control (`flow`): receive windows given back with WINDOW_UPDATE as
//!    DATA is taken in, send windows from the peer's SETTINGS and its
//!    WINDOW_UPDATEs (past 2^31-1: FLOW_CONTROL_ERROR); responses sent as DATA
//!    split by the peer's max frame size and both windows, the rest when they
//!    open.
//! 4. The protections of `limits`, each bounded and counted ([`Counters`]).
//! 5. [`Connection::goaway`]: a graceful stop lets the active streams finish.
//!
//! Server push and priorities are not done (PRIORITY is parsed and ignored, as
//! RFC 9113 allows); nothing here is wired into the engine or the HTTP
//! service yet.

// Not wired into the engine or the HTTP service yet (a later step of issue 25):
// only the tests use it for now, as with `Next::Switched` in `service`.
#![cfg_attr(not(test), allow(dead_code))]

mod flow;
mod head;
mod limits;
mod settings;
mod stream;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use super::frame::{
    decode_at_server, decode_preface, encode_data, encode_goaway, encode_headers, encode_ping,
    encode_rst_stream, encode_settings, encode_settings_ack, encode_window_update, Data, ErrorCode,
    Frame, GoAway, Headers, RstStream, Scope, Setting, Settings, WindowUpdate,
    DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, MAX_FRAME_SIZE_LIMIT, MAX_WINDOW, PREFACE,
};
use super::hpack::{Decoder, Encoder, Indexing, DEFAULT_TABLE_SIZE};
use flow::{RecvWindow, SendWindow};
pub(crate) use head::{FieldPair, RequestHead};
use head::{HeadBuilder, Malformed};
pub(crate) use limits::Counters;
use limits::Flood;
pub(crate) use settings::{Config, PeerSettings};
use stream::{Closed, Outgoing, State, Stream, CLOSED_REMEMBERED};

/// What the connection learnt, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A whole request: answer it with [`Connection::respond`].
    Request {
        /// Its stream.
        stream_id: u32,
        /// Its head.
        head: RequestHead,
        /// Its body.
        body: Vec<u8>,
        /// Its trailers (usually none).
        trailers: Vec<FieldPair>,
    },
    /// The client reset a stream (a request pending an answer is dropped).
    Reset {
        /// The stream.
        stream_id: u32,
        /// The code it gave.
        code: ErrorCode,
    },
    /// The client sent GOAWAY.
    GoAway {
        /// The last stream it says it processed (of ours: always 0 for a server
        /// that does not push).
        last_stream_id: u32,
        /// Why.
        code: ErrorCode,
    },
}

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep reading.
    Continue,
    /// Flush the output, then close: a connection error was answered with
    /// GOAWAY, or a GOAWAY (ours or the peer's) left no stream active.
    Close,
}

/// Where the connection is in its preface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preface {
    /// Waiting for the client's 24 bytes.
    Magic,
    /// Waiting for the client's first SETTINGS.
    Settings,
    /// Past it.
    Done,
}

/// A header block being joined: HEADERS without END_HEADERS, then CONTINUATIONs.
#[derive(Debug)]
struct PendingBlock {
    stream_id: u32,
    end_stream: bool,
    /// The HEADERS depended on its own stream (a stream error after decoding).
    self_dependent: bool,
    block: Vec<u8>,
    continuations: u32,
}

/// A connection error: the code for GOAWAY.
type ConnResult = Result<(), ErrorCode>;

/// The server side of one HTTP/2 connection. See the [module](self).
#[derive(Debug)]
pub(crate) struct Connection {
    config: Config,
    peer: PeerSettings,
    preface: Preface,
    decoder: Decoder,
    encoder: Encoder,
    streams: BTreeMap<u32, Stream>,
    /// The last few streams closed, and how.
    closed: VecDeque<(u32, Closed)>,
    /// The last stream processed: the highest the client opened before our
    /// GOAWAY, if any.
    last_stream_id: u32,
    /// The highest stream identifier the client opened (streams above our
    /// GOAWAY's included: they are ignored, but no longer idle).
    highest_stream_id: u32,
    conn_recv: RecvWindow,
    conn_send: SendWindow,
    pending: Option<PendingBlock>,
    /// The client acknowledged our SETTINGS.
    acked: bool,
    /// The last stream our GOAWAY said we would process.
    goaway_sent: Option<u32>,
    goaway_received: bool,
    /// A connection error ended it.
    failed: bool,
    events: VecDeque<Event>,
    counters: Counters,
    resets: Flood,
    settings_flood: Flood,
    ping_flood: Flood,
    empty_data_flood: Flood,
}

impl Connection {
    /// A connection with `config`; appends our SETTINGS (and a WINDOW_UPDATE
    /// raising the connection window) to `out`: a server sends them first.
    /// Values out of their RFC bounds are brought within them (windows at most
    /// 2^31-1, the max frame size within 16384..=16777215).
    pub(crate) fn new(mut config: Config, out: &mut Vec<u8>) -> Connection {
        config.initial_window = config.initial_window.min(MAX_WINDOW);
        config.connection_window = config.connection_window.min(MAX_WINDOW);
        config.max_frame_size = config
            .max_frame_size
            .clamp(DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT);
        encode_settings(&config.advertised(), out);
        let window = config.connection_window;
        if window > DEFAULT_WINDOW {
            encode_window_update(0, window - DEFAULT_WINDOW, out);
        }
        let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
        decoder.set_max_header_list_size(config.max_header_list_size as usize);
        Connection {
            conn_recv: RecvWindow::new(window, window.max(DEFAULT_WINDOW)),
            config,
            peer: PeerSettings::default(),
            preface: Preface::Magic,
            decoder,
            encoder: Encoder::new(DEFAULT_TABLE_SIZE),
            streams: BTreeMap::new(),
            closed: VecDeque::new(),
            last_stream_id: 0,
            highest_stream_id: 0,
            conn_send: SendWindow::new(DEFAULT_WINDOW),
            pending: None,
            acked: false,
            goaway_sent: None,
            goaway_received: false,
            failed: false,
            events: VecDeque::new(),
            counters: Counters::default(),
            resets: Flood::default(),
            settings_flood: Flood::default(),
            ping_flood: Flood::default(),
            empty_data_flood: Flood::default(),
        }
    }

    /// Takes in the bytes received so far: returns how many it consumed (the
    /// rest, an incomplete frame, is to be given again with what follows) and
    /// what to do next. What it answers is appended to `out`, what it learnt
    /// queued for [`Connection::next_event`].
    pub(crate) fn on_input(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, Step) {
        if self.failed {
            return (input.len(), Step::Close);
        }
        let mut pos = 0;
        if self.preface == Preface::Magic {
            match decode_preface(input) {
                Ok(true) => {
                    pos = PREFACE.len();
                    self.preface = Preface::Settings;
                }
                Ok(false) => return (0, Step::Continue),
                Err(e) => return (input.len(), self.fail(e.code(), out)),
            }
        }
        loop {
            let result = match decode_at_server(&input[pos..], self.config.max_frame_size) {
                Ok(None) => break,
                Ok(Some((frame, used))) => {
                    pos += used;
                    self.on_frame(frame, out)
                }
                Err(e) => match e.scope {
                    Scope::Connection => Err(e.code()),
                    Scope::Stream {
                        stream_id,
                        frame_len,
                    } => {
                        pos += frame_len;
                        if self.pending.is_some() || self.preface != Preface::Done {
                            Err(ErrorCode::ProtocolError)
                        } else {
                            self.reset(stream_id, e.code(), out)
                        }
                    }
                },
            };
            if let Err(code) = result {
                return (input.len(), self.fail(code, out));
            }
        }
        (pos, self.step())
    }

    /// The next event, oldest first.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What to do next when no input came: [`Step::Close`] once a connection
    /// error was sent, or a GOAWAY left no stream active.
    pub(crate) fn step(&self) -> Step {
        let stopping = self.goaway_sent.is_some() || self.goaway_received;
        if self.failed || (stopping && self.streams.is_empty() && self.pending.is_none()) {
            Step::Close
        } else {
            Step::Continue
        }
    }

    /// What the connection saw and did.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// What the peer's SETTINGS said.
    pub(crate) fn peer_settings(&self) -> &PeerSettings {
        &self.peer
    }

    /// Answers the request on `stream_id` (its [`Event::Request`] was taken):
    /// HEADERS with `status` and `headers` (HPACK-encoded, split by the peer's
    /// max frame size), then `body` as DATA as far as the windows allow (the
    /// rest as they open), then `trailers`. `false` if the stream is not
    /// waiting for a response (reset by the client, or answered already), or
    /// the connection failed (its GOAWAY is the last thing it sends).
    pub(crate) fn respond(
        &mut self,
        stream_id: u32,
        status: u16,
        headers: &[(&[u8], &[u8])],
        body: Vec<u8>,
        trailers: Vec<FieldPair>,
        out: &mut Vec<u8>,
    ) -> bool {
        if self.failed {
            // Found by fuzzing (fuzz_targets/h2_conn.rs): a request taken in the
            // same read that then failed the connection was answered after the
            // GOAWAY.
            return false;
        }
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return false;
        };
        if stream.state != State::HalfClosedRemote || stream.response.is_some() {
            return false;
        }
        let mut block = Vec::new();
        let status = status.to_string();
        {
            let mut b = self.encoder.block(&mut block);
            b.field(b":status", status.as_bytes(), Indexing::Add);
            for (name, value) in headers {
                b.field(name, value, Indexing::Add);
            }
        }
        let end = body.is_empty() && trailers.is_empty();
        encode_headers(stream_id, &block, end, self.peer.max_frame_size, out);
        stream.response = Some(Outgoing {
            body,
            sent: 0,
            trailers,
        });
        self.send_stream(stream_id, out);
        true
    }

    /// Stops the connection with GOAWAY (NO_ERROR) naming the last stream
    /// processed: streams above it are ignored. `graceful`: the active ones may
    /// finish ([`Connection::step`] says [`Step::Close`] once they did);
    /// otherwise close at once.
    pub(crate) fn goaway(&mut self, graceful: bool, out: &mut Vec<u8>) -> Step {
        if self.failed {
            return Step::Close;
        }
        if self.goaway_sent.is_none() {
            encode_goaway(self.last_stream_id, ErrorCode::NoError, b"", out);
            self.goaway_sent = Some(self.last_stream_id);
        }
        if !graceful {
            self.failed = true;
        }
        self.step()
    }

    /// A connection error: GOAWAY with the last stream processed and `code`.
    fn fail(&mut self, code: ErrorCode, out: &mut Vec<u8>) -> Step {
        if code == ErrorCode::EnhanceYourCalm {
            self.counters.calm += 1;
        }
        encode_goaway(self.last_stream_id, code, b"", out);
        self.failed = true;
        self.pending = None;
        Step::Close
    }

    /// A stream error: RST_STREAM with `code`; the stream is closed. Counted
    /// with the client's resets (rapid reset).
    fn reset(&mut self, stream_id: u32, code: ErrorCode, out: &mut Vec<u8>) -> ConnResult {
        encode_rst_stream(stream_id, code, out);
        self.counters.resets_sent += 1;
        // A stream already closed keeps how it was (frames on it are answered
        // the same way again).
        if self.streams.contains_key(&stream_id) || self.closed_as(stream_id).is_none() {
            self.close(stream_id, Closed::ResetByUs);
        }
        if self.resets.suspect(self.config.limits.rapid_reset) {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        Ok(())
    }

    /// The stream leaves the map (if there), remembered as `how`.
    fn close(&mut self, stream_id: u32, how: Closed) {
        self.streams.remove(&stream_id);
        if self.closed.len() == CLOSED_REMEMBERED {
            self.closed.pop_front();
        }
        self.closed.push_back((stream_id, how));
    }

    /// How a closed stream was closed, if remembered.
    fn closed_as(&self, stream_id: u32) -> Option<Closed> {
        self.closed
            .iter()
            .rev()
            .find(|(id, _)| *id == stream_id)
            .map(|&(_, how)| how)
    }

    /// A stream above the last one our GOAWAY named: its frames are ignored
    /// (RFC 9113 section 6.8).
    fn above_goaway(&self, id: u32) -> bool {
        self.goaway_sent.is_some_and(|last| id > last)
    }

    /// Real work done: the flood windows move on.
    fn work(&mut self) {
        let l = self.config.limits;
        self.settings_flood.work(l.settings);
        self.ping_flood.work(l.ping);
        self.empty_data_flood.work(l.empty_data);
    }

    fn on_frame(&mut self, frame: Frame<'_>, out: &mut Vec<u8>) -> ConnResult {
        if self.preface == Preface::Settings {
            match frame {
                Frame::Settings(s) if !s.ack => self.preface = Preface::Done,
                // RFC 9113 section 3.4: the preface ends with a SETTINGS frame.
                _ => return Err(ErrorCode::ProtocolError),
            }
        }
        if let Some(p) = &self.pending {
            match frame {
                Frame::Continuation(c) if c.stream_id == p.stream_id => {}
                // Section 6.10: nothing else between HEADERS and its CONTINUATIONs.
                _ => return Err(ErrorCode::ProtocolError),
            }
        }
        match frame {
            Frame::Data(d) => self.on_data(d, out),
            Frame::Headers(h) => self.on_headers(h, out),
            Frame::Continuation(c) => {
                self.counters.continuations += 1;
                let limits = self.config.limits;
                // Section 6.10: a CONTINUATION must follow a HEADERS without END_HEADERS.
                let p = self.pending.as_mut().ok_or(ErrorCode::ProtocolError)?;
                p.continuations += 1;
                p.block.extend_from_slice(c.fragment);
                if p.continuations > limits.max_continuations
                    || p.block.len() > limits.max_header_block
                {
                    return Err(ErrorCode::EnhanceYourCalm);
                }
                if c.end_headers {
                    let p = self.pending.take().ok_or(ErrorCode::InternalError)?;
                    self.on_block(&p.block, p.stream_id, p.end_stream, p.self_dependent, out)?;
                }
                Ok(())
            }
            // Deprecated; its one error (depending on itself) the frame layer reported.
            Frame::Priority(_) => Ok(()),
            Frame::RstStream(r) => self.on_rst_stream(r),
            Frame::Settings(s) => self.on_settings(s, out),
            Frame::Ping(p) => {
                if !p.ack {
                    self.counters.pings += 1;
                    if self.ping_flood.suspect(self.config.limits.ping) {
                        return Err(ErrorCode::EnhanceYourCalm);
                    }
                    encode_ping(p.data, true, out);
                }
                Ok(())
            }
            Frame::GoAway(g) => {
                self.on_goaway(g);
                Ok(())
            }
            Frame::WindowUpdate(w) => self.on_window_update(w, out),
            // decode_at_server refuses it; a client cannot push.
            Frame::PushPromise(_) => Err(ErrorCode::ProtocolError),
            // Section 5.5: unknown types are ignored.
            Frame::Unknown(_) => Ok(()),
        }
    }

    fn on_settings(&mut self, s: Settings<'_>, out: &mut Vec<u8>) -> ConnResult {
        if s.ack {
            self.acked = true;
            return Ok(());
        }
        self.counters.settings += 1;
        if self.settings_flood.suspect(self.config.limits.settings) {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        for setting in s.iter() {
            if let Setting::InitialWindowSize(v) = setting {
                // Section 6.9.2: every stream's send window moves by the difference.
                let delta = i64::from(v) - i64::from(self.peer.initial_window);
                for stream in self.streams.values_mut() {
                    stream
                        .send
                        .adjust(delta)
                        .map_err(|_| ErrorCode::FlowControlError)?;
                }
            }
            if let Setting::HeaderTableSize(v) = setting {
                self.encoder.set_max_table_size(v as usize);
            }
            self.peer.apply(setting);
        }
        encode_settings_ack(out);
        self.send_all(out);
        Ok(())
    }

    fn on_goaway(&mut self, g: GoAway<'_>) {
        self.goaway_received = true;
        self.events.push_back(Event::GoAway {
            last_stream_id: g.last_stream_id,
            code: g.code,
        });
    }

    fn on_rst_stream(&mut self, r: RstStream) -> ConnResult {
        if r.stream_id > self.highest_stream_id {
            // Section 5.1: RST_STREAM on an idle stream.
            return Err(ErrorCode::ProtocolError);
        }
        if self.streams.contains_key(&r.stream_id) {
            self.counters.resets_received += 1;
            self.close(r.stream_id, Closed::ResetByPeer);
            self.events.push_back(Event::Reset {
                stream_id: r.stream_id,
                code: r.code,
            });
            if self.resets.suspect(self.config.limits.rapid_reset) {
                return Err(ErrorCode::EnhanceYourCalm);
            }
        }
        Ok(())
    }

    fn on_window_update(&mut self, w: WindowUpdate, out: &mut Vec<u8>) -> ConnResult {
        let inc = i64::from(w.increment);
        if w.stream_id == 0 {
            self.conn_send
                .adjust(inc)
                .map_err(|_| ErrorCode::FlowControlError)?;
            self.send_all(out);
            return Ok(());
        }
        if w.stream_id > self.highest_stream_id {
            // Section 5.1: WINDOW_UPDATE on an idle stream.
            return Err(ErrorCode::ProtocolError);
        }
        let Some(stream) = self.streams.get_mut(&w.stream_id) else {
            // A closed stream: frames in flight are fine.
            return Ok(());
        };
        if stream.send.adjust(inc).is_err() {
            return self.reset(w.stream_id, ErrorCode::FlowControlError, out);
        }
        self.send_stream(w.stream_id, out);
        Ok(())
    }

    fn on_data(&mut self, d: Data<'_>, out: &mut Vec<u8>) -> ConnResult {
        let id = d.stream_id;
        if d.data.is_empty() && !d.end_stream {
            self.counters.empty_data += 1;
            if self.empty_data_flood.suspect(self.config.limits.empty_data) {
                return Err(ErrorCode::EnhanceYourCalm);
            }
        } else {
            self.work();
        }
        if id > self.highest_stream_id {
            // Section 5.1: DATA on an idle stream.
            return Err(ErrorCode::ProtocolError);
        }
        let len = d.flow_len();
        if !self.conn_recv.receive(len) {
            return Err(ErrorCode::FlowControlError);
        }
        // Taken in at once (gathered into the body, or dropped): given back.
        if let Some(inc) = self.conn_recv.release(len) {
            encode_window_update(0, inc, out);
        }
        let max_body = self.config.limits.max_body;
        if self.above_goaway(id) {
            return Ok(());
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return match self.closed_as(id) {
                Some(Closed::ResetByUs) => Ok(()),
                Some(Closed::ResetByPeer) => self.reset(id, ErrorCode::StreamClosed, out),
                _ => Err(ErrorCode::StreamClosed),
            };
        };
        if stream.state == State::HalfClosedRemote {
            return self.reset(id, ErrorCode::StreamClosed, out);
        }
        if !stream.recv.receive(len) {
            return self.reset(id, ErrorCode::FlowControlError, out);
        }
        stream.body.extend_from_slice(d.data);
        if stream.body.len() > max_body {
            return self.reset(id, ErrorCode::EnhanceYourCalm, out);
        }
        let received = stream.body.len() as u64;
        let declared = stream.head.content_length;
        if declared.is_some_and(|n| received > n || (d.end_stream && received != n)) {
            // Section 8.1.1: content-length must match the DATA.
            return self.reset(id, ErrorCode::ProtocolError, out);
        }
        if d.end_stream {
            self.complete(id);
        } else if let Some(inc) = stream.recv.release(len) {
            encode_window_update(id, inc, out);
        }
        Ok(())
    }

    fn on_headers(&mut self, h: Headers<'_>, out: &mut Vec<u8>) -> ConnResult {
        self.work();
        let self_dependent = h.stream_error().is_some();
        if h.end_headers {
            return self.on_block(h.fragment, h.stream_id, h.end_stream, self_dependent, out);
        }
        if h.fragment.len() > self.config.limits.max_header_block {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        self.pending = Some(PendingBlock {
            stream_id: h.stream_id,
            end_stream: h.end_stream,
            self_dependent,
            block: h.fragment.to_vec(),
            continuations: 0,
        });
        Ok(())
    }

    /// A whole header block on `id`: a new request, trailers, or an error.
    fn on_block(
        &mut self,
        block: &[u8],
        id: u32,
        end_stream: bool,
        self_dependent: bool,
        out: &mut Vec<u8>,
    ) -> ConnResult {
        let trailers = self.streams.contains_key(&id);
        let mut builder = if trailers {
            HeadBuilder::trailers()
        } else {
            HeadBuilder::request()
        };
        // Always decoded, whatever becomes of the stream: HPACK's table is shared.
        self.decoder
            .decode(block, |f| builder.field(f.name, f.value))
            .map_err(|_| ErrorCode::CompressionError)?;
        if trailers {
            return self.on_trailers(id, end_stream, builder.finish(), out);
        }
        if self.above_goaway(id) && id <= self.highest_stream_id {
            return Ok(());
        }
        if id <= self.highest_stream_id {
            return match self.closed_as(id) {
                Some(Closed::ResetByUs) => Ok(()),
                Some(Closed::ResetByPeer) => self.reset(id, ErrorCode::StreamClosed, out),
                Some(Closed::Finished) => Err(ErrorCode::StreamClosed),
                // Section 5.1.1: identifiers only increase.
                None => Err(ErrorCode::ProtocolError),
            };
        }
        if id & 1 == 0 {
            // Section 5.1.1: a client's streams are odd.
            return Err(ErrorCode::ProtocolError);
        }
        self.highest_stream_id = id;
        if self.above_goaway(id) {
            return Ok(());
        }
        self.last_stream_id = id;
        self.counters.streams_opened += 1;
        if self_dependent {
            return self.reset(id, ErrorCode::ProtocolError, out);
        }
        if self.goaway_received || self.streams.len() >= self.config.max_concurrent_streams as usize
        {
            self.counters.refused += 1;
            return self.reset(id, ErrorCode::RefusedStream, out);
        }
        let Ok(head) = builder.finish() else {
            return self.reset(id, ErrorCode::ProtocolError, out);
        };
        if end_stream && head.content_length.is_some_and(|n| n != 0) {
            return self.reset(id, ErrorCode::ProtocolError, out);
        }
        let initial = self.config.initial_window;
        // Until the client ACKs our SETTINGS it may assume the default window.
        let available = if self.acked {
            initial
        } else {
            initial.max(DEFAULT_WINDOW)
        };
        let recv = RecvWindow::new(initial, available);
        let send = SendWindow::new(self.peer.initial_window);
        self.streams.insert(id, Stream::new(head, recv, send));
        if end_stream {
            self.complete(id);
        }
        Ok(())
    }

    /// A header block on an active stream: trailers if it is open and the
    /// block ends the stream.
    fn on_trailers(
        &mut self,
        id: u32,
        end_stream: bool,
        fields: Result<RequestHead, Malformed>,
        out: &mut Vec<u8>,
    ) -> ConnResult {
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if stream.state == State::HalfClosedRemote {
            // Section 5.1: half-closed (remote) takes no more HEADERS.
            return self.reset(id, ErrorCode::StreamClosed, out);
        }
        let content_ok = stream
            .head
            .content_length
            .is_none_or(|n| n == stream.body.len() as u64);
        match fields {
            // Section 8.1: trailers end the stream.
            Ok(t) if end_stream && content_ok => {
                stream.trailers = t.fields;
                self.complete(id);
                Ok(())
            }
            _ => self.reset(id, ErrorCode::ProtocolError, out),
        }
    }

    /// The request on `id` is whole: half-closed (remote), and its event.
    fn complete(&mut self, id: u32) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        stream.state = State::HalfClosedRemote;
        self.counters.requests += 1;
        self.events.push_back(Event::Request {
            stream_id: id,
            head: std::mem::take(&mut stream.head),
            body: std::mem::take(&mut stream.body),
            trailers: std::mem::take(&mut stream.trailers),
        });
    }

    /// Sends what the windows allow on every stream with a response pending.
    fn send_all(&mut self, out: &mut Vec<u8>) {
        let ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| s.response.is_some())
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.send_stream(id, out);
        }
    }

    /// Sends what the windows allow of the response on `id`; the trailers and
    /// the stream's end once the body is out.
    fn send_stream(&mut self, id: u32, out: &mut Vec<u8>) {
        let max_frame = self.peer.max_frame_size as usize;
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let Some(r) = stream.response.as_mut() else {
            return;
        };
        loop {
            let left = r.body.len() - r.sent;
            let n = left
                .min(max_frame)
                .min(self.conn_send.available())
                .min(stream.send.available());
            if n == 0 {
                break;
            }
            let last = n == left && r.trailers.is_empty();
            encode_data(id, &r.body[r.sent..r.sent + n], last, out);
            r.sent += n;
            self.conn_send.consume(n);
            stream.send.consume(n);
        }
        if r.sent < r.body.len() {
            return;
        }
        if !r.trailers.is_empty() {
            let mut block = Vec::new();
            let mut b = self.encoder.block(&mut block);
            for (name, value) in &r.trailers {
                b.field(name, value, Indexing::Skip);
            }
            encode_headers(id, &block, true, self.peer.max_frame_size, out);
        }
        self.counters.responses += 1;
        self.resets.work(self.config.limits.rapid_reset);
        self.close(id, Closed::Finished);
    }
}
