"""Fixed batches of problems: the unit of work that makes resuming exact.

Some backends give a prompt different samples depending on what else is in its batch
(padding, shared random state). So a resumed run must re-run a half-finished batch with
exactly the same problems: batches are fixed slices of the shard's problem list, and a
batch whose results are partly on disk is run whole again, writing only what is missing.
On backends with per-request seeding (the simulator, vLLM) this costs a little repeated
work; on the others it is what keeps a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def fixed_chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
