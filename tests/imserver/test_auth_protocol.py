"""Pure units: JWT HS256 and frame validation."""
import pytest

from imserver import auth
from imserver.protocol import ProtocolError, direct_conv_id, parse_client_frame


def test_token_roundtrip_and_claims():
    t = auth.make_token("alice", "s3cret", ttl_s=60, now_s=1000)
    claims = auth.decode(t, "s3cret", now_s=1030)
    assert claims["sub"] == "alice" and claims["exp"] == 1060


@pytest.mark.parametrize("mutate, reason", [
    (lambda t: t, "token expired"),
    (lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), "signature"),
    (lambda t: "x.y", "three parts"),
    (lambda t: auth.encode({"sub": "a", "exp": 9e12}, "other"), "signature"),
    (lambda t: auth.encode({"exp": 9e12}, "s3cret"), "no sub"),
])
def test_bad_tokens_rejected(mutate, reason):
    t = auth.make_token("alice", "s3cret", ttl_s=60, now_s=1000)
    with pytest.raises(auth.AuthError, match=reason):
        auth.decode(mutate(t), "s3cret", now_s=2000 if reason == "token expired" else 1001)


def test_alg_none_rejected():
    import base64, json
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    t = enc({"alg": "none"}) + "." + enc({"sub": "a", "exp": 9e12}) + "."
    with pytest.raises(auth.AuthError, match="HS256"):
        auth.decode(t, "s3cret")


def test_direct_conv_is_symmetric():
    assert direct_conv_id("bob", "alice") == direct_conv_id("alice", "bob") == "d:alice:bob"


@pytest.mark.parametrize("text, code", [
    ("not json", "bad_json"),
    ("[1,2]", "bad_json"),
    ('{"type": "nope"}', "unknown_type"),
    ('{"type": "send", "body": "x", "to": "bob"}', "bad_frame"),
    ('{"type": "send", "client_msg_id": "c1", "body": "x"}', "bad_frame"),
    ('{"type": "send", "client_msg_id": "c1", "body": "x", "to": "bob", "conv": "d:a:b"}', "bad_frame"),
    ('{"type": "send", "client_msg_id": "c1", "body": "' + "x" * 101 + '", "to": "bob"}', "bad_frame"),
    ('{"type": "sync", "conv": "g:abc", "limit": 0}', "bad_frame"),
    ('{"type": "sync", "conv": "../etc"}', "bad_frame"),
    ('{"type": "receipt", "conv": "g:abc", "seq": 1, "kind": "seen"}', "bad_frame"),
])
def test_invalid_frames(text, code):
    with pytest.raises(ProtocolError) as info:
        parse_client_frame(text, max_body_bytes=100, sync_max_limit=50)
    assert info.value.code == code


def test_valid_send_ref_defaults_to_client_msg_id():
    f = parse_client_frame('{"type":"send","client_msg_id":"c-1","to":"bob","body":"hi"}',
                           max_body_bytes=100, sync_max_limit=50)
    assert f["ref"] == "c-1" and f["to"] == "bob" and f["conv"] is None


# ---- issue 10: strict input (each case was accepted, or crashed, before) -------------------------
def _parse(text):
    return parse_client_frame(text, max_body_bytes=100, sync_max_limit=50)


@pytest.mark.parametrize("text, code", [
    # lone surrogates / NUL in any free-text field: they pass JSON but no database stores them
    ('{"type":"send","client_msg_id":"c1","to":"bob","body":"\\ud800"}', "bad_frame"),
    ('{"type":"send","client_msg_id":"c1","to":"bob","body":"ok \\udfff x"}', "bad_frame"),
    ('{"type":"send","client_msg_id":"c1","to":"bob","body":"a\\u0000b"}', "bad_frame"),
    ('{"type":"group_create","name":"\\ud83d","members":[]}', "bad_frame"),
    ('{"type":"ping","ref":"\\ud800"}', "bad_frame"),
    # invalid ref: refused, not silently replaced by null
    ('{"type":"ping","ref":"' + "r" * 65 + '"}', "bad_frame"),
    ('{"type":"ping","ref":1.5}', "bad_frame"),
    ('{"type":"ping","ref":true}', "bad_frame"),
    # anchored ids: no trailing newline
    ('{"type":"send","client_msg_id":"c1","to":"alice\\n","body":"x"}', "bad_frame"),
    ('{"type":"send","client_msg_id":"c1\\n","to":"alice","body":"x"}', "bad_frame"),
    ('{"type":"sync","conv":"g:abc\\n"}', "bad_frame"),
    ('{"type":"group_add","conv":"g:abc","user":"dave\\n"}', "bad_frame"),
    ('{"type":"media_url","key":"alice/x\\n"}', "bad_frame"),
    ('{"type":"upload","content_type":"image/png\\n","size_bytes":1}', "bad_frame"),
    # one id per 1:1 pair
    ('{"type":"send","client_msg_id":"c1","conv":"d:bob:alice","body":"x"}', "bad_frame"),
    ('{"type":"sync","conv":"d:bob:bob"}', "bad_frame"),
    # numbers: finite integers only; NaN/Infinity/overflow are not JSON
    ('{"type":"sync","conv":"g:abc","after_seq":NaN}', "bad_json"),
    ('{"type":"sync","conv":"g:abc","after_seq":Infinity}', "bad_json"),
    ('{"type":"sync","conv":"g:abc","after_seq":-Infinity}', "bad_json"),
    ('{"type":"sync","conv":"g:abc","after_seq":1e400}', "bad_json"),
    ('{"type":"sync","conv":"g:abc","after_seq":3.0}', "bad_frame"),
    # deep nesting: bad_json, not internal (RecursionError) or a slow walk
    ('{"type":"ping","x":' + "[" * 9 + "]" * 9 + "}", "bad_json"),
    ('{"type":"ping","x":' + "[" * 100000 + "]" * 100000 + "}", "bad_json"),
])
def test_strict_input(text, code):
    with pytest.raises(ProtocolError) as info:
        _parse(text)
    assert info.value.code == code, info.value.message


