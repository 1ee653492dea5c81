"""Pure frame validation and construction for the JSON protocol (docs/protocol.md).

No I/O here: ``parse_client_frame`` turns text into a validated dict or raises ProtocolError,
whose ``code`` is one of ERROR_CODES and becomes an ``error`` frame.
"""
from __future__ import annotations

import json
import re

from . import strictjson

# Every id pattern is used with fullmatch (``$`` would accept a trailing newline: "alice\n").
USER_RE = re.compile(r"[A-Za-z0-9_.@+\-]{1,64}")
CONV_RE = re.compile(r"d:[A-Za-z0-9_.@+\-]{1,64}:[A-Za-z0-9_.@+\-]{1,64}|g:[A-Za-z0-9]{1,40}")
CLIENT_MSG_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
MEDIA_KEY_RE = re.compile(r"[A-Za-z0-9_.@+\-/]{1,256}")
CONTENT_TYPE_RE = re.compile(r"[\w.+\-]+/[\w.+\-]+", re.ASCII)
DEVICE_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
MAX_JSON_DEPTH = 8           # a frame is an object holding at most a list of strings
MAX_REF_CHARS = 64
# Version 2 added edit/recall, blocks, group roles and removal, per-device markers (the client `hello` frame);
# every version-1 frame is still accepted unchanged.  The server's hello advertises it.
PROTOCOL_VERSION = 2

# Error codes sent in `error` frames (documented in docs/protocol.md).
ERROR_CODES = {
    "bad_json": "frame is not a JSON object",
    "bad_frame": "a field is missing or invalid",
    "rejected": "the database refused this message; resending it unchanged fails again",
    "unknown_type": "unknown frame type",
    "forbidden": "not a member of that conversation (or not allowed)",
    "not_found": "no such conversation (or message, member, block)",
    "group_full": "group size limit reached",
    "blocked": "the other user blocked you: no 1:1 messages, no group adds",
    "window_expired": "the edit/recall window of that message has passed",
    "rate_limited": "too many frames; slow down",
    "unavailable": "storage unavailable; retry with the same client_msg_id",
    "media_disabled": "media uploads are not configured",
    "shutting_down": "server is draining; reconnect elsewhere",
    "internal": "internal error",
}

# Close codes used by the server.
CLOSE_GOING_AWAY = 1001      # drain on SIGTERM
CLOSE_POLICY = 1008          # auth failed after handshake, flood, too many connections
# 1009, a frame larger than max_frame_bytes, is sent by websockets itself (no constant needed here)
CLOSE_IDLE = 1000            # idle timeout (normal closure with reason "idle timeout")

RECEIPT_KINDS = ("delivered", "read")


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, ref=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def direct_conv_id(a: str, b: str) -> str:
    """The 1:1 conversation of a pair is derived from the pair, so both sides find the same one."""
    x, y = sorted((a, b))
    return f"d:{x}:{y}"


