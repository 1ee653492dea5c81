"""Server configuration: defaults, then a config file (YAML or TOML), then IMSERVER_* env vars.

Every field name carries its unit.  ``load()`` raises ConfigError with one line that names the
source and field; the CLI prints it and exits non-zero.
"""
from __future__ import annotations

import dataclasses
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """Invalid configuration (message: one line naming the source, the field and what was expected)."""


@dataclass
class Config:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8765
    node_id: str = ""                      # default: random per process
    data_dir: str = "imserver-data"        # SQLite file, dev secret, local media
    database_url: str = ""                 # "" → sqlite:///<data_dir>/imserver.db; or postgresql://...
    database_shards: list = field(default_factory=list)   # postgresql:// URLs, shard k at position k (not with database_url)
    database_shard_replicas: list = field(default_factory=list)   # ["k=postgresql://...", ...]: read replicas of shard k
    redis_url: str = ""                    # "" → single node (local fan-out only)
    redis_sentinels: list = field(default_factory=list)   # ["host:port" or "[v6]:port", ...] → the master they name
    redis_sentinel_master: str = ""        # the Sentinels' name for the Redis master (with redis_sentinels)
    redis_cluster_nodes: list = field(default_factory=list)   # ["host:port", ...] startup nodes → Redis Cluster
    jwt_secret: str = ""                   # "" → dev secret generated once in <data_dir>/dev-secret
    token_leeway_s: int = 30
    jwt_jwks_url: str = ""                 # identity provider's key set: RS256/ES256 tokens (with jwt_secret: HS256 too)
    jwt_jwks_min_refresh_s: float = 30.0   # an unknown kid refetches the key set at most this often
    jwt_jwks_max_age_s: float = 3600.0     # the key set is refetched when older than this
    jwt_issuer: str = ""                   # "" → any; else tokens must carry this iss
    jwt_audience: str = ""                 # "" → any; else the token's aud must include it
    origins: list = field(default_factory=list)   # [] → any Origin (and none)
    tls_cert_file: str = ""
    tls_key_file: str = ""
    max_frame_bytes: int = 65536
    max_body_bytes: int = 16384
    max_group_members: int = 256
    presence_enabled: bool = True          # presence frames to contacts on first connect / last disconnect
    max_connections_per_user: int = 10
    conn_rate_msgs_per_s: float = 50.0
    conn_rate_burst_msgs: int = 100
    user_rate_msgs_per_s: float = 100.0
    user_rate_burst_msgs: int = 200
    rate_violations_before_close: int = 20
    max_inflight_sends_per_conn: int = 256
    max_write_buffer_bytes: int = 4 * 1024 * 1024   # unsent bytes to one client before it is closed (slow consumer)
    idle_timeout_s: float = 300.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    drain_timeout_s: float = 10.0
    drain_grace_s: float = 1.0             # SIGTERM: /readyz answers 503 this long before clients are closed
    sync_max_limit: int = 500
    edit_window_s: float = 900.0           # a sender may edit or recall a message this long after sending it
    group_commit_max_batch: int = 1024
    group_commit_delay_ms: float = 0.0     # >0: wait this long for more writes when < 64 are queued
    retention_days: float = 0.0            # 0 → keep forever
    retention_interval_s: float = 3600.0
    media_backend: str = "local"           # local | s3 | none
    media_port: int = 8766                 # local media HTTP endpoint (0 → ephemeral)
    media_public_url: str = ""             # base URL clients use for media; "" → http://host:media_port
    max_media_bytes: int = 10 * 1024 * 1024
    upload_url_ttl_s: int = 300
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    log_level: str = "info"
    admin_host: str = "127.0.0.1"          # the admin API's interface: loopback or a private address, never a wildcard
    admin_port: int = 0                    # 0 → no admin API
    admin_token: str = ""                  # bearer credential of the admin API (required with admin_port)

    # ---- derived -------------------------------------------------------------------------
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(Path(self.data_dir).resolve() / "imserver.db")

    def database_urls(self) -> list[str]:
        """Each shard's primary, shard k at position k; one entry is the single-database setup."""
        return list(self.database_shards) or [self.resolved_database_url()]

    def shard_replicas(self) -> dict[int, list[str]]:
        """{shard: [replica URL, ...]} from database_shard_replicas (validated: "k=URL", k a shard)."""
        replicas: dict[int, list[str]] = {}
        for entry in self.database_shard_replicas:
            k, _, url = entry.partition("=")
            replicas.setdefault(int(k), []).append(url)
        return replicas

    def validate(self) -> None:
        def bad(name: str, expected: str) -> ConfigError:
            return ConfigError(f"config field {name}: expected {expected}, got {getattr(self, name)!r}")

        if not (0 <= self.listen_port <= 65535):
            raise bad("listen_port", "a port 0..65535")
        if not (0 <= self.media_port <= 65535):
            raise bad("media_port", "a port 0..65535")
        for name in ("max_frame_bytes", "max_body_bytes", "max_group_members", "max_connections_per_user",
                     "conn_rate_burst_msgs", "user_rate_burst_msgs", "sync_max_limit",
                     "group_commit_max_batch", "max_inflight_sends_per_conn", "max_write_buffer_bytes", "rate_violations_before_close",
                     "max_media_bytes", "upload_url_ttl_s"):
            if getattr(self, name) < 1:
                raise bad(name, "an integer >= 1")
        for name in ("conn_rate_msgs_per_s", "user_rate_msgs_per_s", "idle_timeout_s", "drain_timeout_s",
                     "retention_interval_s", "edit_window_s"):
            if getattr(self, name) <= 0:
                raise bad(name, "a number > 0")
        if not (0 <= self.group_commit_delay_ms <= 100):
            raise bad("group_commit_delay_ms", "a number of milliseconds in 0..100")
        if not (0 <= self.drain_grace_s <= 300):
            raise bad("drain_grace_s", "a number of seconds in 0..300")
        if self.retention_days < 0:
            raise bad("retention_days", "a number >= 0 (0 keeps messages forever)")
        if self.database_shards or self.database_shard_replicas:
            self._validate_shards()
        else:
            url = self.resolved_database_url()
            if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
                raise bad("database_url", "sqlite:///PATH or postgresql://...")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise bad("redis_url", "redis://HOST:PORT/DB")
        if self.redis_sentinels:
            if not self.redis_url.startswith(("redis://", "rediss://")) or not self.redis_sentinel_master:
                raise ConfigError("config fields redis_sentinels, redis_sentinel_master and redis_url: with "
                                  "Sentinels set the master's name and a redis:// URL (its password and database)")
            _check_addrs("redis_sentinels", self.redis_sentinels)
        if self.redis_cluster_nodes:
            self._validate_redis_cluster()
        if self.jwt_jwks_url:
            try:
                check_jwks_url(self.jwt_jwks_url)
            except ValueError as exc:
                raise bad("jwt_jwks_url", str(exc)) from None
        if not (0 < self.jwt_jwks_min_refresh_s <= self.jwt_jwks_max_age_s):
            raise ConfigError("config fields jwt_jwks_min_refresh_s and jwt_jwks_max_age_s: expected "
                              "0 < min_refresh <= max_age seconds")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("config fields tls_cert_file and tls_key_file: set both or neither")
        if self.media_backend not in ("local", "s3", "none"):
            raise bad("media_backend", "local, s3 or none")
        if self.media_backend == "s3":
            for name in ("s3_bucket", "s3_access_key_id", "s3_secret_access_key"):
                if not getattr(self, name):
                    raise bad(name, "a value when media_backend is s3")
        if self.admin_port:
            self._validate_admin()
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise bad("log_level", "debug, info, warning or error")

    def _validate_redis_cluster(self) -> None:
        """Cluster startup nodes replace the URL's host (and the Sentinels); the URL may still carry password and TLS."""
        if self.redis_sentinels:
            raise ConfigError("config fields redis_cluster_nodes and redis_sentinels: set one or the other")
        parts = urlsplit(self.redis_url)
        if self.redis_url and (parts.scheme not in ("redis", "rediss") or parts.hostname or parts.port
                               or parts.path.strip("/") not in ("", "0")):
            raise ConfigError(f"config fields redis_cluster_nodes and redis_url: with cluster nodes redis_url may "
                              f"only give credentials and TLS, as redis[s]://[:PASSWORD@]/[?ssl_ca_certs=...] "
                              f"(no host, database 0), got {self.redis_url!r}")
        _check_addrs("redis_cluster_nodes", self.redis_cluster_nodes)

    def _validate_shards(self) -> None:
        """database_shards replaces database_url; every entry a PostgreSQL URL, every replica "k=URL" of a shard k."""
        if self.database_url:
            raise ConfigError("config fields database_url and database_shards: set one or the other, not both")
        if not self.database_shards:
            raise ConfigError("config field database_shard_replicas: needs database_shards (the primaries)")
        for url in self.database_shards:
            if not url.startswith(PG_SCHEMES):
                raise ConfigError(f"config field database_shards: expected postgresql:// URLs, got {redact(url)!r}")
        for entry in self.database_shard_replicas:
            k, eq, url = entry.partition("=")
            if not (eq and k.isdigit() and url.startswith(PG_SCHEMES)):
                raise ConfigError(f"config field database_shard_replicas: expected \"k=postgresql://...\" entries, "
                                  f"got {redact(entry)!r}")
            if int(k) >= len(self.database_shards):
                raise ConfigError(f"config field database_shard_replicas: shard {k} does not exist "
                                  f"(database_shards has {len(self.database_shards)}, numbered from 0)")

    def _validate_admin(self) -> None:
        """The admin API is off unless asked for, with its own credential, on its own port and a specific address."""
        if not (0 < self.admin_port <= 65535) or self.admin_port in (self.listen_port, self.media_port):
            raise ConfigError(f"config field admin_port: expected a port 1..65535 other than listen_port and "
                              f"media_port, got {self.admin_port!r}")
        if self.admin_host in ("", "0.0.0.0", "::", "*"):
            raise ConfigError(f"config field admin_host: expected loopback or a private address (the admin API must "
                              f"not listen on every interface), got {self.admin_host!r}")
        if len(self.admin_token) < 32 or self.admin_token == self.jwt_secret:
            raise ConfigError("config field admin_token: expected a random string of at least 32 characters, "
                              "different from jwt_secret, when admin_port is set")

    def secret(self) -> str:
        """The JWT secret; in development (none configured) one is generated and persisted."""
        if self.jwt_secret:
            return self.jwt_secret
        path = Path(self.data_dir) / "dev-secret"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        return value


