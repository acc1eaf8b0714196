"""`ttc serve`: the real server (uvicorn) on 127.0.0.1, on the simulator with a small
calibration built here, called with the official `openai` client.

Checked: answers and the ``ttc`` object (the same answer `Router.solve` gives for the
problem), per-request budgets, 400s naming the field, 429 past the concurrency limit,
32 concurrent requests sharing the generator calls of one batch (counted by a wrapper
around the generator), an upstream that fails mid-request (502, then the server goes on
serving), a server-wide total budget, /metrics, and the `ttc serve` command itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_calibration import calibrate_simulator
from vllm_helpers import free_port

from calibration.store.artifact import load_artifact
from router.cli import main
from router.problem_source import load_problem_set
from router.records import AnswerRecord
from router.serve.app import ServeLimits
from router.serve.budgets import BudgetPolicy, server_policy
from router.serve.protocol import batch_problems
from router.serve.server import BackgroundServer, ServeSettings, build_app
from router.setup import Overrides, build_engines, resolve_settings
from router.solver import Router
from strategies.generation import Completion, GenerationError, Prompt, SamplingParams

ROOT = Path(__file__).resolve().parents[1]
WORLD = "simulator:64:1"
MODEL = "sim-router"
BUDGETS = (1, 2, 4, 8)  # what the calibration below measures
BOUND_S = 60.0


@pytest.fixture(scope="module")
def calibration(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serve") / "sim-calibration"
    return calibrate_simulator(
        out, problems="simulator:60", budgets=BUDGETS, draws=8, bootstrap=20, batch_size=60
    )


@pytest.fixture(scope="module")
def world_problems():
    return load_problem_set(WORLD)


class CountingGenerator:
    """The real simulator generator, with its calls counted; it can be made to wait on a
    gate (to hold requests in flight) or to fail like an upstream that died."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.num_parameters = inner.num_parameters
        self.calls = 0
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.dies_after: int | None = None  # calls answered before the upstream "dies"

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        with self.lock:
            self.calls += 1
            call = self.calls
        self.entered.set()
        if self.gate is not None and not self.gate.wait(BOUND_S):
            raise TimeoutError("the test never opened the gate")
        if self.dies_after is not None and call > self.dies_after:
            raise GenerationError(
                "server http://10.9.9.9:8000 is down or failing: 3 attempts, last: ConnectError",
                backend="openai",
            )
        return self.inner.generate(prompts, params)


def make_router(calibration: Path, world_problems, batch_size: int = 32) -> Router:
    artifact = load_artifact(calibration)
    settings = resolve_settings(artifact.manifest, Overrides())
    generator, verifier = build_engines(settings, world_problems.world)
    return Router(artifact, settings, CountingGenerator(generator), verifier, batch_size=batch_size)


class Served:
    def __init__(self, server: BackgroundServer, router: Router) -> None:
        self.server = server
        self.router = router
        self.generator: CountingGenerator = router.context.generator  # type: ignore[assignment]
        self.client = openai.OpenAI(
            base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=BOUND_S
        )

    def ask(self, text: str, budget: Any = None, **extra: Any) -> Any:
        body = {} if budget is None else {"ttc": {"budget": budget}}
        return self.client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "ignored: the calibration's prompt is used"},
                {"role": "user", "content": text},
            ],
            extra_body=body,
            **extra,
        )

    def metrics(self) -> dict[str, float]:
        text = httpx.get(self.server.url + "/metrics", timeout=10).text
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                values[f"{sample.name}{{{labels}}}"] = sample.value
        return values


@pytest.fixture
def serve(calibration, world_problems) -> Iterator[Any]:
    """``serve(**settings)`` starts a server; all are stopped after the test."""
    started: list[BackgroundServer] = []

    def start(batch_size: int = 32, **settings: Any) -> Served:
        router = make_router(calibration, world_problems, batch_size)
        options = ServeSettings(model_ids=(MODEL,), max_batch=batch_size, **settings)
        server = BackgroundServer(build_app(router, options, world_problems.world))
        started.append(server.__enter__())
        return Served(server, router)

    yield start
    for server in started:
        server.__exit__(None, None, None)


def ttc_of(completion: Any) -> dict[str, Any]:
    return completion.model_extra["ttc"]


# ---------------------------------------------------------------------------------------


VOLATILE = ("elapsed_s", "batch_size", "problem_id")  # timings, and what the server adds


