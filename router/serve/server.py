"""Putting a Router behind the app, and running it with uvicorn.

``build_app`` wires a ready Router (any generator and verifier: the command builds them
from the calibration, tests wrap them to count calls) to the micro-batcher, the request
rules and the metrics. ``BackgroundServer`` runs the app on a loopback port in a thread,
for tests and for ``scripts/bench_serve.py``; ``ttc serve`` runs it in the foreground.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from router.serve.app import ServeLimits, create_app
from router.serve.batcher import MicroBatcher, WindowBudget
from router.serve.budgets import BudgetPolicy, server_policy
from router.serve.metrics import ServeMetrics
from router.serve.protocol import RequestRules
from router.setup import EngineSettings
from router.solver import Router
from runtime.engines import SIMULATOR

# How long an idle client connection stays open. Longer than the clients' own expiry
# (httpx and the openai client drop idle connections after 5 s): with uvicorn's default
# of 5 s both ends time out together, and a request sent on a connection the server is
# closing at that instant is lost (seen here as ReadError in about 1 run in 3 of
# scripts/bench_serve.py).
KEEP_ALIVE_S = 65

# On SIGTERM or SIGINT, answers in progress get this long to finish; then each gets a
# 503 and the server exits 0. uvicorn's own grace period is a little longer, so every
# client has its JSON answer before uvicorn cancels what is left.
SHUTDOWN_GRACE_S = 20.0
UVICORN_GRACE_MARGIN_S = 5


@dataclass(frozen=True)
class ServeSettings:
    """How the server batches, limits and budgets; see `ttc serve --help`."""

    model_ids: tuple[str, ...]
    default_policy: BudgetPolicy = field(default_factory=lambda: server_policy("auto", ()))
    window_s: float = 0.02
    max_batch: int = 32
    budget_window_s: float = 60.0
    limits: ServeLimits = field(default_factory=ServeLimits)
    # the most generations per problem one request may order (None: the calibration's most)
    max_request_budget: int | None = None
    shutdown_grace_s: float = SHUTDOWN_GRACE_S


def build_app(router: Router, settings: ServeSettings, world: Any = None) -> FastAPI:
    policy = settings.default_policy
    rules = RequestRules(
        model_ids=settings.model_ids,
        generation=router.settings.generation,
        budgets=tuple(router.artifact.table.budgets),
        default_policy=policy,
        max_request_budget=settings.max_request_budget,
        check_problem=simulator_check(router.settings, world),
    )
    window_budget = None
    if policy.shared_budget is not None:
        window_budget = WindowBudget(policy.shared_budget, settings.budget_window_s)
    metrics = ServeMetrics()
    batcher = MicroBatcher(
        router,
        metrics,
        window_s=settings.window_s,
        max_batch=settings.max_batch,
        window_budget=window_budget,
    )
    return create_app(batcher, rules, metrics, settings.limits)


def simulator_check(settings: EngineSettings, world: Any) -> Any:
    """The simulator solves only its own world's problems: refuse other texts up front
    (a 400) instead of failing them in the first round (which would read as an upstream error)."""
    if SIMULATOR not in (settings.backend, settings.verifier):
        return None
    if world is None:
        raise ValueError(
            "the simulator backend only solves its own problems: pass --world "
            "simulator:COUNT[:SEED] (the problems requests may send)"
        )
    return world.spec


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it from ``getsockname()``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ServeServer(uvicorn.Server):
    """uvicorn's server, with a shutdown that drains: the first SIGTERM or SIGINT tells
    the batcher to stop admitting and gives answers in flight ``grace_s``; the process
    then exits 0 (uvicorn re-raises the signal after shutting down, which makes SIGTERM
    an exit by signal; a served shutdown is a clean exit)."""

    def __init__(self, config: uvicorn.Config, grace_s: float) -> None:
        super().__init__(config)
        self.grace_s = grace_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.begin_drain()
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    def begin_drain(self) -> None:
        batcher = getattr(getattr(self.config.app, "state", None), "batcher", None)
        if batcher is not None:
            batcher.drain(self.grace_s)


def server_config(app: FastAPI, grace_s: float, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        timeout_graceful_shutdown=int(grace_s) + UVICORN_GRACE_MARGIN_S,
        timeout_keep_alive=KEEP_ALIVE_S,
        **options,
    )


class BackgroundServer:
    """``app`` served by uvicorn on ``host`` (a free port) in a daemon thread.

    Use as a context manager; ``url`` is the base URL (``.../v1`` for OpenAI clients).
    """

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        log_level: str = "warning",
        grace_s: float = 5.0,
    ):
        self.socket = bind_socket(host, 0)
        port = self.socket.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self.server = ServeServer(server_config(app, grace_s, log_level=log_level), grace_s)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ttc serve app did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.begin_drain()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()
