"""The replay backend: recorded samples served as if generated (``--backend replay``).

Why: sampling strategies (majority, best-of-N, the router's rounds of samples and any
sequential stopping) only ever see whole solutions, so a big recorded pool evaluates
them exactly and for free, and people holding GPU dumps get a table without generating
again.

How samples are served, per problem: a seeded permutation of its recorded samples
(``order=shuffled``, the default; ``order=recorded`` keeps the file's order), dealt out
without replacement. A request names a *stream* by its seed (``SamplingParams.seed``),
as a seeded live engine does: a request repeats what an earlier request with the same
seed got and extends it with samples no stream has had yet, so majority@16 and
best-of-N@16 at one seed see the same 16 samples (as they would live), and draws under a
new seed never repeat a sample. A top-up (``SamplingParams.stream``/``offset``: a
router's later round) is served the next positions of the stream it continues, so every
policy's k-th sample of a problem is the same one, whether it drew one at a time or
doubled: a pool of 32 serves any number of policies up to 32 samples each. The
permutation depends on ``seed`` (a backend option), the problem id and the first
request's seed, so a run is deterministic and ``--seed`` changes the samples.
A problem whose samples run out is an error naming it: a replay never reuses a sample.
Prompts that continue a partial solution (beam search, DVTS, any step-wise search) are
refused: a pool holds whole solutions only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from strategies.generation import (
    Completion,
    FinishReason,
    GenerationError,
    Prompt,
    SamplingParams,
    sample_count,
)
from strategies.pools.records import RecordedSample
from strategies.pools.replay import UnknownPoolProblemError, served_text

if TYPE_CHECKING:
    from strategies.pools.replay import ReplayWorld

ORDERS = ("shuffled", "recorded")
BACKEND = "replay"
_FINISH_REASONS = ("stop", "eos", "length")


class ReplayGenerator:
    """Serves a ReplayWorld's recorded samples; see the module docstring."""

    def __init__(
        self,
        world: ReplayWorld,
        seed: int = 0,
        order: str = "shuffled",
        num_parameters: int | None = None,
    ) -> None:
        if order not in ORDERS:
            raise ValueError(f"replay order {order!r}: expected one of {', '.join(ORDERS)}")
        self.world = world
        self.seed = int(seed)
        self.order = order
        model = world.pool.recorded("model")
        self.name = f"replay:{model}" if model else "replay"
        known = world.pool.num_parameters if num_parameters is None else num_parameters
        self.num_parameters = int(known or 0)
        self._order: dict[str, list[int]] = {}
        self._dealt: dict[str, int] = {}
        self._streams: dict[tuple[str, int], list[int]] = {}

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        params.check(BACKEND)
        out: list[list[Completion]] = []
        for prompt in prompts:
            if prompt.partial:
                raise GenerationError(
                    "a recorded pool holds whole solutions only, so it cannot continue a "
                    "partial one: beam search, DVTS and other step-wise searches need new "
                    "generations (run them live, or use majority, best_of_n, "
                    "weighted_best_of_n)",
                    backend=BACKEND,
                )
            try:
                problem = self.world.find(prompt)
            except UnknownPoolProblemError as error:
                raise GenerationError(str(error), backend=BACKEND) from None
            count = sample_count(prompt, params)
            if params.stream is None:
                positions = self._stream(problem.id, params.seed, count)
            else:
                wanted = params.offset + count
                positions = self._stream(problem.id, params.stream, wanted)[params.offset :]
            out.append([self._completion(problem.samples[i]) for i in positions])
        return out

    def served(self, problem_id: str) -> int:
        """How many distinct samples of a problem have been dealt out so far."""
        return self._dealt.get(problem_id, 0)

    def _stream(self, problem_id: str, seed: int, n: int) -> list[int]:
        order = self._order.get(problem_id)
        if order is None:
            order = self._permutation(problem_id, seed)
            self._order[problem_id] = order
        stream = self._streams.setdefault((problem_id, seed), [])
        missing = n - len(stream)
        if missing > 0:
            dealt = self._dealt.get(problem_id, 0)
            if dealt + missing > len(order):
                raise GenerationError(
                    f"the pool of problem {problem_id!r} ran out: it recorded {len(order)} "
                    f"samples, {dealt} are already served and {missing} more were asked for "
                    f"(seed {seed}); a replay never serves a sample twice, so record a bigger "
                    "pool or ask for fewer samples",
                    backend=BACKEND,
                )
            stream.extend(order[dealt : dealt + missing])
            self._dealt[problem_id] = dealt + missing
        return stream[:n]

    def _permutation(self, problem_id: str, first_seed: int) -> list[int]:
        size = len(self.world.pool.problems[problem_id].samples)
        if self.order == "recorded":
            return list(range(size))
        word = int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:8], "little")
        rng = np.random.default_rng([self.seed, first_seed % (2**32), word])
        return [int(i) for i in rng.permutation(size)]

    @staticmethod
    def _completion(sample: RecordedSample) -> Completion:
        text = served_text(sample)
        tokens = sample.num_tokens or (1 if text else 0)
        finish = sample.finish_reason if sample.finish_reason in _FINISH_REASONS else "eos"
        return Completion(text=text, num_tokens=tokens, finish_reason=cast(FinishReason, finish))
