//! What the command-line tests share: a `pierhead serve` of the test's own.
// Each test crate uses its own part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A `pierhead serve` on a free port of 127.0.0.1 (one worker, no stats lines),
/// killed when dropped.
pub struct Serve {
    child: Child,
    /// Its first line: `pierhead listening on ADDR (...)`.
    pub first_line: String,
    /// `127.0.0.1:PORT`, as that line says.
    pub addr: String,
    pub port: u16,
}

impl Serve {
    /// Starts it with these arguments after the defaults, and reads its first line.
    pub fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pierhead"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--stats-interval",
                "off",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let addr = first_line
            .split_whitespace()
            .nth(3)
            .unwrap_or_else(|| panic!("no address in {first_line:?}"))
            .to_owned();
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Serve {
            child,
            first_line,
            addr,
            port,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
