"""Tokens from an identity provider (issue 10, part 6): RS256 and ES256 JWTs verified with the keys of a JWKS URL,
issuer and audience checks, key rotation through an unknown kid (rate-limited), alongside HS256.

The identity provider is a plain HTTP server on 127.0.0.1 (a free port) serving a JWKS document the test
changes; tokens are signed here with the `cryptography` package in the JWS formats (RS256: PKCS#1 v1.5,
ES256: raw r||s). A node is started with `jwt_jwks_url` pointing at it and clients connect over WebSocket.
"""
from __future__ import annotations

import base64
import http.server
import json
import threading
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from imserver import auth
from imserver.client import ImClient
from imserver.config import Config, ConfigError
from imserver.jwks import JwksKeys, TokenVerifier, parse_jwks
from tests.imserver.conftest import SECRET

ISSUER, AUDIENCE = "https://id.example.com/", "chat-app"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Signer:
    """One key pair of the identity provider: its JWK and tokens signed with it."""

    def __init__(self, kind: str, kid: str):
        self.kind, self.kid = kind, kid
        self.private = (rsa.generate_private_key(65537, 2048) if kind == "RS256"
                        else ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict:
        numbers = self.private.public_key().public_numbers()
        if self.kind == "RS256":
            return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": _b64int(numbers.n),
                    "e": _b64int(numbers.e)}
        return {"kty": "EC", "kid": self.kid, "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
                "y": _b64(numbers.y.to_bytes(32, "big"))}

    def token(self, sub: str = "alice", alg: str | None = None, kid: str | None = None, **claims) -> str:
        now = int(time.time())
        body = {"sub": sub, "iat": now, "exp": now + 600, "iss": ISSUER, "aud": [AUDIENCE, "other"], **claims}
        header = {"alg": alg or self.kind, "typ": "JWT", "kid": kid or self.kid}
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(body).encode())
        data = signing_input.encode()
        if self.kind == "RS256":
            signature = self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input + "." + _b64(signature)


