"""The OpenAI-compatible HTTP backend.

Part (a), in the main environment: small fake completion servers on 127.0.0.1, each in a
thread, that can answer 429/500 before succeeding, drop connections, or vanish. Part (b),
marked ``vllm``: a real ``vllm serve`` on a tiny model, killed mid-run at the end.
Every request here goes to loopback, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from vllm_helpers import free_port

from strategies.backends.chat import render_prompt_ids
from strategies.backends.openai_backend import OpenAICompatibleGenerator, completions_endpoint
from strategies.backends.seeds import request_seed
from strategies.generation import ChatMessage, GenerationError, Prompt, SamplingParams

STEP = "\n\n"
BOUND_S = 60.0  # no test call may take longer than this; each normally takes well under 1 s


def _prompt(question: str, partial: str = "") -> Prompt:
    return Prompt((ChatMessage("system", "Solve it."), ChatMessage("user", question)), partial)


A = _prompt("What is 3 + 4?")
B = _prompt("What is 8 + 5?", partial="## Step 1: Add the numbers\n8 + 5 = 13" + STEP)
C = _prompt("What is 6 x 7?")


# ---------------------------------------------------------------------------------------
# A fake server


@dataclass
class FakeBehaviour:
    """What the fake server does: ``failures`` are answered first, in order, one per request.

    A failure is an HTTP status code (429, 500, 400) or "drop" (close the connection
    without answering). ``vllm_extras`` False imitates a plain OpenAI-style server.
    """

    failures: list[int | str] = field(default_factory=list)
    delay_s: float = 0.0
    vllm_extras: bool = True
    drop_after: int | None = None  # answer this many requests, then drop every connection


class FakeCompletionServer:
    def __init__(self, behaviour: FakeBehaviour | None = None) -> None:
        self.behaviour = behaviour or FakeBehaviour()
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next_action(self, body: dict[str, Any]) -> int | str:
        with self.lock:
            self.requests.append(body)
            self.arrivals.append(time.monotonic())
            if self.behaviour.failures:
                return self.behaviour.failures.pop(0)
            answered = len(self.requests) - 1
            limit = self.behaviour.drop_after
            return "drop" if limit is not None and answered >= limit else 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                action = server._next_action(body)
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self.counted = True
                try:
                    time.sleep(server.behaviour.delay_s)
                    if action == "drop":
                        self._leave()
                        self.close_connection = True
                        self.connection.close()
                        return
                    if action != 200:
                        self._send(int(action), {"error": {"message": f"fake {action}"}})
                        return
                    assert self.path == "/v1/completions", self.path
                    self._send(200, fake_completion(body, server.behaviour.vllm_extras))
                finally:
                    self._leave()

            def _leave(self) -> None:
                """A request stops counting as in flight before its answer leaves: once the
                client has the answer it may send its next request, which could otherwise
                arrive while this thread still counts the old one."""
                if self.counted:
                    self.counted = False
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self._leave()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def fake_completion(request: dict[str, Any], vllm_extras: bool) -> dict[str, Any]:
    """Choices whose text names their seed; choice i % 3 ends by stop string, EOS, length."""
    choices = []
    stop = request.get("stop") or []
    for i in range(request["n"]):
        seed = request["seed"] + i
        tokens = 2 + i % 3
        text = f"s{seed} "
        finish, stop_reason = "stop", None  # EOS
        if i % 3 == 0 and stop:
            text, stop_reason = text + stop[0], stop[0]
        elif i % 3 == 2:
            finish, tokens = "length", request["max_tokens"]
        choice: dict[str, Any] = {"index": i, "text": text, "finish_reason": finish}
        if vllm_extras:
            choice["stop_reason"] = stop_reason
            choice["token_ids"] = list(range(tokens))
            choice["logprobs"] = {"token_logprobs": [-0.5] * tokens, "tokens": ["x"] * tokens}
        choices.append(choice)
    usage = {"completion_tokens": sum(2 + i % 3 for i in range(request["n"]))}
    return {"id": "fake", "object": "text_completion", "choices": choices, "usage": usage}


class FakeServers:
    """Starts fake servers for one test and stops them all afterwards."""

    def __init__(self) -> None:
        self.started: list[FakeCompletionServer] = []

    def start(self, behaviour: FakeBehaviour | None = None) -> FakeCompletionServer:
        server = FakeCompletionServer(behaviour)
        self.started.append(server)
        return server


@pytest.fixture
def servers() -> Iterator[FakeServers]:
    fakes = FakeServers()
    yield fakes
    for server in fakes.started:
        server.stop()


def _generator(tiny_llama_dir: Path, urls: list[str], **kwargs: Any) -> OpenAICompatibleGenerator:
    options: dict[str, Any] = {"max_retries": 3, "backoff_s": 0.05, "timeout_s": 5.0}
    options.update(kwargs)
    return OpenAICompatibleGenerator(str(tiny_llama_dir), urls, **options)


def _bounded(call: Any) -> Any:
    """Run ``call`` in a thread; fail the test (not hang it) if it outlives BOUND_S."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=BOUND_S)
    assert not worker.is_alive(), f"call still running after {BOUND_S} s"
    outcome["elapsed_s"] = time.monotonic() - started
    return outcome