def _check_addrs(name: str, addrs: list) -> None:
    for addr in addrs:
        host, _, port = addr.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ConfigError(f"config field {name}: expected HOST:PORT entries, got {addr!r}")


PG_SCHEMES = ("postgresql://", "postgres://")


def redact(url: str) -> str:
    """A database URL (or "k=URL") without its password, for error messages."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def check_jwks_url(url: str) -> None:
    """https, or http to a loopback address (a local identity provider, tests): keys must not travel in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost"):
        return
    raise ValueError("an https:// URL (http:// only to 127.0.0.1, ::1 or localhost)")


_FIELDS = {f.name: f for f in fields(Config)}


def _coerce(name: str, value, source: str):
    f = _FIELDS[name]
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    kind = type(default)
    try:
        if kind is list:
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
            raise ValueError
        if kind is bool:
            if isinstance(value, str):
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if not isinstance(value, (str, int, float)):
            raise ValueError
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: field {name}: expected {kind.__name__}, got {value!r}") from None


def load(path: str | None = None, env: dict | None = None, overrides: dict | None = None) -> Config:
    """Defaults ← file ← IMSERVER_* environment ← explicit overrides (CLI flags)."""
    env = os.environ if env is None else env
    values: dict = {}
    path = path or env.get("IMSERVER_CONFIG") or None
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {path}: not found")
        try:
            if p.suffix == ".toml":
                import tomllib
                data = tomllib.loads(p.read_text())
            else:
                import yaml
                data = yaml.safe_load(p.read_text()) or {}
        except Exception as exc:  # parse errors of either format
            raise ConfigError(f"config file {path}: cannot parse: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: expected a mapping of field: value")
        data = data.get("imserver", data) if isinstance(data.get("imserver"), dict) else data
        for key, value in data.items():
            if key not in _FIELDS:
                raise ConfigError(f"config file {path}: unknown field {key!r}")
            values[key] = _coerce(key, value, f"config file {path}")
    for key, value in env.items():
        if key.startswith("IMSERVER_") and key != "IMSERVER_CONFIG":
            name = key[len("IMSERVER_"):].lower()
            if name not in _FIELDS:
                raise ConfigError(f"environment variable {key}: unknown field {name!r}")
            values[name] = _coerce(name, value, f"environment variable {key}")
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, f"option --{key.replace('_', '-')}")
    cfg = Config(**values)
    cfg.validate()
    return cfg
