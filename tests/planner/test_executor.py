"""Executors (planner.executor) and `implan batch`: a sweep, an uncertainty run and a batch give the same JSON in
this process, in 2 local worker processes and on a real 2-worker Dask cluster on 127.0.0.1; bad --executor /
--address combinations, an unreachable or silent address and a missing `distributed` are one line and exit 2;
batch totals are the sums of its per-workload figures; a bad batch file stops the run before any solve."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from planner_testlib import ROOT, TINY_DIR

UNCERTAIN = """\
users:
  dau_per_mau: {dist: triangular, low: 0.3, mode: 0.5, high: 0.6}
uncertainty: {price_change: {compute: {dist: uniform, low: -0.2, high: 0.2}}}
"""
# three apps on the tiny catalog: SaaS wins the small one, public the middle one, private the large one
APPS = {"small.yaml": "name: small-app\nusers: {mau: 20000}\n",
        "middle.yaml": "name: middle-app\nusers: {mau: 500000}\nstrategies: [public, private, serverless]\n",
        "large.yaml": "name: large-app\nusers: {mau: 5000000}\nstrategies: [public, private]\n"}


@pytest.fixture(scope="module")
def dask_address():
    """A 2-worker Dask cluster (one process, one thread each) on 127.0.0.1, free ports, stopped at the end."""
    pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'implan[cluster]')")
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.comm.timeouts.connect": "10s"}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=30)


def _write(directory: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
        paths.append(directory / name)
    return paths


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _same(a, b, where: str = "") -> None:
    """Equal JSON, numbers within 1e-6 relative (solver tolerance)."""
    if isinstance(a, float) or isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-6), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _three_ways(cli, dask_address, *args) -> dict:
    """Run `implan ARGS --format json` sequentially, on 2 local processes and on the Dask cluster; the same JSON."""
    alone = _json(cli(*args, "--format", "json", "--jobs", "1"))
    pooled = _json(cli(*args, "--format", "json", "--jobs", "2"))
    clustered = _json(cli(*args, "--format", "json", "--executor", "dask", "--address", dask_address))
    _same(alone, pooled, "jobs 2")
    _same(alone, clustered, "dask")
    return alone


# ---------- the same results wherever the solves run ----------

def test_a_sweep_is_the_same_sequential_pooled_and_on_dask(cli, dask_address):
    data = _three_ways(cli, dask_address, "sweep", "--pricing", TINY_DIR, "--mau", "10k..5M", "--steps", "3",
                       "-s", "public", "-s", "private")
    assert [p["mau"] for p in data["points"]] == [10_000, 223_607, 5_000_000]
    assert data["break_even"] and data["solves"]["bisection"] > 0  # the in-order bisection ran on each too


def test_an_uncertainty_run_is_the_same_sequential_pooled_and_on_dask(cli, dask_address, tmp_path):
    (path,) = _write(tmp_path, {"u.yaml": UNCERTAIN})
    data = _three_ways(cli, dask_address, "uncertainty", path, "--pricing", TINY_DIR, "-s", "public", "-s", "hybrid",
                       "--samples", "5", "--seed", "7")
    assert len({r["inputs"]["users.dau_per_mau"] for r in data["sample_results"]}) == 5
    assert data["solves"]["cases"] == 5 + 1 + 4
    assert len({r["monthly_cost_usd"]["public"] for r in data["sample_results"]}) > 1  # the samples differ


def test_a_batch_is_the_same_sequential_pooled_and_on_dask(cli, dask_address, tmp_path):
    data = _three_ways(cli, dask_address, "batch", *_write(tmp_path, APPS), "--pricing", TINY_DIR)
    assert [w["name"] for w in data["workloads"]] == ["small-app", "middle-app", "large-app"]
    assert [w["cheapest_choice"]["kind"] for w in data["workloads"]] == ["saas", "strategy", "strategy"]


def test_the_shared_inputs_reach_each_dask_worker_once_not_with_every_task(dask_address):
    from planner.executor import DaskExecutor

    counted = Counted()
    results = DaskExecutor(dask_address).map(_times_seen, [(i,) for i in range(8)], (counted,))
    assert results == [(i, "counted") for i in range(8)]
    assert Counted.pickled <= 2 < 8  # the client serialised it for the broadcast, not once per task


class Counted:
    """An input that counts how often this process pickles it."""

    pickled = 0

    def __reduce__(self):
        Counted.pickled += 1
        return (Counted, ())


def _times_seen(i: int, shared: Counted) -> tuple[int, str]:
    return i, type(shared).__name__.lower()


# ---------- implan batch ----------

def test_batch_totals_are_the_sums_of_its_workloads(cli, tmp_path):
    data = _json(cli("batch", *_write(tmp_path, APPS), "--pricing", TINY_DIR, "--jobs", "1", "--format", "json"))
    apps, totals = data["workloads"], data["totals"]
    assert data["strategies"] == ["public", "private", "hybrid", "serverless"]  # the union of what each asks
    for name in ("public", "private"):
        assert totals["strategies"][name]["monthly_cost_usd"] == pytest.approx(
            sum(w["strategies"][name]["monthly_cost_usd"] for w in apps), abs=0.01)
        assert totals["strategies"][name]["missing"] == []
    # hybrid is asked by the small app only: no portfolio total, and the others are named
    assert totals["strategies"]["hybrid"] == {"monthly_cost_usd": None, "missing": [str(tmp_path / "middle.yaml"),
                                                                                    str(tmp_path / "large.yaml")]}
    choices = []
    for w in apps:
        priced = {n: s["monthly_cost_usd"] for n, s in w["strategies"].items() if s["monthly_cost_usd"] is not None}
        best = min(priced, key=priced.get)
        assert w["cheapest_strategy"] == {"name": best, "monthly_cost_usd": priced[best]}
        choices.append(min(priced[best], w["cheapest_saas"]["monthly_cost_usd"]))
        assert w["cheapest_choice"]["monthly_cost_usd"] == choices[-1]
    assert totals["cheapest_choices_monthly_cost_usd"] == pytest.approx(sum(choices), abs=0.01)
    assert totals["cheapest_strategies_monthly_cost_usd"] == pytest.approx(
        sum(w["cheapest_strategy"]["monthly_cost_usd"] for w in apps), abs=0.01)
    assert totals["cheapest_saas_monthly_cost_usd"] == pytest.approx(
        sum(w["cheapest_saas"]["monthly_cost_usd"] for w in apps), abs=0.01)


def test_a_batch_cost_is_what_compare_says_for_that_file(cli, tmp_path):
    paths = _write(tmp_path, APPS)
    data = _json(cli("batch", *paths, "--pricing", TINY_DIR, "-s", "private", "--jobs", "1", "--format", "json"))
    compared = _json(cli("compare", paths[1], "--pricing", TINY_DIR, "-s", "private", "--format", "json"))
    assert data["strategies"] == ["private"]  # --strategy applies to every workload
    assert data["workloads"][1]["strategies"]["private"]["monthly_cost_usd"] == pytest.approx(
        compared["strategies"][0]["monthly_cost_usd"], abs=0.01)


def test_batch_table_and_markdown_show_the_portfolio_row(cli, tmp_path):
    paths = _write(tmp_path, APPS)
    data = _json(cli("batch", *paths, "--pricing", TINY_DIR, "--jobs", "1", "--format", "json"))
    total = f"${data['totals']['cheapest_choices_monthly_cost_usd']:,.0f}"
    for fmt in ("table", "markdown"):
        result = cli("batch", *paths, "--pricing", TINY_DIR, "--jobs", "1", "--format", fmt)
        assert result.exit_code == 0 and "portfolio (3)" in result.stdout and total in result.stdout
        assert "hybrid: no portfolio total" in result.stdout


def test_a_bad_batch_file_is_named_before_any_solve(cli, tmp_path, monkeypatch):
    import planner.sweep as sweep

    solved = []
    monkeypatch.setattr(sweep, "solve_case", lambda *a: solved.append(a))
    paths = _write(tmp_path, {**APPS, "broken.yaml": "users: {mau: -5}\n"})
    result = cli("batch", *paths, "--pricing", TINY_DIR, "--jobs", "1")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert str(tmp_path / "broken.yaml") in result.stderr and "users.mau" in result.stderr
    assert solved == []
    missing = cli("batch", paths[0], tmp_path / "nope.yaml", "--pricing", TINY_DIR)
    assert missing.exit_code == 2 and "nope.yaml: workload file not found" in missing.stderr


def test_a_workload_given_twice_is_an_error(cli, tmp_path):
    (path,) = _write(tmp_path, {"a.yaml": APPS["small.yaml"]})
    result = cli("batch", path, tmp_path / "." / "a.yaml", "--pricing", TINY_DIR)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "given twice" in result.stderr


def test_the_batch_json_contract_is_documented(cli, tmp_path):
    data = _json(cli("batch", *_write(tmp_path, APPS), "--pricing", TINY_DIR, "--jobs", "1", "--format", "json"))
    doc = (ROOT / "docs" / "batch.md").read_text(encoding="utf-8")
    w = data["workloads"][0]
    keys = (list(data) + list(w) + list(w["strategies"]["public"]) + list(w["cheapest_choice"])
            + list(data["totals"]) + list(data["totals"]["strategies"]["public"]))
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"docs/batch.md does not describe {missing}"


# ---------- bad --executor / --address ----------

COMMANDS = [("sweep", "--pricing", TINY_DIR, "--mau", "10k..20k", "--steps", "2", "-s", "public"),
            ("uncertainty", ROOT / "docs" / "examples" / "uncertain-chat.yaml", "--pricing", TINY_DIR, "-s", "public",
             "--samples", "2"),
            ("batch", ROOT / "planner" / "data" / "default-workload.yaml", "--pricing", TINY_DIR, "-s", "public")]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize("flags, message", [
    (("--executor", "dask"), "--executor dask needs --address tcp://HOST:PORT"),
    (("--address", "tcp://127.0.0.1:8786"), "--address is the Dask scheduler of --executor dask"),
    (("--executor", "dask", "--address", "127.0.0.1:8786"), "--address 127.0.0.1:8786: expected tcp://HOST:PORT"),
    (("--executor", "dask", "--address", "tcp://127.0.0.1:99999"), "a port from 1 to 65535"),
    (("--executor", "dask", "--address", "tcp://127.0.0.1:8786", "--jobs", "2"), "--jobs counts local worker"),
])
def test_a_bad_executor_option_is_one_line_and_exit_2(cli, command, flags, message):
    result = cli(*command, *flags)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_without_distributed_dask_says_what_to_install(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    result = cli(*COMMANDS[0], "--executor", "dask", "--address", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "pip install 'implan[cluster]'" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_listens_is_one_line_and_exit_2(cli, monkeypatch):
    pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'implan[cluster]')")
    import planner.executor as executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = cli(*COMMANDS[0], "--executor", "dask", "--address", address)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert f"--address {address}: no Dask scheduler answered within 1 s" in result.stderr


def test_an_address_that_accepts_and_stays_silent_is_one_line_and_exit_2(cli, monkeypatch):
    # distributed's own connect would wait for this peer's handshake forever
    pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'implan[cluster]')")
    import planner.executor as executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        result = cli(*COMMANDS[1], "--executor", "dask", "--address", address)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert f"--address {address}: no Dask scheduler answered within 1 s" in result.stderr