# ---------------------------------------------------------------------------------------
# (a) against fake servers


def test_payload_carries_token_ids_with_one_bos_and_derived_seeds(tiny_llama_dir, servers):
    server = servers.start()
    generator = _generator(tiny_llama_dir, [server.url], served_model_name="tiny")
    params = SamplingParams(n=3, max_tokens=7, temperature=0.6, top_p=0.9, stop=(STEP,), seed=2)
    generator.generate([A, B], params)

    tokenizer = generator.tokenizer
    by_seed = {body["seed"]: body for body in server.requests}  # they arrive in any order
    first, second = by_seed[request_seed(2, A)], by_seed[request_seed(2, B)]
    for body, prompt in ((first, A), (second, B)):
        assert body["prompt"] == render_prompt_ids(tokenizer, prompt)
        assert body["prompt"].count(tokenizer.bos_token_id) == 1
        assert body["prompt"][0] == tokenizer.bos_token_id
    assert tokenizer.decode(second["prompt"]).endswith("8 + 5 = 13" + STEP)
    assert first["model"] == "tiny"
    assert (first["n"], first["max_tokens"], first["temperature"], first["top_p"]) == (
        3,
        7,
        0.6,
        0.9,
    )
    assert first["stop"] == [STEP] and first["include_stop_str_in_output"] is True
    assert first["logprobs"] == 0


def test_choices_map_to_completions(tiny_llama_dir, servers):
    server = servers.start()
    generator = _generator(tiny_llama_dir, [server.url])
    params = SamplingParams(n=3, max_tokens=9, stop=(STEP,), seed=0)
    (row,) = generator.generate([A], params)

    seed = request_seed(0, A)
    assert [c.text for c in row] == [f"s{seed} {STEP}", f"s{seed + 1} ", f"s{seed + 2} "]
    assert [c.finish_reason for c in row] == ["stop", "eos", "length"]
    assert [c.num_tokens for c in row] == [2, 3, 9]  # from the returned token ids
    assert [c.logprob for c in row] == [-1.0, -1.5, -4.5]


def test_plain_server_without_vllm_extras(tiny_llama_dir, servers):
    server = servers.start(FakeBehaviour(vllm_extras=False))
    generator = _generator(tiny_llama_dir, [server.url])
    (row,) = generator.generate([A], SamplingParams(n=1, max_tokens=9, stop=(STEP,)))
    # No stop_reason field: the stop string at the end of the text tells; usage gives tokens.
    assert row[0].finish_reason == "stop" and row[0].num_tokens == 2 and row[0].logprob is None
    (row,) = generator.generate([A], SamplingParams(n=2, max_tokens=9, stop=(STEP,)))
    assert row[1].finish_reason == "eos"
    expected = len(generator.tokenizer(row[1].text, add_special_tokens=False)["input_ids"])
    assert row[1].num_tokens == expected  # n > 1 and no token ids: counted locally


def test_seeds_do_not_depend_on_the_batch_and_repeats_get_fresh_samples(tiny_llama_dir, servers):
    server = servers.start()
    generator = _generator(tiny_llama_dir, [server.url])
    params = SamplingParams(n=2, max_tokens=5, seed=7)
    (alone,) = generator.generate([A], params)
    _, in_batch, _ = generator.generate([B, A, C], params)
    first, second = generator.generate([A, A], params)

    assert in_batch == alone
    assert first == alone
    assert second != first
    last_two = sorted(body["seed"] for body in server.requests[-2:])
    assert last_two == [request_seed(7, A), request_seed(7, A) + 2]


def test_round_robin_over_two_servers(tiny_llama_dir, servers):
    left, right = servers.start(), servers.start()
    generator = _generator(tiny_llama_dir, [left.url, right.url + "/v1"])
    prompts = [_prompt(f"What is {i} + 1?") for i in range(6)]
    generator.generate(prompts, SamplingParams(n=1, max_tokens=4))
    generator.generate(prompts[:1], SamplingParams(n=1, max_tokens=4))

    ids = [render_prompt_ids(generator.tokenizer, p) for p in prompts]
    assert sorted(map(str, (r["prompt"] for r in left.requests[:3]))) == sorted(map(str, ids[0::2]))
    assert sorted(map(str, (r["prompt"] for r in right.requests))) == sorted(map(str, ids[1::2]))
    assert len(left.requests) == 4  # the rotation goes on across calls
    assert completions_endpoint("http://h:1/v1/") == "http://h:1/v1/completions"


