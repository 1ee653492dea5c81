"""HS256 JSON Web Tokens (RFC 7519) with only the standard library.

Only what imserver needs: sign ``{"sub", "exp", "iat"}`` and verify signature, algorithm,
``exp``, ``nbf`` and ``iat`` (a token issued in the future is not valid yet).  No ``alg: none``,
no key confusion: the header must say HS256 and the signature is compared in constant time.
Each part must be canonical base64url (no padding, no junk appended) and the JSON plain
(no NaN/Infinity, shallow), so one token has exactly one accepted spelling.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time

from . import strictjson

_B64URL_RE = re.compile(r"[A-Za-z0-9_\-]*")
_MAX_PART_CHARS = 8192
_MAX_JSON_DEPTH = 4          # claims may hold a list of audiences, nothing deeper


class AuthError(Exception):
    """A token is missing, malformed, badly signed or expired (message is safe to log)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    """Strict base64url: only the alphabet, no padding, and the text re-encodes to itself
    (the lenient decoder ignores junk characters and the unused low bits of the last one)."""
    if len(text) > _MAX_PART_CHARS or not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise AuthError("token is not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise AuthError("token is not canonical base64url")
    return data


def _json_object(raw: bytes, what: str) -> dict:
    try:
        value = strictjson.loads(raw.decode("utf-8"), _MAX_JSON_DEPTH)
    except ValueError as exc:   # StrictJSONError and UnicodeDecodeError
        raise AuthError(f"token {what} is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise AuthError(f"token {what} must be a JSON object")
    return value


def _number(claims: dict, name: str, required: bool):
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise AuthError(f"token has no {name}" if value is None else f"token {name} is not a finite number")
    return value


def encode(claims: dict, secret: str) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    sig = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def make_token(user: str, secret: str, ttl_s: int = 86400, now_s: float | None = None) -> str:
    now = int(time.time() if now_s is None else now_s)
    return encode({"sub": user, "iat": now, "exp": now + int(ttl_s)}, secret)


def decode(token: str, secret: str, now_s: float | None = None, leeway_s: int = 0) -> dict:
    """Verify ``token`` and return its claims; raise AuthError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError("token must have three parts")
    raw_header, raw_claims, signature = (_unb64url(part) for part in parts)   # all ASCII from here
    header = _json_object(raw_header, "header")
    if header.get("alg") != "HS256":
        raise AuthError("token algorithm must be HS256")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise AuthError("token signature is invalid")
    claims = _json_object(raw_claims, "claims")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthError("token has no sub")
    exp = _number(claims, "exp", required=True)
    nbf = _number(claims, "nbf", required=False)
    iat = _number(claims, "iat", required=False)
    now = time.time() if now_s is None else now_s
    if now > exp + leeway_s:
        raise AuthError("token expired")
    if nbf is not None and now + leeway_s < nbf:
        raise AuthError("token not valid yet (nbf)")
    if iat is not None and now + leeway_s < iat:
        raise AuthError("token issued in the future (iat)")
    return claims
