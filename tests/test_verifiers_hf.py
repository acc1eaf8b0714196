"""The model-backed verifiers on tiny random models: formats, positions, batching.

Each adapter's scores are checked against a hand computation from the tiny model's full
logits on an unbatched input, locating the positions the format defines independently of
the adapter's own code. The tiny models' output heads are scaled up so that scores
spread across (0, 1): reading a neighbouring position would give visibly different values.
"""

from __future__ import annotations

import math
import re

import pytest

torch = pytest.importorskip("torch")

from strategies.backends.chat import render_prompt_ids  # noqa: E402
from strategies.generation import ChatMessage, Prompt  # noqa: E402
from strategies.verification import ScoreRequest, StepScores  # noqa: E402
from strategies.verifiers.hf_base import tokenize_marked_text, verdict_token_ids  # noqa: E402
from strategies.verifiers.judge import NO_WORDS, YES_WORDS, LLMJudgeVerifier  # noqa: E402
from strategies.verifiers.math_shepherd import MathShepherdPRM  # noqa: E402
from strategies.verifiers.qwen_prm import QWEN_SYSTEM_PROMPT, QwenMathPRM  # noqa: E402
from strategies.verifiers.rlhflow import RLHFlowPRM  # noqa: E402

torch.set_num_threads(2)

PROBLEM = "What is 47 + 38?"
STEPS = (
    "## Step 1: Add the tens\n40 + 30 = 70\n\n",
    "## Step 2: Add the units\n7 + 8 = 15\n\n",
    "70 + 15 = 85\n\nThe final answer is $\\boxed{85}$.",
)
SCALE = 40.0


def _request(num_steps: int, tag: str = "") -> ScoreRequest:
    steps = tuple(f"step {k} {tag}: we add {k * 7} + {k} = {k * 8}" for k in range(num_steps))
    return ScoreRequest(problem=f"Compute the total {tag}", steps=steps)


UNEVEN = [
    _request(1),
    _request(5, "longer row"),
    _request(2, "x"),
    ScoreRequest(PROBLEM, STEPS),
    _request(3),
]


@pytest.fixture(scope="module")
def causal(tiny_llama_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(SCALE)
    return model, AutoTokenizer.from_pretrained(tiny_llama_dir)


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    from tiny_models import PRM_SPECIAL_TOKENS, build_tiny_llama

    return build_tiny_llama(
        tmp_path_factory.mktemp("tiny-qwen-prm"),
        extra_special_tokens=PRM_SPECIAL_TOKENS,
        token_classification_labels=2,
    )


@pytest.fixture(scope="module")
def classifier(classifier_dir):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(
        classifier_dir, dtype=torch.float32
    ).eval()
    with torch.no_grad():
        model.score.weight.mul_(SCALE)
    return model, AutoTokenizer.from_pretrained(classifier_dir)


@pytest.fixture(scope="module")
def adapters(causal, classifier):
    return {
        "rlhflow": RLHFlowPRM(causal, batch_size=3),
        "math-shepherd": MathShepherdPRM(causal, batch_size=3),
        "qwen-prm": QwenMathPRM(classifier, batch_size=3),
        "judge": LLMJudgeVerifier(causal, batch_size=3),
    }


ADAPTERS = ["rlhflow", "math-shepherd", "qwen-prm", "judge"]


def _full_logits(model, ids: list[int]):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].float()


def _pair_probability(logits_row, positive: list[int], negative: list[int]) -> float:
    pos = torch.logsumexp(logits_row[positive], dim=-1)
    neg = torch.logsumexp(logits_row[negative], dim=-1)
    return float(torch.sigmoid(pos - neg))


# --- hand computations, one per format ---------------------------------------------------


