//! `pierhead serve`: the bound address on the first line, a stats line per
//! interval, the stop report on SIGINT/SIGTERM.

use std::time::Duration;

use clap::Args;
use pierhead::{Config, Protocol, Route, Server, SlowConsumer, StatsLines, StopLine};

use crate::args::{parse_duration, parse_interval, parse_name, parse_route, parse_size};
use crate::interrupts::Interrupts;

/// Options of `pierhead serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// discard, echo, http or frame.
    #[arg(long, default_value = "http", value_parser = parse_name::<Protocol>)]
    protocol: Protocol,
    /// Listen address (port 0: any free port, printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Worker threads, each with its own event loop [default: number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Connections served at once; more are refused (HTTP: 503).
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Length of the kernel's accept queue [default: 1024].
    #[arg(long)]
    listen_backlog: Option<u32>,
    /// Close connections idle this long (e.g. 60s, 500ms).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Answer 408 to a request not complete within this time.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Close a connection whose pending output makes no progress this long [default: 30s].
    #[arg(long, value_parser = parse_duration)]
    write_timeout: Option<Duration>,
    /// Largest HTTP request head; larger gets 431 (414 for a long request line)
    /// [default: 16k]. Sizes: bytes, or with k, m, g (KiB, MiB, GiB).
    #[arg(long, value_parser = parse_size)]
    max_header_bytes: Option<u64>,
    /// Most header fields in an HTTP request (1..=256); more gets 431 [default: 100].
    #[arg(long)]
    max_headers: Option<usize>,
    /// Largest HTTP request body; larger gets 413 [default: 1m].
    #[arg(long, value_parser = parse_size)]
    max_body_bytes: Option<u64>,
    /// Pending output per connection above which reading from it pauses, and above
    /// which a room member is a slow consumer [default: 1m].
    #[arg(long, value_parser = parse_size)]
    max_output_bytes: Option<u64>,
    /// Largest frame payload (frame protocol); longer is refused with ERROR [default: 1m].
    #[arg(long, value_parser = parse_size)]
    max_frame_bytes: Option<u64>,
    /// Largest WebSocket message, after decompression (ws protocol); longer is
    /// refused with close code 1009 [default: 16m].
    #[arg(long, value_parser = parse_size)]
    max_message_bytes: Option<u64>,
    /// Do not negotiate permessage-deflate (ws protocol) [default: negotiated
    /// when the client offers it].
    #[arg(long)]
    ws_no_deflate: bool,
    /// What happens to a room member over --max-output-bytes: disconnect,
    /// drop_newest or drop_oldest (frame protocol) [default: disconnect].
    #[arg(long, value_parser = parse_name::<SlowConsumer>)]
    slow_consumer: Option<SlowConsumer>,
    /// Print a stats line this often; "off" prints none.
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    stats_interval: ::std::option::Option<Duration>,
    /// On SIGINT/SIGTERM, let in-flight work finish for at most this long.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    stop_timeout: Duration,
    /// HTTP route "METHOD PATH [STATUS [BODY|@FILE]]" (METHOD `*`: any; PATH ending
    /// in `*`: prefix), or a WebSocket endpoint "METHOD PATH websocket echo|room
    /// NAME". Repeatable; tried in order. Without routes every request gets
    /// "hello".
    #[arg(long = "route", value_parser = parse_route)]
    routes: Vec<Route>,
    /// Status for requests no route matches (when routes are given).
    #[arg(long, default_value_t = 404)]
    unmatched_status: u16,
    /// Share rooms with every server using this Redis (frame and ws protocols):
    /// redis://[[user]:password@]host[:port][/db]. Start does not wait for it.
    #[arg(long, value_name = "URL")]
    backplane: Option<String>,
    /// Serve the stats as Prometheus text at http://ADDR/metrics (e.g.
    /// 127.0.0.1:9100; port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// TLS with this certificate chain (PEM; needs --tls-key).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_auto"
    )]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// TLS with a throwaway CA and a certificate for localhost, 127.0.0.1 and ::1
    /// made at start; the CA is written to this file for clients to trust.
    #[arg(long, value_name = "CA_OUT")]
    tls_auto: Option<std::path::PathBuf>,
    /// With --tls-auto: a certificate that misbehaves on purpose: expired,
    /// not_yet_valid, wrong_host, self_signed or untrusted_ca.
    #[arg(long, value_parser = parse_name::<pierhead::BadCert>, requires = "tls_auto")]
    tls_bad_cert: Option<pierhead::BadCert>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "FILE")]
    tls_client_ca: Option<std::path::PathBuf>,
    /// A handshake that misbehaves on purpose: stall_handshake, reset_handshake,
    /// no_close_notify or garbage_hello.
    #[arg(long, value_parser = parse_name::<pierhead::TlsFault>)]
    tls_fault: Option<pierhead::TlsFault>,
    /// Send no session tickets: clients cannot resume, every connection makes a
    /// full handshake [default: tickets, as nginx and OpenSSL].
    #[arg(long)]
    tls_no_resumption: bool,
}

