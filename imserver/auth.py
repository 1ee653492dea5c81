"""JSON Web Tokens (RFC 7519): HS256 with the standard library, and the checks every algorithm shares.

Only what imserver needs: sign ``{"sub", "exp", "iat"}`` and verify signature, algorithm,
``exp``, ``nbf`` and ``iat`` (a token issued in the future is not valid yet), and ``iss`` / ``aud``
when configured.  No ``alg: none``, no key confusion: HS256 tokens are checked only against the
shared secret, in constant time; RS256/ES256 tokens only against JWKS keys (imserver.jwks).
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


def b64url_decode(text: str) -> bytes:
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


def split_token(token: str) -> tuple[dict, str, bytes, str]:
    """The token's header, its signing input, its signature and its raw claims part, each strictly checked for
    form (three canonical base64url parts, a JSON object header); nothing is trusted until a signature is."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError("token must have three parts")
    raw_header, _raw_claims, signature = (b64url_decode(part) for part in parts)   # all ASCII from here
    header = _json_object(raw_header, "header")
    return header, f"{parts[0]}.{parts[1]}", signature, parts[1]


def check_claims(raw_claims: str, now_s: float | None, leeway_s: int, issuer: str = "", audience: str = "") -> dict:
    """The claims of a token whose signature was verified: `sub`, `exp`, `nbf`, `iat`, and `iss` / `aud` when
    the server is configured with an issuer / audience."""
    claims = _json_object(b64url_decode(raw_claims), "claims")
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
    if issuer and claims.get("iss") != issuer:
        raise AuthError("token issuer (iss) is not the configured one")
    if audience:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise AuthError("token audience (aud) does not include the configured one")
    return claims


def verify_hs256(signing_input: str, signature: bytes, secret: str) -> None:
    expected = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise AuthError("token signature is invalid")


def decode(token: str, secret: str, now_s: float | None = None, leeway_s: int = 0, issuer: str = "",
           audience: str = "") -> dict:
    """Verify an HS256 ``token`` and return its claims; raise AuthError otherwise."""
    header, signing_input, signature, raw_claims = split_token(token)
    if header.get("alg") != "HS256":
        raise AuthError("token algorithm must be HS256")
    verify_hs256(signing_input, signature, secret)
    return check_claims(raw_claims, now_s, leeway_s, issuer, audience)
