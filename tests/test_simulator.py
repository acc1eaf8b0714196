"""The seeded simulator and its PRM: determinism, text format, and the statistics that
the search, calibration and routing tests rely on."""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from dataclasses import replace

import pytest
from sklearn.metrics import roc_auc_score

from strategies.backends.simulator import (
    SimulatedWorld,
    SimulatorConfig,
    UnknownProblemError,
    count_tokens,
)
from strategies.generation import ChatMessage, Generator, Prompt, SamplingParams
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.verification import ScoreRequest, Verifier, split_steps

STEP = ("\n\n",)
BOXED = re.compile(r"\\boxed\{(-?\d+)\}")
CONCLUSION = re.compile(
    r"^Therefore, the final answer is: \$\\boxed\{-?\d+\}\$\. I hope it is correct\.$"
)


@functools.cache
def world() -> SimulatedWorld:
    return SimulatedWorld(120, seed=7)


def prompt(problem: Problem, partial: str = "", key: str | None = "id") -> Prompt:
    chosen = problem.id if key == "id" else key
    return PromptConfig().prompt(problem.text, partial=partial, key=chosen)


def answer_of(text: str) -> str | None:
    found = BOXED.findall(text)
    return found[-1] if found else None


@functools.cache
def samples(num_samples: int = 64) -> tuple[tuple[str, ...], ...]:
    """Full solutions per problem of world(), at the default temperature."""
    outputs = (
        world()
        .generator()
        .generate([prompt(p) for p in world().problems], SamplingParams(n=num_samples, seed=3))
    )
    return tuple(tuple(c.text for c in completions) for completions in outputs)


@functools.cache
def pass_at_1() -> tuple[float, ...]:
    return tuple(
        sum(answer_of(t) == p.answer for t in texts) / len(texts)
        for p, texts in zip(world().problems, samples(), strict=True)
    )


# --- the world ---------------------------------------------------------------------


def test_problems_are_unique_and_carry_their_hidden_truth():
    problems = world().problems
    assert len(problems) == 120
    assert len({p.id for p in problems}) == len({p.text for p in problems}) == 120
    for problem in problems:
        spec = world().spec(problem.id)
        assert problem.answer == str(spec.values[-1]) == str(spec.answer)
        assert 0.0 <= problem.metadata["difficulty"] <= 1.0
        assert len(problem.metadata["wrong_answers"]) == SimulatorConfig().num_wrong_answers
        assert problem.answer not in problem.metadata["wrong_answers"]
        assert world().spec(problem.text) is spec


def test_a_world_is_a_prefix_of_a_larger_one_and_seeds_differ():
    small, large = SimulatedWorld(10, seed=7), world()
    assert [p.text for p in small.problems] == [p.text for p in large.problems[:10]]
    other = SimulatedWorld(10, seed=8)
    assert [p.text for p in other.problems] != [p.text for p in small.problems]


def test_backends_implement_the_protocols():
    generator, verifier = world().generator(), world().verifier()
    assert isinstance(generator, Generator) and isinstance(verifier, Verifier)
    assert generator.num_parameters == SimulatorConfig().num_parameters
    assert verifier.num_parameters == SimulatorConfig().prm_num_parameters
    custom = SimulatedWorld(2, config=SimulatorConfig(num_parameters=3_000_000_000))
    assert custom.generator().num_parameters == 3_000_000_000


def test_bad_config_and_parameters_are_refused_clearly():
    with pytest.raises(ValueError, match="min_steps"):
        SimulatorConfig(min_steps=5, max_steps=2)
    with pytest.raises(ValueError, match="noise"):
        world().verifier(noise=1.5)
    with pytest.raises(ValueError, match="top_p"):
        world().generator().generate([prompt(world().problems[0])], SamplingParams(top_p=0.0))


