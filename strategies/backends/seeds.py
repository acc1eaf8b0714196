"""Per-request sampling seeds, shared by every real backend.

A sample's seed is a function of (seed, problem key, partial answer) only, never of the
batch around it, so the same request gets the same samples on any backend that honours
seeds, however problems are batched or resumed. vLLM's rule for ``n`` samples of one
request (the ``i``-th gets ``seed + i``) is the convention the others follow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from strategies.generation import Prompt, SamplingParams, sample_count

# Seeds stay below 2**62 so that seed + sample index fits vLLM's int64 seed field.
_SEED_BITS = 62
# vLLM samples greedily below this temperature.
GREEDY_TEMPERATURE = 1e-5


def request_seed(seed: int, prompt: Prompt, copy_index: int = 0, n: int = 1) -> int:
    """The seed of a request: a function of (seed, problem key, partial answer) only.

    ``copy_index`` numbers repeated copies of the same prompt within one call; copy ``k``
    starts ``k * n`` seeds later, where its samples would be in a request for more samples.
    """
    return _shifted(_base_seed(seed, prompt), copy_index * n)


def request_seeds(prompts: Sequence[Prompt], params: SamplingParams) -> list[int]:
    """One seed per prompt; repeated prompts in one batch get fresh samples, not copies.

    A repeated prompt's copy starts where the earlier copies' samples end (the sum of
    their counts, each ``sample_count``), where its samples would be in one request for
    them all: with no per-prompt counts, copy ``k`` starts ``k * n`` seeds later.
    """
    seen: dict[tuple[str, str], int] = {}
    seeds = []
    for prompt in prompts:
        identity = (prompt.problem_key, prompt.partial)
        offset = seen.get(identity, 0)
        seen[identity] = offset + sample_count(prompt, params)
        seeds.append(_shifted(_base_seed(params.seed, prompt), offset))
    return seeds


def _base_seed(seed: int, prompt: Prompt) -> int:
    material = "\x1f".join((str(seed), prompt.problem_key, prompt.partial)).encode()
    digest = hashlib.blake2b(material, digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - _SEED_BITS)


def _shifted(base: int, offset: int) -> int:
    return (base + offset) % (1 << _SEED_BITS)


def is_greedy(params: SamplingParams) -> bool:
    return params.temperature < GREEDY_TEMPERATURE
