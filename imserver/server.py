"""The WebSocket node: handshake auth, frame dispatch, fan-out, health/metrics, drain.

One ``Node`` per process.  Nodes are stateless (all state is in the store), so any number can
run behind a TCP/HTTP load balancer with Redis carrying live fan-out between them.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import struct
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import State

from . import auth, features, protocol
from .config import Config
from .fanout import open_fanout
from .jwks import JwksKeys, TokenVerifier
from .media import open_media
from .metrics import Metrics
from .protocol import ProtocolError, dumps, error_frame
from .store import StoreError, StoreUnavailable, open_stores
from .store.base import event_fields, now_ms

log = logging.getLogger("imserver.server")


_OPEN = State.OPEN
# After the handshake the connection keeps its Request and Response (headers included, ~2.5 KiB
# per connection) only for the application's benefit; imserver has read what it needs (the
# user), so they are replaced by one shared placeholder (must stay non-None: websockets treats
# a None request as "handshake not received yet").
_SLIM_REQUEST = Request("/ws", Headers())
# A fan-out text starting with this is a command to the nodes, never a frame for clients (frames start with "{"):
# close every connection of the user, with the rest of the text as the close reason (admin kick, ban, erasure).
CLOSE_USER_PREFIX = "!close "


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented, uncompressed server text frame (RFC 6455 §5.2).

    Fan-out serializes a frame once and writes the same bytes to every recipient's transport,
    instead of websockets.broadcast()'s per-connection serialization (the server runs without
    compression extensions, so the bytes are identical for everyone)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Session:
    """Per-connection state (kept small: it is multiplied by every idle connection)."""
    __slots__ = ("ws", "user", "cid", "bucket", "violations", "inflight", "window_free", "last_rx", "device",
                 "greeted")

    def __init__(self, ws, user, cid, bucket, now, device=""):
        self.ws, self.user, self.cid, self.bucket = ws, user, cid, bucket
        self.device = device         # "" → no device: the user-wide markers (protocol 1 behaviour)
        self.greeted = 0             # the protocol version of the client's hello frame, 0 before one
        self.violations = 0
        self.inflight = 0            # unacked sends of this connection
        self.window_free = None      # asyncio.Event, created only when the window fills
        self.last_rx = now


class Node:
    def __init__(self, cfg: Config, secret: str | None = None):
        self.cfg = cfg
        self.node_id = cfg.node_id or secrets.token_hex(4)
        self.secret = secret or cfg.secret()
        # HS256 client tokens with the shared secret, unless only an identity provider's keys are configured
        hs_secret = self.secret if (secret or cfg.jwt_secret or not cfg.jwt_jwks_url) else None
        jwks = (JwksKeys(cfg.jwt_jwks_url, cfg.jwt_jwks_min_refresh_s, cfg.jwt_jwks_max_age_s)
                if cfg.jwt_jwks_url else None)
        self.tokens = TokenVerifier(hs_secret, jwks, cfg.token_leeway_s, cfg.jwt_issuer, cfg.jwt_audience)
        self.metrics = Metrics()
        self.store = open_stores(cfg.database_urls(), cfg.shard_replicas(), max_batch=cfg.group_commit_max_batch,
                                 commit_delay_s=cfg.group_commit_delay_ms / 1000)
        self.store.on_commit = self._on_commit
        self.fanout = open_fanout(cfg.redis_url, self.node_id, self.deliver_local,
                                  on_reconnect=self._on_fanout_reconnect, metrics=self.metrics,
                                  sentinels=cfg.redis_sentinels, sentinel_master=cfg.redis_sentinel_master,
                                  cluster_nodes=cfg.redis_cluster_nodes)
        self.media = open_media(cfg, self.secret)
        self.admin = None
        if cfg.admin_port:
            from .admin import AdminApi
            self.admin = AdminApi(self)
        self.local: dict[str, set[ServerConnection]] = {}
        self.sessions: set[Session] = set()
        self._outq: dict = {}
        self._flush_scheduled = False
        self._loop = None
        self.user_buckets: dict[str, TokenBucket] = {}
        self.draining = False
        self.ws_server = None
        self.port = 0
        self._tasks: list[asyncio.Task] = []
        self._next_cid = 0
        self._bg: set[asyncio.Task] = set()
        self._stopped = asyncio.Event()
        m = self.metrics
        m.gauge("imserver_connections", "open WebSocket connections on this node",
                lambda: sum(len(s) for s in self.local.values()))
        m.gauge("imserver_users_online", "distinct users connected to this node", lambda: len(self.local))
        m.gauge("imserver_store_inflight", "write operations queued or committing", lambda: self.store.inflight)
        m.gauge("imserver_fanout_up", "1 when the fan-out bus is connected", lambda: 1 if self.fanout.healthy() else 0)

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> int:
        self._loop = asyncio.get_running_loop()
        await self.store.open()
        await self.store.start()
        await self.fanout.start()
        if self.media is not None:
            await self.media.start()
        if self.admin is not None:
            await self.admin.start()
        ssl_ctx = None
        if self.cfg.tls_cert_file:
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(self.cfg.tls_cert_file, self.cfg.tls_key_file)
        origins = None
        if self.cfg.origins:
            origins = [None if o in ("none", "null") else o for o in self.cfg.origins]
        self.ws_server = await serve(
            self.handler, self.cfg.listen_host, self.cfg.listen_port,
            process_request=self.process_request, origins=origins, compression=None,
            max_size=self.cfg.max_frame_bytes, max_queue=16, ssl=ssl_ctx,
            ping_interval=self.cfg.ping_interval_s, ping_timeout=self.cfg.ping_timeout_s,
            close_timeout=5, server_header=None)
        self.port = self.ws_server.sockets[0].getsockname()[1]
        self._tasks.append(asyncio.get_running_loop().create_task(self._idle_sweeper()))
        if self.cfg.retention_days > 0:
            self._tasks.append(asyncio.get_running_loop().create_task(self._retention_loop()))
        if not self.cfg.jwt_secret:
            log.warning("using the development jwt secret; set jwt_secret in production",
                        extra={"path": str(Path(self.cfg.data_dir).resolve() / "dev-secret")})
        log.info("listening", extra={"node": self.node_id, "host": self.cfg.listen_host, "port": self.port,
                                     "media_port": getattr(self.media, "port", None),
                                     "admin_port": getattr(self.admin, "port", None),
                                     "tls": bool(ssl_ctx), "fanout": "redis-cluster" if self.cfg.redis_cluster_nodes else
                                     "redis" if self.cfg.redis_url else "local"})
        return self.port

    async def shutdown(self) -> None:
        """Drain: finish queued commits (acks go out), close clients with 1001, then stop listening.

        While draining the listener stays open: /readyz answers 503 so load balancers stop
        sending, and a new WebSocket is closed with 1001 right after its upgrade (reconnect
        elsewhere) instead of meeting a refused TCP connection."""
        if self.draining:
            await self._stopped.wait()
            return
        self.draining = True
        log.info("draining", extra={"node": self.node_id, "inflight": self.store.inflight})
        await asyncio.sleep(self.cfg.drain_grace_s)   # health checks see 503 and stop routing here
        deadline = time.monotonic() + self.cfg.drain_timeout_s
        while self.store.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)   # let acks already handed to the transport reach the socket
        conns = [ws for users in self.local.values() for ws in users]
        if conns:
            await asyncio.wait([asyncio.ensure_future(ws.close(protocol.CLOSE_GOING_AWAY, "server shutting down"))
                                for ws in conns], timeout=self.cfg.drain_timeout_s)
        self.ws_server.close(close_connections=False)
        await self.ws_server.wait_closed()
        if self.admin is not None:
            await self.admin.close()
        for t in self._tasks:
            t.cancel()
        await self.fanout.close()
        await self.store.close()
        if self.media is not None:
            await self.media.close()
        log.info("stopped", extra={"node": self.node_id})
        self._stopped.set()

    # ---- HTTP: health, metrics, auth at handshake ----------------------------------------
    async def process_request(self, connection: ServerConnection, request: Request):
        parts = urlsplit(request.path)
        path = parts.path
        if path == "/healthz":
            return connection.respond(200, "ok\n")
        if path == "/readyz":
            ok = not self.draining and self.fanout.healthy() and await self.store.ping()
            return connection.respond(200 if ok else 503, "ready\n" if ok else "not ready\n")
        if path == "/metrics":
            return connection.respond(200, self.metrics.render())
        if path != "/ws":
            return connection.respond(404, "not found\n")
        if self.draining:
            connection.imserver_user = None   # the handler closes it with 1001 at once
            return None
        token = None
        authz = request.headers.get("Authorization", "")
        if authz.lower().startswith("bearer "):
            token = authz[7:].strip()
        elif parts.query:
            token = (parse_qs(parts.query).get("token") or [None])[0]
        if not token:
            self.metrics.inc("imserver_errors_total", code="unauthorized")
            return connection.respond(401, "missing bearer token\n")
        try:
            claims = await self.tokens.verify(token)
        except auth.AuthError as exc:
            self.metrics.inc("imserver_errors_total", code="unauthorized")
            log.info("auth rejected", extra={"reason": str(exc)})
            return connection.respond(401, "invalid token\n")
        if not protocol.USER_RE.fullmatch(claims["sub"]):
            return connection.respond(401, "invalid token subject\n")
        device = claims.get("device_id", "")
        if not isinstance(device, str) or (device and not protocol.DEVICE_RE.fullmatch(device)):
            return connection.respond(401, "invalid token device_id\n")
        try:
            banned = await self.store.is_banned(claims["sub"])
        except Exception as exc:   # fail closed: a ban that cannot be checked is not skipped
            log.warning("ban check failed", extra={"error": type(exc).__name__})
            return connection.respond(503, "storage unavailable\n")
        if banned:
            self.metrics.inc("imserver_errors_total", code="banned")
            return connection.respond(403, "user is banned\n")
        connection.imserver_user = claims["sub"]
        connection.imserver_device = device
        return None

    @staticmethod
    def _slim(ws: ServerConnection) -> None:
        ws.request = _SLIM_REQUEST
        ws.response = None

    # ---- connections ---------------------------------------------------------------------
    def push(self, conns, text: str) -> int:
        """Queue one frame for several connections without waiting (no per-connection coroutine).

        Frames are serialized once and coalesced per connection until the end of the current
        loop iteration, so a connection that gets an ack and a message from the same group
        commit gets them in one write (one syscall).  A connection whose unsent buffer exceeds
        max_write_buffer_bytes is a slow consumer: it is closed with 1008 and recovers by sync."""
        frame = text_frame(text)
        out = self._outq
        n = 0
        for ws in conns:
            if ws.protocol.state is not _OPEN or ws.send_in_progress is not None:
                continue
            q = out.get(ws)
            if q is None:
                out[ws] = [frame]
            else:
                q.append(frame)
            n += 1
        if n and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return n

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._outq = self._outq, {}
        limit = self.cfg.max_write_buffer_bytes
        for ws, frames in out.items():
            if ws.protocol.state is not _OPEN:
                continue
            transport = ws.transport
            if transport.get_write_buffer_size() > limit:
                self.metrics.inc("imserver_errors_total", code="slow_consumer")
                self._spawn(ws.close(protocol.CLOSE_POLICY, "slow consumer"))
                continue
            transport.write(frames[0] if len(frames) == 1 else b"".join(frames))

    def deliver_local(self, users, text: str, exclude=None) -> None:
        if text[0] == "!":
            self._close_local(users, text)
            return
        targets = []
        local = self.local
        for u in users:
            conns = local.get(u)
            if conns:
                targets.extend(conns)
        if exclude is not None and exclude in targets:
            targets.remove(exclude)
        if targets:
            n = self.push(targets, text)
            if text.startswith('{"type":"msg"'):
                self.metrics.inc("imserver_messages_out_total", n)

    def kick(self, user: str, reason: str) -> int:
        """Close all of ``user``'s connections, here and (through the fan-out) on every node; returns how many
        were open here."""
        n = len(self.local.get(user, ()))
        self.fanout.publish((user,), CLOSE_USER_PREFIX + reason)
        return n

    def _close_local(self, users, text: str) -> None:
        if not text.startswith(CLOSE_USER_PREFIX):
            return
        reason = text[len(CLOSE_USER_PREFIX):]
        for user in users:
            for ws in list(self.local.get(user, ())):
                self.metrics.inc("imserver_errors_total", code="kicked")
                self._spawn(ws.close(protocol.CLOSE_POLICY, reason))

    def _on_fanout_reconnect(self) -> None:
        conns = [ws for users in self.local.values() for ws in users]
        self.push(conns, dumps({"type": "resync", "reason": "fan-out reconnected; sync your conversations"}))

    def _on_commit(self, n: int, seconds: float) -> None:
        self.metrics.inc("imserver_commit_batches_total")
        self.metrics.inc("imserver_commit_ops_total", n)
        self.metrics.commit_latency.observe(seconds)

    def _spawn(self, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    async def handler(self, ws: ServerConnection) -> None:
        user = ws.imserver_user
        self._slim(ws)
        cfg = self.cfg
        if self.draining or user is None:
            await ws.close(protocol.CLOSE_GOING_AWAY, "server shutting down")
            return
        conns = self.local.get(user)
        if conns is not None and len(conns) >= cfg.max_connections_per_user:
            self.metrics.inc("imserver_errors_total", code="too_many_connections")
            await ws.close(protocol.CLOSE_POLICY, "too many connections for this user")
            return
        self._next_cid += 1
        s = Session(ws, user, self._next_cid, TokenBucket(cfg.conn_rate_msgs_per_s, cfg.conn_rate_burst_msgs),
                    time.monotonic(), getattr(ws, "imserver_device", ""))
        self.sessions.add(s)
        first = conns is None
        if first:
            conns = self.local[user] = set()
            self.user_buckets[user] = TokenBucket(cfg.user_rate_msgs_per_s, cfg.user_rate_burst_msgs)
            self.fanout.subscribe(user)
        conns.add(ws)
        self.metrics.inc("imserver_connections_total")
        log.debug("conn open", extra={"user": user, "cid": s.cid})
        close_code = None
        try:
            await ws.send(dumps({"type": "hello", "user": user, "node": self.node_id, "ts": now_ms(),
                                 "max_frame_bytes": cfg.max_frame_bytes, "protocol": protocol.PROTOCOL_VERSION,
                                 **({"device_id": s.device} if s.device else {})}))
            if first and cfg.presence_enabled:
                self._spawn(self._presence(user, "online"))
            await self._serve(s)
        except ConnectionClosed as exc:
            close_code = exc.rcvd.code if exc.rcvd else None
        finally:
            self.sessions.discard(s)
            conns.discard(ws)
            if not conns and self.local.get(user) is conns:
                del self.local[user]
                self.user_buckets.pop(user, None)
                self.fanout.unsubscribe(user)
                if cfg.presence_enabled and not self.draining:
                    self._spawn(self._presence(user, "offline"))
            log.debug("conn close", extra={"user": user, "cid": s.cid, "code": close_code})

    async def _presence(self, user: str, status: str) -> None:
        """Tell contacts when the user's first connection on any node opens, or the last one anywhere closes."""
        if not await self.fanout.presence_edge(user, status == "online"):
            return
        try:
            contacts = await self.store.contacts(user)
        except Exception:
            return
        if contacts:
            self.fanout.publish(contacts, dumps({"type": "presence", "user": user, "status": status,
                                                 "ts": now_ms()}))

    async def _serve(self, s: Session) -> None:
        ws, cfg = s.ws, self.cfg
        ubucket = self.user_buckets[s.user]
        handlers = self._handlers
        while True:
            text = await ws.recv()
            t0 = time.perf_counter()
            s.last_rx = time.monotonic()
            frame = {}
            self.metrics.inc("imserver_frames_in_total")
            if not (s.bucket.take() and ubucket.take()):
                s.violations += 1
                self.metrics.inc("imserver_errors_total", code="rate_limited")
                if s.violations >= cfg.rate_violations_before_close:
                    await ws.close(protocol.CLOSE_POLICY, "rate limit exceeded")
                    return
                await ws.send(error_frame("rate_limited", protocol.ERROR_CODES["rate_limited"],
                                          protocol.peek_ref(text)))
                continue
            try:
                frame = protocol.parse_client_frame(text, max_body_bytes=cfg.max_body_bytes,
                                                    sync_max_limit=cfg.sync_max_limit)
                if self.draining:
                    raise ProtocolError("shutting_down", protocol.ERROR_CODES["shutting_down"], frame["ref"])
                await handlers[frame["type"]](self, s, frame, t0)
            except ProtocolError as exc:
                self.metrics.inc("imserver_errors_total", code=exc.code)
                await ws.send(error_frame(exc.code, exc.message, exc.ref))
            except StoreError as exc:
                self.metrics.inc("imserver_errors_total", code=exc.code)
                await ws.send(error_frame(exc.code, exc.message, frame.get("ref")))
            except StoreUnavailable:
                self.metrics.inc("imserver_errors_total", code="unavailable")
                await ws.send(error_frame("unavailable", protocol.ERROR_CODES["unavailable"], frame.get("ref")))
            except ConnectionClosed:
                raise
            except Exception as exc:   # a read failed (database down...) or a bug: report, keep serving
                code = "unavailable" if isinstance(exc, OSError) or "asyncpg" in type(exc).__module__ else "internal"
                log.error("frame failed", exc_info=exc,
                          extra={"user": s.user, "cid": s.cid, "error": type(exc).__name__,
                                 "frame_type": frame.get("type") if isinstance(frame, dict) else None})
                self.metrics.inc("imserver_errors_total", code=code)
                await ws.send(error_frame(code, protocol.ERROR_CODES[code], frame.get("ref")))

    # ---- frame handlers ------------------------------------------------------------------
    async def _h_send(self, s: Session, f: dict, t0: float) -> None:
        if f["media"] is not None:
            await self._check_media(s, f)
        await self.submit_message(s, f, t0, lambda: self.store.send(s.user, f["client_msg_id"], f["conv"], f["to"],
                                                                    f["body"], f["media"]))

    async def submit_message(self, s: Session, f: dict, t0: float, write) -> None:
        """Queue a message write (send, edit, recall) under the connection's in-flight window; its ack and ``msg``
        push go out when it commits."""
        while s.inflight >= self.cfg.max_inflight_sends_per_conn:   # backpressure: stop reading
            if s.window_free is None:
                s.window_free = asyncio.Event()
            s.window_free.clear()
            await s.window_free.wait()
        s.inflight += 1
        fut = write()
        fut.add_done_callback(lambda fut: self._send_done(s, f["ref"], t0, fut))

    async def _check_media(self, s: Session, f: dict) -> None:
        """A message may carry only an object its sender uploaded (knowing a key grants nothing)."""
        if self.media is None:
            raise ProtocolError("media_disabled", protocol.ERROR_CODES["media_disabled"], f["ref"])
        if f["media"].split("/", 1)[0] != s.user:
            raise ProtocolError("forbidden", "field media: only keys you uploaded may be sent", f["ref"])
        if not await self.media.exists(f["media"]):
            raise ProtocolError("bad_frame", "field media: no object was uploaded under that key", f["ref"])

    def _send_done(self, s: Session, ref, t0: float, fut: asyncio.Future) -> None:
        s.inflight -= 1
        if s.window_free is not None:
            s.window_free.set()
        exc = fut.exception()
        if exc is not None:
            code = exc.code if isinstance(exc, StoreError) else "unavailable"
            message = exc.message if isinstance(exc, StoreError) else protocol.ERROR_CODES["unavailable"]
            if not isinstance(exc, (StoreError, StoreUnavailable)):
                log.error("send failed", exc_info=exc, extra={"user": s.user, "error": type(exc).__name__})
            self.metrics.inc("imserver_errors_total", code=code)
            self.push((s.ws,), error_frame(code, message, ref))
            return
        r = fut.result()
        ack = {"type": "ack", "ref": ref, "client_msg_id": r.client_msg_id, "conv": r.conv, "seq": r.seq, "ts": r.ts,
               **event_fields(r.event, r.target_seq)}
        if r.duplicate:
            ack["duplicate"] = True
            self.metrics.inc("imserver_messages_duplicate_total")
        self.push((s.ws,), dumps(ack))
        self.metrics.ack_latency.observe(time.perf_counter() - t0)
        if not r.duplicate:
            self.metrics.inc("imserver_messages_in_total")
            msg = {"type": "msg", "conv": r.conv, "seq": r.seq, "from": r.sender, "client_msg_id": r.client_msg_id,
                   "body": r.body, "ts": r.ts, **event_fields(r.event, r.target_seq)}
            if r.media:
                msg["media"] = r.media
            self.fanout.publish(r.members, dumps(msg), exclude=s.ws)

    async def _h_sync(self, s, f, t0):
        after = f["after_seq"]
        if after is None:   # a device resumes from its cursor (its delivered marker); otherwise from the start
            after = await self.store.device_cursor(s.user, s.device, f["conv"]) if s.device else 0
        msgs, last_seq = await self.store.history(s.user, f["conv"], after, f["limit"])
        await s.ws.send(dumps({"type": "history", "ref": f["ref"], "conv": f["conv"], "after_seq": after,
                               "messages": msgs,
                               "last_seq": last_seq, "has_more": bool(msgs) and msgs[-1]["seq"] < last_seq}))

    async def _h_inbox(self, s, f, t0):
        convs = await self.store.inbox(s.user, s.device)
        await s.ws.send(dumps({"type": "inbox", "ref": f["ref"], "conversations": convs}))

    async def group_reply(self, s, f, res, event: str, **extra) -> None:
        await s.ws.send(dumps({"type": "group", "ref": f["ref"], "conv": res.conv, "name": res.name,
                               "members": sorted(res.members)}))
        if res.changed:
            # Members and the users changed (the one who left included) on all their connections,
            # except the requesting one, which has the `group` reply.
            notify = set(res.members) | set(res.changed)
            self.fanout.publish(notify, dumps({"type": "group_event", "event": event, "conv": res.conv,
                                               "name": res.name, "by": s.user, "users": sorted(res.changed),
                                               **extra}),
                                exclude=s.ws)

    async def _h_group_create(self, s, f, t0):
        conv = "g:" + secrets.token_hex(8)
        res = await self.store.group_create(s.user, conv, f["name"], f["members"], f["public"],
                                            self.cfg.max_group_members)
        await self.group_reply(s, f, res, "added")

    async def _h_group_join(self, s, f, t0):
        res = await self.store.group_join(s.user, f["conv"], self.cfg.max_group_members)
        await self.group_reply(s, f, res, "joined")

    async def _h_group_add(self, s, f, t0):
        res = await self.store.group_add(s.user, f["conv"], f["user"], self.cfg.max_group_members)
        await self.group_reply(s, f, res, "added")

    async def _h_group_leave(self, s, f, t0):
        res = await self.store.group_leave(s.user, f["conv"])
        await self.group_reply(s, f, res, "left")

    async def _h_group_members(self, s, f, t0):
        roles = await self.store.member_roles(s.user, f["conv"])
        await s.ws.send(dumps({"type": "members", "ref": f["ref"], "conv": f["conv"], "members": sorted(roles),
                               "roles": roles}))

    async def _h_receipt(self, s, f, t0):
        res = await self.store.receipt(s.user, f["conv"], f["kind"], f["seq"], s.device)
        await s.ws.send(dumps({"type": "ok", "ref": f["ref"], "for": "receipt", "conv": res.conv, "seq": res.seq}))
        if not res.moved:
            return
        # every member, the sender's other devices included (their unread counts follow), not this connection
        self.fanout.publish(res.members, dumps({"type": "receipt", "conv": res.conv, "user": s.user, "kind": res.kind,
                                                "seq": res.seq}), exclude=s.ws)

    async def _h_typing(self, s, f, t0):
        members = await self.store.members(s.user, f["conv"])
        others = [m for m in members if m != s.user]
        if f["conv"].startswith("d:") and others and await self.store.is_blocked(s.user, others[0]):
            return     # no 1:1 delivery from a blocked user, not even typing (and no error: typing has no reply)
        self.fanout.publish(others, dumps({"type": "typing", "conv": f["conv"], "user": s.user}))

    async def _h_upload(self, s, f, t0):
        if self.media is None:
            raise ProtocolError("media_disabled", protocol.ERROR_CODES["media_disabled"], f["ref"])
        if f["size_bytes"] > self.cfg.max_media_bytes:
            raise ProtocolError("bad_frame", f"size_bytes exceeds {self.cfg.max_media_bytes}", f["ref"])
        info = self.media.upload(s.user, f["content_type"], f["size_bytes"])
        await s.ws.send(dumps({"type": "upload_url", "ref": f["ref"], **info}))

    async def _h_media_url(self, s, f, t0):
        if self.media is None:
            raise ProtocolError("media_disabled", protocol.ERROR_CODES["media_disabled"], f["ref"])
        # The uploader may always fetch its own object (key prefix); anyone else only when the
        # key was sent in a conversation they are a member of.
        if f["key"].split("/", 1)[0] != s.user and not await self.store.can_read_media(s.user, f["key"]):
            raise ProtocolError("forbidden", "no conversation of yours carries that media key", f["ref"])
        await s.ws.send(dumps({"type": "media_url", "ref": f["ref"], "key": f["key"],
                               "url": self.media.download_url(f["key"]), "expires_in_s": self.cfg.upload_url_ttl_s}))

    async def _h_ping(self, s, f, t0):
        await s.ws.send(dumps({"type": "pong", "ref": f["ref"], "ts": now_ms()}))

    _handlers = {
        "send": _h_send, "sync": _h_sync, "inbox": _h_inbox, "group_create": _h_group_create,
        "group_join": _h_group_join, "group_add": _h_group_add, "group_leave": _h_group_leave,
        "group_members": _h_group_members, "receipt": _h_receipt, "typing": _h_typing, "upload": _h_upload,
        "media_url": _h_media_url, "ping": _h_ping, **features.HANDLERS,
    }

    # ---- idle timeout --------------------------------------------------------------------
    async def _idle_sweeper(self) -> None:
        """Close connections that sent no frame for idle_timeout_s (one timer for all, not one per recv)."""
        period = min(5.0, self.cfg.idle_timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            cutoff = time.monotonic() - self.cfg.idle_timeout_s
            for s in [s for s in self.sessions if s.last_rx < cutoff]:
                self.metrics.inc("imserver_errors_total", code="idle_timeout")
                self._spawn(s.ws.close(protocol.CLOSE_IDLE, "idle timeout"))

    # ---- retention -----------------------------------------------------------------------
    async def _retention_loop(self) -> None:
        while True:
            try:
                cutoff = now_ms() - int(self.cfg.retention_days * 86_400_000)
                deleted = await self.store.purge_before(cutoff)
                self.metrics.inc("imserver_retention_deleted_total", deleted)
                if deleted:
                    log.info("retention purge", extra={"deleted": deleted})
            except Exception as exc:
                log.warning("retention purge failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(self.cfg.retention_interval_s)


def install_uvloop() -> bool:
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def run_until_signal(cfg: Config) -> None:
    import signal
    node = Node(cfg)
    await node.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await node.shutdown()
