"""Health, readiness, metrics, retention, media uploads (local endpoint and S3 via moto)."""
import asyncio
import urllib.request

import pytest

from imserver.client import RequestError


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_health_ready_metrics(node, client_factory):
    base = f"http://127.0.0.1:{node.port}"
    alice = await client_factory(node, "alice")
    await alice.send("secret body text", to="bob", client_msg_id="m-1")
    status, _ = await asyncio.to_thread(_get, base + "/healthz")
    assert status == 200
    status, _ = await asyncio.to_thread(_get, base + "/readyz")
    assert status == 200
    status, text = await asyncio.to_thread(_get, base + "/metrics")
    assert status == 200
    assert "imserver_messages_in_total 1" in text
    assert "imserver_connections 1" in text
    assert 'imserver_ack_latency_seconds_bucket{le="+Inf"} 1' in text
    assert "imserver_commit_latency_seconds_count" in text
    assert "secret body text" not in text


async def test_retention_deletes_old_messages(node_factory, database_url, client_factory):
    node = await node_factory(database_url=database_url)
    alice = await client_factory(node, "alice")
    for i in range(3):
        await alice.send(f"m{i}", to="bob", client_msg_id=f"r-{i}")
    from imserver.store.base import now_ms
    deleted = await node.store.purge_before(now_ms() + 1000)   # everything is "older" than the cutoff
    assert deleted == 3
    assert await alice.sync_all("d:alice:bob") == []
    ack = await alice.send("new", to="bob", client_msg_id="r-9")
    assert ack["seq"] == 4        # ids are never reused after a purge


