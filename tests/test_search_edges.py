"""Edge cases of the searches: early endings, cut steps, empty text, missing answers,
failures of one problem or of a whole call, lookahead scoring and de-duplication."""

from __future__ import annotations

import pytest
from test_search_doubles import (
    PROMPTS,
    TOKENS_PER_STEP,
    Script,
    ScriptedGenerator,
    ScriptedVerifier,
    default_step_score,
    problems,
)

from strategies.search import get_strategy
from strategies.search.steps import solution_steps

ALL = ["majority", "best_of_n", "weighted_best_of_n", "beam_search", "dvts"]
TREES = ["beam_search", "dvts"]


def run(spec, scripts, budget=8, count=3, verifier=None, **kwargs):
    generator = ScriptedGenerator(scripts)
    results = get_strategy(spec).run(
        problems(count),
        budget,
        generator,
        verifier or ScriptedVerifier(),
        prompt_config=PROMPTS,
        **kwargs,
    )
    return results, generator


@pytest.mark.parametrize("name", TREES)
def test_a_beam_ending_at_step_one_leaves_while_others_go_on(name):
    results, generator = run(name, {"p1": Script(steps=1, answer="5")})
    assert len(generator.calls) == 3
    short = results[1]
    assert short.answer == "5" and short.error is None
    assert short.cost.generator_calls == 1 and short.cost.generations == 8
    assert all(len(c.steps) == 1 for c in short.candidates)
    for other in (results[0], results[2]):
        assert other.answer == "42" and other.cost.generator_calls == 3


@pytest.mark.parametrize("name", TREES)
def test_every_beam_finishing_at_step_one_ends_the_search(name):
    results, generator = run(name, {f"p{i}": Script(steps=1) for i in range(3)})
    assert len(generator.calls) == 1
    assert results[0].extra["batch"]["verifier_calls"] == 1
    assert all(r.answer == "42" for r in results)


@pytest.mark.parametrize("name", TREES)
def test_a_step_cut_by_max_tokens_is_continued_as_the_same_step(name):
    results, _ = run(name, {"p0": Script(steps=3, cut_first_step=True)}, count=1)
    [result] = results
    assert result.answer == "42"
    for candidate in result.candidates:
        assert candidate.steps[0] == "Step 1: a long step that was cut.\n\n"
        assert len(candidate.steps) == 3 == len(candidate.step_scores)
        assert "".join(candidate.steps) == candidate.text
    # the cut step took one call more than the script's three steps
    assert result.cost.generator_calls == 4
    assert result.cost.generated_tokens == 8 * 4 * TOKENS_PER_STEP


@pytest.mark.parametrize("name", ALL)
def test_an_empty_completion_gives_no_answer_and_the_batch_goes_on(name):
    results, _ = run(name, {"p1": Script(empty=True)})
    empty = results[1]
    assert empty.answer is None
    assert empty.error is not None and "no extractable answer" in empty.error
    assert all(c.text == "" and c.steps == () for c in empty.candidates)
    assert results[0].answer == "42" and results[2].answer == "42"


@pytest.mark.parametrize("name", ALL)
def test_a_problem_without_extractable_answer_says_so(name):
    results, _ = run(name, {"p0": Script(boxed=False)})
    assert results[0].answer is None and results[0].chosen is None
    assert "no extractable answer" in (results[0].error or "")
    assert results[0].candidates, "the solutions are still reported"
    assert [r.answer for r in results[1:]] == ["42", "42"]


@pytest.mark.parametrize("name", ["best_of_n", "beam_search", "dvts"])
@pytest.mark.parametrize(
    ("corruption", "message"),
    [("drop", "step delimiter"), ("nan", "outside [0, 1]"), ("error", "could not score")],
)
def test_unusable_verifier_scores_fail_only_that_problem(name, corruption, message):
    verifier = ScriptedVerifier(corrupt_for="number 1?", corruption=corruption)
    results, _ = run(name, {}, verifier=verifier)
    assert results[1].answer is None
    assert message in (results[1].error or "")
    assert [r.answer for r in (results[0], results[2])] == ["42", "42"]


@pytest.mark.parametrize("name", ALL)
def test_a_generator_failure_propagates_with_its_context(name):
    generator = ScriptedGenerator(fail_with=ConnectionError("server unreachable"))
    with pytest.raises(ConnectionError) as failure:
        get_strategy(name).run(problems(2), 4, generator, ScriptedVerifier(), prompt_config=PROMPTS)
    notes = " ".join(getattr(failure.value, "__notes__", []))
    assert name in notes and "p0" in notes and "generator" in notes


def test_lookahead_end_is_scored_and_ranks_the_step():
    """Step 1 'trap' looks best alone but its greedy continuation is scored 0; with
    lookahead the search must avoid it."""

    def score(step: str) -> float:
        if "trap" in step:
            return 0.95
        if "doom" in step:
            return 0.0
        return default_step_score(step)

    class TrapGenerator(ScriptedGenerator):
        def _continue(self, prompt, params, index):
            completion = super()._continue(prompt, params, index)
            if prompt.partial == "" and params.stop and (params.seed + index) % 4 == 3:
                return type(completion)("Step 1: trap.\n\n", TOKENS_PER_STEP, "stop")
            if prompt.partial.endswith("trap.\n\n") and params.temperature == 0:
                return type(completion)("Step 2: doom.\n\n", TOKENS_PER_STEP, "stop")
            return completion

    def first_steps(spec):
        generator = TrapGenerator(default=Script(steps=4))
        [result] = get_strategy(spec).run(
            problems(1), 4, generator, ScriptedVerifier(score), prompt_config=PROMPTS
        )
        return {c.steps[0] for c in result.candidates}

    assert first_steps("beam_search:m=4") == {"Step 1: trap.\n\n"}
    assert "Step 1: trap.\n\n" not in first_steps("beam_search:m=4,lookahead=1")


