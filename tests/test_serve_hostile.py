"""`ttc serve` against a hostile client (issue 26): the server on 127.0.0.1 and the
simulator, called with httpx (raw bodies) and the official `openai` client.

The table ``HOSTILE_BODIES`` holds one request per defect, with the rule it checks;
each must get its own 4xx JSON error in the OpenAI layout naming the field, spend no
compute, and leave the server healthy. Then: a batch that crashes outside the router,
metric labels from a bounded set, a drain on shutdown with a hung upstream, a bounded
load test mixing good and bad requests, and the `ttc serve` flags that used to end in
tracebacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
import test_serve
from test_serve import BOUND_S, MODEL, ROOT, ttc_of
from vllm_helpers import free_port

from router.cli import main
from router.serve import batcher as batcher_module

# the server fixtures of test_serve (a simulator calibration, its world, `serve(...)`)
calibration = test_serve.calibration
world_problems = test_serve.world_problems
serve = test_serve.serve


def _body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def _budget(value: Any) -> dict[str, Any]:
    return {"ttc": {"budget": value}}


# (name, the rule, how to build the raw body from a valid problem text, the param named)
HOSTILE_BODIES: list[tuple[str, str, Any, str]] = [
    (
        "a lone surrogate in the problem",
        "text no encoder can read is refused up front, never hashed in the batcher",
        lambda t: json.dumps(_body("What is \ud800 1 + 1?")).encode(),
        "messages.0.content",
    ),
    (
        "margin:8000:2",
        "a request's N is at most the calibration's largest measured N",
        lambda t: json.dumps(_body(t, **_budget("margin:8000:2"))).encode(),
        "ttc.budget",
    ),
    (
        "9000 as a number",
        "a fixed N above the calibration's largest",
        lambda t: json.dumps(_body(t, **_budget(9000))).encode(),
        "ttc.budget",
    ),
    (
        "beta:4:1.5",
        "a confidence above 1 never stops: refused",
        lambda t: json.dumps(_body(t, **_budget("beta:4:1.5"))).encode(),
        "ttc.budget",
    ),
    (
        "esc:4:9",
        "a window wider than N",
        lambda t: json.dumps(_body(t, **_budget("esc:4:9"))).encode(),
        "ttc.budget",
    ),
    (
        "esc:4:2.5",
        "a window is a whole number",
        lambda t: json.dumps(_body(t, **_budget("esc:4:2.5"))).encode(),
        "ttc.budget",
    ),
    (
        "margin:1e23",
        "N is a plain whole number",
        lambda t: json.dumps(_body(t, **_budget("margin:1e23"))).encode(),
        "ttc.budget",
    ),
    (
        "price:0",
        "a price must be > 0 (0 buys everything)",
        lambda t: json.dumps(_body(t, **_budget("price:0"))).encode(),
        "ttc.budget",
    ),
    (
        "price:1e-400",
        "a number that underflows to 0",
        lambda t: json.dumps(_body(t, **_budget("price:1e-400"))).encode(),
        "ttc.budget",
    ),
    (
        "an Arabic-Indic digit",
        "only ASCII digits are numbers",
        lambda t: json.dumps(_body(t, **_budget("\u0664"))).encode(),
        "ttc.budget",
    ),
    (
        "budget true",
        "JSON true is not the budget 1",
        lambda t: json.dumps(_body(t, **_budget(True))).encode(),
        "ttc.budget",
    ),
    (
        "budget 4.0",
        "a budget is a whole number or a string",
        lambda t: json.dumps(_body(t, **_budget(4.0))).encode(),
        "ttc.budget",
    ),
    (
        "beta:4:nan",
        "no NaN in a budget",
        lambda t: json.dumps(_body(t, **_budget("beta:4:nan"))).encode(),
        "ttc.budget",
    ),
    (
        "temperature NaN",
        "NaN is not JSON",
        lambda t: json.dumps(_body(t, temperature=float("nan"))).encode(),
        "body",
    ),
    (
        'temperature "nan"',
        "a non-finite temperature never matches the calibration's",
        lambda t: json.dumps(_body(t, temperature="nan")).encode(),
        "temperature",
    ),
    (
        "100,000 nested brackets",
        "deep JSON is a 400, not a RecursionError",
        lambda t: b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "body",
    ),
    (
        "stream true",
        "streaming is refused per the spec's error layout",
        lambda t: json.dumps(_body(t, stream=True)).encode(),
        "stream",
    ),
    (
        "invalid UTF-8",
        "bytes that are not UTF-8",
        lambda t: b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
        "body",
    ),
]


@pytest.mark.parametrize(
    ("name", "rule", "make", "param"), HOSTILE_BODIES, ids=[c[0] for c in HOSTILE_BODIES]
)
def test_a_hostile_body_is_its_own_400_and_the_server_goes_on(
    serve, world_problems, name, rule, make, param
):
    served = serve()
    text = world_problems.problems[0].text
    response = httpx.post(
        served.server.url + "/v1/chat/completions",
        content=make(text),
        headers={"Content-Type": "application/json"},
        timeout=BOUND_S,
    )
    assert response.status_code == 400, (rule, response.text)
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error", (rule, error)
    assert served.generator.calls == 0, rule  # refused before any compute
    assert httpx.get(served.server.url + "/health", timeout=10).status_code == 200
    assert ttc_of(served.ask(text))["status"] in ("ok", "no_answer")


def test_the_official_client_gets_a_bad_request_for_an_unbounded_budget(serve, world_problems):
    served = serve()
    with pytest.raises(openai.BadRequestError) as caught:
        served.ask(world_problems.problems[1].text, budget="margin:8000:2")
    assert caught.value.param == "ttc.budget"
    assert "N=8000 is more than this server allows per request (8" in caught.value.message


def test_a_ceiling_below_the_calibration_is_kept(serve, world_problems):
    served = serve(max_request_budget=4)
    text = world_problems.problems[1].text
    with pytest.raises(openai.BadRequestError) as caught:
        served.ask(text, budget=8)
    assert "(4;" in caught.value.message
    assert ttc_of(served.ask(text, budget=4))["policy"] == "4"


def test_a_batch_that_crashes_outside_the_router_fails_only_its_requests(
    serve, world_problems, monkeypatch
):
    served = serve()
    real = batcher_module.batch_problems
    crashes = [UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")]

    def once_broken(texts: Any) -> Any:
        if crashes:
            raise crashes.pop()
        return real(texts)

    monkeypatch.setattr(batcher_module, "batch_problems", once_broken)
    with pytest.raises(openai.InternalServerError) as caught:
        served.ask(world_problems.problems[2].text)
    assert "surrogates not allowed" in caught.value.message
    health = httpx.get(served.server.url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ttc_of(served.ask(world_problems.problems[2].text))["status"] != "failed"


def test_metric_labels_come_from_a_bounded_set(serve, world_problems):
    served = serve()
    text = world_problems.problems[3].text
    for budget in ("4", "2", "beta:4", "beta:4:0.9", "esc:4:2", "price:0.02", "price:0.021"):
        served.ask(text, budget=budget)
    labels = {
        key for key in served.metrics() if key.startswith("ttc_batches_total{")
    }  # one series per policy name, not per budget string
    assert labels <= {
        f"ttc_batches_total{{policy={name}}}" for name in ("fixed", "beta", "esc", "price")
    }
    assert len(labels) == 4


def test_shutdown_with_a_hung_upstream_answers_503_json_within_the_grace(serve, world_problems):
    served = serve()
    served.server.server.grace_s = 1.0  # the drain's grace (uvicorn's is longer)
    served.generator.gate = threading.Event()  # the upstream hangs until the test ends
    try:
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(
                httpx.post,
                served.server.url + "/v1/chat/completions",
                json=_body(world_problems.problems[4].text),
                timeout=BOUND_S,
            )
            assert served.generator.entered.wait(BOUND_S)
            started = time.monotonic()
            served.server.__exit__(None, None, None)  # what SIGTERM does: drain, then stop
            response = held.result(timeout=BOUND_S)
            took = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/json"
        assert "shutting down" in response.json()["error"]["message"]
        assert took < 10, took  # the grace (1 s) and uvicorn's margin, not the upstream
        assert not served.server.thread.is_alive()
    finally:
        served.generator.gate.set()


def test_a_bounded_load_of_good_and_bad_requests(serve, world_problems):
    """60 requests from 12 threads, a third of them hostile: every good one answered,
    every bad one a 400, the server healthy, /metrics equal to the replies."""
    served = serve(window_s=0.05)
    url = served.server.url + "/v1/chat/completions"
    texts = [p.text for p in world_problems.problems[:40]]
    bad = [make(texts[0]) for _, _, make, _ in HOSTILE_BODIES]
    work: list[tuple[bool, bytes]] = []
    for index in range(60):
        if index % 3 == 2:
            work.append((False, bad[index % len(bad)]))
        else:
            budget = ("auto", 2, 4, "beta:4", "price:0.02")[index % 5]
            body = _body(texts[index % len(texts)], **_budget(budget))
            work.append((True, json.dumps(body).encode()))

    def send(item: tuple[bool, bytes]) -> tuple[bool, int, dict[str, Any]]:
        good, content = item
        response = httpx.post(
            url, content=content, headers={"Content-Type": "application/json"}, timeout=BOUND_S
        )
        return good, response.status_code, response.json()

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(send, work))
    replies = [(good, status) for good, status, _ in answers]
    bodies = [body for _, status, body in answers if status == 200]
    assert all(status == 200 for good, status in replies if good), replies
    assert all(status == 400 for good, status in replies if not good), replies
    assert httpx.get(served.server.url + "/health", timeout=10).json()["status"] == "ok"
    metrics = served.metrics()
    assert metrics["ttc_requests_total{status=200}"] == sum(good for good, _ in replies)
    assert metrics["ttc_requests_total{status=400}"] == sum(not good for good, _ in replies)
    assert metrics["ttc_requests_in_flight{}"] == 0
    assert metrics["ttc_generations_total{}"] == sum(
        b["ttc"]["compute"]["generations"] for b in bodies
    )
    assert metrics["ttc_generated_tokens_total{}"] == sum(
        b["usage"]["completion_tokens"] for b in bodies
    )
    assert metrics["ttc_prompt_tokens_total{}"] == sum(b["usage"]["prompt_tokens"] for b in bodies)
    assert all(b["error"]["param"] for _, status, b in answers if status == 400)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--port", "99999"], "--port must be in 0..65535, got 99999"),
        (["--budget-window", "nan"], "--budget-window must be a finite number"),
        (["--batch-window-ms", "inf"], "--batch-window-ms must be a finite number"),
        (["--max-request-budget", "999"], "--max-request-budget must be in 1..8"),
        (["--pool", "x.jsonl"], "cannot serve from a pool"),
        (["--budget", "price:1e-400"], "is too small (it reads as 0)"),
    ],
)
def test_serve_flags_are_one_error_line(calibration, flags, says, capsys):
    argv = ["serve", "--calibration", str(calibration), "--world", "simulator:64:1", *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err


def test_serve_help_does_not_offer_pool(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--pool FILE" not in out and "--pool-split" not in out


def test_usage_counts_the_prompt_tokens_the_generations_read(serve, world_problems):
    served = serve()
    text = world_problems.problems[6].text
    completion = served.ask(text, budget=4)
    ttc = ttc_of(completion)
    config = served.router.context.prompt_config
    one_read = sum(-(-len(m.content) // 4) for m in config.messages(text))  # 4 chars a token
    assert completion.usage.prompt_tokens == round(one_read * ttc["compute"]["generations"]) > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert served.metrics()["ttc_prompt_tokens_total{}"] == completion.usage.prompt_tokens


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_with_a_hung_upstream_drains_and_exits_0(calibration, world_problems, sig):
    """Issue 26: with an upstream that hangs, SIGINT answered a text/plain 500 after 30 s,
    logged a CancelledError traceback and exited 88 s later. Now: the request in flight
    gets a JSON 503 when the grace (1 s) ends, and the process exits 0 soon after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "serve_hung_main.py"), str(calibration), str(port), "1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + BOUND_S
        while True:
            assert process.poll() is None and time.monotonic() < deadline
            try:
                httpx.get(url + "/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(
                httpx.post,
                url + "/v1/chat/completions",
                json=_body(world_problems.problems[0].text),
                timeout=BOUND_S,
            )
            while httpx.get(url + "/health", timeout=2).json()["in_flight"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            started = time.monotonic()
            process.send_signal(sig)
            response = held.result(timeout=BOUND_S)
        answered = time.monotonic() - started
        process.wait(timeout=BOUND_S)
        exited = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    err = process.stderr.read().decode()  # type: ignore[union-attr]
    print(f"{sig.name}: 503 after {answered:.1f} s, exit {process.returncode} after {exited:.1f} s")
    assert response.status_code == 503 and response.json()["error"]["type"] == "unavailable"
    assert answered < 5, answered
    assert process.returncode == 0, err
    assert exited < 10, exited
    assert "Traceback" not in err and "CancelledError" not in err, err


def test_an_unreachable_model_hub_is_one_error_line(calibration, monkeypatch, capsys):
    import router.serve.command as serve_command

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(serve_command, "build_router", offline)
    argv = ["serve", "--calibration", str(calibration), "--world", "simulator:64:1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ttc serve: error: We couldn't connect" in err and "Traceback" not in err


def test_a_busy_port_is_one_error_line(calibration, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        argv = ["serve", "--calibration", str(calibration), "--world", "simulator:64:1",
                "--port", str(port)]  # fmt: skip
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--port {port}: cannot listen there" in err and "Traceback" not in err, err


def test_the_official_client_asking_to_stream_gets_a_bad_request(serve, world_problems):
    served = serve()
    with pytest.raises(openai.BadRequestError) as caught:
        served.client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": world_problems.problems[0].text}],
            stream=True,
        )
    assert caught.value.param == "stream" and "not supported" in caught.value.message
    assert served.generator.calls == 0


def test_an_answer_with_a_lone_surrogate_or_nan_is_still_valid_json(serve, world_problems):
    """A model's text may hold a lone surrogate and a figure may be NaN: the reply is
    escaped ASCII JSON (NaN as null), not a bare 500."""
    from dataclasses import replace

    served = serve()
    real_solve = served.router.solve

    def odd_records(*args: Any, **kwargs: Any) -> Any:
        for record in real_solve(*args, **kwargs):
            yield replace(
                record, solution=(record.solution or "") + "\ud800", expected_accuracy=float("nan")
            )

    served.router.solve = odd_records  # type: ignore[method-assign]
    response = httpx.post(
        served.server.url + "/v1/chat/completions",
        json=_body(world_problems.problems[8].text),
        timeout=BOUND_S,
    )
    assert response.status_code == 200, response.text
    assert response.content.isascii()
    data = json.loads(response.content)  # strict JSON: no NaN
    assert data["choices"][0]["message"]["content"].endswith("\ud800")
    assert data["ttc"]["expected_accuracy"] is None