/// Serves until `interrupts` has one; the exit code.
pub fn run(args: ServeArgs, interrupts: &mut dyn Interrupts) -> u8 {
    // Listen before the server exists, so no signal is missed.
    if let Err(e) = interrupts.listen() {
        eprintln!("pierhead: cannot install signal handlers: {e}");
        return 1;
    }
    let mut config = Config::new()
        .protocol(args.protocol)
        .bind(args.bind)
        .max_connections(args.max_connections)
        .idle_timeout(args.idle_timeout)
        .header_timeout(args.header_timeout)
        .unmatched_status(args.unmatched_status);
    for route in args.routes {
        config = config.route(route);
    }
    if let Some(workers) = args.workers {
        config = config.workers(workers);
    }
    if let Some(n) = args.listen_backlog {
        config = config.listen_backlog(n);
    }
    if let Some(d) = args.write_timeout {
        config = config.write_timeout(d);
    }
    if let Some(n) = args.max_header_bytes {
        config = config.max_header_bytes(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = args.max_headers {
        config = config.max_headers(n);
    }
    if let Some(n) = args.max_body_bytes {
        config = config.max_body_bytes(n);
    }
    if let Some(n) = args.max_output_bytes {
        config = config.max_output_bytes(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = args.max_frame_bytes {
        config = config.max_frame_bytes(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = args.max_message_bytes {
        config = config.max_message_bytes(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if args.ws_no_deflate {
        config = config.ws_deflate(false);
    }
    if let Some(policy) = args.slow_consumer {
        config = config.slow_consumer(policy);
    }
    if let Some(url) = &args.backplane {
        config = config.backplane(url.as_str());
    }
    if let Some(addr) = &args.metrics {
        config = config.metrics(addr.as_str());
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config = config.tls_files(cert, key);
    }
    if let Some(ca_out) = &args.tls_auto {
        config = config.tls_auto_ca_out(ca_out);
    }
    if let Some(bad) = args.tls_bad_cert {
        config = config.tls_bad_cert(bad);
    }
    if let Some(ca) = &args.tls_client_ca {
        config = config.tls_client_ca(ca);
    }
    if let Some(f) = args.tls_fault {
        config = config.tls_fault(f);
    }
    if args.tls_no_resumption {
        config = config.tls_resumption(false);
    }
    if let Some(interval) = args.stats_interval {
        let lines = StatsLines::new(args.protocol);
        config = config
            .stats_interval(interval)
            .on_stats(move |s| println!("{}", lines.next(s)));
    }
    let workers = config.get_workers();
    let server = match Server::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pierhead: {e}");
            return 2;
        }
    };
    let backplane = server
        .stats()
        .backplane
        .map(|_| {
            let url = args.backplane.as_deref().unwrap_or_default();
            let shown = pierhead::BackplaneUrl::parse(url)
                .map_or_else(|_| url.to_owned(), |u| u.to_string());
            format!(", backplane {shown}")
        })
        .unwrap_or_default();
    let tls = if server.is_tls() { ", tls" } else { "" };
    println!(
        "pierhead listening on {} (protocol {}{tls}, {} workers{backplane})",
        server.local_addr(),
        server.protocol(),
        workers
    );
    if let Some(addr) = server.metrics_addr() {
        println!("metrics on http://{addr}/metrics");
    }
    let signal = loop {
        if let Some(signal) = interrupts.wait(Duration::from_secs(3600)) {
            break signal;
        }
    };
    println!(
        "{}: stopping (grace {:?})",
        signal.name(),
        args.stop_timeout
    );
    let report = server.stop(args.stop_timeout);
    let stats = server.stats();
    println!("{}", StopLine::new(&report, &stats, args.protocol));
    0
}