def valid_text(text: str) -> bool:
    """False when ``text`` holds a lone surrogate (JSON "\\ud800": it has no UTF-8 form) or U+0000
    (PostgreSQL text cannot hold it): either would pass here and then fail inside a commit."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def direct_pair(conv: str) -> tuple[str, str] | None:
    if not conv.startswith("d:"):
        return None
    _, a, b = conv.split(":", 2)
    return a, b


def _str(frame: dict, name: str, regex: re.Pattern | None, ref, required: bool = True, max_len: int = 256):
    value = frame.get(name)
    if value is None:
        if required:
            raise ProtocolError("bad_frame", f"field {name} is required", ref)
        return None
    if not isinstance(value, str) or len(value) > max_len or (regex is not None and not regex.fullmatch(value)):
        raise ProtocolError("bad_frame", f"field {name} is invalid", ref)
    if regex is None and not valid_text(value):
        raise ProtocolError("bad_frame", f"field {name} holds a lone surrogate or NUL (not valid text)", ref)
    return value


def _body(frame: dict, ref, max_body_bytes: int) -> str:
    """A message body (send, edit): valid text of at most max_body_bytes UTF-8 bytes."""
    body = frame.get("body", "")
    if not isinstance(body, str):
        raise ProtocolError("bad_frame", "field body must be a string", ref)
    if not valid_text(body):
        raise ProtocolError("bad_frame", "field body holds a lone surrogate or NUL (not valid text)", ref)
    if len(body) > max_body_bytes or len(body.encode("utf-8")) > max_body_bytes:
        raise ProtocolError("bad_frame", f"body exceeds {max_body_bytes} bytes", ref)
    return body


def _conv(frame: dict, ref, required: bool = True):
    """A conversation id; a 1:1 id must name two different users in sorted order (one id per pair)."""
    conv = _str(frame, "conv", CONV_RE, ref, required=required)
    if conv is not None and conv.startswith("d:"):
        a, b = direct_pair(conv)
        if a == b:
            raise ProtocolError("bad_frame", "field conv names the same user twice", ref)
        if a > b:
            raise ProtocolError("bad_frame", f"field conv must list the two users sorted: {direct_conv_id(a, b)}",
                                ref)
    return conv


def _ref(frame: dict):
    """The frame's ref: a string (valid Unicode) or an integer, at most 64 characters; None if absent."""
    ref = frame.get("ref")
    if ref is None:
        return None
    if isinstance(ref, bool) or not isinstance(ref, (str, int)) or len(str(ref)) > MAX_REF_CHARS \
            or (isinstance(ref, str) and not valid_text(ref)):
        raise ProtocolError("bad_frame", f"field ref must be a string or integer of at most {MAX_REF_CHARS} "
                                         "characters")
    return ref


def _int(frame: dict, name: str, ref, default=None, lo: int = 0, hi: int = 2**62):
    value = frame.get(name, default)
    if value is None:
        raise ProtocolError("bad_frame", f"field {name} is required", ref)
    # floats (even 3.0) are refused: seqs and limits are integers
    if not isinstance(value, int) or isinstance(value, bool) or not (lo <= value <= hi):
        raise ProtocolError("bad_frame", f"field {name} must be an integer in {lo}..{hi}", ref)
    return value


