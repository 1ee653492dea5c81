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
