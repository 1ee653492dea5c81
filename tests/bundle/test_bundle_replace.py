"""`bundle --force` replaces the old bundle atomically, and `--wheel` must be an imserver wheel (issue 9, point 3)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.render import swap
from planner.render.wheel import assemble
from tests.bundle.conftest import FIXTURES

AWS_PLAN = str(FIXTURES / "plan-aws-public.json")


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so no `except Exception` handler swallows it."""


def _old_bundle(tmp_path: Path) -> Path:
    out = tmp_path / "b"
    out.mkdir()
    (out / "old.txt").write_text("old bundle")
    return out


def _force(out: Path):
    return CliRunner().invoke(app, ["bundle", "--plan", AWS_PLAN, "--out", str(out), "--no-wheel", "--force"])


def _state(out: Path) -> str:
    if (out / "old.txt").is_file() and not (out / "README.md").exists():
        return "old"
    if (out / "README.md").is_file() and not (out / "old.txt").exists():
        return "new"
    return f"neither: {sorted(p.name for p in out.iterdir()) if out.is_dir() else 'missing'}"


def test_exchange_swaps_two_directories(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "y").write_text("b")
    assert swap.exchange(a, b)          # this machine is Linux on ext4/tmpfs: the atomic path is the one tested
    assert (a / "y").read_text() == "b" and (b / "x").read_text() == "a"


@pytest.mark.parametrize("swapped, left", [(False, "old"), (True, "new")], ids=["before-the-swap", "after-the-swap"])
def test_a_kill_around_the_swap_leaves_one_whole_bundle(tmp_path, monkeypatch, swapped, left):
    """Killed just before the exchange: the old bundle stays; just after it (before the old contents are
    removed): the new one is in place. Never a mix."""
    out = _old_bundle(tmp_path)
    real = swap.exchange

    def killed(a, b):
        if swapped:
            assert real(a, b)
        raise Killed

    monkeypatch.setattr(swap, "exchange", killed)
    with pytest.raises(Killed):
        _force(out)
    assert _state(out) == left


def test_without_rename_exchange_a_failed_second_rename_restores_the_old_bundle(tmp_path, monkeypatch):
    out = _old_bundle(tmp_path)
    monkeypatch.setattr(swap, "exchange", lambda a, b: False)
    real_rename = Path.rename
    calls = []

    def second_rename_fails(self, target):
        calls.append(self.name)
        if len(calls) == 2:             # target -> .b.old.*, then stage -> target
            raise Killed
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", second_rename_fails)
    with pytest.raises(Killed):
        _force(out)
    assert len(calls) >= 2 and _state(out) == "old"


def test_without_rename_exchange_force_still_replaces(tmp_path, monkeypatch):
    out = _old_bundle(tmp_path)
    monkeypatch.setattr(swap, "exchange", lambda a, b: False)
    result = _force(out)
    assert result.exit_code == 0, result.output
    assert _state(out) == "new" and [p.name for p in tmp_path.iterdir()] == ["b"]


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _good_wheel() -> tuple[str, bytes]:
    return assemble({"imserver/__init__.py": b""}, "0.1.0", [], ">=3.11", {})


def _bundle_with_wheel(tmp_path: Path, name: str, data: bytes):
    wheel = tmp_path / name
    wheel.write_bytes(data)
    out = tmp_path / "b"
    return CliRunner().invoke(app, ["bundle", "--plan", AWS_PLAN, "--out", str(out), "--wheel", str(wheel)]), out


def test_a_real_imserver_wheel_is_carried(tmp_path):
    name, data = _good_wheel()
    result, out = _bundle_with_wheel(tmp_path, name, data)
    assert result.exit_code == 0, result.output
    assert (out / "ansible" / "roles" / "imserver" / "files" / name).read_bytes() == data


@pytest.mark.parametrize("name, data, expected", [
    ("imserver-0.1.0-py3-none-any.whl", b"not a zip at all", "is not a zip archive"),
    ("imserver-0.1.0-py3-none-any.whl", _zip({"imserver/__init__.py": b""}),
     "has no imserver-0.1.0.dist-info/WHEEL"),
    ("imserver-0.1.0-py3-none-any.whl", _zip({"imserver-0.1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n"}),
     "has no imserver-0.1.0.dist-info/METADATA"),
    ("imserver-0.1.0-py3-none-any.whl", _zip({"imserver-0.1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n",
                                              "imserver-0.1.0.dist-info/METADATA": b"Name: other\n"}),
     "METADATA names the project 'other'"),
    ("requests-2.0-py3-none-any.whl", b"", "is a wheel of 'requests'"),
    ("notzip.whl", b"", "expected a wheel file name"),
    ("imserver.zip", b"", "expected a wheel file name"),
])
def test_a_non_wheel_is_one_line_and_exit_2(tmp_path, name, data, expected):
    result, out = _bundle_with_wheel(tmp_path, name, data)
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith(f"implan: error: --wheel {tmp_path / name}: "), result.output
    assert expected in lines[0]
    assert not out.exists()
