//! A real `redis-server` for the backplane tests: started on a free loopback
//! port, restartable on the same port, killed when dropped; and a blocking
//! client for the few commands the tests ask it (`PUBSUB`, `PUBLISH`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server child process.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

/// A RESP reply, as the tests need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Ok(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Value>),
    Error(String),
}

impl Value {
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(n) => *n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    pub fn strings(&self) -> Vec<String> {
        match self {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect(),
            other => panic!("expected an array, got {other:?}"),
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Redis {
    /// Starts redis-server on a free port (no persistence) and waits until it
    /// answers.
    pub fn start() -> Redis {
        Redis::start_on("127.0.0.1", free_port())
    }

    /// Starts it on `host:port` (as after a crash, on the same port).
    pub fn start_on(host: &str, port: u16) -> Redis {
        let mut r = Redis {
            child: Some(spawn(None, host, port, None)),
            port,
        };
        r.wait_ready(host);
        r
    }

    /// Starts it inside network namespace `netns`, listening on `host:port` there
    /// (reachable from here through the test's own network).
    pub fn start_in_netns(netns: &str, host: &str, port: u16) -> Redis {
        let mut r = Redis {
            child: Some(spawn(Some(netns), host, port, None)),
            port,
        };
        r.wait_ready(host);
        r
    }

    /// Starts it with `requirepass`.
    pub fn start_with_password(password: &str) -> Redis {
        let port = free_port();
        let mut r = Redis {
            child: Some(spawn(None, "127.0.0.1", port, Some(password))),
            port,
        };
        r.wait_ready("127.0.0.1");
        r
    }

    fn wait_ready(&mut self, host: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect((host, self.port)).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("redis-server exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not listen on port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes it (SIGSTOP): its kernel still accepts connections and takes
    /// bytes, but nothing answers, as with a broker that hangs.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("redis is running").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid} failed");
    }

    /// Starts it again on the same port after [`Redis::kill`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        self.child = Some(spawn(None, "127.0.0.1", self.port, None));
        self.wait_ready("127.0.0.1");
    }

    /// Runs one command and returns its reply.
    pub fn cmd(&self, args: &[&[u8]]) -> Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        s.write_all(&out).unwrap();
        read_value(&mut BufReader::new(s))
    }

    /// The pierhead room channels subscribed to by anyone, sorted.
    pub fn channels(&self) -> Vec<String> {
        let mut c = self.cmd(&[b"PUBSUB", b"CHANNELS", b"pierhead/*"]).strings();
        c.sort();
        c
    }

    /// Subscribers of one channel.
    pub fn numsub(&self, channel: &str) -> i64 {
        match self.cmd(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()]) {
            Value::Array(v) => v[1].int(),
            other => panic!("{other:?}"),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(netns: Option<&str>, host: &str, port: u16, password: Option<&str>) -> Child {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "redis-server"]);
            c
        }
        None => Command::new("redis-server"),
    };
    cmd.args(["--port", &port.to_string(), "--bind", host])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .args(["--loglevel", "warning", "--maxclients", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(pw) = password {
        cmd.args(["--requirepass", pw]);
    }
    match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot run redis-server ({e}): the backplane tests need Debian's redis-server \
             (scripts/test.sh installs it: apt-get install redis-server)"
        ),
    }
}

pub fn read_value(r: &mut impl BufRead) -> Value {
    let mut line = String::new();
    r.read_line(&mut line).expect("read from redis");
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" => Value::Ok(rest.to_owned()),
        "-" => Value::Error(rest.to_owned()),
        ":" => Value::Int(rest.parse().unwrap()),
        "$" => {
            let n: i64 = rest.parse().unwrap();
            if n < 0 {
                return Value::Bulk(None);
            }
            let mut b = vec![0; n as usize + 2];
            r.read_exact(&mut b).unwrap();
            b.truncate(n as usize);
            Value::Bulk(Some(b))
        }
        "*" => {
            let n: i64 = rest.parse().unwrap();
            Value::Array((0..n.max(0)).map(|_| read_value(r)).collect())
        }
        other => panic!("unexpected RESP line {other}{rest}"),
    }
}
