"""The admin API: erase a user, delete a message or a conversation, kick, ban and unban (docs/imserver.md#admin-api).

It listens on its own port (``admin_port``, off by default) on ``admin_host`` (loopback by default, at most a
private address), never on the public WebSocket listener, and accepts only ``Authorization: Bearer
<admin_token>``: a separate secret, not a JWT, so whoever can mint client tokens (the app's auth service holds
``jwt_secret``; an identity provider signs RS256/ES256 tokens) still cannot act as an administrator.  Every call
is one ``POST /admin/<action>`` with a JSON object body and gets a JSON answer; refused calls get a 4xx with
``{"error": code, "message": ...}``.  Every call is audited in the JSON log (``admin call``: actor, peer, action,
target, status, error code), never with a body or a token.  Writes go through the store's group commit, so each is
one transaction on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging

from . import httpserve, protocol, strictjson
from .protocol import ProtocolError, dumps
from .store import StoreError, StoreUnavailable

log = logging.getLogger("imserver.admin")
MAX_BODY_BYTES = 4096
MAX_SEQS_PER_FRAME = 1000      # msg_deleted frames after an erasure stay far below any client's frame limit
ACTOR_RE = protocol.USER_RE    # X-Imserver-Actor: who is calling, for the audit log (the CLI sends $USER)
STATUS = {"bad_frame": 400, "bad_json": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
          "method": 405, "rejected": 409, "media_failed": 502, "unavailable": 503}


class AdminError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class AdminApi:
    def __init__(self, node):
        self.node = node
        self.cfg = node.cfg
        self._token_digest = hashlib.sha256(self.cfg.admin_token.encode()).digest()
        self._server = None
        self.port = 0
        self._actions = {"erase_user": self.erase_user, "delete_message": self.delete_message,
                         "delete_conversation": self.delete_conversation, "kick": self.kick, "ban": self.ban,
                         "unban": self.unban}

    async def start(self) -> None:
        self._server = await httpserve.start(self._serve, self.cfg.admin_host, self.cfg.admin_port, log, "admin")
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ---- HTTP ------------------------------------------------------------------------------
    def _authorize(self, headers: dict) -> None:
        authz = headers.get("authorization", "")
        if not authz.lower().startswith("bearer ") or not authz[7:].strip():
            raise AdminError("unauthorized", "missing admin credential: send Authorization: Bearer <admin_token>")
        given = authz[7:].strip()
        # Digests of equal length, compared in constant time: neither the token nor its length leaks.
        if not hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(), self._token_digest):
            hint = " (a client JWT is not an admin credential)" if given.count(".") == 2 else ""
            raise AdminError("unauthorized", "invalid admin credential" + hint)

    async def _serve(self, req: httpserve.HttpRequest) -> tuple[int, bytes, str]:
        action = req.path[len("/admin/"):] if req.path.startswith("/admin/") else ""
        actor = req.headers.get("x-imserver-actor", "")
        audit = {"actor": actor if ACTOR_RE.fullmatch(actor) else "?", "peer": req.peer,
                 "action": action if action in self._actions else "?", "target": None}
        try:
            self._authorize(req.headers)
            if action not in self._actions:
                raise AdminError("not_found", f"no admin action at {req.path[:80]!r}; POST /admin/<action> with "
                                              f"action one of {', '.join(sorted(self._actions))}")
            if req.method != "POST":
                raise AdminError("method", f"{req.method[:10]} is not allowed: use POST")
            try:
                body = strictjson.loads((await req.read_body(MAX_BODY_BYTES)).decode("utf-8"), 2)
            except ValueError as exc:   # StrictJSONError, UnicodeDecodeError, a bad or too large Content-Length
                raise AdminError("bad_json", f"body: expected a JSON object of at most {MAX_BODY_BYTES} bytes "
                                             f"({exc})") from None
            if not isinstance(body, dict):
                raise AdminError("bad_json", "body: expected a JSON object")
            audit["target"] = body.get("user") if isinstance(body.get("user"), str) else body.get("conv")
            if not isinstance(audit["target"], str) or len(audit["target"]) > 128:
                audit["target"] = None
            result = await self._actions[action](body)
            status = 200
        except AdminError as exc:
            status, result = STATUS[exc.code], {"error": exc.code, "message": exc.message}
        except ProtocolError as exc:   # a field the protocol's own checks refuse (ids exactly as in frames)
            status, result = 400, {"error": exc.code, "message": exc.message}
        except StoreError as exc:
            status, result = STATUS.get(exc.code, 400), {"error": exc.code, "message": exc.message}
        except StoreUnavailable:
            status, result = 503, {"error": "unavailable", "message": protocol.ERROR_CODES["unavailable"]}
        log.info("admin call", extra={**audit, "status": status, "code": result.get("error")})
        self.node.metrics.inc("imserver_admin_calls_total", action=audit["action"], status=status)
        return status, (dumps(result) + "\n").encode(), "application/json"

    # ---- actions ---------------------------------------------------------------------------
    async def erase_user(self, body: dict) -> dict:
        """Everything stored for the user goes in one transaction; the connections close; then the media objects."""
        user = protocol._str(body, "user", protocol.USER_RE, None)
        node = self.node
        try:
            res = await node.store.erase_user(user)
        except StoreError as exc:
            if exc.code != "not_found":
                raise
            res = None      # nothing in the database (a rerun after a media failure): the objects may remain
        closed = node.kick(user, "account erased")
        out = {"user": user, "connections_closed": closed, "messages_tombstoned": 0, "conversations_deleted": [],
               "groups_left": []}
        if res is not None:
            for conv, (seqs, members) in res.tombstones.items():
                for i in range(0, len(seqs), MAX_SEQS_PER_FRAME):
                    node.fanout.publish(members, dumps({"type": "msg_deleted", "conv": conv,
                                                        "seqs": list(seqs[i:i + MAX_SEQS_PER_FRAME])}))
            for conv, members in res.deleted_convs.items():
                node.fanout.publish([m for m in members if m != user], dumps({"type": "conv_deleted", "conv": conv}))
            for conv, members in res.left_groups.items():
                node.fanout.publish(members, dumps({"type": "group_event", "event": "removed", "conv": conv,
                                                    "by": "admin", "users": [user]}))
            out.update(messages_tombstoned=sum(len(s) for s, _ in res.tombstones.values()),
                       conversations_deleted=sorted(res.deleted_convs), groups_left=sorted(res.left_groups))
        out["media_objects_deleted"] = await self._media(node.media.delete_user(user)) if node.media else 0
        if res is None and not out["media_objects_deleted"]:
            raise AdminError("not_found", "no data is stored for that user")
        return out

    async def delete_message(self, body: dict) -> dict:
        conv, seq = protocol._conv(body, None), protocol._int(body, "seq", None, lo=1)
        res = await self.node.store.delete_message(conv, seq)
        if res.changed:
            self.node.fanout.publish(res.members, dumps({"type": "msg_deleted", "conv": conv, "seqs": [seq]}))
        await self._drop_media(res.orphaned_media)
        return {"conv": conv, "seq": seq, "deleted": True, "changed": res.changed}

    async def delete_conversation(self, body: dict) -> dict:
        conv = protocol._conv(body, None)
        res = await self.node.store.delete_conversation(conv)
        self.node.fanout.publish(res.members, dumps({"type": "conv_deleted", "conv": conv}))
        await self._drop_media(res.orphaned_media)
        return {"conv": conv, "messages_deleted": res.messages, "members": sorted(res.members)}

    async def kick(self, body: dict) -> dict:
        user = protocol._str(body, "user", protocol.USER_RE, None)
        if (not await self.node.store.user_known(user) and user not in self.node.local
                and not await self.node.fanout.online_anywhere(user)):
            raise AdminError("not_found", "no such user (nothing stored and not connected to any node)")
        return {"user": user, "connections_closed_here": self.node.kick(user, "kicked by an administrator")}

    async def ban(self, body: dict) -> dict:
        """Committed before the kick: a reconnect after the kick meets the ban at its handshake."""
        user = protocol._str(body, "user", protocol.USER_RE, None)
        changed = await self.node.store.ban(user)
        return {"user": user, "banned": True, "changed": changed,
                "connections_closed_here": self.node.kick(user, "banned")}

    async def unban(self, body: dict) -> dict:
        user = protocol._str(body, "user", protocol.USER_RE, None)
        await self.node.store.unban(user)
        return {"user": user, "banned": False}

    # ---- media -----------------------------------------------------------------------------
    async def _media(self, coro):
        try:
            return await coro
        except Exception as exc:   # OSError, an S3 HTTP error: the database part is done and a rerun finishes it
            log.error("admin media deletion failed", exc_info=exc, extra={"error": type(exc).__name__})
            raise AdminError("media_failed", f"the database part is committed but deleting media objects failed "
                                             f"({type(exc).__name__}); call it again to finish") from None

    async def _drop_media(self, keys) -> None:
        if self.node.media is not None:
            for key in keys:
                await self._media(self.node.media.delete(key))


def call(host: str, port: int, token: str, action: str, payload: dict, actor: str = "",
         timeout_s: float = 30.0) -> tuple[int, dict]:
    """One admin call (blocking: the CLI, tests through a thread): the HTTP status and the JSON answer."""
    import urllib.error
    import urllib.request
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if actor:
        headers["X-Imserver-Actor"] = actor
    h = f"[{host}]" if ":" in host else host
    req = urllib.request.Request(f"http://{h}:{port}/admin/{action}", data=json.dumps(payload).encode(),
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"error": "http", "message": raw.decode("utf-8", "replace").strip()}
