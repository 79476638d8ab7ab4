//! `pierhead serve --backplane` as users run it: several processes sharing rooms
//! through a real Redis on loopback, and the same on several "machines": each
//! server in its own network namespace and Redis in another, joined by a bridge
//! (when the test runs as root).

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::redis::Redis;
use common::rooms_check::every_member_gets_every_frame_once;

/// A running `pierhead serve`, its address and its output lines.
struct Serve {
    child: Child,
    addr: SocketAddr,
    lines: mpsc::Receiver<String>,
}

impl Serve {
    /// Runs `[prefix...] pierhead serve ARGS` and waits for its first line.
    fn spawn(prefix: &[&str], args: &[&str]) -> Serve {
        let bin = env!("CARGO_BIN_EXE_pierhead");
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert!(first.starts_with("pierhead listening on "), "{first}");
        assert!(first.contains(", backplane redis://"), "{first}");
        let addr = first.split_whitespace().nth(3).unwrap().parse().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || pump(out, tx));
        Serve { child, addr, lines }
    }

    /// Waits for an output line containing `text`; returns it.
    fn wait_for(&self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {text:?}: {e}"),
            }
        }
    }

    /// SIGTERM, then the stop report's backplane line.
    fn stop(mut self) -> String {
        // SAFETY: sending SIGTERM to our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let line = self.wait_for("backplane: ");
        assert!(self.child.wait().unwrap().success());
        line
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pump(out: BufReader<ChildStdout>, tx: mpsc::Sender<String>) {
    for line in out.lines() {
        let Ok(line) = line else { return };
        if tx.send(line).is_err() {
            return;
        }
    }
}

fn serve_args<'a>(bind: &'a str, url: &'a str) -> Vec<&'a str> {
    vec![
        "--protocol",
        "frame",
        "--bind",
        bind,
        "--workers",
        "2",
        "--stats-interval",
        "100ms",
        "--backplane",
        url,
    ]
}

#[test]
fn three_processes_share_rooms_through_redis() {
    let redis = Redis::start();
    let url = redis.url();
    let servers: Vec<Serve> = (0..3)
        .map(|_| Serve::spawn(&[], &serve_args("127.0.0.1:0", &url)))
        .collect();
    for s in &servers {
        s.wait_for("backplane connected");
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    every_member_gets_every_frame_once(&addrs, 3, 200);
    for s in &servers {
        // 3 members x 200 frames from each server.
        s.wait_for("published 600 unpublished 0 unconfirmed 0 received 1200");
    }
    for s in servers {
        let report = s.stop();
        assert!(
            report.contains("600 published, 0 unpublished, 0 unconfirmed"),
            "{report}"
        );
    }
    assert!(common::wait_until(Duration::from_secs(5), || redis
        .channels()
        .is_empty()));
}

#[test]
fn a_malformed_backplane_url_exits_2_naming_the_field() {
    let out = Command::new(env!("CARGO_BIN_EXE_pierhead"))
        .args(["serve", "--protocol", "frame", "--bind", "127.0.0.1:0"])
        .args(["--backplane", "redis://:pw@host:notaport"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`backplane`"), "{err}");
    assert!(!err.contains(":pw@"), "the password is shown: {err}");
}

/// Hosts of the test's own network: network namespaces on one bridge.
struct TestNet {
    bridge: String,
    hosts: Vec<String>,
    subnet: String,
}

impl TestNet {
    /// `n` hosts, 10.213.X.1..=n, and this namespace as 10.213.X.254.
    fn new(n: usize) -> Result<TestNet, String> {
        let id = std::process::id() % 10_000;
        let net = TestNet {
            bridge: format!("ph{id}br"),
            hosts: (0..n).map(|k| format!("ph{id}h{k}")).collect(),
            subnet: format!("10.213.{}", id % 250),
        };
        net.run(&["link", "add", &net.bridge, "type", "bridge"])?;
        net.run(&[
            "addr",
            "add",
            &format!("{}.254/24", net.subnet),
            "dev",
            &net.bridge,
        ])?;
        net.run(&["link", "set", &net.bridge, "up"])?;
        for (k, host) in net.hosts.iter().enumerate() {
            let (outer, inner) = (format!("ph{id}v{k}"), format!("ph{id}p{k}"));
            net.run(&["netns", "add", host])?;
            net.run(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            net.run(&["link", "set", &inner, "netns", host])?;
            net.run(&["link", "set", &outer, "master", &net.bridge])?;
            net.run(&["link", "set", &outer, "up"])?;
            let ip = format!("{}/24", net.ip(k));
            net.run(&["-n", host, "addr", "add", &ip, "dev", &inner])?;
            net.run(&["-n", host, "link", "set", &inner, "up"])?;
            net.run(&["-n", host, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    fn ip(&self, k: usize) -> String {
        format!("{}.{}", self.subnet, k + 1)
    }

    fn run(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| format!("ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for host in &self.hosts {
            let _ = self.run(&["netns", "del", host]); // takes its veth pair along
        }
        let _ = self.run(&["link", "del", &self.bridge]);
    }
}

#[test]
fn servers_on_separate_hosts_share_rooms() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED servers_on_separate_hosts_share_rooms: network namespaces need root");
        return;
    }
    let net = match TestNet::new(4) {
        Ok(net) => net,
        // Root without CAP_NET_ADMIN / CAP_SYS_ADMIN (a restricted container) is
        // not root for this purpose.
        Err(e) if e.contains("Operation not permitted") => {
            eprintln!("SKIPPED servers_on_separate_hosts_share_rooms: {e}");
            return;
        }
        Err(e) => panic!("cannot make the test's hosts (network namespaces): {e}"),
    };
    // Host 0 runs Redis; hosts 1..=3 a server each; the clients are here.
    let redis = Redis::start_in_netns(&net.hosts[0], &net.ip(0), 6379);
    let url = format!("redis://{}:6379", net.ip(0));
    let binds: Vec<String> = (1..=3).map(|k| format!("{}:7000", net.ip(k))).collect();
    let servers: Vec<Serve> = (1..=3)
        .map(|k| {
            let prefix = ["ip", "netns", "exec", net.hosts[k].as_str()];
            Serve::spawn(&prefix, &serve_args(&binds[k - 1], &url))
        })
        .collect();
    for s in &servers {
        s.wait_for("backplane connected");
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    assert!(addrs
        .iter()
        .all(|a| a.ip().to_string().starts_with(&net.subnet)));
    every_member_gets_every_frame_once(&addrs, 3, 200);
    for s in &servers {
        s.wait_for("published 600 unpublished 0 unconfirmed 0 received 1200");
    }
    for s in servers {
        let report = s.stop();
        assert!(report.contains("0 unpublished"), "{report}");
    }
    assert!(common::wait_until(Duration::from_secs(5), || {
        redis_channels_empty(&redis, &net)
    }));
    drop(redis);
    drop(net);
}

/// `PUBSUB CHANNELS` asked on the broker's host.
fn redis_channels_empty(redis: &Redis, net: &TestNet) -> bool {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.hosts[0],
            "redis-cli",
            "-h",
            &net.ip(0),
        ])
        .args([
            "-p",
            &redis.port.to_string(),
            "PUBSUB",
            "CHANNELS",
            "pierhead/*",
        ])
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).trim().is_empty()
}
