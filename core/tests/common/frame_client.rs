//! A blocking frame-protocol client for the tests, on the core's own codec.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use pierhead::frame::{self, op, Control, FrameType};

use super::connect;

/// A blocking test client speaking the frame protocol.
pub struct Client {
    pub s: TcpStream,
    pub buf: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Data(Vec<u8>),
    Joined(String),
    Left,
    Pong(Vec<u8>),
    Error(String),
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client {
            s: connect(addr),
            buf: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    pub fn send(&mut self, payload: &[u8]) {
        let mut f = Vec::new();
        frame::encode(FrameType::Data, payload, &mut f);
        self.send_raw(&f);
    }

    pub fn control(&mut self, opcode: u8, arg: &[u8]) {
        let mut f = Vec::new();
        frame::encode_control(opcode, arg, &mut f);
        self.send_raw(&f);
    }

    pub fn join(&mut self, room: &str) {
        self.control(op::JOIN, room.as_bytes());
        assert_eq!(self.recv(), Some(Got::Joined(room.to_owned())));
    }

    /// The next frame, or None at EOF.
    pub fn recv(&mut self) -> Option<Got> {
        loop {
            if let Some((h, payload)) = frame::decode(&self.buf, 1 << 30).unwrap() {
                let got = match h.kind {
                    FrameType::Data => Got::Data(payload.to_vec()),
                    FrameType::Control => match frame::parse_control(payload).unwrap() {
                        Control::Joined(r) => Got::Joined(r.to_owned()),
                        Control::Left => Got::Left,
                        Control::Pong(d) => Got::Pong(d.to_vec()),
                        Control::Error(e) => Got::Error(e.to_owned()),
                        other => panic!("unexpected {other:?}"),
                    },
                };
                self.buf.drain(..h.frame_len());
                return Some(got);
            }
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    pub fn closed(&mut self) -> bool {
        self.recv().is_none()
    }
}

/// Reads `c` on a thread of its own, counting the data frames that arrive in
/// `got`, until `done` is set and nothing arrived for 200 ms. An EOF fails it:
/// the member must stay connected.
pub fn count_frames(mut c: Client, got: Arc<AtomicU64>, done: Arc<AtomicBool>) -> JoinHandle<()> {
    thread::spawn(move || {
        c.s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = std::mem::take(&mut c.buf);
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            while let Some((h, _)) = frame::decode(&buf, 1 << 30).unwrap() {
                assert_eq!(h.kind, FrameType::Data, "only data frames expected");
                got.fetch_add(1, Ordering::Relaxed);
                buf.drain(..h.frame_len());
            }
            match c.s.read(&mut chunk) {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                Ok(_) => panic!("the member was closed"),
                Err(_) if done.load(Ordering::Relaxed) => return,
                Err(_) => {}
            }
        }
    })
}