def comparable(ttc: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in ttc.items() if k not in VOLATILE}
    kept["cost"] = {k: v for k, v in ttc["cost"].items() if k != "wall_time_s"}
    return kept


def test_answers_carry_the_ttc_object_router_solve_makes(serve, world_problems):
    served = serve()
    auto = server_policy("auto", BUDGETS)
    for problem in world_problems.problems[:3]:
        completion = served.ask(problem.text)
        (direct,), _ = solve_directly(served, [problem.text], auto)
        assert completion.object == "chat.completion" and completion.model == MODEL
        (choice,) = completion.choices
        assert choice.message.role == "assistant" and choice.finish_reason == "stop"
        ttc = ttc_of(completion)
        assert ttc["status"] in ("ok", "no_answer") and ttc["policy"] == "auto"
        assert ttc["strategy"] and ttc["difficulty"] and ttc["batch_size"] == 1
        assert ttc["compute"]["generations"] >= 1 and ttc["compute"]["flops"] > 0
        assert completion.usage.completion_tokens == ttc["compute"]["tokens"] > 0
        assert ttc["cost"]["generated_tokens"] == ttc["compute"]["tokens"]
        if ttc["status"] == "ok":
            assert ttc["answer"] and f"\\boxed{{{ttc['answer']}}}" in choice.message.content
        # the server answers exactly what the router decides for this problem
        expected = direct.to_json()
        for private in ("id", "correct", "reference", "solution"):
            expected.pop(private)
        assert comparable(ttc) == comparable(expected)
        assert choice.message.content == direct.solution
    models = served.client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    health = httpx.get(served.server.url + "/health", timeout=10).json()
    assert health["status"] == "ok"


def solve_directly(
    served: Served, texts: list[str], policy: BudgetPolicy
) -> tuple[list[AnswerRecord], int]:
    """What `Router.solve` answers for these texts as one batch, and its generator calls."""
    router = served.router
    counting = CountingGenerator(router.context.generator.inner)  # type: ignore[attr-defined]
    fresh = Router(
        router.artifact,
        router.settings,
        counting,
        router.context.verifier,
        batch_size=router.context.batch_size,
    )
    records = {r.id: r for r in fresh.solve(batch_problems(texts), policy)}
    return [records[p.id] for p in batch_problems(texts)], counting.calls


@pytest.mark.parametrize("budget", [8, "4", "price:0.02"])
def test_per_request_budget(serve, world_problems, budget):
    served = serve()
    text = world_problems.problems[5].text
    ttc = ttc_of(served.ask(text, budget=budget))
    policy = server_policy(str(budget), BUDGETS)
    (direct,), _ = solve_directly(served, [text], policy)
    assert ttc["policy"] == str(policy) == direct.policy
    assert (ttc["strategy"], ttc["budget"], ttc["answer"]) == (
        direct.strategy,
        direct.budget,
        direct.answer,
    )


BAD_REQUESTS = [
    ({"n": 2}, "n"),
    ({"temperature": 0.3}, "temperature"),
    ({"top_p": 0.5}, "top_p"),
    ({"max_tokens": 5}, "max_tokens"),
    ({"extra_body": {"ttc": {"budget": "total:50"}}}, "ttc.budget"),
    ({"extra_body": {"ttc": {"budget": "cheap"}}}, "ttc.budget"),
    ({"extra_body": {"ttc": {"budgte": 4}}}, "ttc.budgte"),
    ({"messages": [{"role": "system", "content": "no question here"}]}, "messages"),
    ({"messages": [{"role": "user", "content": "What is 2 + 2?"}]}, "messages"),  # not sim's
    ({"messages": [{"role": "user", "content": "  "}]}, "messages.0.content"),
    ({"messages": []}, "messages"),
    ({"messages": [{"content": "no role"}]}, "messages.0.role"),
]


@pytest.mark.parametrize(("change", "param"), BAD_REQUESTS)
def test_bad_requests_get_a_400_naming_the_field(serve, world_problems, change, param):
    served = serve()
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": world_problems.problems[0].text}],
    }
    request.update(change)
    with pytest.raises(openai.BadRequestError) as caught:
        served.client.chat.completions.create(**request)
    assert caught.value.param == param
    assert param.split(".")[-1] in caught.value.message
    assert served.generator.calls == 0  # refused before any compute
    assert ttc_of(served.ask(world_problems.problems[0].text))["status"] != "failed"


