"""HS256 JSON Web Tokens (RFC 7519) with only the standard library.

Only what imserver needs: sign ``{"sub", "exp", "iat"}`` and verify signature, algorithm and
expiry.  No ``alg: none``, no key confusion: the header must say HS256 and the signature is
compared in constant time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


class AuthError(Exception):
    """A token is missing, malformed, badly signed or expired (message is safe to log)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    pad = "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(text + pad)
    except (ValueError, TypeError) as exc:
        raise AuthError("token is not base64url") from exc


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
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
    except ValueError as exc:
        raise AuthError("token header or claims are not JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise AuthError("token algorithm must be HS256")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64url(parts[2])):
        raise AuthError("token signature is invalid")
    if not isinstance(claims, dict):
        raise AuthError("token claims must be an object")
    sub = claims.get("sub")
    exp = claims.get("exp")
    if not isinstance(sub, str) or not sub:
        raise AuthError("token has no sub")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise AuthError("token has no exp")
    now = time.time() if now_s is None else now_s
    if now > exp + leeway_s:
        raise AuthError("token expired")
    return claims