def test_unknown_problems_raise_a_clear_error():
    stranger = Prompt((ChatMessage("user", "What is 2 + 2?"),), key="nope")
    with pytest.raises(UnknownProblemError, match=r"key 'nope'.*sim-0000"):
        world().generator().generate([stranger], SamplingParams())
    with pytest.raises(UnknownProblemError, match="What is 2"):
        world().verifier().score([ScoreRequest("What is 2 + 2?", ("x",))])
    assert isinstance(UnknownProblemError("x"), KeyError)


# --- determinism ---------------------------------------------------------------------


def _mixed_prompts() -> list[Prompt]:
    """Prompts at different depths, some repeated, some keyed by text only."""
    generator = world().generator()
    problems = world().problems[:6]
    firsts = generator.generate([prompt(p) for p in problems], SamplingParams(n=2, stop=STEP))
    prompts = [prompt(p) for p in problems]
    prompts += [prompt(p, c[1].text) for p, c in zip(problems, firsts, strict=True)]
    prompts += [prompt(problems[0], key=None), prompt(problems[1], key=f"{problems[1].id}#tree3")]
    return prompts


@pytest.mark.parametrize("stop", [STEP, ()])
def test_outputs_do_not_depend_on_batch_split_or_call_order(stop):
    prompts = _mixed_prompts()
    params = SamplingParams(n=3, stop=stop, seed=11)
    together = world().generator().generate(prompts, params)
    rng = random.Random(0)
    order = list(range(len(prompts)))
    rng.shuffle(order)
    fresh = world().generator()  # a new instance: no cache shared with the batch call
    apart = {i: fresh.generate([prompts[i]], params)[0] for i in order}
    assert [apart[i] for i in range(len(prompts))] == together
    # Sample i does not depend on how many samples were asked for.
    fewer = world().generator().generate(prompts, SamplingParams(n=2, stop=stop, seed=11))
    assert [c[:2] for c in together] == fewer


def test_sampling_params_and_keys_change_the_samples():
    problem = world().problems[3]
    generator = world().generator()

    def texts(params: SamplingParams, key: str | None = "id") -> list[str]:
        return [c.text for c in generator.generate([prompt(problem, key=key)], params)[0]]

    base = texts(SamplingParams(n=4, seed=0))
    assert len(set(base)) == 4
    assert texts(SamplingParams(n=4, seed=1)) != base
    assert texts(SamplingParams(n=4, seed=0, temperature=1.0)) != base
    assert texts(SamplingParams(n=4, seed=0), key=None) == base  # found by text, same stream
    assert texts(SamplingParams(n=4, seed=0), key=f"{problem.id}#tree1") != base


def test_continuing_step_by_step_gives_the_text_generated_whole():
    generator = world().generator()
    for problem in world().problems[:10]:
        whole = generator.generate([prompt(problem)], SamplingParams(n=1, seed=5))[0][0]
        text, finish, calls = "", "stop", 0
        while finish == "stop":
            step = generator.generate(
                [prompt(problem, text)], SamplingParams(n=1, seed=5, stop=STEP)
            )[0][0]
            text, finish, calls = text + step.text, step.finish_reason, calls + 1
        assert text == whole.text and finish == "eos"
        assert calls == world().spec(problem.id).num_steps + 1


