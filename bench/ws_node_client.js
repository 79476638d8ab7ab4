// A WebSocket echo load generator on Node's `ws` (Debian's node-ws), doing the
// work `pierhead bench ws://host:port/` does, so that the two can be compared
// (scripts/bench-ws.sh loadgen, BENCHMARKS.md issue 24):
// - CONNS connections, no permessage-deflate offered; each sends as soon as its
//   handshake is done, and the measured DURATION starts before the connects, as
//   pierhead bench's does without --warmup;
// - binary messages of SIZE bytes (64), every echo compared byte for byte with
//   what was sent and checked to be binary (a wrong echo stops the run);
// - closed loop (the next message once the echo is in), or with --rate R open
//   loop: message j is due at start + j / R on connection j % CONNS, so each
//   connection has its own schedule every CONNS / R seconds, as pierhead bench's
//   does; latency counts from the due time;
// - every round trip's latency recorded (microseconds, exact up to 1 s).
//
//   node ws_node_client.js URL CONNS DURATION_S [--size N] [--rate R]
//
// Prints one JSON line: messages (echoes in the measured time), seconds,
// messages_per_s, errors, p50_us, p99_us, send_lag_p99_us (open loop: how late
// sends left), startup_cpu_s (CPU used before the first connect: Node's start
// and loading `ws`), window_cpu_s (user + system over the measured time, from
// process.cpuUsage()). Exits 1 on a wrong echo, a failed connection or a close.
'use strict';
const WebSocket = require(process.env.NODE_WS_MODULE || '/usr/share/nodejs/ws');

const startupCpu = process.cpuUsage();
const args = process.argv.slice(2);
function flag(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}
const [url, connsArg, secondsArg] = args;
const conns = Number(connsArg);
const seconds = Number(secondsArg);
const size = flag('--size', 64);
const rate = flag('--rate', 0);
if (!url || !(conns > 0) || !(seconds > 0) || !(size > 0)) {
  console.error('usage: node ws_node_client.js URL CONNS DURATION_S [--size N] [--rate R]');
  process.exit(2);
}

// Microsecond buckets up to 1 s; slower answers go to the last one.
const MAX_US = 1000000;
const hist = new Uint32Array(MAX_US + 1);
const lagHist = new Uint32Array(MAX_US + 1);
function record(h, us) {
  h[us < 0 ? 0 : us > MAX_US ? MAX_US : Math.round(us)]++;
}
function percentile(h, q) {
  let total = 0;
  for (let i = 0; i <= MAX_US; i++) total += h[i];
  if (total === 0) return 0;
  const want = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i <= MAX_US; i++) {
    seen += h[i];
    if (seen >= want) return i;
  }
  return MAX_US;
}

const payload = Buffer.alloc(size);
for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
const now = () => Number(process.hrtime.bigint()) / 1000; // microseconds
const start = now();
const end = start + seconds * 1e6;
let cpuAtStart;
let messages = 0;
let errors = 0;
let stopped = false;
const sockets = [];

function fail(why) {
  console.error(why);
  process.exit(1);
}

function finish() {
  stopped = true;
  const cpu = process.cpuUsage(cpuAtStart);
  const out = {
    messages,
    seconds,
    messages_per_s: messages / seconds,
    errors,
    p50_us: percentile(hist, 0.5),
    p99_us: percentile(hist, 0.99),
    send_lag_p99_us: rate ? percentile(lagHist, 0.99) : null,
    startup_cpu_s: (startupCpu.user + startupCpu.system) / 1e6,
    window_cpu_s: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(errors ? 1 : 0));
}

// One connection: `due` holds the due (open loop) or send (closed loop) times of
// the messages in flight, oldest first.
function open(i) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const c = { i, ws, due: [], head: 0, ready: false };
  sockets[i] = c;
  ws.on('open', () => {
    c.ready = true;
    if (!rate) send(c, now());
    else flushDue(c);
  });
  ws.on('message', (data, isBinary) => {
    if (stopped) return;
    const t = now();
    if (!isBinary || !payload.equals(data)) {
      errors++;
      fail(`connection ${i}: a wrong echo (${data.length} bytes, binary ${isBinary})`);
    }
    const sent = c.due[c.head++];
    if (c.head === c.due.length) {
      c.due.length = 0;
      c.head = 0;
    }
    if (t < end) {
      messages++;
      record(hist, t - sent);
      if (!rate) send(c, t);
    }
  });
  ws.on('error', (e) => fail(`connection ${i}: ${e.message}`));
  ws.on('close', (code) => stopped || fail(`connection ${i} closed (${code})`));
}

function send(c, t) {
  c.due.push(t);
  c.ws.send(payload, { binary: true, compress: false });
}

// Open loop: messages due on a connection before its handshake finished go out
// when it does (late, counted from when they were due).
const pending = [];
function flushDue(c) {
  const q = pending[c.i];
  if (!q) return;
  const t = now();
  for (const d of q) {
    record(lagHist, t - d);
    send(c, d);
  }
  pending[c.i] = null;
}

let next = 0; // the next message of the open-loop schedule
function tick() {
  if (stopped) return;
  const t = now();
  const interval = 1e6 / rate;
  let due = start + next * interval;
  while (due <= t && due < end) {
    const c = sockets[next % conns];
    if (c.ready) {
      record(lagHist, t - due);
      send(c, due);
    } else {
      (pending[next % conns] ||= []).push(due);
    }
    next++;
    due = start + next * interval;
  }
  if (due < end) setTimeout(tick, Math.max(0, (due - now()) / 1000));
}

cpuAtStart = process.cpuUsage();
for (let i = 0; i < conns; i++) open(i);
if (rate) tick();
setTimeout(finish, Math.max(0, (end - now()) / 1000));
