// A real WebSocket client on Node's `ws` for test_ws_clients.py.
//
//   node client.js echo URL [--no-deflate]
//       text and binary messages, small and big, each echoed back unchanged
//   node client.js room URL [--no-deflate]
//       two members of the room at URL hear each other, not themselves
//
// Exits 0 when every exchange checked out, else prints why and exits 1.
// With deflate on (the default) it fails unless permessage-deflate was agreed.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const WebSocket = require(process.env.NODE_WS_MODULE || '/usr/share/nodejs/ws');

const [mode, url, ...flags] = process.argv.slice(2);
const deflate = !flags.includes('--no-deflate');

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: deflate ? { threshold: 0 } : false });
    const inbox = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const msg = { data: Buffer.from(data), isBinary };
      if (waiters.length) waiters.shift()(msg);
      else inbox.push(msg);
    });
    ws.recv = () => new Promise((res) => (inbox.length ? res(inbox.shift()) : waiters.push(res)));
    ws.on('open', () => {
      const ext = ws.extensions || '';
      if (deflate) assert.ok(ext.includes('permessage-deflate'), `deflate not agreed: "${ext}"`);
      else assert.strictEqual(ext, '');
      resolve(ws);
    });
    ws.on('error', reject);
  });
}

function closed(ws) {
  return new Promise((resolve) => {
    ws.on('close', (code) => resolve(code));
    ws.close(1000);
  });
}

async function echo() {
  const ws = await open();
  const cases = [
    ['héllo wörld', false],
    ['x'.repeat(1 << 20), false],
    [crypto.randomBytes(100), true],
    [crypto.randomBytes(1 << 20), true],
  ];
  for (const [payload, isBinary] of cases) {
    ws.send(payload, { binary: isBinary });
    const got = await ws.recv();
    assert.strictEqual(got.isBinary, isBinary, 'message type changed');
    assert.ok(got.data.equals(Buffer.from(payload)), `payload of ${got.data.length} bytes differs`);
  }
  const code = await closed(ws);
  assert.strictEqual(code, 1000);
}

async function room() {
  const a = await open();
  const b = await open();
  a.send('from a');
  let got = await b.recv();
  assert.strictEqual(got.data.toString(), 'from a');
  b.send(Buffer.from([1, 2, 3]), { binary: true });
  got = await a.recv();
  assert.ok(got.isBinary && got.data.equals(Buffer.from([1, 2, 3])), 'a did not hear b');
  await Promise.all([closed(a), closed(b)]);
}

const timer = setTimeout(() => {
  console.error('timed out');
  process.exit(1);
}, 20000);
(mode === 'room' ? room() : echo()).then(
  () => {
    clearTimeout(timer);
    console.log('ok');
  },
  (err) => {
    console.error(String(err && err.stack ? err.stack : err));
    process.exit(1);
  },
);
