"""Handlers of the frames protocol version 2 added (docs/protocol.md): the client ``hello`` (device), ``edit`` and
``recall``, ``block``/``unblock``/``blocks``, ``group_remove``, ``group_role`` and ``group_transfer``.

Kept out of server.py so the Node keeps the connection machinery and version-1 frames; each handler has the
Node's handler signature ``(node, session, frame, t0)`` and the rules themselves live in the store (store/base.py),
the same for SQLite and PostgreSQL.
"""
from __future__ import annotations

from .protocol import PROTOCOL_VERSION, ProtocolError, dumps


async def h_hello(node, s, f, t0) -> None:
    """Once per connection: the client's protocol version and device.  A ``device_id`` claim in the token wins: a
    hello naming another device is refused (the token binds the connection to its device)."""
    if s.greeted:
        raise ProtocolError("bad_frame", "hello was already sent on this connection", f["ref"])
    device = f["device_id"]
    if device is not None and s.device and device != s.device:
        raise ProtocolError("bad_frame", "field device_id differs from the token's device_id claim", f["ref"])
    if device is not None:
        s.device = device
    s.greeted = f["protocol"]
    await s.ws.send(dumps({"type": "ok", "ref": f["ref"], "for": "hello", "protocol": PROTOCOL_VERSION,
                           "device_id": s.device or None}))


async def h_amend(node, s, f, t0) -> None:
    """edit / recall: acked and pushed like a send (same window, dedupe by client_msg_id, ``msg`` to members)."""
    window_ms = int(node.cfg.edit_window_s * 1000)
    await node.submit_message(s, f, t0, lambda: node.store.amend(f["type"], s.user, f["client_msg_id"], f["conv"],
                                                                 f["seq"], f["body"], window_ms))


async def h_block(node, s, f, t0) -> None:
    """block / unblock; ``changed`` is false when the user was blocked already."""
    write = node.store.block if f["type"] == "block" else node.store.unblock
    changed = await write(s.user, f["user"])
    await s.ws.send(dumps({"type": "ok", "ref": f["ref"], "for": f["type"], "user": f["user"],
                           "changed": changed}))


async def h_blocks(node, s, f, t0) -> None:
    await s.ws.send(dumps({"type": "blocks", "ref": f["ref"], "users": await node.store.blocks(s.user)}))


async def h_group_remove(node, s, f, t0) -> None:
    res = await node.store.group_remove(s.user, f["conv"], f["user"])
    await node.group_reply(s, f, res, "removed")


async def h_group_role(node, s, f, t0) -> None:
    res = await node.store.group_role(s.user, f["conv"], f["user"], f["role"])
    await node.group_reply(s, f, res, "role", role=f["role"])


async def h_group_transfer(node, s, f, t0) -> None:
    res = await node.store.group_role(s.user, f["conv"], f["user"], "owner")
    await node.group_reply(s, f, res, "owner")


HANDLERS = {"hello": h_hello, "edit": h_amend, "recall": h_amend, "block": h_block, "unblock": h_block,
            "blocks": h_blocks, "group_remove": h_group_remove, "group_role": h_group_role,
            "group_transfer": h_group_transfer}
