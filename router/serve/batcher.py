"""Micro-batching: requests that arrive within a short window are solved as one batch.

Why: ``Router.solve`` sends every round of a batch to the generator and the verifier as
one call each, so 32 requests solved together cost about what a batch of 32 costs in
`ttc solve`, while 32 solved one by one would cost 32 times the calls. The batcher
collects requests for ``window_s`` after the first one arrives (or until ``max_batch``),
groups them by budget policy (one ``Router.solve`` per policy per window) and runs the
groups one after another on a single worker thread: engines such as transformers and
the simulator are not thread-safe, and the next batch gathers while this one runs.

Answers reach their requests as each finishes (``Router.solve`` yields them group by
group). Whatever goes wrong inside a batch fails that batch's requests with an error,
never the batcher, so the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from router.execution import describe_error
from router.records import AnswerRecord
from router.serve.budgets import BudgetPolicy, PolicyError, is_total, spent
from router.serve.metrics import ServeMetrics
from router.serve.protocol import ApiError, batch_problems
from router.solver import Router


@dataclass(frozen=True)
class Solved:
    """A request's answer and the size of the batch it was solved in."""

    record: AnswerRecord
    batch_size: int


@dataclass
class WindowBudget:
    """``total`` units of compute per ``window_s`` seconds, shared by the ``total:B``
    batches of each window (the allocation inside a batch is ``Router.solve``'s)."""

    total: float
    window_s: float
    started: float = field(default_factory=time.monotonic)
    spent: float = 0.0

    def left(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        if now - self.started >= self.window_s:
            self.started, self.spent = now, 0.0
        return self.total - self.spent

    def charge(self, amount: float) -> None:
        self.spent += amount

    def renews_in(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(0.0, self.window_s - (now - self.started))

    def spent_error(self, reason: str) -> ApiError:
        return ApiError(
            429,
            f"{reason}; the server's budget of {self.total:g} per {self.window_s:g} s "
            f"renews in {self.renews_in():.0f} s",
            type="rate_limit_error",
            code="budget_spent",
            retry_after_s=self.renews_in(),
        )


@dataclass
class _Ticket:
    text: str
    policy: BudgetPolicy
    future: asyncio.Future[Solved]
    arrived: float


class MicroBatcher:
    def __init__(
        self,
        router: Router,
        metrics: ServeMetrics,
        *,
        window_s: float = 0.02,
        max_batch: int = 32,
        window_budget: WindowBudget | None = None,
    ) -> None:
        if window_s < 0 or max_batch < 1:
            raise ValueError(f"need window_s >= 0 and max_batch >= 1, got {window_s}, {max_batch}")
        self.router = router
        self.metrics = metrics
        self.window_s = window_s
        self.max_batch = max_batch
        self.window_budget = window_budget
        self._queue: asyncio.Queue[_Ticket] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ttc-serve-solve")
        self._task = asyncio.create_task(self._run(), name="ttc-serve-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._queue is not None:
            closing = ApiError(503, "the server is shutting down", type="unavailable")
            while not self._queue.empty():
                self._fail(self._queue.get_nowait(), closing)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def submit(self, text: str, policy: BudgetPolicy) -> Solved:
        """Queue one problem; returns when its batch has answered it."""
        if not self.running or self._queue is None or self._loop is None:
            raise ApiError(503, "the batcher is not running", type="unavailable")
        future: asyncio.Future[Solved] = self._loop.create_future()
        self._queue.put_nowait(_Ticket(text, policy, future, self._loop.time()))
        return await future

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        assert self._loop is not None
        while True:
            batch = await self._collect()
            for tickets in _by_policy(batch):
                self.metrics.observe_batch(str(tickets[0].policy), len(tickets))
                with self.metrics.batch_seconds.time():
                    await self._loop.run_in_executor(self._executor, self._solve, tickets)

    async def _collect(self) -> list[_Ticket]:
        """The first waiting request and all that arrive within ``window_s`` of it, or of
        the moment the last batch finished when it waited for that one (clients answered
        by the last batch are sending their next requests just then)."""
        assert self._queue is not None and self._loop is not None
        free = self._loop.time()
        batch = [await self._queue.get()]
        deadline = max(batch[0].arrived, free) + self.window_s
        while len(batch) < self.max_batch:
            wait = deadline - self._loop.time()
            if wait <= 0:
                if self._queue.empty():
                    break
                batch.append(self._queue.get_nowait())  # arrived while the last batch ran
                continue
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), wait))
            except asyncio.TimeoutError:  # a class of its own on Python 3.10
                break
        return batch

    def _solve(self, tickets: Sequence[_Ticket]) -> None:
        """Runs on the worker thread: one ``Router.solve`` for the whole group."""
        policy = tickets[0].policy
        problems = batch_problems([ticket.text for ticket in tickets])
        waiting = {problem.id: ticket for problem, ticket in zip(problems, tickets, strict=True)}
        window = self.window_budget if is_total(policy) else None
        budget_left = None if window is None else window.left()
        if window is not None and budget_left is not None and budget_left <= 0:
            self._fail_all(tickets, window.spent_error("this window's total budget is spent"))
            return
        try:
            for record in self.router.solve(problems, policy, budget_left=budget_left):
                ticket = waiting.pop(record.id)
                if window is not None:
                    window.charge(spent(record, policy, self.router))
                self.metrics.observe_record(record)
                self._resolve(ticket, Solved(record, len(tickets)))
        except Exception as exc:
            if window is not None and isinstance(exc, PolicyError):
                # what is left of this window's total cannot cover the batch
                error = window.spent_error(str(exc))
            else:
                error = ApiError(
                    500,
                    f"the router failed on this batch: {describe_error(exc)}",
                    type="server_error",
                )
            self._fail_all(waiting.values(), error)
            return
        lost = ApiError(500, "the router returned no answer for this request", type="server_error")
        self._fail_all(waiting.values(), lost)

    # ------------------------------------------------------------ answering

    def _resolve(self, ticket: _Ticket, solved: Solved) -> None:
        self._call_soon(_set_result, ticket.future, solved)

    def _fail_all(self, tickets: Iterable[_Ticket], error: ApiError) -> None:
        for ticket in tickets:
            self._call_soon(_set_exception, ticket.future, error)

    def _call_soon(self, callback: Any, *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed: the server has stopped
            self._loop.call_soon_threadsafe(callback, *args)

    @staticmethod
    def _fail(ticket: _Ticket, error: ApiError) -> None:
        _set_exception(ticket.future, error)


def _by_policy(batch: Sequence[_Ticket]) -> list[list[_Ticket]]:
    groups: dict[str, list[_Ticket]] = {}
    for ticket in batch:
        groups.setdefault(str(ticket.policy), []).append(ticket)
    return list(groups.values())


def _set_result(future: asyncio.Future[Solved], solved: Solved) -> None:
    if not future.done():  # the client may have gone away
        future.set_result(solved)


def _set_exception(future: asyncio.Future[Solved], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
