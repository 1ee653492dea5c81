"""Tokens from an identity provider: RS256 / ES256 JWTs verified with the public keys of a JWKS URL (RFC 7517).

Keys are fetched once and cached; a token naming an unknown ``kid`` makes the verifier fetch the set again (key
rotation), at most once per ``min_refresh_s`` so that tokens with made-up kids cannot make the server hammer the
provider; the set is also refreshed when older than ``max_age_s``. Each key is bound to the one algorithm its type
allows (RSA → RS256, EC P-256 → ES256, or the JWK's own ``alg``), so a token cannot pick how its key is used.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from . import auth
from .auth import AuthError

log = logging.getLogger("imserver.jwks")

ALGORITHMS = ("RS256", "ES256")
_MAX_JWKS_BYTES = 256 * 1024
_ES256_SIGNATURE_BYTES = 64            # JWS: r and s, 32 bytes each (RFC 7518 3.4), not DER


class JwksError(Exception):
    """The key set could not be fetched or read (message is safe to log)."""


def _int(value: str) -> int:
    return int.from_bytes(auth.b64url_decode(value), "big")


@dataclass(frozen=True)
class _Key:
    alg: str
    public_key: object


def parse_jwks(document: bytes) -> dict[str, _Key]:
    """kid → key of every signing key in a JWKS document that imserver can use; others are skipped (logged)."""
    try:
        data = json.loads(document)
    except ValueError as exc:
        raise JwksError(f"JWKS is not JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksError("JWKS must be an object with a list of keys")
    keys: dict[str, _Key] = {}
    for jwk in data["keys"]:
        try:
            kid, key = _parse_jwk(jwk)
        except (AuthError, KeyError, TypeError, ValueError) as exc:
            log.warning("jwks key skipped", extra={"reason": str(exc)})
            continue
        keys[kid] = key
    return keys


def _parse_jwk(jwk: dict) -> tuple[str, _Key]:
    kid = jwk["kid"]
    if not isinstance(kid, str) or not kid:
        raise ValueError("a key without a kid")
    if jwk.get("use", "sig") != "sig":
        raise ValueError(f"key {kid}: not a signing key")
    kty, alg = jwk["kty"], jwk.get("alg")
    if kty == "RSA" and alg in (None, "RS256"):
        public_key = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
        if public_key.key_size < 2048:
            raise ValueError(f"key {kid}: RSA keys must have at least 2048 bits")
        return kid, _Key("RS256", public_key)
    if kty == "EC" and jwk.get("crv") == "P-256" and alg in (None, "ES256"):
        numbers = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), ec.SECP256R1())
        return kid, _Key("ES256", numbers.public_key())
    raise ValueError(f"key {kid}: unsupported kty {kty!r} / alg {alg!r} (RS256 or ES256 on P-256)")


def verify_signature(key: _Key, alg: str, signing_input: str, signature: bytes) -> None:
    if alg != key.alg:
        raise AuthError(f"token algorithm {alg} does not match its key ({key.alg})")
    data = signing_input.encode("ascii")
    try:
        if alg == "RS256":
            key.public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            if len(signature) != _ES256_SIGNATURE_BYTES:
                raise AuthError("token signature is invalid")
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AuthError("token signature is invalid") from None


class JwksKeys:
    """The cached key set of one JWKS URL."""

    def __init__(self, url: str, min_refresh_s: float = 30.0, max_age_s: float = 3600.0, timeout_s: float = 5.0):
        self.url, self.min_refresh_s, self.max_age_s, self.timeout_s = url, min_refresh_s, max_age_s, timeout_s
        self.keys: dict[str, _Key] = {}
        self.fetched_at = float("-inf")
        self.fetches = 0
        self._lock = asyncio.Lock()

    def _download(self) -> bytes:
        with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:   # noqa: S310 (checked URL)
            body = response.read(_MAX_JWKS_BYTES + 1)
        if len(body) > _MAX_JWKS_BYTES:
            raise JwksError(f"JWKS larger than {_MAX_JWKS_BYTES} bytes")
        return body

    async def _refresh(self) -> None:
        self.fetched_at = time.monotonic()   # also on failure: the next try waits min_refresh_s
        self.fetches += 1
        try:
            body = await asyncio.to_thread(self._download)
            self.keys = parse_jwks(body)
        except (OSError, JwksError) as exc:
            log.warning("jwks fetch failed", extra={"url": self.url, "reason": str(exc)})
            return
        log.info("jwks fetched", extra={"url": self.url, "keys": len(self.keys)})

    async def get(self, kid: str) -> _Key:
        age = time.monotonic() - self.fetched_at
        if kid not in self.keys or age > self.max_age_s:
            async with self._lock:
                age = time.monotonic() - self.fetched_at
                if age > self.max_age_s or (kid not in self.keys and age >= self.min_refresh_s):
                    await self._refresh()
        key = self.keys.get(kid)
        if key is None:
            raise AuthError("token key id (kid) is not in the identity provider's key set")
        return key


class TokenVerifier:
    """Every token imserver accepts: HS256 with the shared secret (when there is one), RS256 / ES256 with the
    keys of the JWKS URL (when configured); then the shared claim checks, issuer and audience included."""

    def __init__(self, secret: str | None, jwks: JwksKeys | None, leeway_s: int, issuer: str = "",
                 audience: str = ""):
        self.secret, self.jwks, self.leeway_s, self.issuer, self.audience = secret, jwks, leeway_s, issuer, audience

    async def verify(self, token: str) -> dict:
        header, signing_input, signature, raw_claims = auth.split_token(token)
        alg = header.get("alg")
        if alg == "HS256" and self.secret:
            auth.verify_hs256(signing_input, signature, self.secret)
        elif alg in ALGORITHMS and self.jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise AuthError("token has no key id (kid)")
            verify_signature(await self.jwks.get(kid), alg, signing_input, signature)
        else:
            accepted = (["HS256"] if self.secret else []) + (list(ALGORITHMS) if self.jwks is not None else [])
            raise AuthError(f"token algorithm must be one of {', '.join(accepted)}")
        return auth.check_claims(raw_claims, None, self.leeway_s, self.issuer, self.audience)
