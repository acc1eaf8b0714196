"""A decoding loop for transformers models that reads each prompt once and drops rows that
are done: the transformers backend's default, in place of ``model.generate``.

Why not ``model.generate``: a tree search calls the generator once per step with short
continuations (one step, "\\n\\n"-terminated) of long prompts, several samples each.
``generate`` re-reads every prompt in full for every sample at every step, and keeps
decoding rows that have stopped until the longest one stops. Here:

- each distinct prompt of a call is read once, and its samples start from copies of its
  key/value states;
- a prompt starts from the states of the longest prefix a ``PrefixStore`` holds (the
  problem's chat, or the parent node's prompt), so a search step reads only the tokens
  its node added since;
- a row that has stopped (EOS, a stop string in its generated text, its own token cap)
  leaves the batch at once.

Rows of different cached lengths share one forward pass: each row's cached states sit
right-aligned in the past, its new tokens right-aligned after them, and the attention
mask hides the gaps; positions are given explicitly, so a gap shifts nothing. Sampling is
the backend's ``SeededSampler`` (each row its own generator), so a row draws the same
uniforms in the same order as under ``generate``; the text can still differ where a
different batch layout moves a logit by a rounding step.

Only for models whose cache is transformers' plain ``DynamicLayer`` per layer (no sliding
window, no linear attention): ``supports`` says so, and the backend keeps ``generate``
for the rest.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from strategies.backends.prefix_store import PrefixStore

# Bounds the store; 256 MiB holds about 11k tokens of SmolLM2-135M's states in bf16.
DEFAULT_STORE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class DecodeRow:
    """One sequence to continue: ``prompt`` indexes the call's distinct prompts."""

    prompt: int
    limit: int


@dataclass
class Decoded:
    tokens: list[int]
    logprobs: list[float]


def supports(model: Any) -> bool:
    """Whether ``model`` runs on this loop: a plain dynamic cache and the keyword
    arguments it passes (``attention_mask``, ``position_ids``, a cache, ``use_cache``)."""
    try:
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache = DynamicCache(config=model.config)
        layers = getattr(cache, "layers", None)
        if layers and any(type(layer) is not DynamicLayer for layer in layers):
            return False
        return _cache_keyword(model) is not None
    except Exception:
        return False


def _cache_keyword(model: Any) -> str | None:
    """``cache`` in transformers 5.25 (``past_key_values`` before, now deprecated)."""
    parameters = inspect.signature(model.forward).parameters
    for name in ("cache", "past_key_values"):
        if name in parameters:
            return name
    return None


