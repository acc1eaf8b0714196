"""Scripted generator and verifier for the search tests, plus checks of the doubles.

The doubles follow fixed scripts so the tests can compute exact ledgers by hand:
every step costs ``TOKENS_PER_STEP`` tokens, every scored step ``VERIFIER_TOKENS_PER_STEP``
verifier tokens. Statistical behaviour is tested on the real simulator instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from strategies.generation import Completion, Prompt, SamplingParams, sample_count
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.verification import ScoreRequest, StepScores

TOKENS_PER_STEP = 7
VERIFIER_TOKENS_PER_STEP = 3
PROMPTS = PromptConfig(name="test", system_prompt="Solve.")


@dataclass(frozen=True)
class Script:
    """How the scripted model answers one problem.

    A solution has ``steps`` steps: ``Step i: option v.`` then a final step with the
    boxed answer (or none). ``v`` is the variant, from the sample index and the seed (0
    at temperature 0). ``empty``: every completion is empty. ``cut_first_step``: the
    first step runs out of tokens before its delimiter and the next call finishes it.
    """

    answer: str = "42"
    steps: int = 3
    variants: int = 4
    boxed: bool = True
    empty: bool = False
    cut_first_step: bool = False


@dataclass(frozen=True)
class Call:
    prompts: tuple[Prompt, ...]
    params: SamplingParams


@dataclass
class ScriptedGenerator:
    scripts: dict[str, Script] = field(default_factory=dict)
    default: Script = field(default_factory=Script)
    name: str = "scripted"
    num_parameters: int = 1_000
    calls: list[Call] = field(default_factory=list)
    fail_with: Exception | None = None

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        self.calls.append(Call(tuple(prompts), params))
        if self.fail_with is not None:
            raise self.fail_with
        return [
            [self._continue(prompt, params, index) for index in range(sample_count(prompt, params))]
            for prompt in prompts
        ]

    def _continue(self, prompt: Prompt, params: SamplingParams, index: int) -> Completion:
        script = self.scripts.get(prompt.problem_key, self.default)
        if script.empty:
            return Completion("", 0, "stop")
        partial = prompt.partial
        if script.cut_first_step and partial == "":
            return Completion("Step 1: a long step that", TOKENS_PER_STEP, "length")
        if partial and not partial.endswith("\n\n"):
            return Completion(" was cut.\n\n", TOKENS_PER_STEP, "stop")
        done = partial.count("\n\n")
        variant = (params.seed + index) % script.variants if params.temperature > 0 else 0
        if not params.stop:
            text = "".join(step_text(script, i, variant) for i in range(done + 1, script.steps + 1))
            return Completion(text, TOKENS_PER_STEP * (script.steps - done), "eos")
        text = step_text(script, done + 1, variant)
        return Completion(text, TOKENS_PER_STEP, "eos" if done + 1 >= script.steps else "stop")


def step_text(script: Script, index: int, variant: int) -> str:
    if index < script.steps:
        return f"Step {index}: option {variant}.\n\n"
    if script.boxed:
        return f"So the answer is $\\boxed{{{script.answer}}}$."
    return "So I cannot tell."


def default_step_score(step: str) -> float:
    """Option v scores 0.2 + 0.2 v; a boxed final step 0.9; anything else 0.5."""
    match = re.search(r"option (\d+)", step)
    if match:
        return 0.2 + 0.2 * int(match.group(1))
    return 0.9 if "boxed" in step else 0.5


@dataclass
class ScriptedVerifier:
    step_score: Callable[[str], float] = default_step_score
    name: str = "scripted-prm"
    num_parameters: int = 10_000
    calls: list[tuple[ScoreRequest, ...]] = field(default_factory=list)
    corrupt_for: str | None = None
    # "drop": one score too few; "nan": NaN scores; "error": the request is refused
    corruption: str = "drop"

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        self.calls.append(tuple(requests))
        out = []
        for request in requests:
            scores = tuple(self.step_score(step) for step in request.steps)
            if self.corrupt_for is not None and self.corrupt_for in request.problem:
                if self.corruption == "error":
                    out.append(StepScores((), 0, error="needs 9000 tokens, more than 8192"))
                    continue
                scores = scores[:-1] if self.corruption == "drop" else (float("nan"),) * len(scores)
            out.append(StepScores(scores, VERIFIER_TOKENS_PER_STEP * len(request.steps)))
        return out


def problems(count: int) -> list[Problem]:
    return [Problem(id=f"p{i}", text=f"Problem number {i}?", answer="42") for i in range(count)]


def test_scripted_generator_writes_the_same_solution_stepwise_and_at_once():
    generator = ScriptedGenerator(default=Script(steps=3))
    prompt = PROMPTS.prompt("Q?", key="p0")
    whole = generator.generate([prompt], SamplingParams(n=1, seed=1))[0][0]
    partial = ""
    for _ in range(3):
        step = generator.generate(
            [PROMPTS.prompt("Q?", partial=partial, key="p0")],
            SamplingParams(n=1, seed=1, stop=("\n\n",)),
        )[0][0]
        partial += step.text
    assert partial == whole.text
    assert whole.finish_reason == "eos" and step.finish_reason == "eos"
    assert whole.num_tokens == 3 * TOKENS_PER_STEP


def test_scripted_verifier_scores_each_step_once():
    verifier = ScriptedVerifier()
    [result] = verifier.score([ScoreRequest("Q", ("Step 1: option 3.", "\\boxed{1}"))])
    assert result.scores == (0.2 + 0.6, 0.9)
    assert result.num_tokens == 2 * VERIFIER_TOKENS_PER_STEP
