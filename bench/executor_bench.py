"""Benchmark: `implan uncertainty` on the local process pool against a local Dask cluster of as many workers
(prints wall times and their ratio; not a test).

  python bench/executor_bench.py                      # --samples 500, 2 workers each way
  python bench/executor_bench.py --samples 50         # a quicker look
  python bench/executor_bench.py --strategy public --strategy private   # without the hybrid's variants

Starts `dask scheduler` and `dask worker --nworkers W --nthreads 1` (as `python -m distributed.cli.dask_*` of
this Python) on 127.0.0.1 (free ports, no dashboard), waits for the workers, then runs the real command twice in a subprocess (bench/uncertainty_bench.py's run): with
`--jobs W`, then with `--executor dask --address` that scheduler; checks that the two JSON outputs are equal, and
stops the cluster. The cluster's start is not timed (it stands for one that already runs); each implan process
is timed whole (start-up, catalogs, its workers' first imports, every solve).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from uncertainty_bench import EXAMPLE, ROOT, parse_args, run

START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and `workers` one-thread worker processes on 127.0.0.1, up and registered."""
    from planner.executor import connect

    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the workers solve with this checkout's planner
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", address.rsplit(":", 1)[1], "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers",
                                   str(workers), "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        client = connect(address)
        client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
        client.close()
    except BaseException:
        stop_cluster(procs)
        raise
    return address, procs


def stop_cluster(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):  # the workers first, then the scheduler
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main() -> None:
    args = parse_args(__doc__, 500, "--workers")
    sys.path.insert(0, str(ROOT))
    address, procs = start_cluster(args.workers)
    try:
        local_s, local = run(args.samples, args.seed, args.strategy, ["--jobs", str(args.workers)])
        load_local = os.getloadavg()[0]
        dask_s, clustered = run(args.samples, args.seed, args.strategy, ["--executor", "dask", "--address", address])
        load_dask = os.getloadavg()[0]
    finally:
        stop_cluster(procs)
    flags = "".join(f" -s {name}" for name in args.strategy)
    command = f"implan uncertainty {EXAMPLE.relative_to(ROOT)} --samples {args.samples} --seed {args.seed}{flags}"
    print(f"{command}: {local['solves']['cases']} cases")
    print(f"  --jobs {args.workers}:                       {local_s:7.1f} s wall (load average {load_local:.1f})")
    print(f"  --executor dask, {args.workers} local workers:   {dask_s:7.1f} s wall (load average {load_dask:.1f})")
    print(f"  dask / pool: {dask_s / local_s:.2f}x; same JSON: {'yes' if clustered == local else 'NO'}")


if __name__ == "__main__":
    main()