def parse_client_frame(text, *, max_body_bytes: int, sync_max_limit: int) -> dict:
    """Validate one client frame; return a normalized dict with at least ``type`` and ``ref``."""
    frame = loads_frame(text)
    ref = _ref(frame)
    ftype = frame.get("type")
    if not isinstance(ftype, str):
        raise ProtocolError("bad_frame", "field type is required", ref)
    out: dict = {"type": ftype, "ref": ref}
    if ftype == "send":
        cmid = _str(frame, "client_msg_id", CLIENT_MSG_ID_RE, ref)
        ref = ref if ref is not None else cmid
        out["ref"] = ref
        out["client_msg_id"] = cmid
        conv = _conv(frame, ref, required=False)
        to = _str(frame, "to", USER_RE, ref, required=False)
        if (conv is None) == (to is None):
            raise ProtocolError("bad_frame", "exactly one of conv or to is required", ref)
        body = _body(frame, ref, max_body_bytes)
        media = _str(frame, "media", MEDIA_KEY_RE, ref, required=False)
        if not body and media is None:
            raise ProtocolError("bad_frame", "body or media is required", ref)
        out.update(conv=conv, to=to, body=body, media=media)
    elif ftype in ("edit", "recall"):
        cmid = _str(frame, "client_msg_id", CLIENT_MSG_ID_RE, ref)
        out["ref"] = ref = ref if ref is not None else cmid
        out.update(client_msg_id=cmid, conv=_conv(frame, ref), seq=_int(frame, "seq", ref, lo=1))
        if ftype == "edit":
            out["body"] = _body(frame, ref, max_body_bytes)
            if not out["body"]:
                raise ProtocolError("bad_frame", "field body is required (recall removes a message)", ref)
        else:
            out["body"] = ""
    elif ftype == "sync":
        out["conv"] = _conv(frame, ref)
        # None: from the start (0), or from this connection's device cursor when it has a device
        out["after_seq"] = _int(frame, "after_seq", ref) if "after_seq" in frame else None
        out["limit"] = _int(frame, "limit", ref, default=min(100, sync_max_limit), lo=1, hi=sync_max_limit)
    elif ftype in ("inbox", "ping", "blocks"):
        pass
    elif ftype == "hello":
        out["protocol"] = _int(frame, "protocol", ref, default=PROTOCOL_VERSION, lo=1)
        out["device_id"] = _str(frame, "device_id", DEVICE_RE, ref, required=False)
    elif ftype in ("block", "unblock"):
        out["user"] = _str(frame, "user", USER_RE, ref)
    elif ftype in ("group_remove", "group_transfer"):
        out["conv"] = _conv(frame, ref)
        out["user"] = _str(frame, "user", USER_RE, ref)
    elif ftype == "group_role":
        out["conv"] = _conv(frame, ref)
        out["user"] = _str(frame, "user", USER_RE, ref)
        if frame.get("role") not in ("admin", "member"):
            raise ProtocolError("bad_frame", "field role must be admin or member (group_transfer moves the owner)",
                                ref)
        out["role"] = frame["role"]
    elif ftype == "group_create":
        name = frame.get("name", "")
        if not isinstance(name, str) or len(name) > 100 or not valid_text(name):
            raise ProtocolError("bad_frame", "field name must be a string of at most 100 characters", ref)
        members = frame.get("members", [])
        if not isinstance(members, list) or not all(isinstance(m, str) and USER_RE.fullmatch(m) for m in members):
            raise ProtocolError("bad_frame", "field members must be a list of user ids", ref)
        public = frame.get("public", False)
        if not isinstance(public, bool):
            raise ProtocolError("bad_frame", "field public must be true or false", ref)
        out.update(name=name, members=list(dict.fromkeys(members)), public=public)
    elif ftype in ("group_join", "group_leave", "group_members", "typing"):
        out["conv"] = _conv(frame, ref)
    elif ftype == "group_add":
        out["conv"] = _conv(frame, ref)
        out["user"] = _str(frame, "user", USER_RE, ref)
    elif ftype == "receipt":
        out["conv"] = _conv(frame, ref)
        out["seq"] = _int(frame, "seq", ref, lo=1)
        kind = frame.get("kind")
        if kind not in RECEIPT_KINDS:
            raise ProtocolError("bad_frame", "field kind must be delivered or read", ref)
        out["kind"] = kind
    elif ftype == "media_url":
        out["key"] = _str(frame, "key", MEDIA_KEY_RE, ref)
    elif ftype == "upload":
        ctype = frame.get("content_type", "application/octet-stream")
        if not isinstance(ctype, str) or len(ctype) > 100 or not CONTENT_TYPE_RE.fullmatch(ctype):
            raise ProtocolError("bad_frame", "field content_type is invalid", ref)
        out["content_type"] = ctype
        out["size_bytes"] = _int(frame, "size_bytes", ref, lo=1)   # the PUT must send exactly this many bytes
    else:
        raise ProtocolError("unknown_type", f"unknown frame type {ftype[:32]!r}", ref)
    return out


def peek_ref(text):
    """The ref a refused frame would have had (for rate_limited errors), or None."""
    try:
        frame = loads_frame(text)
        if "ref" not in frame and frame.get("type") in ("send", "edit", "recall"):
            frame = {"ref": frame.get("client_msg_id")}
        return _ref(frame)
    except ProtocolError:
        return None


# One encoder reused (json.dumps with options builds a new encoder per call).
dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def loads_frame(text) -> dict:
    """Text → a JSON object, or ProtocolError(bad_json): binary, not JSON, NaN/Infinity, too deep."""
    if isinstance(text, bytes):
        raise ProtocolError("bad_json", "binary frames are not accepted; send JSON text")
    try:
        frame = strictjson.loads(text, MAX_JSON_DEPTH)
    except strictjson.StrictJSONError as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_json", "frame must be a JSON object")
    return frame


def error_frame(code: str, message: str, ref=None) -> str:
    frame = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    return dumps(frame)