def _http(method: str, url: str, data: bytes | None = None, headers=None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def test_local_media_upload_and_download(node_factory, client_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", max_media_bytes=1000)
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    up = await alice.request({"type": "upload", "content_type": "image/png", "size_bytes": 5})
    assert up["headers"] == {"Content-Type": "image/png", "Content-Length": "5"}
    with pytest.raises(RequestError) as info:          # not uploaded yet: nothing to send
        await alice.send("", to="bob", media=up["key"], client_msg_id="img-0")
    assert info.value.code == "bad_frame"
    bad = up["url"].replace("sig=", "sig=0")
    status, _ = await asyncio.to_thread(_http, "PUT", bad, b"evil", up["headers"])
    assert status == 403
    status, _ = await asyncio.to_thread(_http, "PUT", up["url"], b"x" * 2000, {"Content-Type": "image/png"})
    assert status == 413
    status, _ = await asyncio.to_thread(_http, "PUT", up["url"], b"PNG!!!", {"Content-Type": "image/png"})
    assert status == 413                                # declared 5 bytes, not 6
    status, _ = await asyncio.to_thread(_http, "PUT", up["url"], b"PNG!!", {"Content-Type": "text/html"})
    assert status == 415                                # declared image/png
    status, _ = await asyncio.to_thread(_http, "PUT", up["url"], b"PNG!!", up["headers"])
    assert status == 201
    status, _ = await asyncio.to_thread(_http, "PUT", up["url"], b"EVIL!", up["headers"])
    assert status == 409                                # single-use: no overwrite while the URL lives
    await alice.send("", to="bob", media=up["key"], client_msg_id="img-1")
    msg = await bob.next_push("msg")
    assert msg["media"] == up["key"]
    link = await bob.request({"type": "media_url", "key": msg["media"]})
    status, body = await asyncio.to_thread(_http, "GET", link["url"])
    assert status == 200 and body == b"PNG!!"
    status, _ = await asyncio.to_thread(_http, "GET", link["url"].replace("op=get", "op=put"))
    assert status == 403
    mallory = await client_factory(node, "mallory")      # knows the key, is in no conversation carrying it
    with pytest.raises(RequestError) as info:
        await mallory.request({"type": "media_url", "key": up["key"]})
    assert info.value.code == "forbidden"
    with pytest.raises(RequestError) as info:            # nor can it send the key to gain access
        await mallory.send("", to="bob", media=up["key"], client_msg_id="steal")
    assert info.value.code == "forbidden"


async def test_media_port_answers_garbage_with_clean_errors(node_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db")
    port = node.media.port

    async def raw(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return reply

    key = "alice/" + "0" * 32
    reply = await raw(f"GET /media/{key}?op=get&exp=9999999999&sig=\u00e9\u00e9 HTTP/1.1\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 403")                # non-ASCII sig
    reply = await raw(b"GET /media/x HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431")                # a header line beyond 64 KiB
    reply = await raw(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431")
    reply = await raw(b"BREW\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")


async def test_s3_presigned_upload_against_moto(node_factory, client_factory, tmp_path, moto_s3):
    s3, media_cfg = moto_s3
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", **media_cfg)
    alice = await client_factory(node, "alice")
    up = await alice.request({"type": "upload", "content_type": "image/jpeg", "size_bytes": 8})
    assert "X-Amz-Signature=" in up["url"]
    # Declared type, size and If-None-Match (single-use) are signed: S3 refuses other values.
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match" in up["url"]
    assert up["headers"] == {"Content-Type": "image/jpeg", "Content-Length": "8", "If-None-Match": "*"}
    with pytest.raises(RequestError) as info:
        await alice.send("", to="bob", media=up["key"], client_msg_id="s3-0")
    assert info.value.code == "bad_frame"            # HEAD says: not uploaded yet
    status, _ = await asyncio.to_thread(_http, "PUT", up["url"], b"JPEGDATA", up["headers"])
    assert status == 200
    status, _ = await asyncio.to_thread(_http, "PUT", up["url"], b"EVILDATA", up["headers"])
    assert status == 412                             # single-use: S3 conditional write refuses
    ack = await alice.send("", to="bob", media=up["key"], client_msg_id="s3-1")
    assert ack["seq"] == 1
    obj = s3.get_object(Bucket="media", Key=up["key"])
    assert obj["Body"].read() == b"JPEGDATA"
    link = await alice.request({"type": "media_url", "key": up["key"]})
    status, body = await asyncio.to_thread(_http, "GET", link["url"])
    assert status == 200 and body == b"JPEGDATA"


async def test_media_disabled_error(node_factory, client_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", media_backend="none")
    alice = await client_factory(node, "alice")
    with pytest.raises(RequestError) as info:
        await alice.request({"type": "upload", "content_type": "image/png", "size_bytes": 10})
    assert info.value.code == "media_disabled"


def test_sigv4_presign_matches_aws_documented_example():
    # AWS S3 docs, "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)".
    import datetime as dt
    from imserver.media import presign_s3
    url = presign_s3("GET", endpoint_url="", bucket="examplebucket", key="test.txt", region="us-east-1",
                     access_key_id="AKIAIOSFODNN7EXAMPLE",
                     secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", expires_s=86400,
                     now=dt.datetime(2013, 5, 24, tzinfo=dt.timezone.utc))
    assert url.startswith("https://examplebucket.s3.amazonaws.com/test.txt?")
    assert url.endswith("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


async def test_native_tls(node_factory, mint, tmp_path):
    import shutil
    import ssl
    import subprocess
    from websockets.asyncio.client import connect
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed (needed to make a throwaway certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", tls_cert_file=str(cert),
                              tls_key_file=str(key))
    ctx = ssl.create_default_context(cafile=str(cert))
    async with connect(f"wss://127.0.0.1:{node.port}/ws", ssl=ctx,
                       additional_headers={"Authorization": "Bearer " + mint("alice")}) as ws:
        assert '"hello"' in await ws.recv()
    with pytest.raises(Exception):      # plain ws:// to a TLS port does not get a session
        async with connect(f"ws://127.0.0.1:{node.port}/ws", open_timeout=3,
                           additional_headers={"Authorization": "Bearer " + mint("alice")}) as ws:
            await ws.recv()


async def test_retention_job_runs_on_its_own(node_factory, client_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", retention_days=0.00001,   # ~0.9 s
                              retention_interval_s=0.2)
    # Wait on the purge itself (the job counts what it deleted right after the store's delete resolves), not on
    # the message vanishing from sync: under load that can be seen before the counter moves.
    purged = asyncio.Event()
    count = node.metrics.inc

    def counting(name, value=1, **labels):
        count(name, value, **labels)
        if name == "imserver_retention_deleted_total" and value >= 1:
            purged.set()

    node.metrics.inc = counting
    alice = await client_factory(node, "alice")
    await alice.send("short-lived", to="bob", client_msg_id="t-1")
    await asyncio.wait_for(purged.wait(), 30)
    assert node.metrics.get("imserver_retention_deleted_total") >= 1
    assert await alice.sync_all("d:alice:bob") == []


async def test_read_failure_is_an_error_frame_and_connection_survives(node_factory, client_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db")
    alice = await client_factory(node, "alice")
    await alice.send("x", to="bob", client_msg_id="f-1")

    async def broken(*args):
        raise OSError("database unreachable")

    node.store.history = broken
    with pytest.raises(RequestError) as info:
        await alice.request({"type": "sync", "conv": "d:alice:bob"})
    assert info.value.code == "unavailable"
    assert (await alice.request({"type": "ping"}))["type"] == "pong"


async def test_group_commit_shares_transactions(node_factory, client_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", group_commit_delay_ms=5)
    clients = [await client_factory(node, f"u{i}") for i in range(10)]
    futs = [c.submit({"type": "send", "client_msg_id": f"{i}-{j}", "to": "sink", "body": "x"})
            for j in range(5) for i, c in enumerate(clients)]
    acks = await asyncio.wait_for(asyncio.gather(*futs), 30)
    assert all(a["type"] == "ack" for a in acks)
    ops = node.metrics.get("imserver_commit_ops_total")
    batches = node.metrics.get("imserver_commit_batches_total")
    assert ops == 50 and batches < ops      # concurrent sends shared transactions (one fsync each)
