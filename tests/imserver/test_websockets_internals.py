"""imserver's fan-out fast path (Server.push / Server._flush) bypasses websockets' send() and reads connection
internals that are not public API: the pin `websockets>=16,<18` in pyproject.toml is only safe while they exist.
`send_in_progress` appeared in 16.0; before it, the check that skips a connection mid-send silently never fired."""
from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import State

from imserver.server import text_frame


async def test_the_connection_internals_the_fast_path_reads_exist():
    seen: asyncio.Future = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        seen.set_result(ws)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ws") as client:
            ws = await asyncio.wait_for(seen, 10)
            assert ws.protocol.state is State.OPEN                 # push/_flush skip connections not open
            assert ws.send_in_progress is None                     # push skips a connection mid-send
            assert ws.transport.get_write_buffer_size() == 0       # _flush: the slow-consumer limit
            assert isinstance(ws.request, Request) and ws.response is not None
            ws.request, ws.response = Request("/ws", Headers()), None  # what imserver does after the handshake
            ws.transport.write(text_frame("hello"))                 # a frame written straight to the transport
            assert await asyncio.wait_for(client.recv(), 10) == "hello"
            await ws.send("still works")                           # websockets' own send after the slimming
            assert await asyncio.wait_for(client.recv(), 10) == "still works"

