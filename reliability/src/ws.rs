//! WebSocket clients for the suite, written from raw bytes: the opening
//! handshake (with or without permessage-deflate), masked frames sent whole or in
//! pieces, server frames read and checked, close codes, and raw deflate (RFC 7692:
//! the sync flush's `00 00 FF FF` tail removed) both ways, for compressed messages
//! and the compression bomb.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pierhead::websocket::{self, opcode};
use zlib_rs::{
    Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush, Method, Status, Strategy,
};

use crate::{connect, next_nonce};

/// RSV1 in a frame's first byte: the message is compressed (permessage-deflate).
const RSV1: u8 = 0x40;
/// The empty stored block a sync flush ends with (RFC 7692 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Raw deflate's window (negative: no zlib header).
const RAW_WINDOW: i32 = -15;

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The last frame of its message.
    pub fin: bool,
    /// Compressed (permessage-deflate).
    pub rsv1: bool,
    /// Its opcode ([`opcode`]).
    pub opcode: u8,
    /// Its payload (server frames are not masked).
    pub payload: Vec<u8>,
}

impl Frame {
    /// The code of a close frame: `None` for another frame, a close without one,
    /// or a close the RFC does not allow on the wire (a code such as 1006, a
    /// reason that is not UTF-8), by the same parser the server uses.
    pub fn close_code(&self) -> Option<u16> {
        if self.opcode != opcode::CLOSE {
            return None;
        }
        websocket::parse_close(&self.payload)
            .ok()
            .flatten()
            .map(|(code, _)| code)
    }
}

/// A base64 `Sec-WebSocket-Key` (16 bytes, from `nonce`).
pub fn key_of(nonce: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&nonce.to_le_bytes());
    bytes[8..].copy_from_slice(&(!nonce).to_le_bytes());
    STANDARD.encode(bytes)
}

