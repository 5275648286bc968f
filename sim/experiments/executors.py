"""Where replications run: serial, a process pool or Dask, behind one call (:func:`run`).

Every executor runs the same (key, function, arguments) tasks and hands each result to
``collect(key, result)`` as it finishes, so results do not depend on where they ran.

- **serial**: in this process, in order.
- **process**: a ``ProcessPoolExecutor``; workers ignore Ctrl-C, which the parent handles by
  cancelling queued tasks and ending the running ones at once. Months simulated inside a
  replication travel back through a queue (:func:`month_sink`) for the progress display.
- **dask**: a scheduler address is checked before connecting (a malformed one is bad input,
  exit 2). Connecting gives up after ``REVSIM_DASK_CONNECT_TIMEOUT`` seconds (default 10); a
  scheduler without workers, at the start or after losing all of them mid-run, is waited for
  ``REVSIM_DASK_WORKER_TIMEOUT`` seconds (default 60). A lost scheduler, a worker dying on a
  task or the time-outs raise :class:`DaskFailure` (exit 1); the client, the local cluster and
  the submitted tasks are always closed and cancelled on the way out, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sim.errors import EnvironmentFailure, InputError, debug

CONNECT_TIMEOUT_ENV = "REVSIM_DASK_CONNECT_TIMEOUT"
WORKER_TIMEOUT_ENV = "REVSIM_DASK_WORKER_TIMEOUT"
CONNECT_TIMEOUT_S = 10.0
WORKER_TIMEOUT_S = 60.0
_POLL_S = 1.0
_SCHEMES = ("tcp", "tls", "ws", "wss")


EXECUTORS = ("serial", "process", "dask")


class DaskFailure(EnvironmentFailure):
    """The Dask scheduler or its workers failed (exit 1)."""


Task = tuple[Any, Callable, tuple]
"""(key, function, arguments): ``collect(key, function(*arguments))``."""


def run(
    tasks: Sequence[Task],
    executor: str,
    collect: Callable[[Any, Any], None],
    scheduler: str | None = None,
    workers: int | None = None,
    on_months: Callable[[int], None] | None = None,
) -> None:
    """Run every task on ``executor`` and ``collect(key, result)`` as each finishes.
    ``on_months(n)`` receives the months simulated inside replications (serial and process
    executors; tasks report them through :func:`month_sink`)."""
    if executor == "serial":
        run_serial(tasks, collect, on_months)
    elif executor == "process":
        run_in_processes(tasks, collect, workers, on_months)
    elif executor == "dask":
        run_on_dask(tasks, scheduler, workers, collect)
    else:
        raise ValueError(f"executor must be serial, process or dask (got {executor!r})")


# ---------------------------------------------------------------- serial and process pool


_month_sink: Callable[[int], None] | None = None
"""Where a running task reports simulated months: the display's callback (serial), the
parent's queue (in a pool worker), or nothing."""


def month_sink() -> Callable[[int], None] | None:
    """The callable a task passes its newly simulated months to, or None."""
    return _month_sink


def run_serial(tasks: Sequence[Task], collect: Callable[[Any, Any], None],
               on_months: Callable[[int], None] | None = None) -> None:
    """Run the tasks here, in order."""
    global _month_sink
    saved, _month_sink = _month_sink, on_months
    try:
        for key, fn, args in tasks:
            collect(key, fn(*args))
    finally:
        _month_sink = saved


def _init_worker(queue) -> None:
    """A pool worker: month ticks go to the parent's queue; Ctrl-C is left to the parent."""
    global _month_sink
    _month_sink = queue.put if queue is not None else None
    _ignore_sigint()


