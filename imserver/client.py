"""A small asyncio client for the protocol (used by tests, the bench and as an example).

Replies are matched to requests by ``ref``; frames without a pending ref (msg, receipt,
typing, presence, group_event, resync...) go to ``pushed``.
"""
from __future__ import annotations

import asyncio
import itertools
import json

from websockets.asyncio.client import connect

from .protocol import dumps


class RequestError(Exception):
    def __init__(self, frame: dict):
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code = frame.get("code")
        self.frame = frame


class ImClient:
    def __init__(self, ws):
        self.ws = ws
        self.pending: dict = {}
        self.pushed: asyncio.Queue = asyncio.Queue()
        self.hello: dict | None = None
        self.closed = asyncio.Event()
        self._refs = itertools.count(1)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, url: str, token: str | None = None, *, query_token: bool = False, **kw) -> "ImClient":
        headers = {}
        if token and not query_token:
            headers["Authorization"] = f"Bearer {token}"
        elif token:
            url += ("&" if "?" in url else "?") + "token=" + token
        ws = await connect(url, additional_headers=headers, compression=None, open_timeout=10,
                           max_size=2**22, **kw)
        self = cls(ws)
        hello = await asyncio.wait_for(self.pushed.get(), 10)
        self.hello = hello
        return self

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                frame = json.loads(text)
                fut = self.pending.pop(frame.get("ref"), None) if "ref" in frame else None
                if fut is not None and not fut.done():
                    fut.set_result(frame)
                else:
                    self.pushed.put_nowait(frame)
        except Exception:
            pass
        finally:
            self.closed.set()
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))
            self.pending.clear()

    def submit(self, frame: dict) -> asyncio.Future:
        """Send a frame and return a future for its reply (no waiting)."""
        if frame.get("type") == "send":
            ref = frame.setdefault("ref", frame["client_msg_id"])
        else:
            ref = frame.setdefault("ref", f"r{next(self._refs)}")
        fut = asyncio.get_running_loop().create_future()
        if self.closed.is_set():
            fut.set_exception(ConnectionError("connection closed"))
            return fut
        self.pending[ref] = fut
        asyncio.get_running_loop().create_task(self._write(dumps(frame), fut))
        return fut

    async def _write(self, text: str, fut: asyncio.Future) -> None:
        try:
            await self.ws.send(text)
        except Exception as exc:
            if not fut.done():
                fut.set_exception(ConnectionError(str(exc)))

    async def request(self, frame: dict, timeout: float = 20) -> dict:
        reply = await asyncio.wait_for(self.submit(frame), timeout)
        if reply.get("type") == "error":
            raise RequestError(reply)
        return reply

    async def send(self, body: str, *, conv: str | None = None, to: str | None = None, client_msg_id: str,
                   media: str | None = None, timeout: float = 20) -> dict:
        frame = {"type": "send", "client_msg_id": client_msg_id, "body": body}
        if conv is not None:
            frame["conv"] = conv
        if to is not None:
            frame["to"] = to
        if media is not None:
            frame["media"] = media
        return await self.request(frame, timeout)

    async def sync_all(self, conv: str, after_seq: int = 0, limit: int = 500) -> list[dict]:
        out: list[dict] = []
        while True:
            page = await self.request({"type": "sync", "conv": conv, "after_seq": after_seq, "limit": limit})
            out += page["messages"]
            if not page["has_more"] or not page["messages"]:
                return out
            after_seq = page["messages"][-1]["seq"]

    async def next_push(self, type_: str | None = None, timeout: float = 10) -> dict:
        """The next pushed frame (of ``type_`` if given; others of different types are dropped)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.pushed.get()
                if type_ is None or frame.get("type") == type_:
                    return frame

    async def close(self) -> None:
        await self.ws.close()
        try:
            await asyncio.wait_for(self._reader, 5)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass
