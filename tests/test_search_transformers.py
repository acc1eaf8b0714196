"""End to end on a real (tiny, random) model: transformers backend + arithmetic checker.

Mechanics only; the model's text is noise. A forward hook adds a fixed bonus to the
logits of the "\\n\\n" token (and a small one to EOS), so steps do end at the delimiter
as well as at the token limit. Checked: every search step is one generator call for all
problems, each beam continues exactly the text its parent wrote, scores line up with
steps, the ledger counts real tokens, and a seed makes the run repeatable.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
import torch

from strategies.arithmetic_problems import generate_arithmetic_problems
from strategies.generation import Completion, Prompt, SamplingParams
from strategies.prompts import SMOLLM2_ARITHMETIC
from strategies.search import generations_for_budget, get_strategy
from strategies.verifiers.registry import build_verifier

pytestmark = pytest.mark.slow

TREE = "m=2,depth=3,step_tokens=6,max_tokens=12"


class RecordingGenerator:
    """Passes calls through and keeps every (prompt, completions) pair."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.num_parameters = inner.num_parameters
        self.calls: list[tuple[list[Prompt], SamplingParams, list[list[Completion]]]] = []

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams):
        outputs = self.inner.generate(prompts, params)
        self.calls.append((list(prompts), params, outputs))
        return outputs


@pytest.fixture(scope="module")
def model(tiny_llama_dir):
    from strategies.backends.transformers_backend import TransformersGenerator

    torch.set_num_threads(2)
    generator = TransformersGenerator(str(tiny_llama_dir), batch_size=32)
    newline = generator.tokenizer("\n\n", add_special_tokens=False)["input_ids"]
    assert len(newline) == 1, "the tiny tokenizer should hold '\\n\\n' as one token"
    bonus = torch.zeros(generator.model.config.vocab_size)
    bonus[newline[0]] = 3.0
    bonus[list(generator.eos_token_ids)] = 1.0
    generator.model.lm_head.register_forward_hook(lambda _module, _inputs, out: out + bonus)
    return generator


@pytest.fixture(scope="module")
def problems():
    return generate_arithmetic_problems(2, seed=0)


@pytest.mark.parametrize("name", ["beam_search", "dvts"])
def test_tree_search_end_to_end(model, problems, name):
    spec = f"{name}:{TREE}"
    generator = RecordingGenerator(model)
    verifier = build_verifier("arithmetic")
    results = get_strategy(spec).run(
        problems, 4, generator, verifier, prompt_config=SMOLLM2_ARITHMETIC, seed=3
    )
    plan = generations_for_budget(spec, 4)
    batch_calls = results[0].extra["batch"]["generator_calls"]
    assert len(generator.calls) == batch_calls <= plan.max_generator_calls
    # One call per step for the whole batch: the first holds every problem; a problem whose
    # beams have all finished drops out and never comes back.
    keys_per_call = [{p.key for p in prompts} for prompts, _, _ in generator.calls]
    assert keys_per_call[0] == {p.id for p in problems}, "one call for all problems"
    for earlier, later in itertools.pairwise(keys_per_call):
        assert later <= earlier, (earlier, later)
    # Each beam continues exactly the text an earlier step wrote for it.
    written = {""}
    for prompts, _, outputs in generator.calls:
        for prompt, completions in zip(prompts, outputs, strict=True):
            assert prompt.partial in written
            written.update(prompt.partial + c.text for c in completions)
    stop_seen = any(
        c.finish_reason == "stop" for _, _, outputs in generator.calls for cs in outputs for c in cs
    )
    assert stop_seen, "the hook should make some steps end at the delimiter"
    for result in results:
        assert result.candidates, result.error
        assert 0 < result.cost.generations <= plan.max_generations
        assert result.cost.generated_tokens > 0
        assert result.cost.generator_flops == 2.0 * model.num_parameters * (
            result.cost.generated_tokens
        )
        for candidate in result.candidates:
            assert candidate.text in written
            assert len(candidate.step_scores) == len(candidate.steps)
            assert all(0.0 <= s <= 1.0 for s in candidate.step_scores)
            # max_tokens=12 is checked between steps; the last, to-EOS call gets the
            # largest remaining budget of the batch (one max_tokens per call).
            assert candidate.num_tokens <= 2 * 12
            assert candidate.finish_reason in ("stop", "eos", "length")
        if result.answer is None:
            assert "no extractable answer" in (result.error or "")


def test_tree_search_is_repeatable_under_a_seed(model, problems):
    def texts(seed):
        results = get_strategy(f"dvts:{TREE}").run(
            problems[:1],
            4,
            model,
            build_verifier("arithmetic"),
            prompt_config=SMOLLM2_ARITHMETIC,
            seed=seed,
        )
        return [[c.text for c in r.candidates] for r in results]

    assert texts(5) == texts(5)


def test_sampling_strategy_end_to_end(model, problems):
    generator = RecordingGenerator(model)
    results = get_strategy("weighted_best_of_n:max_tokens=16").run(
        problems, 3, generator, build_verifier("arithmetic"), prompt_config=SMOLLM2_ARITHMETIC
    )
    [(prompts, params, _)] = generator.calls
    assert len(prompts) == 2 and params.n == 3 and params.stop == ()
    for result in results:
        assert len(result.candidates) == 3 and result.cost.generations == 3
        assert result.cost.generated_tokens == sum(c.num_tokens for c in result.candidates) > 0
        for candidate in result.candidates:
            assert len(candidate.step_scores) == len(candidate.steps)
