//! A blocking frame-protocol client for the tests, on the core's own codec.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

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