def test_temperature_zero_is_greedy_and_deterministic():
    generator = world().generator()
    problems = world().problems[:20]
    a = generator.generate([prompt(p) for p in problems], SamplingParams(n=3, temperature=0.0))
    b = generator.generate(
        [prompt(p) for p in problems], SamplingParams(n=1, temperature=0.0, seed=99)
    )
    for first, again in zip(a, b, strict=True):
        assert first[0] == first[1] == first[2] == again[0]
        assert first[0].logprob == 0.0
    # Greedy takes the most likely step: the right one while it beats a slip towards the
    # most tempting wrong answer; on hard problems the crux step's slip is likelier.
    many = SimulatedWorld(100, seed=1)
    greedy = many.generator().generate(
        [prompt(p) for p in many.problems], SamplingParams(temperature=0.0)
    )
    checked: Counter[str] = Counter()
    for problem, (completion,) in zip(many.problems, greedy, strict=True):
        spec = many.spec(problem.id)
        top = spec.wrong_weights[0]
        ordinary = spec.step_error_rate * top / (1.0 - spec.step_error_rate)
        crux = spec.crux_error_rate * top / (1.0 - spec.crux_error_rate)  # P(slip) / P(right)
        if max(ordinary, crux) < 0.9:
            assert answer_of(completion.text) == problem.answer
            checked["right"] += 1
        elif ordinary < 0.9 and crux > 1.1:
            slipped = spec.values[spec.crux_step] + spec.wrong_offsets[0]
            assert f"value = {slipped}\n" in split_steps(completion.text)[spec.crux_step] + "\n"
            assert answer_of(completion.text) in problem.metadata["wrong_answers"]
            checked["wrong"] += 1
    assert checked["right"] >= 10 and checked["wrong"] >= 5, checked
    # A near-zero temperature samples the greedy path (worded differently).
    cold = many.generator().generate(
        [prompt(p) for p in many.problems], SamplingParams(n=2, temperature=1e-6)
    )
    for (hot,), pair in zip(greedy, cold, strict=True):
        assert {answer_of(c.text) for c in pair} == {answer_of(hot.text)}


# --- text, stops, finish reasons and tokens ---------------------------------------------


def test_a_step_is_one_human_readable_checkable_paragraph():
    problem = world().problems[0]
    spec = world().spec(problem.id)
    (steps,) = world().generator().generate([prompt(problem)], SamplingParams(n=8, stop=STEP))
    for step in steps:
        assert step.finish_reason == "stop"
        assert step.text.startswith("## Step 1: ") and step.text.endswith("\n\n")
        assert step.text.count("\n\n") == 1
        value = int(re.search(r"^value = (-?\d+)$", step.text, re.MULTILINE).group(1))
        equation = re.search(r"^(-?\d+) ([+-]) (\d+) = (-?\d+)$", step.text, re.MULTILINE)
        assert int(equation.group(1)) == spec.start and int(equation.group(4)) == value
        slipped = value != spec.values[0]
        stated = spec.start + (1 if equation.group(2) == "+" else -1) * int(equation.group(3))
        assert (stated != value) == slipped  # a slip shows in the arithmetic


def test_a_whole_solution_ends_with_the_boxed_conclusion_and_eos():
    for problem, texts in zip(world().problems[:30], samples(), strict=False):
        spec = world().spec(problem.id)
        for text in texts[:4]:
            steps = split_steps(text)
            assert len(steps) == spec.num_steps + 1
            assert CONCLUSION.match(steps[-1]), steps[-1]
            last_value = re.findall(r"^value = (-?\d+)$", steps[-2], re.MULTILINE)[-1]
            assert answer_of(text) == last_value
            right = answer_of(text) == problem.answer
            assert right or answer_of(text) in problem.metadata["wrong_answers"]
    full = world().generator().generate([prompt(world().problems[0])], SamplingParams())[0][0]
    assert full.finish_reason == "eos"


def test_token_counts_match_the_documented_estimate():
    generator = world().generator()
    outputs = generator.generate(
        [prompt(p) for p in world().problems[:20]], SamplingParams(n=4, stop=STEP)
    )
    outputs += generator.generate([prompt(p) for p in world().problems[:20]], SamplingParams(n=2))
    for completions in outputs:
        for completion in completions:
            assert completion.num_tokens == count_tokens(completion.text) > 0
    assert count_tokens("") == 0 and count_tokens("\n") == 1
    assert count_tokens("## Step 1: Add\n63 + 9 = 72\n\n") == 10  # 9 words, 1 paragraph


