"""Per-problem cost ledgers for a batch of problems that share generator and verifier calls.

Strategies advance all problems of a batch together (one generator call and one verifier
call per search step), yet each SearchResult needs its own ledger. Attribution rules:

- ``generations``, ``generated_tokens``, ``verifier_tokens`` and the FLOPs are exact: every
  completion and every score request belongs to exactly one problem.
- ``generator_calls`` / ``verifier_calls`` of a problem count the batched calls that held
  at least one of its prompts / requests. So a problem's ledger is the same whether it
  ran alone or in a batch; the number of calls the batch really made is in
  ``SearchResult.extra["batch"]`` (``generator_calls``, ``verifier_calls``).
- ``wall_time_s``: each call's time is shared among its problems in proportion to their
  tokens in that call (evenly when there are none); the rest of the batch time
  (bookkeeping) is shared evenly. The per-problem times add up to the batch's wall time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from strategies.cost import CostLedger
from strategies.generation import Completion, Generator, Prompt, SamplingParams, sample_count
from strategies.verification import ScoreRequest, StepScores, Verifier


class BatchLedger:
    """Runs the generator and verifier for a batch and books every call to its problems."""

    def __init__(
        self,
        strategy: str,
        problem_ids: Sequence[str],
        generator: Generator,
        verifier: Verifier | None,
    ) -> None:
        self.strategy = strategy
        self.problem_ids = list(problem_ids)
        self.generator = generator
        self.verifier = verifier
        self.ledgers = [CostLedger() for _ in problem_ids]
        self.generator_calls = 0
        self.verifier_calls = 0
        self.generation_s = 0.0
        self.verification_s = 0.0
        self._times = [0.0 for _ in problem_ids]
        self._started = time.perf_counter()
        self._wall_time_s: float | None = None

    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams, owners: Sequence[int], stage: str
    ) -> list[list[Completion]]:
        """One generator call; ``owners[i]`` is the batch index of the problem of prompt i."""
        started = time.perf_counter()
        try:
            outputs = self.generator.generate(prompts, params)
        except Exception as exc:
            _add_note(exc, self._context("generator", stage, owners))
            raise
        elapsed = time.perf_counter() - started
        wanted = [sample_count(prompt, params) for prompt in prompts]
        if [len(o) for o in outputs] != wanted:
            shape = [len(o) for o in outputs]
            asked = (
                f"n={params.n}" if all(w == params.n for w in wanted) else f"their own n={wanted}"
            )
            raise ValueError(
                f"generator {self.generator.name!r} returned {shape} completions for "
                f"{len(prompts)} prompts with {asked} ({self._context('generator', stage, owners)})"
            )
        self.generator_calls += 1
        self.generation_s += elapsed
        tokens: Counter[int] = Counter()
        counts: Counter[int] = Counter()
        for owner, completions in zip(owners, outputs, strict=True):
            counts[owner] += len(completions)
            tokens[owner] += sum(c.num_tokens for c in completions)
        for owner in counts:
            ledger = self.ledgers[owner]
            ledger.generator_calls += 1
            ledger.record_generation(counts[owner], tokens[owner], self.generator.num_parameters)
        self._share_time(elapsed, tokens, counts)
        return outputs

    def score(
        self, requests: Sequence[ScoreRequest], owners: Sequence[int], stage: str
    ) -> list[StepScores]:
        """One verifier call; ``owners[i]`` is the batch index of the problem of request i."""
        if self.verifier is None:
            raise ValueError(f"{self.strategy} needs a verifier to score solutions; none was given")
        if not requests:
            return []
        started = time.perf_counter()
        try:
            scored = self.verifier.score(requests)
        except Exception as exc:
            _add_note(exc, self._context("verifier", stage, owners))
            raise
        elapsed = time.perf_counter() - started
        if len(scored) != len(requests):
            raise ValueError(
                f"verifier {self.verifier.name!r} returned {len(scored)} results for "
                f"{len(requests)} requests ({self._context('verifier', stage, owners)})"
            )
        self.verifier_calls += 1
        self.verification_s += elapsed
        tokens: Counter[int] = Counter()
        counts: Counter[int] = Counter()
        for owner, result in zip(owners, scored, strict=True):
            counts[owner] += 1
            tokens[owner] += result.num_tokens
        for owner in counts:
            ledger = self.ledgers[owner]
            ledger.verifier_calls += 1
            ledger.record_verification(tokens[owner], self.verifier.num_parameters)
        self._share_time(elapsed, tokens, counts)
        return scored

    def close(self) -> None:
        """Stop the clock and share bookkeeping time evenly; idempotent."""
        if self._wall_time_s is not None:
            return
        self._wall_time_s = time.perf_counter() - self._started
        if not self.ledgers:
            return
        bookkeeping = max(0.0, self._wall_time_s - sum(self._times)) / len(self.ledgers)
        for ledger, attributed in zip(self.ledgers, self._times, strict=True):
            ledger.wall_time_s = attributed + bookkeeping

    def summary(self) -> dict[str, Any]:
        """What the batch as a whole did (identical in every result of the batch)."""
        self.close()
        wall = self._wall_time_s or 0.0
        return {
            "problems": len(self.ledgers),
            "generator_calls": self.generator_calls,
            "verifier_calls": self.verifier_calls,
            "wall_time_s": wall,
            "generation_s": self.generation_s,
            "verification_s": self.verification_s,
            "bookkeeping_s": max(0.0, wall - self.generation_s - self.verification_s),
        }

    def _share_time(self, elapsed: float, tokens: Counter[int], counts: Counter[int]) -> None:
        total = sum(tokens.values())
        for owner in counts:
            share = tokens[owner] / total if total else 1.0 / len(counts)
            self._times[owner] += elapsed * share

    def _context(self, role: str, stage: str, owners: Sequence[int]) -> str:
        ids = sorted({self.problem_ids[o] for o in owners})
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        return (
            f"{self.strategy}: {role} call failed at {stage} with {len(owners)} "
            f"{'prompts' if role == 'generator' else 'requests'} for problems {shown}"
        )


def _add_note(exc: BaseException, note: str) -> None:
    """Say where a backend failed without changing the exception's type."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(note)