def test_valid_text_and_shallow_nesting_still_accepted():
    f = _parse('{"type":"send","client_msg_id":"c1","to":"bob","body":"caf\\u00e9 \\ud83d\\ude00","ref":7}')
    assert f["body"] == "café 😀" and f["ref"] == 7
    assert _parse('{"type":"ping","x":' + "[" * 6 + "]" * 6 + "}")["type"] == "ping"
    assert _parse('{"type":"sync","conv":"d:alice:bob"}')["conv"] == "d:alice:bob"


def test_peek_ref_survives_any_text():
    from imserver.protocol import peek_ref
    assert peek_ref('{"type":"ping","ref":"p1"}') == "p1"
    assert peek_ref('{"type":"send","client_msg_id":"c9"}') == "c9"
    for text in ("[" * 100000, '{"ref":"\\ud800"}', '{"ref":NaN}', b"\x00", "{"):
        assert peek_ref(text) is None


def _forge(header: dict, claims: dict, secret="s3cret") -> str:
    """A token with arbitrary header and claims, correctly signed."""
    import base64, hashlib, hmac, json
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    h = enc(json.dumps(header).encode())
    c = enc(json.dumps(claims, allow_nan=True).encode() if isinstance(claims, dict) else claims)
    sig = hmac.new(secret.encode(), f"{h}.{c}".encode(), hashlib.sha256).digest()
    return f"{h}.{c}.{enc(sig)}"


HS = {"alg": "HS256", "typ": "JWT"}


@pytest.mark.parametrize("token, reason", [
    (lambda t: t + "x", "base64url|signature"),                     # junk after the signature
    (lambda t: t + "A", "base64url|signature"),
    (lambda t: t + "==", "base64url"),
    (lambda t: t[:-1] + chr(ord(t[-1]) ^ 1), "canonical|signature"),  # only the unused low bits differ
    (lambda t: t + "é", "base64url"),
    (lambda t: _forge(HS, {"sub": "a", "exp": float("nan")}), "JSON"),
    (lambda t: _forge(HS, b'{"sub":"a","exp":1e400}'), "JSON"),
    (lambda t: _forge(HS, {"sub": "a", "exp": 9e12, "nbf": 5000}), "nbf"),
    (lambda t: _forge(HS, {"sub": "a", "exp": 9e12, "iat": 5000}), "iat"),
    (lambda t: _forge(HS, {"sub": "a", "exp": 9e12, "nbf": "soon"}), "nbf"),
    (lambda t: _forge(HS, b'{"sub":"a","exp":9e12,"x":' + b"[" * 2500 + b"]" * 2500 + b"}"), "JSON"),
    (lambda t: _forge({"alg": "HS256", "x": [[[[[[1]]]]]]}, {"sub": "a", "exp": 9e12}), "JSON"),
])
def test_more_bad_tokens_rejected(token, reason):
    t = auth.make_token("alice", "s3cret", ttl_s=600, now_s=1000)
    with pytest.raises(auth.AuthError, match=reason):
        auth.decode(token(t), "s3cret", now_s=1001, leeway_s=30)


def test_nbf_and_iat_within_leeway_accepted():
    t = _forge(HS, {"sub": "a", "exp": 9e12, "nbf": 1020, "iat": 1020})
    assert auth.decode(t, "s3cret", now_s=1001, leeway_s=30)["sub"] == "a"
