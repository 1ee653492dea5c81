"""Media uploads: pre-signed PUT/GET URLs.

* ``S3Media``: AWS Signature V4 query-string presigning (no boto3 needed) for AWS S3 or any
  S3-compatible store (MinIO, moto); path-style URLs when an endpoint is configured.
* ``LocalMedia``: the embedded default; files under <data_dir>/media served by a small HTTP/1.1
  endpoint in the same process that accepts only URLs signed by this server (HMAC, expiry).

Messages carry only the object key (``media`` field); a recipient asks the server for a GET
URL with a ``media_url`` frame.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from . import httpserve

log = logging.getLogger("imserver.media")
KEY_RE = re.compile(r"[A-Za-z0-9_.@+\-]{1,64}/[0-9a-f]{32}")


def new_key(user: str) -> str:
    return f"{user}/{secrets.token_hex(16)}"


# ---- S3 SigV4 ---------------------------------------------------------------------------------
def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def presign_s3(method: str, *, endpoint_url: str, bucket: str, key: str, region: str, access_key_id: str,
               secret_access_key: str, expires_s: int, now: dt.datetime | None = None,
               headers: dict | None = None, query: dict | None = None) -> str:
    """A SigV4 pre-signed URL (UNSIGNED-PAYLOAD).  The host header is always signed; ``headers``
    (e.g. Content-Type, Content-Length, If-None-Match) are signed too, so S3 refuses a request
    that does not send exactly those values.  ``query``: the operation's own parameters (a listing's
    ``list-type``, ``prefix``), signed with the rest."""
    now = now or dt.datetime.now(dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = now.strftime("%Y%m%d")
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        scheme, host = parts.scheme, parts.netloc
        uri = "/" + quote(bucket, safe="") + "/" + quote(key, safe="/~")
    else:
        regional = "s3" if region == "us-east-1" else f"s3.{region}"
        scheme, host = "https", f"{bucket}.{regional}.amazonaws.com"
        uri = "/" + quote(key, safe="/~")
    scope = f"{date}/{region}/s3/aws4_request"
    signed = {"host": host, **{k.lower(): str(v).strip() for k, v in (headers or {}).items()}}
    names = ";".join(sorted(signed))
    params = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key_id}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(int(expires_s)),
        "X-Amz-SignedHeaders": names,
        **(query or {}),
    }
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
    canonical = "\n".join([method, uri, query, canonical_headers, names, "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_access_key).encode(), date), region), "s3"), "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{scheme}://{host}{uri}?{query}&X-Amz-Signature={signature}"


class S3Media:
    def __init__(self, cfg):
        self.cfg = cfg

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def _url(self, method: str, key: str, headers: dict | None = None, query: dict | None = None) -> str:
        c = self.cfg
        return presign_s3(method, endpoint_url=c.s3_endpoint_url, bucket=c.s3_bucket, key=key, region=c.s3_region,
                          access_key_id=c.s3_access_key_id, secret_access_key=c.s3_secret_access_key,
                          expires_s=c.upload_url_ttl_s, headers=headers, query=query)

    def upload(self, user: str, content_type: str, size_bytes: int) -> dict:
        """Declared type and size are signed headers; ``If-None-Match: *`` (S3 conditional write)
        makes the URL single-use: a second PUT to the key gets 412."""
        key = new_key(user)
        headers = {"Content-Type": content_type, "Content-Length": str(size_bytes), "If-None-Match": "*"}
        return {"key": key, "url": self._url("PUT", key, headers), "method": "PUT",
                "expires_in_s": self.cfg.upload_url_ttl_s, "headers": headers}

    def download_url(self, key: str) -> str:
        return self._url("GET", key)

    async def exists(self, key: str) -> bool:
        """HEAD the object (a signed URL): True when it was uploaded."""
        import urllib.error
        import urllib.request

        def head() -> bool:
            try:
                with urllib.request.urlopen(urllib.request.Request(self._url("HEAD", key), method="HEAD"),
                                            timeout=10) as r:
                    return r.status == 200
            except urllib.error.HTTPError as exc:
                if exc.code in (403, 404):
                    return False
                raise OSError(f"media store answered {exc.code}") from exc

        return await asyncio.to_thread(head)

    async def delete_user(self, user: str) -> int:
        """Delete every object under ``<user>/`` (ListObjectsV2 pages, then one DELETE per key): uploads that
        were never sent included.  Needs s3:ListBucket and s3:DeleteObject; returns how many were deleted."""
        import urllib.request
        import xml.etree.ElementTree as ET

        def call(method: str, url: str) -> bytes:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as r:
                return r.read()

        def run() -> int:
            deleted, token = 0, None
            while True:
                q = {"list-type": "2", "prefix": user + "/", **({"continuation-token": token} if token else {})}
                root = ET.fromstring(call("GET", self._url("GET", "", query=q)))
                ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
                for key in [k.text for k in root.iter(ns + "Key")]:
                    if KEY_RE.fullmatch(key or "") and key.split("/", 1)[0] == user:
                        call("DELETE", self._url("DELETE", key))
                        deleted += 1
                token = root.findtext(ns + "NextContinuationToken")
                if root.findtext(ns + "IsTruncated") != "true" or not token:
                    return deleted

        return await asyncio.to_thread(run)

    async def delete(self, key: str) -> None:
        import urllib.request
        await asyncio.to_thread(lambda: urllib.request.urlopen(
            urllib.request.Request(self._url("DELETE", key), method="DELETE"), timeout=30).close())


# ---- local disk behind a signed-URL HTTP endpoint -----------------------------------------------
class LocalMedia:
    def __init__(self, cfg, secret: str):
        self.cfg = cfg
        self.root = Path(cfg.data_dir).resolve() / "media"
        self._key = hashlib.sha256(("media\n" + secret).encode()).digest()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ssl_ctx = None
        if self.cfg.tls_cert_file:
            import ssl
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(self.cfg.tls_cert_file, self.cfg.tls_key_file)
        self._server = await httpserve.start(self._serve, self.cfg.listen_host, self.cfg.media_port, log, "media",
                                             ssl=ssl_ctx)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def base_url(self) -> str:
        if self.cfg.media_public_url:
            return self.cfg.media_public_url.rstrip("/")
        scheme = "https" if self.cfg.tls_cert_file else "http"
        return f"{scheme}://{self.cfg.listen_host}:{self.port}"

    def _sig(self, op: str, key: str, exp: int, size: str = "", ctype: str = "") -> str:
        return hmac.new(self._key, f"{op}\n{key}\n{exp}\n{size}\n{ctype}".encode(), hashlib.sha256).hexdigest()

    def _url(self, op: str, key: str, size: str = "", ctype: str = "") -> str:
        exp = int(time.time()) + self.cfg.upload_url_ttl_s
        extra = f"&size={size}&ct={quote(ctype, safe='')}" if op == "put" else ""
        return f"{self.base_url()}/media/{key}?op={op}&exp={exp}{extra}&sig={self._sig(op, key, exp, size, ctype)}"

    def upload(self, user: str, content_type: str, size_bytes: int) -> dict:
        """A PUT URL bound to the declared size and type (both signed); the endpoint stores the
        key once (a second PUT gets 409)."""
        key = new_key(user)
        return {"key": key, "url": self._url("put", key, str(size_bytes), content_type), "method": "PUT",
                "expires_in_s": self.cfg.upload_url_ttl_s,
                "headers": {"Content-Type": content_type, "Content-Length": str(size_bytes)}}

    def download_url(self, key: str) -> str:
        return self._url("get", key)

    async def exists(self, key: str) -> bool:
        return KEY_RE.fullmatch(key) is not None and (self.root / key).is_file()

    async def delete_user(self, user: str) -> int:
        """Delete every file under ``<user>/`` (uploads never sent included); returns how many."""
        def run() -> int:
            folder = self.root / user
            if not folder.is_dir():
                return 0
            files = [p for p in folder.iterdir() if p.is_file()]
            for p in files:
                p.unlink(missing_ok=True)
            if not any(folder.iterdir()):   # a .part file of an upload in flight stays
                folder.rmdir()
            return len(files)

        return await asyncio.to_thread(run)

    async def delete(self, key: str) -> None:
        if KEY_RE.fullmatch(key):
            await asyncio.to_thread((self.root / key).unlink, True)

    async def _serve(self, req: httpserve.HttpRequest) -> tuple[int, bytes, str]:
        status, body = await self._route(req)
        return status, body, "application/octet-stream"

    async def _route(self, req: httpserve.HttpRequest) -> tuple[int, bytes]:
        method, headers, q = req.method, req.headers, req.query
        if not req.path.startswith("/media/"):
            return 404, b"not found\n"
        key = req.path[len("/media/"):]
        op = {"PUT": "put", "GET": "get"}.get(method)
        if op is None:
            return 405, b"method not allowed\n"
        if not KEY_RE.fullmatch(key) or q.get("op") != op:
            return 403, b"forbidden\n"
        try:
            exp = int(q.get("exp", "0"))
        except ValueError:
            return 403, b"forbidden\n"
        size, ctype, sig = q.get("size", ""), q.get("ct", ""), q.get("sig", "")
        if exp < time.time() or not sig.isascii() or \
                not hmac.compare_digest(self._sig(op, key, exp, size, ctype), sig):
            return 403, b"forbidden\n"
        path = self.root / key
        if op == "get":
            if not path.is_file():
                return 404, b"not found\n"
            return 200, await asyncio.get_running_loop().run_in_executor(None, path.read_bytes)
        if path.exists():
            return 409, b"already uploaded (upload URLs are single-use)\n"
        if headers.get("content-type", "") != ctype:
            return 415, f"content-type must be {ctype} as declared\n".encode()
        if "content-length" not in headers:
            return 411, b"content-length required\n"
        length = int(headers["content-length"])
        if length != int(size) or length > self.cfg.max_media_bytes:
            return 413, f"content-length must be {size} bytes as declared\n".encode()
        data = await req.reader.readexactly(length)

        def write() -> bool:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)   # fails if a concurrent PUT got there first: the key is written once
                return True
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)

        if not await asyncio.get_running_loop().run_in_executor(None, write):
            return 409, b"already uploaded (upload URLs are single-use)\n"
        return 201, b"created\n"


def open_media(cfg, secret: str):
    if cfg.media_backend == "s3":
        return S3Media(cfg)
    if cfg.media_backend == "local":
        return LocalMedia(cfg, secret)
    return None
