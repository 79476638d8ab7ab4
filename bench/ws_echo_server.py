"""A WebSocket echo server on Python's `websockets` (asyncio), the Python peer of
scripts/bench-ws.sh: every message comes back with its type. permessage-deflate
is left to the client's offer (the bench client offers none for the echo).
Prints `listening on 127.0.0.1:PORT` once bound.

    python ws_echo_server.py PORT
"""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(port):
    async with serve(echo, "127.0.0.1", port, max_size=None, ping_interval=None):
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
