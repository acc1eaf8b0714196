"""The parent side: a small pool of math-verify worker processes shared by all threads.

A call gets a deadline; a worker that misses it is killed and replaced, so no input can
hold the caller longer than ``limits.MATH_VERIFY_TIMEOUT_S`` (plus the kill). Workers
start on first use, in a new session (Ctrl-C reaches the caller, not them), and a forked
child gets a pool of its own.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from strategies.answers import limits


class _WorkerGone(Exception):
    """The worker died or stopped answering; it must be discarded."""


class _MathWorker:
    """One child process running ``strategies.answers.worker.serve``."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        code = (
            "import sys; sys.path.append(" + repr(package_root) + "); "
            "from strategies.answers.worker import serve; serve()"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches the caller, not its workers
        )
        assert self._process.stdout is not None and self._process.stdin is not None
        self._stdin = self._process.stdin
        self._stdout_fd = self._process.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout_fd, selectors.EVENT_READ)
        self._buffer = bytearray()
        ready = self._read_line(time.monotonic() + limits.WORKER_STARTUP_TIMEOUT_S)
        if ready is None or not json.loads(ready).get("ready"):
            self.kill()
            raise RuntimeError(
                "the math-verify worker did not start within "
                f"{limits.WORKER_STARTUP_TIMEOUT_S:.0f} s (exit code {self._process.poll()}); "
                "run `python -c 'import math_verify'` to see why"
            )

    def request(self, payload: dict[str, Any], deadline: float) -> Any:
        """The worker's reply, or ``_WorkerGone`` when it dies or misses the deadline."""
        try:
            self._stdin.write(json.dumps(payload).encode() + b"\n")
            self._stdin.flush()
        except OSError as error:
            raise _WorkerGone from error
        line = self._read_line(deadline)
        if line is None:
            raise _WorkerGone
        reply = json.loads(line)
        if "error" in reply:
            return None
        return reply["value"]

    def _read_line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                return None
            chunk = os.read(self._stdout_fd, 65_536)
            if not chunk:
                raise _WorkerGone
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()
        self._selector.close()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


class _WorkerPool:
    """Up to ``size`` workers shared by all threads; a worker that overruns is killed."""

    def __init__(self, size: int) -> None:
        self.owner_pid = os.getpid()
        self._size = size
        self._idle: list[_MathWorker] = []
        self._live = 0
        self._condition = threading.Condition()
        self._starting = 0
        self.discarded = 0  # workers killed after a miss or a crash (observable in tests)

    def call(self, payload: dict[str, Any], timeout_s: float) -> Any:
        """The worker's reply, or None when no worker could answer within ``timeout_s``."""
        worker, deadline = self._acquire(timeout_s)
        if worker is None:
            return None
        if time.monotonic() >= deadline:
            self._release(worker)  # healthy, merely too late for this call
            return None
        try:
            reply = worker.request(payload, deadline)
        except _WorkerGone:
            self._discard(worker)
            return None
        except BaseException:
            self._discard(worker)
            raise
        self._release(worker)
        return reply

    def broadcast_to_idle(self, payload: dict[str, Any]) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
        for worker in idle:
            try:
                worker.request(payload, time.monotonic() + limits.MATH_VERIFY_TIMEOUT_S)
            except _WorkerGone:
                self._discard(worker)
                continue
            self._release(worker)

    def shutdown(self) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
            self._live -= len(idle)
        for worker in idle:
            worker.kill()

    def _acquire(self, timeout_s: float) -> tuple[_MathWorker | None, float]:
        """A worker and the deadline of the call; time spent on workers' start-up is not
        counted, as it is no fault of the caller's input."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not self._idle and self._live >= self._size:
                started_waiting = time.monotonic()
                if self._starting:
                    self._condition.wait(0.5)
                    deadline += time.monotonic() - started_waiting
                    continue
                remaining = deadline - started_waiting
                if remaining <= 0:
                    return None, deadline
                self._condition.wait(remaining)
            if self._idle:
                return self._idle.pop(), deadline
            self._live += 1
            self._starting += 1
        try:
            worker = _MathWorker()
        except BaseException:
            with self._condition:
                self._live -= 1
                self._condition.notify()
            raise
        finally:
            with self._condition:
                self._starting -= 1
        return worker, time.monotonic() + timeout_s

    def _release(self, worker: _MathWorker) -> None:
        with self._condition:
            self._idle.append(worker)
            self._condition.notify()

    def _discard(self, worker: _MathWorker) -> None:
        worker.kill()
        with self._condition:
            self._live -= 1
            self.discarded += 1
            self._condition.notify()


_pool: _WorkerPool | None = None
_pool_lock = threading.Lock()


def worker_pool() -> _WorkerPool:
    """The process's pool, created on first use (and afresh in a forked child)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.owner_pid != os.getpid():
            _pool = _WorkerPool(size=max(2, min(4, os.cpu_count() or 2)))
            atexit.register(_pool.shutdown)
        return _pool


def clear_worker_caches() -> None:
    """Idle workers forget their parses (busy ones keep theirs until their next clear)."""
    if _pool is not None and _pool.owner_pid == os.getpid():
        _pool.broadcast_to_idle({"op": "clear"})