def test_concurrency_limit_is_respected(tiny_llama_dir, servers):
    server = servers.start(FakeBehaviour(delay_s=0.3))
    generator = _generator(tiny_llama_dir, [server.url], max_concurrency=3)
    prompts = [_prompt(f"What is {i} + 2?") for i in range(12)]
    outcome = _bounded(lambda: generator.generate(prompts, SamplingParams(n=1, max_tokens=3)))

    assert "error" not in outcome, outcome.get("error")
    assert len(outcome["value"]) == 12
    assert server.max_in_flight == 3  # requests overlapped, never more than three at once


def test_retries_with_exponential_backoff_then_succeeds(tiny_llama_dir, servers):
    server = servers.start(FakeBehaviour(failures=[429, 500, 503]))
    generator = _generator(tiny_llama_dir, [server.url], max_retries=3, backoff_s=0.1)
    outcome = _bounded(lambda: generator.generate([A], SamplingParams(n=1, max_tokens=3)))

    assert "error" not in outcome, outcome.get("error")
    assert len(server.requests) == 4
    gaps = [b - a for a, b in zip(server.arrivals, server.arrivals[1:], strict=False)]
    for gap, backoff in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert gap >= backoff * 0.9  # each wait at least the doubled backoff


def test_client_errors_are_not_retried(tiny_llama_dir, servers):
    server = servers.start(FakeBehaviour(failures=[400]))
    generator = _generator(tiny_llama_dir, [server.url])
    with pytest.raises(GenerationError, match=server.url) as caught:
        generator.generate([A], SamplingParams(n=1, max_tokens=3))
    assert "HTTP 400" in str(caught.value) and "fake 400" in str(caught.value)
    assert len(server.requests) == 1


def test_a_down_server_gives_an_error_naming_its_url(tiny_llama_dir, servers):
    healthy = servers.start()
    dead_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    generator = _generator(tiny_llama_dir, [healthy.url, dead_url], max_retries=2)
    outcome = _bounded(lambda: generator.generate([A, B], SamplingParams(n=1, max_tokens=3)))

    error = outcome["error"]
    assert isinstance(error, GenerationError)
    assert dead_url in str(error) and "3 attempts" in str(error) and healthy.url not in str(error)


def _count_posts(generator: OpenAICompatibleGenerator) -> list[str]:
    posted: list[str] = []
    original = generator._client.post

    def counting(url: str, *args: Any, **kwargs: Any) -> Any:
        posted.append(url)
        return original(url, *args, **kwargs)

    generator._client.post = counting  # type: ignore[method-assign]
    return posted


def test_a_dead_server_costs_the_full_backoff_once_then_fails_fast(tiny_llama_dir):
    dead_url = f"http://127.0.0.1:{free_port()}"
    generator = _generator(tiny_llama_dir, [dead_url], max_retries=3, backoff_s=0.05)
    posted = _count_posts(generator)
    with pytest.raises(GenerationError, match="4 attempts"):
        generator.generate([A], SamplingParams(n=1, max_tokens=3))
    assert len(posted) == 4
    for _ in range(3):  # the next problems: one try each, no backoff
        with pytest.raises(GenerationError, match=r"still down.*one try per request"):
            generator.generate([A], SamplingParams(n=1, max_tokens=3))
    assert len(posted) == 4 + 3


def test_requests_avoid_a_server_marked_down_and_it_comes_back_when_it_answers(
    tiny_llama_dir, servers
):
    healthy = servers.start()
    dead_url = f"http://127.0.0.1:{free_port()}"
    generator = _generator(tiny_llama_dir, [healthy.url, dead_url], max_retries=1)
    with pytest.raises(GenerationError, match=dead_url):
        generator.generate([A, B], SamplingParams(n=1, max_tokens=3))
    before = len(healthy.requests)
    rows = generator.generate([A, B, A, B], SamplingParams(n=1, max_tokens=3))
    assert len(rows) == 4 and len(healthy.requests) == before + 4  # all went to the live one
    generator.recheck_s = 0.0  # time to look at the down server again: it is back
    generator.base_urls = [healthy.url, healthy.url + "/v1"]
    generator._down_since[healthy.url + "/v1"] = 0.0
    assert len(generator.generate([A, B], SamplingParams(n=1, max_tokens=3))) == 2
    assert healthy.url + "/v1" not in generator._down_since  # marked up again