def _hand_rlhflow(model, tokenizer, request: ScoreRequest) -> list[float]:
    conversation = []
    for k, step in enumerate(request.steps):
        text = f"{request.problem} {step.strip()}" if k == 0 else step.strip()
        conversation += [{"role": "user", "content": text}, {"role": "assistant", "content": "+"}]
    text = tokenizer.apply_chat_template(conversation, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    plus = tokenizer.convert_tokens_to_ids("+")
    minus = tokenizer.convert_tokens_to_ids("-")
    eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    answers = [j for j in range(len(ids) - 1) if ids[j] == plus and ids[j + 1] == eot]
    assert len(answers) == len(request.steps)
    logits = _full_logits(model, ids)
    # The logits one position before each "+" are the ones that predict it.
    return [_pair_probability(logits[j - 1], [plus], [minus]) for j in answers]


def _hand_math_shepherd(model, tokenizer, request: ScoreRequest) -> list[float]:
    solution = "\n".join(f"{step.strip()} ки" for step in request.steps)
    ids = tokenizer.encode(f"{request.problem} {solution}")
    good, bad = tokenizer.encode("+ -", add_special_tokens=False)
    tag = tokenizer.convert_tokens_to_ids("ки")
    logits = _full_logits(model, ids)
    return [_pair_probability(logits[j], [good], [bad]) for j, t in enumerate(ids) if t == tag]


def _hand_qwen(model, tokenizer, request: ScoreRequest) -> list[float]:
    messages = [
        {"role": "system", "content": QWEN_SYSTEM_PROMPT},
        {"role": "user", "content": request.problem},
        {
            "role": "assistant",
            "content": "<extra_0>".join(s.strip() for s in request.steps) + "<extra_0>",
        },
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    separator = tokenizer.convert_tokens_to_ids("<extra_0>")
    probabilities = torch.softmax(_full_logits(model, ids), dim=-1)
    return [float(probabilities[j, 1]) for j, t in enumerate(ids) if t == separator]


def _hand_judge(model, tokenizer, request: ScoreRequest) -> list[float]:
    def first_tokens(words):
        return {tokenizer.encode(w, add_special_tokens=False)[0] for w in words}

    yes, no = first_tokens(YES_WORDS), first_tokens(NO_WORDS)
    yes, no = sorted(yes - no), sorted(no - yes)
    scores = []
    for i in range(len(request.steps)):
        numbered = "\n".join(
            f"Step {k + 1}: {s.strip()}" for k, s in enumerate(request.steps[: i + 1])
        )
        question = (
            f"Here is a math problem and the first {i + 1} step(s) of a solution to it.\n\n"
            f"Problem:\n{request.problem}\n\nSolution so far:\n{numbered}\n\n"
            f"Is Step {i + 1} correct? Answer Yes or No."
        )
        ids = render_prompt_ids(tokenizer, Prompt(messages=(ChatMessage("user", question),)))
        scores.append(_pair_probability(_full_logits(model, ids)[-1], yes, no))
    return scores


HAND = {
    "rlhflow": _hand_rlhflow,
    "math-shepherd": _hand_math_shepherd,
    "qwen-prm": _hand_qwen,
    "judge": _hand_judge,
}


# --- what every adapter must do ----------------------------------------------------------


@pytest.mark.parametrize("kind", ADAPTERS)
def test_one_score_per_step_in_unit_interval(adapters, kind):
    verifier = adapters[kind]
    requests = [_request(1), _request(2), _request(5)]
    results = verifier.score(requests)
    assert [len(r.scores) for r in results] == [1, 2, 5]
    for result in results:
        assert isinstance(result, StepScores)
        assert all(0.0 <= s <= 1.0 for s in result.scores)
        assert result.num_tokens > 0
    assert results[2].num_tokens > results[0].num_tokens


@pytest.mark.parametrize("kind", ADAPTERS)
def test_scores_are_read_where_the_format_says(adapters, kind):
    verifier = adapters[kind]
    model, tokenizer = verifier.model, verifier.tokenizer
    request = ScoreRequest(PROBLEM, STEPS)
    expected = HAND[kind](model, tokenizer, request)
    (result,) = verifier.score([request])
    assert len(expected) == len(STEPS)
    assert result.scores == pytest.approx(expected, abs=1e-5)
    # The comparison only means something if neighbouring positions differ.
    assert max(expected) - min(expected) > 1e-3


@pytest.mark.parametrize("kind", ADAPTERS)
def test_uneven_batch_matches_one_by_one(adapters, kind):
    verifier = adapters[kind]
    lengths = {sum(len(row.input_ids) for row in verifier.encode(r)) for r in UNEVEN}
    assert len(lengths) == len(UNEVEN)  # the batch really is uneven
    together = verifier.score(UNEVEN)
    alone = [verifier.score([r])[0] for r in UNEVEN]
    for batched, single in zip(together, alone, strict=True):
        assert batched.scores == pytest.approx(single.scores, abs=1e-5)
        assert batched.num_tokens == single.num_tokens


@pytest.mark.parametrize("kind", ADAPTERS)
def test_num_tokens_counts_the_model_input(adapters, kind):
    verifier = adapters[kind]
    request = _request(2)
    (result,) = verifier.score([request])
    assert result.num_tokens == sum(len(row.input_ids) for row in verifier.encode(request))


@pytest.mark.parametrize("kind", ADAPTERS)
def test_request_without_steps_gets_no_scores(adapters, kind):
    results = adapters[kind].score([ScoreRequest("p", ()), _request(1)])
    assert results[0] == StepScores(scores=(), num_tokens=0)
    assert len(results[1].scores) == 1


@pytest.mark.parametrize("kind", ["rlhflow", "math-shepherd", "qwen-prm"])
def test_overlong_input_fails_only_its_request_with_a_clear_message(causal, classifier, kind):
    cls = {"rlhflow": RLHFlowPRM, "math-shepherd": MathShepherdPRM, "qwen-prm": QwenMathPRM}[kind]
    short = ScoreRequest("p", ("a",))
    verifier = cls(classifier if kind == "qwen-prm" else causal, max_length=10_000)
    limit = len(verifier.encode(short)[0].input_ids)
    verifier = cls(classifier if kind == "qwen-prm" else causal, max_length=limit)
    assert len(verifier.score([short])[0].scores) == 1  # exactly at the limit is fine
    fine, too_long, also_fine = verifier.score([short, _request(3), short])
    assert len(fine.scores) == len(also_fine.scores) == 1 and fine.error is None
    assert too_long.scores == () and too_long.num_tokens == 0
    assert re.search(rf"request 1 needs \d+ tokens, more than max_length={limit}", too_long.error)


def test_a_nan_probability_is_not_clamped_into_a_score(adapters, monkeypatch):
    verifier = adapters["rlhflow"]
    monkeypatch.setattr(
        type(verifier),
        "_position_probabilities",
        lambda self, ids, mask, positions: [[float("nan"), 1.5, -0.2][: len(p)] for p in positions],
    )
    (result,) = verifier.score([_request(3)])
    assert math.isnan(result.scores[0]) and result.scores[1:] == (1.0, 0.0)


@pytest.mark.parametrize("kind", ["math-shepherd", "qwen-prm"])
def test_marker_inside_a_step_does_not_add_a_score(adapters, kind):
    marker = "ки" if kind == "math-shepherd" else "<extra_0>"
    request = ScoreRequest("p", (f"one {marker} two", "three"))
    (result,) = adapters[kind].score([request])
    assert len(result.scores) == 2


# --- formats as documented ---------------------------------------------------------------


def test_rlhflow_conversation_format(adapters):
    request = ScoreRequest("Q?", (" first\n\n", "second\n\n"))
    assert RLHFlowPRM.conversation(request) == [
        {"role": "user", "content": "Q? first"},
        {"role": "assistant", "content": "+"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "+"},
    ]
    text = adapters["rlhflow"].render(request)
    assert text.count("<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>") == 2


def test_math_shepherd_text_format():
    request = ScoreRequest("Q?", ("a = 1\n\n", " b = 2", "c"))
    assert MathShepherdPRM.render(request) == "Q? a = 1 ки\nb = 2 ки\nc ки"


def test_qwen_text_format(adapters):
    text = adapters["qwen-prm"].render(ScoreRequest("Q?", ("a\n\n", "b")))
    assert QWEN_SYSTEM_PROMPT in text
    assert "Q?" in text
    assert "a<extra_0>b<extra_0>" in text


def test_judge_question_format():
    question = LLMJudgeVerifier.question("Q?", ["a", "b"])
    assert question.startswith("Here is a math problem and the first 2 step(s)")
    assert "Step 1: a\nStep 2: b" in question
    assert question.endswith("Is Step 2 correct? Answer Yes or No.")


# --- the judge ---------------------------------------------------------------------------


def test_judge_runs_one_forward_pass_per_prefix_batched_across_the_call(causal):
    judge = LLMJudgeVerifier(causal, batch_size=3)
    calls: list[int] = []
    hook = judge.model.get_decoder().register_forward_hook(
        lambda _module, args, kwargs, _out: calls.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    try:
        judge.score([_request(1), _request(2), _request(5)])
    finally:
        hook.remove()
    assert sum(calls) == 8  # 1 + 2 + 5 prefixes, each read once
    assert len(calls) == math.ceil(8 / 3)


def test_judge_drops_earliest_steps_to_fit_but_keeps_problem_and_last_step(causal):
    judge = LLMJudgeVerifier(causal)
    request = _request(6, "padding " * 10)
    full = judge.prompt_ids(request.problem, request.steps)
    judge.max_length = len(full) - 5
    shortened = judge.prompt_ids(request.problem, request.steps)
    assert len(shortened) <= judge.max_length
    text = judge.tokenizer.decode(shortened)
    assert "left out for length" in text
    assert request.problem.strip() in text
    assert request.steps[-1] in text
    (result,) = judge.score([request])
    assert len(result.scores) == 6


def test_verdict_tokens_prefer_single_token_spellings_and_drop_shared_ones(causal):
    _, tokenizer = causal
    # The tiny tokenizer splits "Yes" into "Y" + "es" and " Yes" into "Ġ" + ...: first tokens.
    yes = verdict_token_ids(tokenizer, ["Yes", " Yes"])
    assert yes == {tokenizer.convert_tokens_to_ids("Y"), tokenizer.convert_tokens_to_ids("Ġ")}
    # "+" is a single token, so the multi-token spelling " + x" is not used.
    assert verdict_token_ids(tokenizer, ["+", " + x"]) == {tokenizer.convert_tokens_to_ids("+")}
    judge = LLMJudgeVerifier(
        (causal[0], tokenizer), yes_words=["Yes", " Yes"], no_words=["No", " No"]
    )
    space = tokenizer.convert_tokens_to_ids("Ġ")
    assert space not in judge.positive_ids and space not in judge.negative_ids
    with pytest.raises(ValueError, match="no distinct tokens"):
        LLMJudgeVerifier(causal, yes_words=["Yes"], no_words=["Yes"])


# --- loading and helpers -----------------------------------------------------------------


def test_adapters_load_by_path(tiny_llama_dir, classifier_dir):
    request = _request(2)
    for verifier in (
        RLHFlowPRM(str(tiny_llama_dir), device="cpu"),
        MathShepherdPRM(str(tiny_llama_dir), device="cpu", dtype="float32"),
        LLMJudgeVerifier(str(tiny_llama_dir), device="cpu"),
        QwenMathPRM(str(classifier_dir), device="cpu"),
    ):
        assert verifier.num_parameters > 0
        assert str(tiny_llama_dir.parent) in verifier.name or "tiny" in verifier.name
        assert len(verifier.score([request])[0].scores) == 2


def test_marker_merged_with_neighbouring_text_is_an_error(causal):
    _, tokenizer = causal
    text = "the numbers"
    start = text.index("num")
    with pytest.raises(ValueError, match="merges the marker"):
        tokenize_marked_text(tokenizer, text, [(start, start + 3)], ensure_bos=False)
    ids, positions = tokenize_marked_text(tokenizer, "a ки", [(2, 4)], ensure_bos=True)
    assert ids[0] == tokenizer.bos_token_id
    assert ids[positions[0]] == tokenizer.convert_tokens_to_ids("ки")


def test_bad_construction_arguments_are_reported(causal, classifier_dir):
    with pytest.raises(ValueError, match="batch_size"):
        RLHFlowPRM(causal, batch_size=0)
    with pytest.raises(ValueError, match="unknown dtype"):
        QwenMathPRM(str(classifier_dir), device="cpu", dtype="float13")