@pytest.mark.parametrize("max_tokens", [0, 1, 7, 40, 150])
def test_max_tokens_truncates_with_finish_reason_length(max_tokens):
    generator = world().generator()
    problems = world().problems[:10]
    full = generator.generate([prompt(p) for p in problems], SamplingParams(n=2, seed=4))
    cut = generator.generate(
        [prompt(p) for p in problems], SamplingParams(n=2, seed=4, max_tokens=max_tokens)
    )
    for whole, short in zip(full, cut, strict=True):
        for w, s in zip(whole, short, strict=True):
            assert w.text.startswith(s.text)
            if w.num_tokens > max_tokens:
                assert (s.finish_reason, s.num_tokens) == ("length", max_tokens)
            else:
                assert s == w


def test_a_prompts_own_cap_replaces_the_calls():
    generator = world().generator()
    problems = world().problems[:6]
    prompts = [prompt(p) for p in problems]
    capped = [replace(q, max_tokens=5) if i % 2 else q for i, q in enumerate(prompts)]
    full = generator.generate(prompts, SamplingParams(n=2, seed=4))
    cut = generator.generate(capped, SamplingParams(n=2, seed=4))
    alone = generator.generate(prompts, SamplingParams(n=2, seed=4, max_tokens=5))
    for i, (whole, own, five) in enumerate(zip(full, cut, alone, strict=True)):
        assert own == (five if i % 2 else whole)


def test_a_step_that_fits_exactly_keeps_its_stop_finish():
    problem = world().problems[2]
    (step,) = world().generator().generate([prompt(problem)], SamplingParams(stop=STEP))[0]
    exact = SamplingParams(stop=STEP, max_tokens=step.num_tokens)
    assert world().generator().generate([prompt(problem)], exact)[0][0] == step
    shorter = SamplingParams(stop=STEP, max_tokens=step.num_tokens - 1)
    assert world().generator().generate([prompt(problem)], shorter)[0][0].finish_reason == "length"


def test_other_stop_strings_are_kept_and_end_the_text():
    problem = world().problems[1]
    (completion,) = (
        world().generator().generate([prompt(problem)], SamplingParams(stop=("value = ",)))[0]
    )
    assert completion.text.endswith("value = ") and completion.finish_reason == "stop"
    assert completion.text.count("value = ") == 1


def test_partial_answers_are_read_back():
    generator = world().generator()
    problem = world().problems[5]
    spec = world().spec(problem.id)
    params = SamplingParams(n=16, stop=STEP)
    (first_steps,) = generator.generate([prompt(problem)], params)
    right = [c.text for c in first_steps if f"value = {spec.values[0]}\n" in c.text]
    # A finished partial continues with nothing.
    finished = "## Step 1: x\nvalue = 3\n\nTherefore, the final answer is: $\\boxed{3}$."
    assert generator.generate([prompt(problem, finished)], params)[0][0].text == ""
    # A fragment cut by max_tokens is closed first, then the next step follows.
    (fragment,) = generator.generate([prompt(problem)], SamplingParams(max_tokens=5))[0]
    closing = generator.generate([prompt(problem, fragment.text)], params)[0][0]
    assert closing.text == "\n\n" and closing.finish_reason == "stop"
    after = generator.generate([prompt(problem, fragment.text + "\n\n")], params)[0][0]
    assert after.text.startswith("## Step 2: ")
    # A prefix with a mistake we did not write ends on a tempting wrong answer.
    foreign = "## Step 1: Guess\nI am not sure.\n\n"
    ends = generator.generate([prompt(problem, foreign)], SamplingParams(n=20))[0]
    assert {answer_of(c.text) for c in ends} <= set(problem.metadata["wrong_answers"])
    if right:  # a right first step can still lead to the right answer
        ends = generator.generate([prompt(problem, right[0])], SamplingParams(n=20))[0]
        assert problem.answer in {answer_of(c.text) for c in ends}


# --- statistics ---------------------------------------------------------------------


