"""The key/value states of prompts a transformers model has already read, kept for reuse.

Why: a tree search asks for the same prompt again and again. Every step continues each
live node, whose prompt is the problem's chat (system prompt, worked example, question:
about 100 tokens for SmolLM2) plus the node's partial answer, and the node's own prompt is
the prefix of its children's. Re-reading those tokens each step was most of a search's
time on CPU (``scripts/bench_tree_search.py``). The store keeps each prompt's states, and
a later prompt is read from where its longest common prefix with a stored one ends.

States are per layer ``(keys, values)`` tensors of shape ``[heads, tokens, head_dim]``
(no batch axis). The store is bounded in bytes and drops the least recently used prompt
first; a prompt already covered by a longer stored one is not stored again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Per-layer (keys, values) of one prompt, each [heads, tokens, head_dim].
LayerStates = Sequence[tuple[Any, Any]]


@dataclass(frozen=True)
class Match:
    """The stored states to start a prompt from: its first ``length`` tokens."""

    length: int
    states: LayerStates | None


class PrefixStore:
    """An LRU map from token ids to their states, at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[int, ...], tuple[LayerStates, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def longest(self, ids: Sequence[int]) -> Match:
        """The stored prompt sharing the longest prefix with ``ids`` (causal attention
        makes a prefix's states the same whatever follows it)."""
        best_key: tuple[int, ...] | None = None
        best = 0
        for key in self._entries:
            if best >= len(key) or not key or key[0] != ids[0]:
                continue
            shared = _common_prefix(key, ids)
            if shared > best:
                best, best_key = shared, key
        if best_key is None:
            return Match(0, None)
        self._entries.move_to_end(best_key)
        return Match(best, self._entries[best_key][0])

    def put(self, ids: Sequence[int], states: LayerStates) -> None:
        key = tuple(ids)
        if key in self._entries or self.covered(key):
            return
        size = sum(
            k.element_size() * k.nelement() + v.element_size() * v.nelement() for k, v in states
        )
        if size > self.max_bytes:
            return
        self._entries[key] = (states, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def covered(self, key: tuple[int, ...]) -> bool:
        """Whether a stored prompt already starts with all of ``key``."""
        return any(len(other) > len(key) and other[: len(key)] == key for other in self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    limit = min(len(a), len(b))
    if a[:limit] == tuple(b[:limit]):
        return limit
    low, high = 0, limit  # a[:low] == b[:low] holds, a[:high] == b[:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        if a[:middle] == tuple(b[:middle]):
            low = middle
        else:
            high = middle
    return low