def test_malformed_json_oversize_bodies_and_unknown_models(serve, world_problems):
    served = serve(limits=ServeLimits(max_body_bytes=2000))
    url = served.server.url + "/v1/chat/completions"
    headers = {"Content-Type": "application/json"}
    cases = [
        (b'{"messages": [', "body", 400),
        (b"[1, 2]", "body", 400),
        (json.dumps({"messages": [{"role": "user", "content": "x" * 5000}]}).encode(), "body", 400),
        (b'{"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}', "model", 404),
        (b'{"model": "sim-router"}', "messages", 400),
    ]
    for body, param, status in cases:
        response = httpx.post(url, content=body, headers=headers, timeout=BOUND_S)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["param"] == param and error["message"].startswith(param), error
    assert httpx.get(served.server.url + "/v2/nothing", timeout=10).status_code == 404
    assert served.ask(world_problems.problems[1].text).choices[0].message.role == "assistant"


def test_429_past_the_concurrency_limit(serve, world_problems):
    served = serve(limits=ServeLimits(max_concurrency=2))
    served.generator.gate = threading.Event()
    texts = [p.text for p in world_problems.problems[:2]]
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(served.ask, text) for text in texts]
        assert served.generator.entered.wait(BOUND_S)
        deadline = time.monotonic() + BOUND_S
        while httpx.get(served.server.url + "/health").json()["in_flight"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(openai.RateLimitError) as caught:
            served.ask(world_problems.problems[2].text)
        assert caught.value.response.headers["retry-after"] == "1"
        served.generator.gate.set()
        answered = [future.result(timeout=BOUND_S) for future in held]
    assert all(ttc_of(c)["status"] != "failed" for c in answered)
    assert served.metrics()["ttc_requests_total{status=429}"] == 1


def test_32_concurrent_requests_share_the_generator_calls_of_one_batch(serve, world_problems):
    served = serve(window_s=1.0)
    texts = [p.text for p in world_problems.problems[:32]]
    expected, batch_calls = solve_directly(served, texts, server_policy("auto", BUDGETS))
    one_by_one = sum(
        solve_directly(served, [text], server_policy("auto", BUDGETS))[1] for text in texts
    )

    barrier = threading.Barrier(32)

    def ask(text: str) -> Any:
        barrier.wait(BOUND_S)
        return served.ask(text)

    with ThreadPoolExecutor(32) as pool:
        completions = list(pool.map(ask, texts))

    print(f"generator calls: 32 concurrent requests {served.generator.calls}, one batch of 32 "
          f"in Router.solve {batch_calls}, 32 requests one by one {one_by_one}")  # fmt: skip
    assert served.generator.calls == batch_calls
    assert one_by_one >= 2 * served.generator.calls
    assert [ttc_of(c)["batch_size"] for c in completions] == [32] * 32
    assert [ttc_of(c)["answer"] for c in completions] == [r.answer for r in expected]
    assert served.metrics()["ttc_batches_total{policy=auto}"] == 1


def test_an_upstream_failing_mid_request_is_a_502_and_the_server_goes_on(serve, world_problems):
    served = serve()
    served.generator.dies_after = 1  # the probe is answered, the budget-8 samples are not
    with pytest.raises(openai.APIStatusError) as caught:
        served.ask(world_problems.problems[3].text, budget=8)
    assert served.generator.calls == 2  # it died mid-request
    assert caught.value.status_code == 502
    assert "http://10.9.9.9:8000 is down" in caught.value.message
    assert caught.value.type == "upstream_error"
    served.generator.dies_after = None
    assert ttc_of(served.ask(world_problems.problems[3].text))["status"] in ("ok", "no_answer")
    metrics = served.metrics()
    assert metrics["ttc_requests_total{status=502}"] == 1
    assert metrics["ttc_requests_total{status=200}"] == 1


def test_a_server_wide_total_budget_is_shared_per_window(serve, world_problems):
    served = serve(
        default_policy=server_policy("total:60", BUDGETS), window_s=1.0, budget_window_s=60
    )
    texts = [p.text for p in world_problems.problems[:16]]

    def ask_together(chunk: list[str]) -> list[Any]:
        barrier = threading.Barrier(len(chunk))

        def ask(text: str) -> Any:
            barrier.wait(BOUND_S)
            try:
                return ttc_of(served.ask(text))
            except openai.RateLimitError as error:
                return error

        with ThreadPoolExecutor(len(chunk)) as pool:
            return list(pool.map(ask, chunk))

    first = ask_together(texts[:8])
    assert all(t["policy"] == "total:60" and t["batch_size"] == 8 for t in first)
    spent = sum(t["compute"]["generations"] for t in first)
    assert 8 < spent <= 60  # more than one sample each, within B
    second = ask_together(texts[8:])
    refused = [r for r in second if isinstance(r, openai.RateLimitError)]
    answered = [r for r in second if not isinstance(r, openai.RateLimitError)]
    assert sum(t["compute"]["generations"] for t in answered) <= 60 - spent
    if spent >= 60:  # the window's budget is gone: the rest wait for the next window
        assert len(refused) == 8
    for error in refused:
        assert error.code == "budget_spent" and "renews in" in error.message
        assert 1 <= int(error.response.headers["retry-after"]) <= 60
    explicit = ttc_of(served.ask(texts[0], budget=8))  # a request's own budget is its own
    assert explicit["policy"] == "8"


def test_metrics_are_prometheus_text(serve, world_problems):
    served = serve()
    answers = [ttc_of(served.ask(p.text)) for p in world_problems.problems[:4]]
    with pytest.raises(openai.BadRequestError):
        served.ask(world_problems.problems[0].text, budget=0)
    response = httpx.get(served.server.url + "/metrics", timeout=10)
    assert response.headers["content-type"].startswith("text/plain")
    metrics = served.metrics()
    assert metrics["ttc_requests_total{status=200}"] == 4
    assert metrics["ttc_requests_total{status=400}"] == 1
    assert metrics["ttc_request_latency_seconds_count{}"] == 5
    assert metrics["ttc_generations_total{}"] == sum(a["compute"]["generations"] for a in answers)
    assert metrics["ttc_generated_tokens_total{}"] == sum(a["compute"]["tokens"] for a in answers)
    assert metrics["ttc_flops_total{}"] == pytest.approx(
        sum(a["compute"]["flops"] for a in answers)
    )
    chosen = {k: v for k, v in metrics.items() if k.startswith("ttc_strategy_choices_total")}
    assert sum(chosen.values()) == 4
    first = answers[0]
    assert chosen[f"ttc_strategy_choices_total{{budget={first['budget']},strategy={first['strategy']}}}"] >= 1  # fmt: skip
    assert metrics["ttc_requests_in_flight{}"] == 0


def test_the_ttc_serve_command(calibration, world_problems, capsys):
    port = free_port()
    command = [sys.executable, "-m", "router.cli", "serve", "--calibration", str(calibration),
               "--world", WORLD, "--port", str(port), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + BOUND_S
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        (name,) = health.json()["models"]
        assert name == calibration.name
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        text = world_problems.problems[7].text
        completion = client.chat.completions.create(
            model=name,
            messages=[{"role": "user", "content": text}],
            extra_body={"ttc": {"budget": 4}},
        )
        assert ttc_of(completion)["policy"] == "4"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0

    assert main(["serve", "--calibration", str(calibration), "--budget", "cheap"]) == 2
    assert "--budget 'cheap'" in capsys.readouterr().err
    assert main(["serve", "--calibration", str(calibration)]) == 2
    assert "--world simulator:COUNT" in capsys.readouterr().err
    wrong = ["--world", WORLD, "--backend", "openai", "--verifier", "arithmetic"]
    assert main(["serve", "--calibration", str(calibration), *wrong]) == 2
    assert "--world is for the simulator backend" in capsys.readouterr().err


def test_a_crash_inside_a_batch_fails_that_batch_only(serve, world_problems):
    served = serve()
    real_solve = served.router.solve
    crashes = [RuntimeError("a bug in the router")]

    def solve_once_broken(*args: Any, **kwargs: Any) -> Any:
        if crashes:
            raise crashes.pop()
        return real_solve(*args, **kwargs)

    served.router.solve = solve_once_broken  # type: ignore[method-assign]
    with pytest.raises(openai.InternalServerError) as caught:
        served.ask(world_problems.problems[9].text)
    assert "a bug in the router" in caught.value.message and caught.value.status_code == 500
    assert httpx.get(served.server.url + "/health", timeout=10).status_code == 200
    assert ttc_of(served.ask(world_problems.problems[9].text))["status"] != "failed"
