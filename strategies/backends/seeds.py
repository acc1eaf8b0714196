"""Per-request sampling seeds, shared by every real backend.

A sample's seed is a function of (seed, problem key, partial answer) only, never of the
batch around it, so the same request gets the same samples on any backend that honours
seeds, however problems are batched or resumed. vLLM's rule for ``n`` samples of one
request (the ``i``-th gets ``seed + i``) is the convention the others follow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from strategies.generation import Prompt, SamplingParams

# Seeds stay below 2**62 so that seed + sample index fits vLLM's int64 seed field.
_SEED_BITS = 62
# vLLM samples greedily below this temperature.
GREEDY_TEMPERATURE = 1e-5


def request_seed(seed: int, prompt: Prompt, copy_index: int = 0, n: int = 1) -> int:
    """The seed of a request: a function of (seed, problem key, partial answer) only.

    ``copy_index`` numbers repeated copies of the same prompt within one call; copy ``k``
    starts ``k * n`` seeds later, where its samples would be in a request for more samples.
    """
    material = "\x1f".join((str(seed), prompt.problem_key, prompt.partial)).encode()
    digest = hashlib.blake2b(material, digest_size=8).digest()
    base = int.from_bytes(digest, "big") >> (64 - _SEED_BITS)
    return (base + copy_index * n) % (1 << _SEED_BITS)


def request_seeds(prompts: Sequence[Prompt], params: SamplingParams) -> list[int]:
    """One seed per prompt; repeated prompts in one batch get fresh samples, not copies."""
    seen: dict[tuple[str, str], int] = {}
    seeds = []
    for prompt in prompts:
        identity = (prompt.problem_key, prompt.partial)
        copy_index = seen.get(identity, 0)
        seen[identity] = copy_index + 1
        seeds.append(request_seed(params.seed, prompt, copy_index, params.n))
    return seeds


def is_greedy(params: SamplingParams) -> bool:
    return params.temperature < GREEDY_TEMPERATURE
