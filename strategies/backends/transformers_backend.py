"""transformers as a Generator: the CPU and small-GPU backend, and the embedded SmolLM2 demo.

Why it is built this way:
- Prompts are token ids from ``render_prompt_ids`` (one BOS, partial answer untrimmed),
  batched with left padding so every row's next token sits in the last column.
- Stop strings are checked by ``StopStringCriteria`` below on the *generated* tokens
  only. transformers' own ``stop_strings`` looks at the whole sequence, so a prompt
  ending in "\\n" would stop on the first generated "\\n" when the stop is "\\n\\n"
  (DESIGN.md section 3). The text is cut after the first stop string it contains,
  and the token count is the number of tokens up to the one that completed it.
- Each row (one sample of one prompt) draws its tokens from its own ``torch.Generator``,
  seeded like the vLLM backend's requests (``request_seeds``: a function of the seed,
  the problem key and the partial answer; sample ``i`` gets ``seed + i``). So a
  prompt's samples do not depend on which other prompts share its batch, nor on the
  global torch RNG, which this backend never touches. ``generate`` then only takes the
  argmax of a distribution that ``SeededSampler`` has already collapsed to its pick.
- ``Completion.logprob`` is the summed log-probability of the chosen tokens under the
  model's own distribution (before temperature and top-p), read from the logits the
  sampler already holds, so it costs one log-softmax per step.
- A greedy call (temperature 0) decodes each prompt once and repeats it ``n`` times.
- A prompt with its own sample count (``Prompt.samples``) gets that many rows, seeded
  as in a call with ``n`` set to it, so a tree search's step is one call (one decoding
  loop) however many children each node asks for.
- A model's ``generation_config`` (Llama 3.2 ships temperature 0.6, top_p 0.9) never
  changes the sampling: every knob that could is set explicitly per call.
- Decoding runs on ``CachedDecoder`` (``decoder="cached"``, the default where the model's
  cache allows it): each distinct prompt is read once for all its samples, from the
  longest prefix an earlier call already read, and stopped rows leave the batch. A tree
  search's steps were about N times slower under ``model.generate``, which re-reads every
  prompt for every sample (``decoder="generate"`` keeps that path, for comparison:
  ``scripts/bench_tree_search.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strategies.backends.cached_decoding import CachedDecoder, DecodeRow, supports
from strategies.backends.chat import render_prompt_ids
from strategies.backends.seeds import is_greedy, request_seeds
from strategies.generation import (
    Completion,
    FinishReason,
    GenerationError,
    Prompt,
    SamplingParams,
    sample_count,
    token_limit,
)
from strategies.hf_loading import count_parameters, load_causal_lm, model_device
from strategies.models import resolve_model

DECODERS = ("cached", "generate")


@dataclass(frozen=True)
class _Row:
    """One sequence to generate: sample ``sample_index`` of prompt ``prompt_index``."""

    prompt_index: int
    sample_index: int
    ids: tuple[int, ...]
    seed: int
    limit: int


class TransformersGenerator:
    """Generator over a transformers causal LM; see the module docstring for the why.

    Give ``model_obj`` and ``tokenizer`` to reuse a model that is already loaded (for
    example one shared with an LLM-as-judge verifier); ``device`` and ``dtype`` then do
    nothing. ``batch_size`` is the number of sequences (prompts x samples) decoded
    together. ``decoder`` is "cached" (``CachedDecoder``; models it cannot run fall back
    to ``generate``) or "generate" (transformers' ``model.generate``, the earlier path).
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: Any = "auto",
        batch_size: int = 64,
        model_obj: Any = None,
        tokenizer: Any = None,
        decoder: str = "cached",
    ) -> None:
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if (model_obj is None) != (tokenizer is None):
            raise ValueError("pass model_obj and tokenizer together, or neither")
        if model_obj is None:
            resolved = resolve_model(model)
            model_obj, tokenizer = load_causal_lm(resolved, dtype=dtype, device=device)
            model = resolved.name
        self.name = f"transformers:{model}"
        self.model = model_obj
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.num_parameters = count_parameters(model_obj)
        self.eos_token_ids = _eos_token_ids(model_obj, tokenizer)
        if self.eos_token_ids:
            self._pad_id = self.eos_token_ids[0]
        else:
            self._pad_id = int(getattr(tokenizer, "pad_token_id", None) or 0)
        self.cached: CachedDecoder | None = None
        if decoder == "cached" and supports(model_obj):
            self.cached = CachedDecoder(model_obj)
        self.decoder = "cached" if self.cached is not None else "generate"

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """The exact token ids the model is given for ``prompt``."""
        return render_prompt_ids(self.tokenizer, prompt)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        _check_params(params)
        if not prompts:
            return []
        counts = [sample_count(prompt, params) for prompt in prompts]
        draws = [1 if is_greedy(params) else count for count in counts]
        rows = [
            _Row(index, sample, tuple(self.prompt_ids(prompt)), seed + sample, limit)
            for index, (prompt, seed, limit) in enumerate(
                zip(
                    prompts,
                    request_seeds(prompts, params),
                    (token_limit(p, params) for p in prompts),
                    strict=True,
                )
            )
            for sample in range(draws[index])
        ]
        self._check_lengths(rows)
        # Longest first: similar lengths share a batch (less padding), and the largest
        # batch runs first, so running out of memory happens at once, not at the end.
        order = sorted(range(len(rows)), key=lambda r: len(rows[r].ids), reverse=True)
        done: dict[int, Completion] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            decode = self._decode_batch if self.cached is not None else self._generate_batch
            batch = decode([rows[r] for r in chunk], params)
            done.update(zip(chunk, batch, strict=True))
        completions: list[list[Completion]] = [[] for _ in prompts]
        for r, row in enumerate(rows):
            completions[row.prompt_index].append(done[r])
        return [
            samples * (count // drawn)  # greedy: one draw, repeated
            for samples, count, drawn in zip(completions, counts, draws, strict=True)
        ]

    # -- one batch ---------------------------------------------------------------------

    def _decode_batch(self, rows: Sequence[_Row], params: SamplingParams) -> list[Completion]:
        """One batch on ``CachedDecoder``: the rows' distinct prompts are read once."""
        assert self.cached is not None
        prompts: dict[tuple[int, ...], int] = {}
        for row in rows:
            prompts.setdefault(row.ids, len(prompts))
        limit = self._max_positions()
        decode_rows = [
            DecodeRow(prompts[row.ids], min(row.limit, limit - len(row.ids))) for row in rows
        ]
        sampler = SeededSampler(
            [row.seed for row in rows],
            temperature=params.temperature,
            top_p=params.top_p,
            greedy=is_greedy(params),
            device=model_device(self.model),
        )
        ends = RowStops(self.tokenizer, params.stop, self.eos_token_ids)
        decoded = self.cached.decode(list(prompts), decode_rows, sampler.choose, ends.stopped)
        return [self._completion(d.tokens, d.logprobs, params.stop) for d in decoded]

    def _generate_batch(self, rows: Sequence[_Row], params: SamplingParams) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        device = model_device(self.model)
        width = max(len(row.ids) for row in rows)
        input_ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, width - len(row.ids) :] = torch.tensor(row.ids, dtype=torch.long)
            attention_mask[i, width - len(row.ids) :] = 1
        sampler = SeededSampler(
            [row.seed for row in rows],
            temperature=params.temperature,
            top_p=params.top_p,
            greedy=is_greedy(params),
            device=device,
        )
        criteria = StoppingCriteriaList()
        if params.stop:
            criteria.append(StopStringCriteria(self.tokenizer, params.stop, width))
        config = GenerationConfig(
            max_new_tokens=min(max(row.limit for row in rows), self._max_positions() - width),
            do_sample=False,  # SeededSampler has already chosen; generate takes its argmax
            num_beams=1,
            temperature=1.0,
            top_p=1.0,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            min_new_tokens=0,
            eos_token_id=list(self.eos_token_ids) or None,
            pad_token_id=self._pad_id,
            use_cache=True,
        )
        with torch.inference_mode():
            sequences = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=criteria,
            )
        generated = sequences[:, width:].tolist()
        step_logprobs = sampler.chosen_logprobs()
        # A row's own cap cuts what it drew past it: its draws do not depend on the cap.
        return [
            self._completion(tokens[: rows[i].limit], step_logprobs[i], params.stop)
            for i, tokens in enumerate(generated)
        ]

    def _completion(
        self, tokens: list[int], logprobs: list[float], stop: Sequence[str]
    ) -> Completion:
        eos_at = next((i for i, t in enumerate(tokens) if t in self.eos_token_ids), None)
        body = tokens if eos_at is None else tokens[:eos_at]
        text = self._decode(body)
        end = first_stop_end(text, stop)
        reason: FinishReason
        if end is not None:
            text = text[:end]
            count = self._tokens_through_first_stop(body, stop)
            reason = "stop"
        elif eos_at is not None:
            count, reason = eos_at + 1, "eos"
        else:
            count, reason = len(tokens), "length"
        return Completion(
            text=text, num_tokens=count, finish_reason=reason, logprob=math.fsum(logprobs[:count])
        )

    def _tokens_through_first_stop(self, tokens: list[int], stop: Sequence[str]) -> int:
        """The fewest leading tokens whose text holds a stop string (binary search: a
        longer prefix never loses a stop string a shorter one has)."""
        low, high = 1, len(tokens)
        while low < high:
            middle = (low + high) // 2
            if first_stop_end(self._decode(tokens[:middle]), stop) is None:
                low = middle + 1
            else:
                high = middle
        return high

    def _decode(self, tokens: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(tokens), skip_special_tokens=True))

    def _max_positions(self) -> int:
        limit = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return int(limit) if isinstance(limit, int) and limit > 0 else 1 << 30

    def _check_lengths(self, rows: Sequence[_Row]) -> None:
        limit = self._max_positions()
        for row in rows:
            if len(row.ids) >= limit:
                raise GenerationError(
                    f"prompt {row.prompt_index} has {len(row.ids)} tokens, but {self.name} "
                    f"reads at most {limit} positions (prompt plus generated tokens)",
                    backend="transformers",
                )