def test_pass_at_1_spans_easy_to_hard_and_follows_difficulty():
    rates = pass_at_1()
    assert sum(r >= 0.9 for r in rates) >= 15, sorted(rates)
    assert sum(r <= 0.1 for r in rates) >= 15, sorted(rates)
    difficulties = [p.metadata["difficulty"] for p in world().problems]
    ranked = sorted(range(len(rates)), key=lambda i: difficulties[i])
    fifth = len(rates) // 5
    easy = sum(rates[i] for i in ranked[:fifth]) / fifth
    hard = sum(rates[i] for i in ranked[-fifth:]) / fifth
    assert easy > 0.85 and hard < 0.15, (easy, hard)
    expected = [p.metadata["expected_pass_at_1"] for p in world().problems]
    error = sum(abs(a - b) for a, b in zip(rates, expected, strict=True)) / len(rates)
    assert error < 0.05, f"mean |measured - expected pass@1| = {error:.3f}"


def test_wrong_answers_concentrate_on_hard_problems():
    locked = hard = 0
    shares = []
    for problem, texts, rate in zip(world().problems, samples(), pass_at_1(), strict=True):
        votes = Counter(answer_of(t) for t in texts)
        wrong = [n for a, n in votes.items() if a != problem.answer]
        assert set(votes) <= {problem.answer, *problem.metadata["wrong_answers"]}
        if rate <= 0.3 and wrong:
            hard += 1
            locked += max(wrong) > votes[problem.answer]
            shares.append(max(wrong) / sum(wrong))
    top_share = sum(shares) / len(shares)
    assert hard >= 20 and locked / hard >= 0.8, f"majority locked wrong on {locked}/{hard}"
    # 4 wrong answers: an even spread would give the top one a share of 0.25.
    assert top_share > 0.35, f"top wrong answer's share of wrong votes {top_share:.2f}"


def test_lower_temperature_slips_less():
    problems = world().problems[:40]
    generator = world().generator()

    def accuracy(temperature: float) -> float:
        outputs = generator.generate(
            [prompt(p) for p in problems], SamplingParams(n=16, temperature=temperature)
        )
        hits = [
            answer_of(c.text) == p.answer
            for p, cs in zip(problems, outputs, strict=True)
            for c in cs
        ]
        return sum(hits) / len(hits)

    cold, reference, hot = accuracy(0.4), accuracy(0.8), accuracy(1.2)
    assert cold > reference > hot, (cold, reference, hot)


# --- the PRM ---------------------------------------------------------------------


def _final_scores(noise: float, mistakes: float) -> tuple[list[bool], list[float]]:
    verifier = world().verifier(noise=noise, confident_mistake_rate=mistakes)
    labels, requests = [], []
    for problem, texts in zip(world().problems, samples(), strict=True):
        for text in texts[:16]:
            labels.append(answer_of(text) == problem.answer)
            requests.append(ScoreRequest(problem.text, split_steps(text)))
    return labels, [s.scores[-1] for s in verifier.score(requests)]


def test_prm_is_informative_yet_imperfect_at_default_noise():
    labels, scores = _final_scores(0.1, 0.05)
    auc = roc_auc_score(labels, scores)
    assert 0.8 < auc < 0.97, f"last-step AUC {auc:.3f}"
    fooled = sum(s > 0.9 for s, right in zip(scores, labels, strict=True) if not right)
    assert fooled > 0, "no wrong solution was scored high"


# noise 0: near-perfect; noise 1: a coin; every slip fooled: wrong steps score just
# below right ones; heavy noise: weakly informative.
@pytest.mark.parametrize(
    ("noise", "mistakes", "low", "high"),
    [(0.0, 0.0, 0.97, 1.0), (1.0, 0.0, 0.44, 0.56), (0.0, 1.0, 0.5, 0.7), (0.5, 0.05, 0.55, 0.8)],
)
def test_prm_noise_and_mistakes_move_the_auc(noise, mistakes, low, high):
    labels, scores = _final_scores(noise, mistakes)
    auc = roc_auc_score(labels, scores)
    assert low < auc < high, f"noise {noise}, mistakes {mistakes}: AUC {auc:.3f}"