def run_in_processes(tasks: Sequence[Task], collect: Callable[[Any, Any], None],
                     workers: int | None = None,
                     on_months: Callable[[int], None] | None = None) -> None:
    """Run the tasks on a process pool; Ctrl-C or a failed task stops the others at once."""
    import multiprocessing
    import queue as queue_mod
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    n = workers or os.cpu_count() or 1
    months = multiprocessing.get_context().Queue() if on_months else None

    def drain() -> None:
        while months is not None:
            try:
                on_months(months.get_nowait())
            except queue_mod.Empty:
                return

    with ProcessPoolExecutor(max_workers=n, initializer=_init_worker,
                             initargs=(months,)) as pool:
        futures = {pool.submit(fn, *args): key for key, fn, args in tasks}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                drain()
                for fut in done:
                    collect(futures[fut], fut.result())
        except BaseException:  # Ctrl-C or a failed task: stop the others now
            _stop(pool)
            raise
    drain()
    if months is not None:
        months.close()


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(pool) -> None:
    """Cancel queued tasks and end the running ones at once."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # gone after shutdown
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()


# ---------------------------------------------------------------- Dask


def check_address(address: str) -> str:
    """``tcp://HOST:PORT`` (or ``HOST:PORT``, tls/ws/wss) or :class:`InputError`."""
    text = address.strip()
    scheme, sep, loc = text.partition("://")
    if not sep:
        scheme, loc = "tcp", text
    host, colon, port = loc.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    ok = (scheme in _SCHEMES and colon and port.isdigit() and 1 <= int(port) <= 65535
          and re.fullmatch(r"[A-Za-z0-9_.:-]+", host or "") is not None)
    if not ok:
        raise InputError(f"--scheduler {address!r}: not a Dask scheduler address "
                         "(expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786)")
    return f"{scheme}://{loc}"


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise InputError(f"{name}={text!r}: expected seconds, more than 0 and at most 86400")
    return value


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Dask logs lost connections with tracebacks; revsim says it in one line instead."""
    if debug():
        yield
        return
    import distributed  # noqa: F401 - sets up its loggers, each with its own level

    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in ("distributed", "tornado", "asyncio")]
    loggers = [logging.getLogger(n) for n in {"distributed", "tornado", "asyncio", *names}]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def run_on_dask(
    tasks: Sequence[tuple[Any, Callable, tuple]],
    scheduler: str | None,
    workers: int | None,
    collect: Callable[[Any, Any], None],
) -> None:
    """Run ``fn(*args)`` for every (key, fn, args) on Dask and ``collect(key, result)`` as they
    finish: on the scheduler at ``scheduler``, or on a loopback LocalCluster."""
    connect_s = _seconds(CONNECT_TIMEOUT_ENV, CONNECT_TIMEOUT_S)
    worker_s = _seconds(WORKER_TIMEOUT_ENV, WORKER_TIMEOUT_S)
    address = check_address(scheduler) if scheduler else None
    with _quiet():
        import dask
        from distributed import Client, LocalCluster

        where = f"the Dask scheduler at {address}" if address else "the local Dask cluster"
        cluster = client = space = None
        futures: list = []
        try:
            if address:
                try:
                    client = Client(address, timeout=connect_s)
                except OSError as exc:
                    raise DaskFailure(
                        f"cannot reach {where} within {connect_s:g} s ({_short(exc)}); check "
                        f"that it runs and is reachable (time-out: {CONNECT_TIMEOUT_ENV})"
                    ) from None
                _wait_for_workers(client, worker_s, where)
            else:
                space = tempfile.mkdtemp(prefix="revsim-dask-")  # removed on the way out
                with (_sigint_ignored(), dask.config.set({"temporary-directory": space}),
                      warnings.catch_warnings()):
                    # the worker processes inherit the ignored Ctrl-C: it is ours to handle;
                    # the scheduler's HTTP port moving off a busy 8787 is not news
                    warnings.filterwarnings("ignore", message="Port .* is already in use")
                    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                           threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           local_directory=space,
                                           silence_logs=logging.CRITICAL if not debug() else False)
                client = Client(cluster)
            futures = [client.submit(fn, *args, pure=False) for _, fn, args in tasks]
            owner = {f.key: key for f, (key, *_) in zip(futures, tasks, strict=True)}
            _gather(client, futures, owner, collect, worker_s, where)
        finally:
            _close(client, cluster, futures, connect_s)
            if space is not None:
                shutil.rmtree(space, ignore_errors=True)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start, so that they inherit "ignore" and a Ctrl-C
    reaches only revsim, which then closes the cluster. A Ctrl-C during the few seconds of
    start-up is dropped (press it again once the run is going)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else type(exc).__name__


def _wait_for_workers(client, worker_s: float, where: str) -> None:
    try:
        client.wait_for_workers(1, timeout=worker_s)
    except TimeoutError:
        raise DaskFailure(
            f"{where} has no workers; waited {worker_s:g} s (start some with "
            f"`dask worker ADDRESS`, or wait longer with {WORKER_TIMEOUT_ENV}=SECONDS)"
        ) from None
    except OSError as exc:
        raise DaskFailure(f"lost {where} while waiting for workers ({_short(exc)})") from None


def _gather(client, futures: list, owner: dict, collect, worker_s: float, where: str) -> None:
    from distributed import wait
    from distributed.scheduler import KilledWorker

    pending = set(futures)
    idle_since: float | None = None
    while pending:
        try:
            done, pending = wait(pending, timeout=_POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            raise DaskFailure(f"lost the connection to {where} during the run") from None
        for fut in done:
            try:
                result = fut.result()
            except (concurrent.futures.CancelledError, asyncio.CancelledError):
                raise DaskFailure(f"lost the connection to {where} during the run") from None
            except KilledWorker:
                raise DaskFailure(
                    f"a worker of {where} died while running replications (killed, or out of "
                    "memory); no result was written"
                ) from None
            collect(owner[fut.key], result)
            fut.release()
        if done:
            idle_since = None
            continue
        if client.status in ("closing", "closed"):
            raise DaskFailure(f"lost the connection to {where} during the run")
        try:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        except (OSError, concurrent.futures.CancelledError):
            raise DaskFailure(f"lost the connection to {where} during the run") from None
        if n:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > worker_s:
            raise DaskFailure(
                f"{where} lost all its workers during the run; none came back within "
                f"{worker_s:g} s ({WORKER_TIMEOUT_ENV}); no result was written"
            )


def _close(client, cluster, futures: list, timeout: float) -> None:
    """Cancel what is left, close the client and the local cluster; never raise."""
    if client is not None:
        if futures:
            with contextlib.suppress(Exception):
                client.cancel(futures, force=True)
        with contextlib.suppress(Exception):
            client.close(timeout=timeout)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=timeout)