def first_stop_end(text: str, stop: Sequence[str]) -> int | None:
    """Where ``text`` ends if cut after the first stop string completed in it: the
    smallest end position over every stop string's first occurrence, or None."""
    ends = [found + len(s) for s in stop if s and (found := text.find(s)) >= 0]
    return min(ends) if ends else None


class SeededSampler:
    """A ``LogitsProcessor`` that picks every row's next token with that row's own
    ``torch.Generator`` and returns scores that allow only the pick.

    Greedy rows take the argmax. Otherwise transformers' temperature and top-p warpers
    shape the distribution and each row draws from it with one uniform number. The raw
    log-probability of each pick is kept per step for ``Completion.logprob``.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        *,
        temperature: float,
        top_p: float,
        greedy: bool,
        device: Any,
    ) -> None:
        import torch
        from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

        self.greedy = greedy
        self.generators = (
            [] if greedy else [torch.Generator(device=device).manual_seed(s) for s in seeds]
        )
        self.warpers = LogitsProcessorList()
        if not greedy:
            self.warpers.append(TemperatureLogitsWarper(temperature))
            if top_p < 1.0:
                self.warpers.append(TopPLogitsWarper(top_p))
        self._steps: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        scores = scores.float()
        if self.greedy:
            picks = scores.argmax(dim=-1)
        else:
            picks = self._draw(
                torch.softmax(self.warpers(input_ids, scores), dim=-1), self.generators
            )
        picks = picks.unsqueeze(1)
        self._steps.append(torch.log_softmax(scores, dim=-1).gather(1, picks).squeeze(1))
        forced = torch.full_like(scores, -math.inf)
        return forced.scatter_(1, picks, 0.0)

    def choose(self, scores: Any, rows: Sequence[int]) -> tuple[Any, Any]:
        """The picks of rows ``rows`` (indices into the seeds) from their next-token
        ``scores``, one row each, and the raw log-probability of each pick: what
        ``CachedDecoder`` asks of a sampler, where rows that have stopped are gone."""
        import torch

        scores = scores.float()
        if self.greedy:
            picks = scores.argmax(dim=-1)
        else:
            # Temperature and top-p read only the scores, not the tokens so far.
            no_tokens = torch.empty((scores.shape[0], 0), dtype=torch.long, device=scores.device)
            probs = torch.softmax(self.warpers(no_tokens, scores), dim=-1)  # type: ignore[arg-type]
            picks = self._draw(probs, [self.generators[r] for r in rows])
        logprobs = torch.log_softmax(scores, dim=-1).gather(1, picks.unsqueeze(1)).squeeze(1)
        return picks, logprobs

    def _draw(self, probs: Any, generators: Sequence[Any]) -> Any:
        """Inverse-CDF sampling: one uniform per row from the row's generator, then one
        batched search (a per-row ``torch.multinomial`` took 13% of decoding time)."""
        import torch

        uniforms = torch.stack(
            [torch.rand((), generator=g, device=probs.device) for g in generators]
        )
        cdf = probs.cumsum(dim=-1)
        targets = (uniforms * cdf[:, -1]).unsqueeze(1)
        # side="right": the first token whose cdf exceeds the target has probability > 0.
        picks = torch.searchsorted(cdf, targets, right=True).squeeze(1)
        # Rounding can put a target at the very top of the cdf: take the last real token.
        last_possible = probs.shape[-1] - 1 - (probs > 0).flip(-1).int().argmax(dim=-1)
        return torch.minimum(picks, last_possible)

    def chosen_logprobs(self) -> list[list[float]]:
        """Per row, the log-probability of its pick at each step."""
        import torch

        if not self._steps:
            return []
        return [list(map(float, row)) for row in torch.stack(self._steps, dim=1).tolist()]


class StopStringCriteria:
    """Stops a row once its *generated* text holds a stop string.

    Only the last few generated tokens are decoded each step: enough to hold the longest
    stop string (each token carries at least one of its bytes) plus two tokens of slack
    for tokenizers that change a token's first character when decoded alone. Rows already
    stopped stay stopped. The prompt is never looked at, so a prompt ending in "\\n" does
    not make a first generated "\\n" complete a "\\n\\n" stop.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.prompt_width = prompt_width
        self.window = max((len(s.encode()) for s in self.stop), default=0) + 2
        self._stopped: set[int] = set()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        start = max(self.prompt_width, input_ids.shape[1] - self.window)
        tails = input_ids[:, start:].tolist()
        live = [row for row in range(len(tails)) if row not in self._stopped]
        texts = self.tokenizer.batch_decode([tails[row] for row in live], skip_special_tokens=True)
        for row, text in zip(live, texts, strict=True):
            if first_stop_end(text, self.stop) is not None:
                self._stopped.add(row)
        done = torch.zeros(len(tails), dtype=torch.bool, device=input_ids.device)
        if self._stopped:
            done[sorted(self._stopped)] = True
        return done


class RowStops:
    """Whether a row's generated tokens end it: an EOS token, or a stop string in the
    text of its last few tokens (the window ``StopStringCriteria`` reads, for the same
    reason: only generated text counts, and a stop string ends in the newest token)."""

    def __init__(self, tokenizer: Any, stop: Sequence[str], eos_token_ids: Sequence[int]) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.eos = frozenset(eos_token_ids)
        self.window = max((len(s.encode()) for s in self.stop), default=0) + 2

    def stopped(self, row: int, tokens: list[int]) -> bool:
        if tokens[-1] in self.eos:
            return True
        if not self.stop:
            return False
        text = self.tokenizer.decode(tokens[-self.window :], skip_special_tokens=True)
        return first_stop_end(text, self.stop) is not None


def _eos_token_ids(model: Any, tokenizer: Any) -> tuple[int, ...]:
    """Every token that ends generation: the model's generation config may list several
    (Llama 3's <|eot_id|> and <|end_of_text|>), plus the tokenizer's EOS."""
    ids: list[int] = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.append(configured)
    elif configured:
        ids.extend(int(t) for t in configured)
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is not None and eos not in ids:
        ids.append(int(eos))
    return tuple(ids)


def _check_params(params: SamplingParams) -> None:
    params.check("transformers")