class IdentityProvider:
    """A JWKS endpoint on loopback; `keys` is what it serves now, `requests` how often it was asked."""

    def __init__(self):
        self.keys: list[dict] = []
        self.requests = 0
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                provider.requests += 1
                body = json.dumps({"keys": provider.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def idp():
    provider = IdentityProvider()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def rsa_key():
    return Signer("RS256", "rsa-1")


@pytest.fixture(scope="module")
def ec_key():
    return Signer("ES256", "ec-1")


def _verifier(idp, secret=None, **kw) -> TokenVerifier:
    return TokenVerifier(secret, JwksKeys(idp.url, min_refresh_s=kw.pop("min_refresh_s", 30.0)), 0,
                         kw.pop("issuer", ISSUER), kw.pop("audience", AUDIENCE))


@pytest.mark.parametrize("key", ["rsa_key", "ec_key"])
async def test_tokens_signed_by_the_identity_provider_are_accepted(idp, key, request):
    signer = request.getfixturevalue(key)
    idp.keys = [signer.jwk()]
    assert (await _verifier(idp).verify(signer.token("bob")))["sub"] == "bob"


@pytest.mark.parametrize("case, reason", [
    ("another key, same kid", "signature is invalid"),
    ("unknown kid", "not in the identity provider's key set"),
    ("RS256 header on the EC key", "does not match its key"),
    ("alg none", "algorithm must be one of"),
    ("HS256 keyed with the public key", "algorithm must be one of"),
    ("wrong issuer", "issuer"),
    ("wrong audience", "audience"),
    ("expired", "expired"),
])
async def test_what_the_verifier_refuses(idp, rsa_key, ec_key, case, reason):
    idp.keys = [rsa_key.jwk(), ec_key.jwk()]
    impostor = Signer("RS256", "rsa-1")
    public_pem = rsa_key.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    token = {
        "another key, same kid": lambda: impostor.token(),
        "unknown kid": lambda: rsa_key.token(kid="rsa-9"),
        "RS256 header on the EC key": lambda: ec_key.token(alg="RS256"),
        "alg none": lambda: _b64(b'{"alg":"none","kid":"rsa-1"}') + "." + rsa_key.token().split(".")[1] + ".",
        "HS256 keyed with the public key": lambda: auth.encode({"sub": "alice", "exp": 9e9}, public_pem.decode()),
        "wrong issuer": lambda: rsa_key.token(iss="https://evil.example.com/"),
        "wrong audience": lambda: rsa_key.token(aud="someone-else"),
        "expired": lambda: rsa_key.token(exp=int(time.time()) - 3600),
    }[case]()
    with pytest.raises(auth.AuthError, match=reason):
        await _verifier(idp).verify(token)


async def test_a_rotated_key_is_fetched_once_and_made_up_kids_do_not_hammer_the_provider(idp, rsa_key):
    idp.keys = [rsa_key.jwk()]
    verifier = _verifier(idp, min_refresh_s=0.5)
    await verifier.verify(rsa_key.token())
    assert idp.requests == 1
    rotated = Signer("ES256", "ec-2")
    idp.keys = [rsa_key.jwk(), rotated.jwk()]
    for _ in range(5):                                   # unknown kid within min_refresh_s: no new fetch
        with pytest.raises(auth.AuthError, match="kid"):
            await verifier.verify(rotated.token(kid="made-up"))
    assert idp.requests == 1
    time.sleep(0.6)
    assert (await verifier.verify(rotated.token("carol")))["sub"] == "carol"   # the new kid: one refetch
    assert idp.requests == 2
    await verifier.verify(rotated.token("carol"))
    assert idp.requests == 2                             # cached


def test_unusable_keys_are_skipped_not_fatal(rsa_key):
    weak = rsa.generate_private_key(65537, 1024).public_key().public_numbers()
    doc = {"keys": [{"kty": "RSA", "kid": "weak", "n": _b64int(weak.n), "e": _b64int(weak.e)},
                    {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
                    {"kty": "RSA", "kid": "enc", "use": "enc", **{k: rsa_key.jwk()[k] for k in ("n", "e")}},
                    {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
                    {"kid": "no-kty"},
                    rsa_key.jwk()]}
    assert list(parse_jwks(json.dumps(doc).encode())) == ["rsa-1"]


@pytest.mark.parametrize("fields, message", [
    ({"jwt_jwks_url": "http://id.example.com/jwks.json"}, "jwt_jwks_url"),
    ({"jwt_jwks_url": "ftp://127.0.0.1/jwks"}, "jwt_jwks_url"),
    ({"jwt_jwks_url": "https://id.example.com/jwks", "jwt_jwks_min_refresh_s": 0}, "jwt_jwks_min_refresh_s"),
])
def test_bad_jwks_settings_are_one_line_config_errors(tmp_path, fields, message):
    with pytest.raises(ConfigError, match=message):
        Config(data_dir=str(tmp_path), **fields).validate()


async def test_a_node_accepts_identity_provider_tokens_beside_hs256(idp, rsa_key, ec_key, node_factory, tmp_path):
    idp.keys = [rsa_key.jwk(), ec_key.jwk()]
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", jwt_jwks_url=idp.url, jwt_issuer=ISSUER,
                              jwt_audience=AUDIENCE)
    url = f"ws://127.0.0.1:{node.port}/ws"
    alice = await ImClient.connect(url, rsa_key.token("alice"))
    bob = await ImClient.connect(url, ec_key.token("bob"))
    try:
        await alice.send("hello from the identity provider", to="bob", client_msg_id="j-1")
        frame = await bob.next_push("msg", timeout=5)
        assert frame["body"] == "hello from the identity provider" and frame["from"] == "alice"
    finally:
        await alice.close()
        await bob.close()
    hs256 = auth.encode({"sub": "dave", "exp": int(time.time()) + 60, "iss": ISSUER, "aud": AUDIENCE}, SECRET)
    dave = await ImClient.connect(url, hs256)               # jwt_secret is configured too: HS256 still works
    await dave.close()
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, additional_headers={"Authorization": "Bearer " + rsa_key.token(iss="x")}):
            pass
    assert info.value.response.status_code == 401


async def test_with_only_an_identity_provider_hs256_tokens_are_refused(idp, rsa_key, node_factory, tmp_path):
    idp.keys = [rsa_key.jwk()]
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", jwt_jwks_url=idp.url, jwt_secret="")
    url = f"ws://127.0.0.1:{node.port}/ws"
    ok = await ImClient.connect(url, rsa_key.token("alice"))
    await ok.close()
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, additional_headers={"Authorization": "Bearer " + auth.make_token("eve", SECRET)}):
            pass
    assert info.value.response.status_code == 401