def test_a_server_dropping_connections_mid_run_fails_cleanly(tiny_llama_dir, servers):
    dying = servers.start(FakeBehaviour(drop_after=2, delay_s=0.02))
    healthy = servers.start(FakeBehaviour(delay_s=0.02))
    generator = _generator(tiny_llama_dir, [dying.url, healthy.url], max_concurrency=2)
    prompts = [_prompt(f"What is {i} + 3?") for i in range(16)]
    outcome = _bounded(lambda: generator.generate(prompts, SamplingParams(n=1, max_tokens=3)))

    error = outcome["error"]
    assert isinstance(error, GenerationError) and dying.url in str(error)
    assert len(dying.requests) >= 3  # it answered two, then dropped the retries
    assert len(healthy.requests) < 8  # the rest of the batch was cancelled, not sent


def test_a_stopped_server_fails_the_next_call_cleanly(tiny_llama_dir, servers):
    server = servers.start()
    generator = _generator(tiny_llama_dir, [server.url], max_retries=1)
    assert generator.generate([A], SamplingParams(n=1, max_tokens=3))
    server.stop()
    outcome = _bounded(lambda: generator.generate([A], SamplingParams(n=1, max_tokens=3)))
    assert isinstance(outcome["error"], GenerationError) and server.url in str(outcome["error"])


def test_greedy_sends_n_1_and_repeats(tiny_llama_dir, servers):
    server = servers.start()
    generator = _generator(tiny_llama_dir, [server.url])
    (row,) = generator.generate([A], SamplingParams(n=3, max_tokens=3, temperature=0.0))
    assert server.requests[0]["n"] == 1 and len(row) == 3 and row[0] == row[1] == row[2]


def test_number_of_parameters_is_read_from_local_weights(tiny_llama_dir, servers):
    from transformers import AutoModelForCausalLM

    generator = _generator(tiny_llama_dir, ["http://127.0.0.1:9"])
    reference = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    assert generator.num_parameters == sum(p.numel() for p in reference.parameters())
    with pytest.raises(ValueError, match="base_urls"):
        OpenAICompatibleGenerator(str(tiny_llama_dir), [])


# ---------------------------------------------------------------------------------------
# (b) against a real `vllm serve` (in .venv-vllm)


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    if not os.environ.get("TTC_REQUIRE_VLLM"):
        pytest.importorskip("vllm")
    from vllm_helpers import running_vllm_server

    with running_vllm_server(tmp_path_factory.mktemp("vllm-serve")) as running:
        yield running


@pytest.mark.vllm
def test_against_vllm_serve(vllm_server):
    model_dir, server = vllm_server
    generator = _generator(model_dir, [server.url], timeout_s=60.0)
    stop = ("=", "9")
    params = SamplingParams(n=8, max_tokens=12, temperature=1.0, stop=stop, seed=5)
    rows = generator.generate([A, B], params)

    completions = [c for row in rows for c in row]
    assert [len(row) for row in rows] == [8, 8]
    assert {c.finish_reason for c in completions} == {"stop", "eos", "length"}
    for completion in completions:
        assert 1 <= completion.num_tokens <= 12
        assert completion.logprob is not None and completion.logprob < 0
        if completion.finish_reason == "stop":
            assert completion.text.endswith(stop)  # the stop string is kept
        if completion.finish_reason == "length":
            assert completion.num_tokens == 12
    assert len({c.text for c in rows[0]}) > 1

    in_batch = generator.generate([C, A], params)[1]
    assert [c.text for c in in_batch] == [c.text for c in rows[0]]  # seeded per request


@pytest.mark.vllm
def test_vllm_serve_killed_mid_run_gives_a_clear_error(vllm_server):
    """Runs last in this module: it kills the module's server."""
    model_dir, server = vllm_server
    generator = _generator(
        model_dir, [server.url], timeout_s=20.0, max_retries=2, backoff_s=0.2, max_concurrency=2
    )
    prompts = [_prompt(f"What is {i} + 4?") for i in range(96)]
    params = SamplingParams(n=4, max_tokens=200, temperature=1.0, seed=1)
    answered = threading.Event()
    real_post = generator._client.post

    def counting_post(*args: Any, **kwargs: Any) -> Any:
        response = real_post(*args, **kwargs)
        if response.status_code == 200:
            answered.set()
        return response

    generator._client.post = counting_post  # the real request, observed

    def kill_once_answering() -> None:
        answered.wait(timeout=BOUND_S)
        server.kill()

    killer = threading.Thread(target=kill_once_answering, daemon=True)
    killer.start()
    outcome = _bounded(lambda: generator.generate(prompts, params))
    killer.join(timeout=BOUND_S)

    assert answered.is_set()  # the server was killed mid-run, after answering requests
    error = outcome.get("error")
    assert isinstance(error, GenerationError), outcome
    assert server.url in str(error)
