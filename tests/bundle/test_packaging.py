"""The imserver wheel `implan bundle` carries: the whole installed package, valid RECORD, reproducible bytes."""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile

from planner.render.wheel import build_wheel, package_dir


def test_wheel_holds_every_imserver_file_and_nothing_else(wheel):
    name, data = wheel
    version = name.split("-")[1]
    assert name == f"imserver-{version}-py3-none-any.whl" and "+g" in version
    zf = zipfile.ZipFile(io.BytesIO(data))
    pkg = package_dir()
    expected = {f"imserver/{p.relative_to(pkg).as_posix()}" for p in pkg.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    names = set(zf.namelist())
    assert {n for n in names if not n.startswith(f"imserver-{version}.dist-info/")} == expected
    assert "imserver/profiles/measured-2core.yaml" in names          # package data too
    meta = zf.read(f"imserver-{version}.dist-info/METADATA").decode()
    for dep in ("asyncpg", "redis", "websockets", "pyyaml"):
        assert f"Requires-Dist: {dep}" in meta
    for heavy in ("pulp", "pandas", "matplotlib", "typer"):        # the planner's, not the server's
        assert f"Requires-Dist: {heavy}" not in meta
    assert "imserver = imserver.cli:main" in zf.read(f"imserver-{version}.dist-info/entry_points.txt").decode()


def test_record_lists_every_file_with_its_hash(wheel):
    _, data = wheel
    zf = zipfile.ZipFile(io.BytesIO(data))
    record_name = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    rows = {line.split(",")[0]: line.split(",")[1:] for line in zf.read(record_name).decode().splitlines()}
    assert set(rows) == set(zf.namelist())
    for rel, (digest, size) in rows.items():
        if rel == record_name:
            continue
        content = zf.read(rel)
        want = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={want}" and int(size) == len(content), rel


def test_wheel_bytes_are_reproducible(wheel):
    assert build_wheel() == wheel