@pytest.mark.parametrize("persist", [True, False])
def test_confident_mistakes_persist_along_a_wrong_path_when_configured(persist):
    config = SimulatorConfig(prm_mistakes_persist=persist)
    twin = SimulatedWorld(120, seed=7, config=config)  # same problems as world()
    verifier = twin.verifier(noise=0.0, confident_mistake_rate=0.3)
    fooled_then = []
    for problem, texts in zip(twin.problems, samples(), strict=True):
        spec = twin.spec(problem.id)
        for text in texts[:16]:
            steps = split_steps(text)
            values = [re.findall(r"^value = (-?\d+)$", s, re.MULTILINE) for s in steps[:-1]]
            wrong = [i for i, v in enumerate(values) if int(v[-1]) != spec.values[i]]
            if wrong and len(steps) - wrong[0] >= 3:
                (scored,) = verifier.score([ScoreRequest(problem.text, steps)])
                if scored.scores[wrong[0]] > 0.5:  # the PRM was fooled by the slip
                    fooled_then.append(scored.scores[-1] > 0.5)
    share = sum(fooled_then) / len(fooled_then)
    assert len(fooled_then) >= 30
    if persist:
        assert share > 0.8, f"fooled at the slip, still fooled at the end: {share:.2f}"
    else:
        assert share < 0.5, f"fooled at the slip, fooled again at the end: {share:.2f}"


def test_prm_scores_every_step_deterministically():
    verifier = world().verifier()
    requests = []
    for problem, texts in zip(world().problems[:8], samples(), strict=False):
        for text in texts[:3]:
            requests.append(ScoreRequest(problem.text, split_steps(text)))
            requests.append(ScoreRequest(problem.id, split_steps(text)[:2]))
    together = verifier.score(requests)
    apart = [world().verifier().score([r])[0] for r in reversed(requests)][::-1]
    assert together == apart
    for request, result in zip(requests, together, strict=True):
        assert len(result.scores) == len(request.steps)
        assert all(0.0 <= s <= 1.0 for s in result.scores)
        tokens = count_tokens(world().spec(request.problem).problem.text)
        assert result.num_tokens == tokens + sum(count_tokens(s) for s in request.steps)
    # Prefix scores do not depend on what follows, nor on the steps' trailing delimiter.
    full, prefix = together[0], together[1]
    assert full.scores[:2] == prefix.scores
    kept = tuple(s + "\n\n" for s in requests[0].steps)
    assert verifier.score([ScoreRequest(requests[0].problem, kept)])[0].scores == full.scores


def test_prm_guided_step_choice_beats_best_of_n_on_hard_problems():
    """The property tree search rests on: choosing each step by the PRM beats choosing
    among whole samples where a whole sample is rarely right (both with 4 samples)."""
    generator, verifier = world().generator(), world().verifier()
    hard = [p for p, r in zip(world().problems, pass_at_1(), strict=True) if r <= 0.25]
    stepwise = best_of_4 = 0
    for problem in hard:
        text, finish, depth = "", "stop", 0
        while finish == "stop":
            params = SamplingParams(n=4, stop=STEP, seed=depth)
            options = generator.generate([prompt(problem, text)], params)[0]
            requests = [ScoreRequest(problem.text, split_steps(text + c.text)) for c in options]
            scores = [s.scores[-1] for s in verifier.score(requests)]
            chosen = options[scores.index(max(scores))]
            text, finish, depth = text + chosen.text, chosen.finish_reason, depth + 1
        stepwise += answer_of(text) == problem.answer
        whole = generator.generate([prompt(problem)], SamplingParams(n=4, seed=9))[0]
        requests = [ScoreRequest(problem.text, split_steps(c.text)) for c in whole]
        scores = [s.scores[-1] for s in verifier.score(requests)]
        best_of_4 += answer_of(whole[scores.index(max(scores))].text) == problem.answer
    assert len(hard) >= 25
    assert stepwise >= best_of_4 + 0.15 * len(hard), (stepwise, best_of_4, len(hard))
