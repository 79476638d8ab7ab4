// A reference WebSocket server on Node's `ws` (Debian package node-ws), the
// known-conformant peer test_ws_conformance.py is proven against. It answers
// as pierhead's `ws` protocol does: path `/` echoes every message with its type
// (fragmented input comes back as one message), `/<room>` relays a member's
// messages to every other member of that room. permessage-deflate is on unless
// `--no-deflate`. Prints `listening on 127.0.0.1:PORT` once bound.
//
//   node echo_server.js [--port N] [--no-deflate]
'use strict';
const { WebSocketServer } = require(process.env.NODE_WS_MODULE || '/usr/share/nodejs/ws');

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
const deflate = !args.includes('--no-deflate');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
});
const rooms = new Map();

wss.on('connection', (ws, req) => {
  const room = decodeURIComponent(req.url.split('?')[0].slice(1));
  if (room) {
    if (!rooms.has(room)) rooms.set(room, new Set());
    rooms.get(room).add(ws);
  }
  ws.on('message', (data, isBinary) => {
    if (!room) {
      ws.send(data, { binary: isBinary });
      return;
    }
    for (const peer of rooms.get(room)) {
      if (peer !== ws && peer.readyState === peer.OPEN) peer.send(data, { binary: isBinary });
    }
  });
  ws.on('close', () => {
    if (room) {
      const members = rooms.get(room);
      members.delete(ws);
      if (!members.size) rooms.delete(room);
    }
  });
  ws.on('error', () => {});
});
wss.on('listening', () => {
  console.log(`listening on 127.0.0.1:${wss.address().port}`);
});
