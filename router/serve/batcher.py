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

Shutting down: ``drain(grace_s)`` stops admitting requests (503) and gives those in
flight ``grace_s`` to finish; then each gets a 503 of its own, so every client has a JSON
answer before the server closes. The worker is a daemon thread, not a thread pool: an
upstream that hangs cannot hold the process open after the last answer (a pool's
threads are joined at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from router.execution import describe_error
from router.records import AnswerRecord
from router.serve.budgets import BudgetPolicy, PolicyError, metric_label, spent
from router.serve.metrics import ServeMetrics
from router.serve.protocol import ApiError, batch_problems
from router.serve.usage import PromptCounter
from router.solver import Router

LOG = logging.getLogger("ttc.serve")


@dataclass(frozen=True)
class Solved:
    """A request's answer and the size of the batch it was solved in."""

    record: AnswerRecord
    batch_size: int
    prompt_tokens: int = 0  # the prompt tokens its generations read (router.serve.usage)


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


@dataclass(eq=False)
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
        self.prompts = PromptCounter(router)
        self._queue: asyncio.Queue[_Ticket] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: _Worker | None = None
        self._outstanding: set[_Ticket] = set()
        self._draining = False

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._worker = _Worker()
        self._draining = False
        self._task = asyncio.create_task(self._run(), name="ttc-serve-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._abandon("the server is shutting down")
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def drain(self, grace_s: float) -> None:
        """Stop admitting requests; those in flight get ``grace_s`` seconds to finish,
        then a 503 each. Safe to call from any thread (a signal handler among them)."""
        if self._loop is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._start_draining, grace_s)

    def _start_draining(self, grace_s: float) -> None:
        assert self._loop is not None
        if self._draining:
            return
        self._draining = True
        message = f"the server is shutting down and this answer did not finish in {grace_s:g} s"
        self._loop.call_later(max(0.0, grace_s), self._abandon, message)

    def _abandon(self, message: str) -> None:
        """Answer every request still waiting (queued or in a batch) with a 503."""
        closing = ApiError(503, message, type="unavailable")
        for ticket in list(self._outstanding):
            self._fail(ticket, closing)
        self._outstanding.clear()

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def running(self) -> bool:
        """Whether requests are admitted: the loop is alive and no shutdown began."""
        return self._task is not None and not self._task.done() and not self._draining

    async def submit(self, text: str, policy: BudgetPolicy) -> Solved:
        """Queue one problem; returns when its batch has answered it."""
        if self._draining:
            raise ApiError(503, "the server is shutting down", type="unavailable")
        if not self.running or self._queue is None or self._loop is None:
            raise ApiError(503, "the batcher is not running", type="unavailable")
        future: asyncio.Future[Solved] = self._loop.create_future()
        ticket = _Ticket(text, policy, future, self._loop.time())
        self._outstanding.add(ticket)
        future.add_done_callback(lambda _: self._outstanding.discard(ticket))
        self._queue.put_nowait(ticket)
        return await future

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        assert self._loop is not None and self._worker is not None
        while True:
            batch = await self._collect()
            for tickets in _by_policy(batch):
                try:
                    self.metrics.observe_batch(metric_label(tickets[0].policy), len(tickets))
                    with self.metrics.batch_seconds.time():
                        await self._worker.run(self._loop, self._solve, tickets)
                except Exception as exc:  # the loop outlives any batch
                    LOG.exception("a batch failed outside the router")
                    crash = ApiError(
                        500, f"internal error: {describe_error(exc)}", type="server_error"
                    )
                    self._fail_all(tickets, crash)

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
        window = self.window_budget if policy.batch_wide else None
        waiting: dict[str, _Ticket] = {}
        try:
            problems = batch_problems([ticket.text for ticket in tickets])
            waiting = {p.id: ticket for p, ticket in zip(problems, tickets, strict=True)}
            budget_left = None if window is None else window.left()
            if window is not None and budget_left is not None and budget_left <= 0:
                self._fail_all(tickets, window.spent_error("this window's total budget is spent"))
                return
            for record in self.router.solve(problems, policy, budget_left=budget_left):
                ticket = waiting.pop(record.id)
                if window is not None:
                    window.charge(spent(record, policy, self.router))
                prompt_tokens = self.prompts.for_record(ticket.text, record)
                self.metrics.observe_record(record, prompt_tokens)
                self._resolve(ticket, Solved(record, len(tickets), prompt_tokens))
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
            self._fail_all(waiting.values() if waiting else tickets, error)
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


class _Worker:
    """One daemon thread that runs the batches in order (the engines are not
    thread-safe); a daemon, so a batch stuck on a hung upstream never blocks exit."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="ttc-serve-solve", daemon=True)
        self._thread.start()

    def run(self, loop: asyncio.AbstractEventLoop, job: Any, *args: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((loop, future, job, args))
        return future

    def close(self) -> None:
        self._jobs.put(None)

    def _serve(self) -> None:
        while (item := self._jobs.get()) is not None:
            loop, future, job, args = item
            try:
                result, error = job(*args), None
            except BaseException as exc:  # handed to the awaiting coroutine
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop closed: the server stopped
                if error is None:
                    loop.call_soon_threadsafe(_settle, future, result, None)
                else:
                    loop.call_soon_threadsafe(_settle, future, None, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _by_policy(batch: Sequence[_Ticket]) -> list[list[_Ticket]]:
    groups: dict[str, list[_Ticket]] = {}
    for ticket in batch:
        groups.setdefault(str(ticket.policy), []).append(ticket)  # one solve per policy
    return list(groups.values())


def _set_result(future: asyncio.Future[Solved], solved: Solved) -> None:
    if not future.done():  # the client may have gone away
        future.set_result(solved)


def _set_exception(future: asyncio.Future[Solved], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
