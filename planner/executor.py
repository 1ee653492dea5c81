"""Where the independent solves of a sweep, an uncertainty run or a batch run: in this process, in a pool of local
worker processes (`--jobs`), or on an existing Dask distributed cluster (`--executor dask --address ...`).

Why Dask distributed for the cluster, not Ray: it is a pure-Python wheel that pip installs wherever implan runs
(the `cluster` extra); its Client has the concurrent.futures API the local pool has (submit, as_completed), so both
executors are the same loop; and a cluster is `dask scheduler` on one host and `dask worker ADDRESS` on the
others, with no other service. Ray is a large platform-specific binary wheel that brings its own object store and
daemons, much to carry for sending a few catalogs out and small results back.

Either way each task is `work(*task, *shared)`: the shared inputs (the capacity profile and the catalogs) reach
each worker once (the pool's initializer; a broadcast scatter on Dask), the task (a validated workload and the
strategies to solve) travels with it, and the results come back in task order. A solve is deterministic and gets
the same inputs wherever it runs, so the executor does not change the results; on Dask the workers must run the
same implan version as this process (it is the workers' code that solves).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as local_as_completed
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol

from planner.errors import PlannerError

KINDS = ("local", "dask")
CONNECT_TIMEOUT_S = 10.0  # how long an --address may take to answer (connect, handshake, a worker present)
_ADDRESS = re.compile(r"^tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")
INSTALL_HINT = "pip install 'implan[cluster]'"

OnDone = Callable[[int], None]


class ExecutorError(PlannerError):
    """A bad --executor / --address combination, a missing optional dependency or an unreachable cluster (exit 2)."""


class Executor(Protocol):
    parallel: bool  # whether several tasks are worth handing over at once (else the caller solves in order)

    def map(self, work: Callable, tasks: list[tuple], shared: tuple, on_done: OnDone | None = None) -> list:
        """[work(*task, *shared) for task in tasks], in task order; on_done(index) as each finishes."""


def _in_task_order(futures: dict[Any, int], finished: Iterable, on_done: OnDone | None) -> list:
    """Collect the results of `futures` ({future: task index}) as `finished` yields them, stored in task order."""
    results: list = [None] * len(futures)
    for future in finished:
        index = futures[future]
        results[index] = future.result()
        if on_done:
            on_done(index)
    return results


_SHARED: tuple = ()  # a local worker process's shared inputs, set once by _keep_shared


def _keep_shared(shared: tuple) -> None:
    global _SHARED
    _SHARED = shared


def _with_shared(work: Callable, task: tuple):
    return work(*task, *_SHARED)


@dataclass(frozen=True)
class LocalExecutor:
    """This machine: in this process when jobs <= 1, else a pool of `jobs` spawned worker processes."""

    jobs: int = 1

    @property
    def parallel(self) -> bool:
        return self.jobs > 1

    def map(self, work: Callable, tasks: list[tuple], shared: tuple, on_done: OnDone | None = None) -> list:
        if self.jobs <= 1 or len(tasks) <= 1:
            results = []
            for i, task in enumerate(tasks):
                results.append(work(*task, *shared))
                if on_done:
                    on_done(i)
            return results
        # spawn, not fork: the parent may run threads (the progress bar) that a fork would copy mid-lock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(self.jobs, len(tasks)), mp_context=context, initializer=_keep_shared,
                                 initargs=(shared,)) as pool:
            futures = {pool.submit(_with_shared, work, task): i for i, task in enumerate(tasks)}
            return _in_task_order(futures, local_as_completed(futures), on_done)


@dataclass(frozen=True)
class DaskExecutor:
    """An existing Dask distributed cluster: the scheduler at `address` hands the tasks to its workers."""

    address: str
    parallel = True

    def map(self, work: Callable, tasks: list[tuple], shared: tuple, on_done: OnDone | None = None) -> list:
        from distributed import as_completed

        client = connect(self.address)
        try:
            # broadcast: every worker gets one copy now, instead of the inputs being pickled into every task
            on_workers = client.scatter(list(shared), broadcast=True, hash=False)
            # pure=False: two equal tasks (a tornado end at a sample's value) are still two tasks with two results
            futures = {client.submit(work, *task, *on_workers, pure=False): i for i, task in enumerate(tasks)}
            return _in_task_order(futures, as_completed(futures, loop=client.loop), on_done)
        finally:
            client.close()


async def _identity(address: str) -> dict:
    """Ask whatever listens at `address` who it is, every step bounded (distributed's own connect waits for the
    handshake forever when the peer accepts and says nothing)."""
    from distributed.comm import connect as open_comm

    comm = await asyncio.wait_for(open_comm(address, timeout=CONNECT_TIMEOUT_S), CONNECT_TIMEOUT_S)
    try:
        await asyncio.wait_for(comm.write({"op": "identity"}), CONNECT_TIMEOUT_S)
        reply = await asyncio.wait_for(comm.read(), CONNECT_TIMEOUT_S)
    finally:
        comm.abort()
    return reply if isinstance(reply, dict) else {}


def connect(address: str):
    """A distributed.Client on the scheduler at `address` with at least one worker, or an ExecutorError within
    about CONNECT_TIMEOUT_S per step."""
    from distributed import Client

    try:
        identity = asyncio.run(_identity(address))
    except Exception as exc:  # refused, timed out, unresolvable, or a peer that does not speak Dask's protocol
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ExecutorError(f"--address {address}: no Dask scheduler answered within {CONNECT_TIMEOUT_S:g} s "
                            f"({detail})") from None
    if identity.get("type") != "Scheduler":
        raise ExecutorError(f"--address {address}: a Dask {identity.get('type', 'peer')} answered, not a scheduler; "
                            "give the address `dask scheduler` prints")
    client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        client.close()
        raise ExecutorError(f"--address {address}: the scheduler has no worker after {CONNECT_TIMEOUT_S:g} s; "
                            f"start some with `dask worker {address}`") from None
    return client


def local_jobs(jobs: int | None) -> int:
    """--jobs: worker processes on this machine, one per core when not given."""
    if jobs is None:
        return os.cpu_count() or 1
    if not 1 <= jobs <= 256:
        raise ExecutorError(f"--jobs {jobs}: expected a number of worker processes from 1 to 256")
    return jobs


def executor_for(kind: str = "local", address: str | None = None, jobs: int | None = None
                 ) -> LocalExecutor | DaskExecutor:
    """The executor that --executor, --address and --jobs ask for, checked before anything is loaded or solved
    (reaching the cluster waits for the first map)."""
    if kind not in KINDS:
        raise ExecutorError(f"--executor {kind}: expected one of {', '.join(KINDS)}")
    if kind == "local":
        if address is not None:
            raise ExecutorError("--address is the Dask scheduler of --executor dask; the local executor runs "
                                "on this machine (--jobs sets its worker processes)")
        return LocalExecutor(local_jobs(jobs))
    if address is None:
        raise ExecutorError("--executor dask needs --address tcp://HOST:PORT, the address `dask scheduler` prints")
    if jobs is not None:
        raise ExecutorError("--jobs counts local worker processes; with --executor dask the cluster's workers "
                            "solve (start more with `dask worker`)")
    match = _ADDRESS.match(address)
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise ExecutorError(f"--address {address}: expected tcp://HOST:PORT (a port from 1 to 65535), "
                            "e.g. tcp://10.0.0.5:8786")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ExecutorError(f"--executor dask needs Dask distributed, an optional dependency: {INSTALL_HINT}") from None
    return DaskExecutor(address)