class CachedDecoder:
    """Decodes rows of a model, keeping prompt states in a ``PrefixStore`` across calls.

    ``pick(logits, rows)`` chooses the next token of each live row (``rows``: their
    indices in the call) and returns the picks and their log-probabilities; ``stopped(row,
    tokens)`` says whether a row's generated tokens end it.
    """

    def __init__(self, model: Any, *, store_bytes: int = DEFAULT_STORE_BYTES) -> None:
        self.model = model
        self.store = PrefixStore(store_bytes)
        self._cache_keyword = _cache_keyword(model) or "past_key_values"
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._lock = threading.Lock()
        self.read_tokens = 0  # prompt tokens put through the model (not served from the store)
        self.reused_tokens = 0  # prompt tokens served from the store

    def decode(
        self,
        prompts: Sequence[tuple[int, ...]],
        rows: Sequence[DecodeRow],
        pick: Callable[[Any, list[int]], tuple[Any, Any]],
        stopped: Callable[[int, list[int]], bool],
    ) -> list[Decoded]:
        import torch

        with self._lock, torch.inference_mode():
            return self._decode(prompts, rows, pick, stopped)

    def _decode(
        self,
        prompts: Sequence[tuple[int, ...]],
        rows: Sequence[DecodeRow],
        pick: Callable[[Any, list[int]], tuple[Any, Any]],
        stopped: Callable[[int, list[int]], bool],
    ) -> list[Decoded]:
        import torch

        cache, mask, logits = self._read_prompts(prompts)
        index = torch.tensor([row.prompt for row in rows], dtype=torch.long, device=mask.device)
        cache.batch_select_indices(index)
        mask = mask[index]
        logits = logits[index]
        positions = torch.tensor(
            [len(prompts[row.prompt]) for row in rows], dtype=torch.long, device=mask.device
        )
        out = [Decoded([], []) for _ in rows]
        live = [r for r, row in enumerate(rows) if row.limit > 0]
        if len(live) < len(rows):
            keep = torch.tensor(live, dtype=torch.long, device=mask.device)
            cache.batch_select_indices(keep)
            mask, logits, positions = mask[keep], logits[keep], positions[keep]
        while live:
            picks, logprobs = pick(logits, live)
            still: list[int] = []  # positions in the current batch of rows that go on
            for slot, (r, token, logprob) in enumerate(
                zip(live, picks.tolist(), logprobs.tolist(), strict=True)
            ):
                out[r].tokens.append(int(token))
                out[r].logprobs.append(float(logprob))
                if len(out[r].tokens) < rows[r].limit and not stopped(r, out[r].tokens):
                    still.append(slot)
            if not still:
                break
            if len(still) < len(live):
                keep = torch.tensor(still, dtype=torch.long, device=mask.device)
                cache.batch_select_indices(keep)
                mask, picks, positions = mask[keep], picks[keep], positions[keep]
                live = [live[slot] for slot in still]
            mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
            logits = self._forward(picks.view(-1, 1), mask, positions.view(-1, 1), cache)
            positions = positions + 1
        return out

    # -- reading the prompts ------------------------------------------------------------

    def _read_prompts(self, prompts: Sequence[tuple[int, ...]]) -> tuple[Any, Any, Any]:
        """The states, attention mask and next-token logits of every distinct prompt, each
        started from its longest stored prefix; stores each prompt's states afterwards."""
        import torch
        from transformers import DynamicCache

        device = _device(self.model)
        # At least the last token is read, for its logits.
        matches = [self.store.longest(ids) for ids in prompts]
        cached = [min(m.length, len(ids) - 1) for m, ids in zip(matches, prompts, strict=True)]
        fresh = [len(ids) - c for ids, c in zip(prompts, cached, strict=True)]
        past, width = max(cached), max(fresh)
        count = len(prompts)
        self.read_tokens += sum(fresh)
        self.reused_tokens += sum(cached)

        input_ids = torch.zeros((count, width), dtype=torch.long)
        mask = torch.zeros((count, past + width), dtype=torch.long)
        position_ids = torch.zeros((count, width), dtype=torch.long)
        for p, ids in enumerate(prompts):
            c, f = cached[p], fresh[p]
            input_ids[p, width - f :] = torch.tensor(ids[c:], dtype=torch.long)
            position_ids[p, width - f :] = torch.arange(c, c + f)
            mask[p, past - c : past] = 1
            mask[p, past + width - f :] = 1
        cache = DynamicCache(self._past_states(matches, cached, past, device))
        logits = self._forward(
            input_ids.to(device), mask.to(device), position_ids.to(device), cache
        )
        for p, ids in enumerate(prompts):
            if not self.store.covered(ids):
                self.store.put(ids, self._row_states(cache, p, past, cached[p], fresh[p]))
        return cache, mask.to(device), logits

    def _past_states(
        self, matches: Sequence[Any], cached: Sequence[int], past: int, device: Any
    ) -> list[tuple[Any, Any]] | None:
        """Per layer, every prompt's stored states right-aligned in a ``past``-wide block."""
        if past == 0:
            return None
        reference = next(m.states for m, c in zip(matches, cached, strict=True) if c > 0)
        layers = []
        for layer, (keys, values) in enumerate(reference):
            heads, _, dim = keys.shape
            block_k = keys.new_zeros((len(cached), heads, past, dim), device=device)
            block_v = values.new_zeros(
                (len(cached), values.shape[0], past, values.shape[2]), device=device
            )
            for p, (match, c) in enumerate(zip(matches, cached, strict=True)):
                if c:
                    stored_k, stored_v = match.states[layer]
                    block_k[p, :, past - c :] = stored_k[:, :c]
                    block_v[p, :, past - c :] = stored_v[:, :c]
            layers.append((block_k, block_v))
        return layers

    @staticmethod
    def _row_states(cache: Any, p: int, past: int, c: int, f: int) -> list[tuple[Any, Any]]:
        """Prompt ``p``'s states without the gaps: its cached part, then what it read."""
        import torch

        states = []
        for layer in cache.layers:
            keys, values = layer.keys[p], layer.values[p]
            total = keys.shape[1]
            spans = [(past - c, past), (total - f, total)]
            states.append(
                (
                    torch.cat([keys[:, a:b] for a, b in spans], dim=1).clone(),
                    torch.cat([values[:, a:b] for a, b in spans], dim=1).clone(),
                )
            )
        return states

    def _forward(self, input_ids: Any, mask: Any, position_ids: Any, cache: Any) -> Any:
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "position_ids": position_ids,
            self._cache_keyword: cache,
            "use_cache": True,
        }
        if self._keeps_logits:
            kwargs["logits_to_keep"] = 1
        return self.model(**kwargs).logits[:, -1, :]


def _device(model: Any) -> Any:
    return next(model.parameters()).device
