"""The simulated policy: samples steps of a simulated problem as text.

Each step is a draw over "where the solution goes next": stay right, slip onto one of
the problem's tempting wrong answers (likelier at the problem's crux step), or (once
wrong) stay on the wrong path or drift to another wrong answer. Never back to right: a
wrong value, carried forward, stays wrong.
The draw for a step is a pure function of (world seed, prompt key, sampling seed,
temperature, top_p, the whole text so far, sample index), so outputs never depend on
how a batch is split or in which order calls come, and continuing a sample step by step
gives the same text as generating it in one call.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from strategies.generation import (
    Completion,
    FinishReason,
    Prompt,
    SamplingParams,
    own_params,
)
from strategies.simulation.config import SimulatorConfig
from strategies.simulation.problem_specs import ProblemIndex, ProblemSpec
from strategies.simulation.randomness import new_stream, pick, uniforms
from strategies.simulation.text import (
    has_final_answer,
    read_value,
    split_prefix,
    write_conclusion,
    write_step,
)
from strategies.simulation.tokens import count_tokens, truncate_to_tokens

RIGHT = -1  # path state "no mistake so far"; otherwise the index of the wrong answer headed for


@dataclass(frozen=True)
class PrefixState:
    """What a partial answer tells the simulator: where it is and whether it went wrong."""

    next_step: int
    path: int
    finished: bool
    closing: str


@dataclass(frozen=True)
class StepDistribution:
    """Next path states with cumulative probabilities and log-probabilities."""

    paths: tuple[int, ...]
    cumulative: tuple[float, ...]
    logprobs: tuple[float, ...]


def read_prefix(spec: ProblemSpec, partial: str, seed: int) -> PrefixState:
    """Parse a partial answer written by earlier calls (or anyone: unreadable = wrong)."""
    split = split_prefix(partial)
    finished = any(has_final_answer(step) for step in split.steps)
    offset: int | None = 0
    wrong = False
    for position, step in enumerate(split.steps):
        value = read_value(step)
        expected = spec.values[min(position, spec.num_steps - 1)]
        offset = None if value is None else value - expected
        wrong = wrong or offset != 0
    path = RIGHT
    if wrong:
        if offset in spec.wrong_offsets:
            path = spec.wrong_offsets.index(offset)
        else:  # a mistake we did not write: head for a tempting answer chosen by the text
            draw = uniforms(new_stream("unreadable", seed, spec.problem.id, partial))[0]
            path = pick(_cumulative(spec.wrong_weights), draw)
    return PrefixState(len(split.steps), path, finished, split.closing)


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    total = 0.0
    bounds = []
    for weight in weights:
        total += weight
        bounds.append(total)
    return tuple(bound / total for bound in bounds)


def step_distribution(
    spec: ProblemSpec, step: int, path: int, temperature: float, top_p: float, reference: float
) -> StepDistribution:
    """The next-path distribution from ``path`` at a temperature, with nucleus cut-off.

    At ``reference`` temperature a right path slips with the step's error rate (the
    crux step's or an ordinary one's) onto wrong answer j with weight w_j; a wrong path
    drifts to another wrong answer at the ordinary rate. Other temperatures raise
    probabilities to the power reference / T; temperature 0 takes the most likely outcome
    (ties go to the right step, then to the more tempting wrong answer).
    """
    weights = spec.wrong_weights
    if path == RIGHT:
        rate = spec.error_rate(step)
        raw = {RIGHT: 1.0 - rate, **{j: rate * w for j, w in enumerate(weights)}}
    else:
        rate, others = spec.step_error_rate, 1.0 - weights[path]
        raw = {
            j: (1.0 - rate) if j == path else (rate * w / others if others > 0 else 0.0)
            for j, w in enumerate(weights)
        }
    ranked = sorted(((p, j) for j, p in raw.items() if p > 0), key=lambda item: (-item[0], item[1]))
    if temperature == 0:
        return StepDistribution((ranked[0][1],), (1.0,), (0.0,))
    power = reference / temperature
    logs = [power * math.log(p) for p, _ in ranked]  # in logs: tiny temperatures underflow
    tempered = [math.exp(value - logs[0]) for value in logs]
    total = sum(tempered)
    kept = []
    mass = 0.0
    for weight, (_, j) in zip(tempered, ranked, strict=True):
        kept.append((weight / total, j))
        mass += weight / total
        if mass >= top_p:
            break
    kept_total = sum(p for p, _ in kept)
    probabilities = [p / kept_total for p, _ in kept]
    return StepDistribution(
        paths=tuple(j for _, j in kept),
        cumulative=_cumulative(probabilities),
        logprobs=tuple(math.log(p) for p in probabilities),
    )


def _earliest_stop(text: str, stops: Sequence[str], search_from: int) -> int | None:
    """End index of the earliest stop string found at or after ``search_from``."""
    best: int | None = None
    for stop in stops:
        if not stop:
            continue
        found = text.find(stop, max(0, search_from - len(stop) + 1))
        if found >= 0 and (best is None or found + len(stop) < best):
            best = found + len(stop)
    return best


class SimulatorGenerator:
    """A Generator (strategies.generation) over the problems of a SimulatedWorld.

    ``logprob`` is the log-probability of the sampled path choices (not of the wording).
    Token counts follow strategies.simulation.tokens. A partial answer that already
    holds a boxed answer continues with nothing (finish "eos").
    """

    name = "simulator"

    def __init__(self, seed: int, index: ProblemIndex, config: SimulatorConfig):
        self._seed = seed
        self._index = index
        self._config = config
        self.num_parameters = config.num_parameters
        self._distributions: dict[tuple[int, bool, int, float, float], StepDistribution] = {}

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        _check_params(params)
        results = []
        for prompt in prompts:
            spec, stream_name = self._index.for_prompt(prompt)
            state = read_prefix(spec, prompt.partial, self._seed)
            greedy = params.temperature == 0
            base = new_stream(
                "generate",
                self._seed,
                stream_name,
                "greedy" if greedy else params.seed,
                "greedy" if greedy else params.temperature,
                "greedy" if greedy else params.top_p,
            )
            base.update(prompt.partial.encode())
            own = own_params(prompt, params)  # its own token cap and sample count
            if greedy:
                completion = self._sample(spec, state, base, 0, own)
                results.append([completion] * own.n)
            else:
                results.append([self._sample(spec, state, base, i, own) for i in range(own.n)])
        return results

    def _distribution(
        self, spec: ProblemSpec, step: int, path: int, params: SamplingParams
    ) -> StepDistribution:
        crux = step == spec.crux_step
        key = (spec.index, crux, path, params.temperature, params.top_p)
        found = self._distributions.get(key)
        if found is None:
            if len(self._distributions) > 100_000:
                self._distributions.clear()
            found = step_distribution(
                spec,
                step,
                path,
                params.temperature,
                params.top_p,
                self._config.reference_temperature,
            )
            self._distributions[key] = found
        return found

    def _sample(
        self,
        spec: ProblemSpec,
        state: PrefixState,
        base: hashlib.blake2b,
        sample: int,
        params: SamplingParams,
    ) -> Completion:
        generated = ""
        tokens = 0
        logprob = 0.0
        finish: FinishReason = "eos"  # a finished partial continues with nothing
        pieces = self._pieces(spec, state, base, sample, params)
        for piece, piece_tokens, final, piece_logprob in pieces:
            search_from = len(generated)
            generated += piece
            # Pieces meet at whitespace, so counts add; the sum can only overcount (by one,
            # where a closing "\n" is no token of its own), so it is checked exactly.
            tokens += piece_tokens
            logprob += piece_logprob
            stop_end = _earliest_stop(generated, params.stop, search_from)
            if stop_end is not None:
                generated = generated[:stop_end]
                tokens = count_tokens(generated)
            if tokens > params.max_tokens and count_tokens(generated) > params.max_tokens:
                generated = truncate_to_tokens(generated, params.max_tokens)
                finish = "length"
                break
            if stop_end is not None:
                finish = "stop"
                break
            if final:
                finish = "eos"
                break
        return Completion(
            text=generated,
            num_tokens=count_tokens(generated),
            finish_reason=finish,
            logprob=logprob,
        )

    def _pieces(
        self,
        spec: ProblemSpec,
        state: PrefixState,
        base: hashlib.blake2b,
        sample: int,
        params: SamplingParams,
    ) -> Iterator[tuple[str, int, bool, float]]:
        """The rest of one sampled solution, piece by piece: (text, tokens, is last, logprob)."""
        if state.finished:
            return
        stream = base.copy()
        if state.closing:
            yield state.closing, 1, False, 0.0
            stream.update(state.closing.encode())
        sample_tag = b"\x00" + sample.to_bytes(8, "little")
        path = state.path
        for step in range(state.next_step, spec.num_steps):
            draw = stream.copy()
            draw.update(sample_tag)
            draws = uniforms(draw)
            distribution = self._distribution(spec, step, path, params)
            choice = pick(distribution.cumulative, draws[0])
            previous = (spec.values[step - 1] if step else spec.start) + _offset(spec, path)
            path = distribution.paths[choice]
            piece, piece_tokens = write_step(
                step + 1,
                previous,
                spec.increments[step],
                spec.values[step] + _offset(spec, path),
                draws,
                self._config.tokens_per_step,
            )
            yield piece, piece_tokens, False, distribution.logprobs[choice]
            stream.update(piece.encode())
        conclusion, conclusion_tokens = write_conclusion(spec.answer + _offset(spec, path))
        yield conclusion, conclusion_tokens, True, 0.0


def _offset(spec: ProblemSpec, path: int) -> int:
    return 0 if path == RIGHT else spec.wrong_offsets[path]


def _check_params(params: SamplingParams) -> None:
    params.check("simulator", min_max_tokens=0)
