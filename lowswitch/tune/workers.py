"""A small pool of worker processes whose trials can be stopped one at a time.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one running task: a hung
objective holds its worker until the pool is shut down, and shutting down waits for it.
``WorkerPool`` keeps one ``multiprocessing.Process`` per slot, each talking to
this process over its own pipe, so that ``WorkerPool.kill`` can end the process of one
task (``terminate``: SIGTERM, then ``kill``: SIGKILL after a grace period) while the
others keep running; the slot starts a fresh process at its next task.

What happens to a stopped task's process: it is terminated and joined (reaped), nothing
it computed comes back, and whatever it held (GPU memory, open files, a per-worker setup
cache) is released by the operating system. Child processes it started itself are not
tracked.

Workers ignore SIGINT: on Ctrl-C the main process decides (records the running trials as
interrupted) and stops them.

Example:
    >>> pool = WorkerPool(2, "spawn")  # processes start at their first task
    >>> pool.n_idle, pool.running
    (2, [])
    >>> pool.close()

    ``minimize`` drives it: ``submit(fn, *args)`` (a picklable module-level ``fn``), then
    ``wait(timeout)`` for ``(task, ok, result)`` tuples, ``kill(task)`` to stop one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from typing import Any

__all__ = ["WorkerPool"]

_GRACE_S = 2.0  # seconds between SIGTERM and SIGKILL when a task is stopped


def _worker_main(conn: Connection) -> None:
    """Worker loop: run ``(fn, args)`` messages until ``None`` or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg  # unpickling imported fn's module: the task starts now
        conn.send(("started",))
        try:
            reply: tuple[str, bool, Any] = ("done", True, fn(*args))
        except BaseException as exc:  # the task's own failure: report it, keep serving
            reply = ("done", False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except Exception as exc:  # e.g. the result does not pickle
            conn.send(("done", False, f"the result could not be sent back: "
                                      f"{type(exc).__name__}: {exc}"))


class _Slot:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.task: int | None = None
        self.started: float | None = None  # time.perf_counter() when the task began

    def stop(self, grace: float = _GRACE_S) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(grace)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.conn.close()


class WorkerPool:
    """``n`` worker processes, one task each at a time; tasks can be stopped one by one.

    Args:
        n: number of worker processes (started lazily, at their first task).
        mp_context: multiprocessing start method (``"spawn"``, ``"forkserver"``, ``"fork"``).
    """

    def __init__(self, n: int, mp_context: str = "spawn") -> None:
        self._ctx = multiprocessing.get_context(mp_context)
        self._slots: list[_Slot | None] = [None] * n
        self._next_task = 0

    @property
    def n_idle(self) -> int:
        """Slots without a running task."""
        return sum(1 for s in self._slots if s is None or s.task is None)

    @property
    def running(self) -> list[int]:
        """Ids of the running tasks."""
        return [s.task for s in self._slots if s is not None and s.task is not None]

    def started_at(self, task: int) -> float | None:
        """``time.perf_counter()`` when ``task`` began in its worker (``None``: not yet).

        Process start-up and importing the task's module come before it, so that a
        per-task time limit counts the task's own work only.
        """
        for s in self._slots:
            if s is not None and s.task == task:
                return s.started
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        """Start ``fn(*args)`` in an idle worker; returns the task id.

        ``fn`` and ``args`` are pickled (module-level functions, plain data).

        Raises:
            RuntimeError: no idle worker.
            pickle.PicklingError, TypeError, AttributeError: ``fn`` or ``args`` cannot be
                pickled (nothing was started).
        """
        for i, slot in enumerate(self._slots):
            if slot is None or slot.task is None:
                if slot is None or not slot.process.is_alive():
                    if slot is not None:
                        slot.stop()
                    slot = self._slots[i] = _Slot(self._ctx)
                slot.conn.send((fn, args))
                slot.task, slot.started = self._next_task, None
                self._next_task += 1
                return slot.task
        raise RuntimeError("WorkerPool.submit: no idle worker")

    def wait(self, timeout: float | None) -> list[tuple[int, bool, Any]]:
        """Wait up to ``timeout`` seconds (``None``: until one finishes) for running tasks.

        Returns:
            ``(task id, ok, result or error text)`` for each finished task; a worker that
            died (killed from outside, out of memory) reports ``ok=False`` with its exit code.
        """
        busy = {s.conn: s for s in self._slots if s is not None and s.task is not None}
        if not busy:
            return []
        out: list[tuple[int, bool, Any]] = []
        for conn in wait_connections(list(busy), timeout):
            slot = busy[conn]  # type: ignore[index]
            task = slot.task
            assert task is not None
            try:
                msg = slot.conn.recv()
                if msg[0] == "started":
                    slot.started = time.perf_counter()
                    continue
                _, ok, result = msg
            except (EOFError, OSError):
                slot.process.join(_GRACE_S)
                ok, result = False, (f"the worker process died (exit code "
                                     f"{slot.process.exitcode})")
                self._replace(slot)
            slot.task, slot.started = None, None
            out.append((task, ok, result))
        return out

    def kill(self, task: int) -> None:
        """Stop the worker process running ``task`` (no-op if it is not running)."""
        for slot in self._slots:
            if slot is not None and slot.task == task:
                self._replace(slot)
                return

    def _replace(self, slot: _Slot) -> None:
        slot.stop()
        slot.task = None
        self._slots[self._slots.index(slot)] = None

    def close(self) -> None:
        """Ask idle workers to exit, stop busy ones, and reap every process."""
        for slot in self._slots:
            if slot is None:
                continue
            if slot.task is None and slot.process.is_alive():
                with contextlib.suppress(OSError, ValueError):
                    slot.conn.send(None)
                slot.process.join(_GRACE_S)
            slot.stop()
        self._slots = [None] * len(self._slots)