/// The opening handshake's request for `path`, offering permessage-deflate
/// when `deflate`.
pub fn handshake_request(path: &str, key: &str, deflate: bool) -> Vec<u8> {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: reliability\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if deflate {
        req.push_str("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// A client frame: masked with a key from `nonce`, RSV1 set when `compressed`.
pub fn masked(fin: bool, op: u8, payload: &[u8], compressed: bool, nonce: u64) -> Vec<u8> {
    let mut f = Vec::new();
    let k = nonce.to_le_bytes();
    websocket::encode_masked(fin, op, payload, [k[0], k[1], k[2], k[3]], &mut f);
    if compressed {
        f[0] |= RSV1;
    }
    f
}

/// A WebSocket client connection past its handshake.
pub struct WsClient {
    /// The TCP stream (timeouts of [`connect`]).
    pub stream: TcpStream,
    /// Bytes read past what was decoded.
    buf: Vec<u8>,
    /// permessage-deflate was agreed.
    pub deflate: bool,
}

impl WsClient {
    /// Connects to `addr` and completes the handshake for `path`.
    pub fn connect(addr: SocketAddr, path: &str, deflate: bool) -> io::Result<WsClient> {
        WsClient::handshake(connect(addr)?, path, deflate)
    }

    /// Completes the handshake for `path` over `stream`; checks the `101` and its
    /// `Sec-WebSocket-Accept`.
    pub fn handshake(mut stream: TcpStream, path: &str, deflate: bool) -> io::Result<WsClient> {
        let key = key_of(next_nonce());
        stream.write_all(&handshake_request(path, &key, deflate))?;
        let mut buf = Vec::with_capacity(512);
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 4096 {
                return Err(io::Error::other("handshake answer too long"));
            }
            let mut chunk = [0u8; 512];
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let accept = format!(
            "Sec-WebSocket-Accept: {}\r\n",
            websocket::accept_key(key.as_bytes())
        );
        if !head.starts_with("HTTP/1.1 101 ") || !head.contains(&accept) {
            return Err(io::Error::other(format!("handshake refused: {head:?}")));
        }
        let agreed = head.contains("Sec-WebSocket-Extensions: permessage-deflate");
        buf.drain(..end);
        Ok(WsClient {
            stream,
            buf,
            deflate: agreed,
        })
    }

    /// Sends one whole unfragmented message.
    pub fn send(&mut self, op: u8, payload: &[u8]) -> io::Result<()> {
        self.stream
            .write_all(&masked(true, op, payload, false, next_nonce()))
    }

    /// Reads the next frame the server sends.
    pub fn read_frame(&mut self) -> io::Result<Frame> {
        loop {
            let header = websocket::decode_header(&self.buf, 1 << 40, false)
                .map_err(|e| io::Error::other(format!("bad server frame: {e}")))?;
            if let Some(h) = header {
                let end = h.header_len + h.len as usize;
                if self.buf.len() >= end {
                    let payload = self.buf[h.header_len..end].to_vec();
                    self.buf.drain(..end);
                    return Ok(Frame {
                        fin: h.fin,
                        rsv1: h.rsv1,
                        opcode: h.opcode,
                        payload,
                    });
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads the next message: its opcode and payload (inflated if compressed);
    /// control frames on the way are returned as they are.
    pub fn read_message(&mut self) -> io::Result<(u8, Vec<u8>)> {
        let first = self.read_frame()?;
        if first.opcode >= opcode::CLOSE {
            return Ok((first.opcode, first.payload));
        }
        let (op, compressed, mut data) = (first.opcode, first.rsv1, first.payload);
        let mut fin = first.fin;
        while !fin {
            let f = self.read_frame()?;
            if f.opcode == opcode::CLOSE {
                // A close between fragments ends the message: the caller sees it.
                return Ok((f.opcode, f.payload));
            }
            if f.opcode >= opcode::CLOSE {
                continue;
            }
            data.extend_from_slice(&f.payload);
            fin = f.fin;
        }
        if compressed {
            data = inflate_message(&data)?;
        }
        Ok((op, data))
    }

    /// The stream, when nothing is left unread in the buffer.
    pub fn into_stream(self) -> io::Result<TcpStream> {
        if self.buf.is_empty() {
            Ok(self.stream)
        } else {
            Err(io::Error::other("bytes left unread after the handshake"))
        }
    }
}

/// A raw deflate stream (window 2^15) at `level` with `strategy`.
fn deflater(level: i32, strategy: Strategy) -> Deflate {
    Deflate::new_with_config(DeflateConfig {
        level,
        method: Method::Deflated,
        window_bits: RAW_WINDOW,
        mem_level: 8,
        strategy,
    })
}

/// Compresses `input` into `out` with `flush`, until it is all taken and the
/// flush is done.
fn compress_into(
    d: &mut Deflate,
    mut input: &[u8],
    flush: DeflateFlush,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    loop {
        let start = out.len();
        let step = 64 * 1024;
        out.resize(start + step, 0);
        let (in0, out0) = (d.total_in(), d.total_out());
        d.compress(input, &mut out[start..], flush)
            .map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
        let consumed = (d.total_in() - in0) as usize;
        let written = (d.total_out() - out0) as usize;
        out.truncate(start + written);
        input = &input[consumed..];
        if input.is_empty() && written < step {
            return Ok(());
        }
    }
}

/// A message compressed as permessage-deflate sends it: one sync-flushed raw
/// deflate stream without its `00 00 FF FF` tail (a fresh context).
pub fn deflate_message(payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut d = deflater(1, Strategy::Default);
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    compress_into(&mut d, payload, DeflateFlush::SyncFlush, &mut out)?;
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Ok(out)
}

/// The compression bomb: `len` zero bytes as a compressed message (run-length
/// matches; 100 MiB come to about 100 KB), compressed a MiB at a time so that
/// the zeros are never all in memory.
pub fn deflate_zeros(len: usize) -> io::Result<Vec<u8>> {
    let mut d = deflater(9, Strategy::Rle);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len());
        left -= n;
        let flush = if left == 0 {
            DeflateFlush::SyncFlush
        } else {
            DeflateFlush::NoFlush
        };
        compress_into(&mut d, &zeros[..n], flush, &mut out)?;
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Ok(out)
}

/// Inflates one compressed message of a server that was asked for no limits
/// (a fresh context: one compressed message per connection in the suite).
pub fn inflate_message(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut inflate = Inflate::new(false, 15);
    let mut input = data.to_vec();
    input.extend_from_slice(&TAIL);
    let mut out = Vec::with_capacity(data.len() * 4 + 64);
    let mut rest: &[u8] = &input;
    loop {
        let start = out.len();
        let step = (rest.len() * 4).max(16 * 1024);
        out.resize(start + step, 0);
        let (in0, out0) = (inflate.total_in(), inflate.total_out());
        let status = inflate
            .decompress(rest, &mut out[start..], InflateFlush::SyncFlush)
            .map_err(|e| io::Error::other(format!("inflate: {e:?}")))?;
        let consumed = (inflate.total_in() - in0) as usize;
        let written = (inflate.total_out() - out0) as usize;
        out.truncate(start + written);
        rest = &rest[consumed..];
        if status == Status::StreamEnd || (rest.is_empty() && written < step) {
            return Ok(out);
        }
        if consumed == 0 && written == 0 {
            return Err(io::Error::other("inflate: no progress"));
        }
    }
}
