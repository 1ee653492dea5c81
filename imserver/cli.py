"""Command line: ``imserver serve | migrate | token USER | admin ACTION ... | reshard --from URLS | bench``.

The only module that prints or exits.  Bad config or flags → one line on stderr, exit 2.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from .config import ConfigError, load


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML or TOML config file (also IMSERVER_CONFIG)")
    p.add_argument("--data-dir", dest="data_dir", help="directory for SQLite, dev secret and media")
    p.add_argument("--database-url", dest="database_url", help="sqlite:///PATH or postgresql://...")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print usage first)
        print(f"imserver: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="imserver", description="The bundled IM server (WebSocket, JSON frames).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("serve", help="run a node (no config: SQLite in ./imserver-data, 127.0.0.1:8765)")
    _common(p)
    p.add_argument("--host", dest="listen_host")
    p.add_argument("--port", dest="listen_port", type=int)
    p.add_argument("--redis-url", dest="redis_url")
    p.add_argument("--node-id", dest="node_id")
    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    _common(p)
    p = sub.add_parser("token", help="print a development HS256 token for USER")
    _common(p)
    p.add_argument("user")
    p.add_argument("--ttl-s", type=int, default=86400, help="validity in seconds (default 86400)")
    p = sub.add_parser("admin", help="call this node's admin API (admin_host, admin_port, admin_token of the config)")
    _common(p)
    acts = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for name, help_text in (("erase-user", "erase all of USER's data (GDPR)"), ("kick", "close USER's connections"),
                            ("ban", "refuse USER's tokens and close its connections"), ("unban", "lift a ban")):
        acts.add_parser(name, help=help_text).add_argument("user")
    a = acts.add_parser("delete-message", help="replace message SEQ of CONV by a tombstone")
    a.add_argument("conv")
    a.add_argument("seq", type=int)
    acts.add_parser("delete-conversation", help="delete CONV with its messages").add_argument("conv")
    p = sub.add_parser("reshard", help="with the nodes stopped, move conversations from the --from shard list to the "
                                       "config's database_shards")
    _common(p)
    p.add_argument("--from", dest="old_shards", required=True, metavar="URL,URL",
                   help="the shard list the data was written with (comma-separated postgresql:// URLs, in order)")
    p = sub.add_parser("bench", help="load-test a server on loopback and report capacity figures")
    from .bench import add_arguments
    add_arguments(p)
    return parser


def _config(args, *fields):
    overrides = {f: getattr(args, f, None) for f in ("data_dir", "database_url") + fields}
    return load(getattr(args, "config", None), overrides=overrides)


def _admin(args) -> int:
    """One admin API call; prints its JSON answer (stdout on success, stderr otherwise). Exit 0, 1 refused, 2 bad
    config."""
    import getpass
    import json
    from .admin import call
    cfg = _config(args)
    if not cfg.admin_port:
        raise ConfigError("config field admin_port: the admin API is off (set admin_port and admin_token)")
    action = args.action.replace("-", "_")
    payload = {k: getattr(args, k) for k in ("user", "conv", "seq") if getattr(args, k, None) is not None}
    try:
        actor = getpass.getuser()
    except (KeyError, OSError):
        actor = ""
    status, answer = call(cfg.admin_host, cfg.admin_port, cfg.admin_token, action, payload, actor=actor)
    print(json.dumps(answer), file=sys.stdout if status == 200 else sys.stderr)
    return 0 if status == 200 else 1


def _reshard(args) -> int:
    """Exit 0 moved, 1 refused (nodes connected, an idempotency key collision), 2 bad config or flags."""
    from .config import PG_SCHEMES, redact
    from .reshard import ReshardError, reshard
    old = [u.strip() for u in args.old_shards.split(",") if u.strip()]
    new = _config(args).database_urls()
    for name, urls in (("--from", old), ("database_shards", new)):
        bad = [u for u in urls if not u.startswith(PG_SCHEMES)]
        if bad or not urls:
            raise ConfigError(f"{name}: expected postgresql:// URLs, got {redact(bad[0]) if bad else 'none'!r}")
    try:
        counts = asyncio.run(reshard(old, new))
    except ReshardError as exc:
        print(f"imserver: reshard: {exc}", file=sys.stderr)
        return 1
    print(f"resharded {len(old)} -> {len(new)} shards: {counts['moved']} conversations moved "
          f"({counts['messages_moved']} messages), {counts['kept']} stayed")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from . import logs
            from .server import install_uvloop, run_until_signal
            cfg = _config(args, "listen_host", "listen_port", "redis_url", "node_id")
            logs.setup(cfg.log_level)
            cfg.secret()   # create the dev secret before serving so `imserver token` agrees
            install_uvloop()
            try:
                asyncio.run(run_until_signal(cfg))
            except OSError as exc:
                raise ConfigError(f"cannot listen on {cfg.listen_host}:{cfg.listen_port}: {exc.strerror}") from None
            return 0
        if args.command == "migrate":
            from .store import open_store
            cfg = _config(args)

            async def migrate(url):
                store = open_store(url)
                await store.open()       # open() applies the schema and its migrations
                await store._close_backend()
                return store.schema_change

            for url in cfg.database_urls():   # every shard's primary
                before, after = asyncio.run(migrate(url))
                where = url.split('@')[-1]
                if before == 0:
                    print(f"schema created (version {after}): {where}")
                elif before < after:
                    print(f"schema upgraded from version {before} to {after}: {where}")
                else:
                    print(f"schema up to date (version {after}): {where}")
            return 0
        if args.command == "token":
            from . import auth
            from .protocol import USER_RE
            cfg = _config(args)
            if not USER_RE.fullmatch(args.user):
                raise ConfigError(f"user {args.user!r}: expected 1-64 characters of A-Z a-z 0-9 _ . @ + -")
            if args.ttl_s < 1:
                raise ConfigError("--ttl-s: expected an integer >= 1")
            print(auth.make_token(args.user, cfg.secret(), ttl_s=args.ttl_s))
            return 0
        if args.command == "admin":
            return _admin(args)
        if args.command == "reshard":
            return _reshard(args)
        if args.command == "bench":
            from .bench import run_cli
            return run_cli(args)
    except ConfigError as exc:
        print(f"imserver: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if type(exc).__module__ == "asyncpg.exceptions" or "connect" in str(exc).lower():
            print(f"imserver: cannot connect: {exc}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