def test_dedupe_drops_identical_beams():
    scripts = {"p0": Script(steps=3, variants=1)}
    plain, _ = run("beam_search:m=4", scripts, budget=16, count=1)
    deduped, _ = run("beam_search:m=4,dedupe=true", scripts, budget=16, count=1)
    texts = [c.text for c in plain[0].candidates]
    assert len(texts) == 16 and len(set(texts)) == 1
    # one distinct node expands (4 children) instead of four copies of it (16)
    assert [c.text for c in deduped[0].candidates] == texts[:4]
    assert deduped[0].cost.generations == 16 + 4 + 4 < plain[0].cost.generations == 3 * 16


def test_beam_search_and_dvts_coincide_when_budget_equals_width():
    scripts = {"p1": Script(steps=2), "p2": Script(steps=5, answer="3")}
    beam, _ = run("beam_search:m=4", scripts, budget=4)
    dvts, _ = run("dvts:m=4", scripts, budget=4)
    for a, b in zip(beam, dvts, strict=True):
        assert [c.text for c in a.candidates] == [c.text for c in b.candidates]
        assert a.cost.generations == b.cost.generations


@pytest.mark.parametrize("name", TREES)
def test_total_token_cap_finishes_a_beam(name):
    results, _ = run(f"{name}:max_tokens={2 * TOKENS_PER_STEP}", {"p0": Script(steps=6)}, count=1)
    [result] = results
    assert all(c.num_tokens == 2 * TOKENS_PER_STEP for c in result.candidates)
    assert result.answer is None and "no extractable answer" in (result.error or "")


def test_solution_steps_keep_delimiters_and_align_with_verifier_steps():
    from strategies.verification import split_steps

    text = "\n\nA\n\n\n\nB\n\n C \n\n"
    steps = solution_steps(text)
    assert "".join(steps) == text
    assert len(steps) == len(split_steps(text)) == 3


@pytest.mark.parametrize("name", TREES)
def test_each_beam_asks_for_what_is_left_of_its_own_token_budget(name):
    cap, step = 4 * TOKENS_PER_STEP + 2, 2 * TOKENS_PER_STEP
    scripts = {"p0": Script(steps=6, cut_first_step=True)}
    _, generator = run(f"{name}:max_tokens={cap},step_tokens={step},depth=4", scripts, count=2)
    for call in generator.calls:
        last = not call.params.stop
        for prompt in call.prompts:
            used = TOKENS_PER_STEP * (prompt.partial.count("\n\n") + prompt.partial.count("cut"))
            assert prompt.max_tokens == (cap - used if last else min(step, cap - used))
        assert call.params.max_tokens == max(p.max_tokens for p in call.prompts)


class EarlyExitGenerator(ScriptedGenerator):
    """Sample 3 of every first step (by seed and index) ends at once with a boxed 7."""

    def _continue(self, prompt, params, index):
        completion = super()._continue(prompt, params, index)
        if prompt.partial == "" and params.stop and (params.seed + index) % 4 == 3:
            return type(completion)("So it is $\\boxed{7}$.", TOKENS_PER_STEP, "eos")
        return completion


def low_for_seven(step: str) -> float:
    return 0.05 if "boxed{7}" in step else default_step_score(step)


def test_beam_search_pools_every_finished_child_whatever_its_rank():
    generator = EarlyExitGenerator(default=Script(steps=3))
    [result] = get_strategy("beam_search:m=4").run(
        problems(1), 8, generator, ScriptedVerifier(low_for_seven), prompt_config=PROMPTS
    )
    answers = [c.answer for c in result.candidates]
    assert answers.count("7") == 2, "both early finishers ranked last, yet both are pooled"
    assert len(answers) == 8 and result.answer == "42"
    assert all(c.finish_reason == "eos" for c in result.candidates)


def test_dvts_pools_the_finished_leaves_of_each_subtrees_last_expansion_only():
    generator = EarlyExitGenerator(default=Script(steps=3))
    [result] = get_strategy("dvts:m=4").run(
        problems(1), 8, generator, ScriptedVerifier(low_for_seven), prompt_config=PROMPTS
    )
    # the early 7s were siblings of a better unfinished child: not the last expansion
    assert [c.answer for c in result.candidates] == ["42"] * 8
    assert result.extra["pruned"] > 0


def test_dvts_never_pools_an_unfinished_sibling():
    """A subtree whose best child finished ends; its unfinished siblings are dropped."""

    def high_for_seven(step: str) -> float:
        return 0.99 if "boxed{7}" in step else default_step_score(step)

    generator = EarlyExitGenerator(default=Script(steps=3))
    [result] = get_strategy("dvts:m=4").run(
        problems(1), 8, generator, ScriptedVerifier(high_for_seven), prompt_config=PROMPTS
    )
    assert [c.answer for c in result.candidates] == ["7", "7"]
    assert all(c.finish_reason == "eos" for c in result.candidates)
    assert result.cost.generator_calls == 1
