"""A minimal WebSocket client protocol for the load generator (not for applications).

The ``websockets`` client costs about as much CPU per frame as the server does, so on a
2-core machine it could not load one server core from the other.  This client does only what
the bench needs: an HTTP/1.1 upgrade, unfragmented text frames, pong replies, close.  Client
frames use an all-zero masking key (valid on the wire, RFC 6455 §5.3 asks for an unpredictable
key to protect intermediaries' caches, irrelevant on loopback) so masking costs nothing.
"""
from __future__ import annotations

import asyncio
import base64
import os
import struct


class BenchWS(asyncio.Protocol):
    def __init__(self, on_text):
        self.on_text = on_text
        self.transport = None
        self.buf = bytearray()
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self.opened = False
        self.closed = asyncio.Event()

    @classmethod
    async def connect(cls, host: str, port: int, path: str, token: str, on_text) -> "BenchWS":
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(lambda: cls(on_text), host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        proto.transport.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                               f"Authorization: Bearer {token}\r\n\r\n").encode())
        await asyncio.wait_for(proto.handshake, 60)
        return proto

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.closed.set()
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during handshake"))

    def data_received(self, data: bytes):
        buf = self.buf
        buf += data
        if not self.opened:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            del buf[:end + 4]
            if b" 101 " not in status:
                self.handshake.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            self.opened = True
            self.handshake.set_result(None)
        pos, n = 0, len(buf)
        on_text = self.on_text
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = struct.unpack_from("!Q", buf, pos + 2)[0]
                head = 10
            if n - pos < head + length:
                break
            payload = bytes(buf[pos + head:pos + head + length])
            pos += head + length
            opcode = b0 & 0x0F
            if opcode == 1:
                on_text(payload.decode())
            elif opcode == 9:
                self._frame(0x8A, payload)
            elif opcode == 8:
                self._frame(0x88, payload[:2])
                self.transport.close()
        del buf[:pos]

    def _frame(self, first: int, payload: bytes) -> bytes:
        n = len(payload)
        if n < 126:
            head = bytes((first, 0x80 | n))
        elif n < 65536:
            head = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", first, 0x80 | 127, n)
        frame = head + b"\x00\x00\x00\x00" + payload
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)
        return frame

    def send_text(self, text: str) -> None:
        self._frame(0x81, text.encode())

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._frame(0x88, struct.pack("!H", 1000))
            self.transport.close()
