"""A minimal HTTP/1.1 endpoint on asyncio streams (one request per connection, ``Connection: close``).

websockets' server accepts only GET upgrade requests, so the endpoints that need PUT/POST/DELETE
(local media, the admin API) run their own listener through this.  A route gets a parsed
``HttpRequest`` (its body still unread: the route decides whether and how much to read) and
returns ``(status, body, content_type)``; malformed requests get a plain 400/431 instead of a
dropped socket, and a bug in a route a 500 with a log line.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 411: "Length Required", 413: "Payload Too Large",
           415: "Unsupported Media Type", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}
MAX_HEADERS = 100


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict            # first value of each query parameter
    headers: dict          # lower-case names
    reader: asyncio.StreamReader
    peer: str

    async def read_body(self, max_bytes: int) -> bytes:
        """The body by Content-Length; ValueError when it is missing, not a number or above ``max_bytes``."""
        length = int(self.headers.get("content-length", "0"))
        if not 0 <= length <= max_bytes:
            raise ValueError(f"body of {length} bytes (at most {max_bytes})")
        return await self.reader.readexactly(length) if length else b""


class TooManyHeaders(ValueError):
    pass


async def read_request(reader: asyncio.StreamReader, peer: str = "") -> HttpRequest:
    line = (await reader.readuntil(b"\r\n")).decode("latin-1").strip()
    headers = {}
    while True:
        h = (await reader.readuntil(b"\r\n")).decode("latin-1").strip()
        if not h:
            break
        name, _, value = h.partition(":")
        headers[name.strip().lower()] = value.strip()
        if len(headers) > MAX_HEADERS:
            raise TooManyHeaders("too many headers")
    method, target, _ = line.split(" ", 2)
    parts = urlsplit(target)
    return HttpRequest(method, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, headers, reader,
                       peer)


def connection_handler(route, log: logging.Logger, what: str, timeout_s: float = 60.0):
    """An ``asyncio.start_server`` callback that parses one request, awaits ``route(request)`` and writes its
    ``(status, body, content_type)`` answer."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = peername[0] if isinstance(peername, tuple) else ""
        ctype = "text/plain; charset=utf-8"
        try:
            req = await asyncio.wait_for(read_request(reader, peer), timeout=timeout_s)
            status, body, ctype = await asyncio.wait_for(route(req), timeout=timeout_s)
        except asyncio.LimitOverrunError:   # a request or header line beyond the 64 KiB reader limit
            status, body = 431, b"request header line too long\n"
        except TooManyHeaders:
            status, body = 400, b"too many headers\n"
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            status, body = 400, b"bad request\n"
        except Exception as exc:   # a bug: answer cleanly and say what failed
            log.error(f"{what} request failed", exc_info=exc, extra={"error": type(exc).__name__})
            status, body = 500, b"internal error\n"
        try:
            writer.write(f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Length: {len(body)}\r\n"
                         f"Content-Type: {ctype}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass

    return handle


async def start(route, host: str, port: int, log: logging.Logger, what: str, ssl=None) -> asyncio.base_events.Server:
    return await asyncio.start_server(connection_handler(route, log, what), host, port, ssl=ssl)
