"""The transformers Generator and the generator registry, on a tiny local Llama.

The tiny model's weights are random, so its text is noise; the tests check the
mechanics that every strategy relies on: shapes and order, stop strings kept and cut
at the right place, finish reasons, token counts, log-probabilities, seeding, and the
prompt-boundary stop-string pitfall. Where a test needs the model to prefer a token
(a newline, EOS), ``favour_tokens`` gives it a fixed logit bonus at every position.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch

from strategies.backends.registry import BACKENDS, build_generator, default_backend
from strategies.backends.transformers_backend import (
    SeededSampler,
    TransformersGenerator,
    first_stop_end,
)
from strategies.generation import (
    ChatMessage,
    GenerationError,
    Generator,
    Prompt,
    SamplingParams,
)
from strategies.hf_loading import count_parameters, load_causal_lm


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a small shared machine more threads only contend (about 10x
    slower decoding measured here under load). Restored for the tests that follow."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def user(text: str, partial: str = "") -> Prompt:
    return Prompt((ChatMessage("user", text),), partial=partial)


PROMPTS = [
    user("What is 2 + 3?"),
    user("Add the numbers 47 and 38, then multiply the total by 6.", partial="## Step 1: "),
    user("so"),
]


@pytest.fixture(scope="module")
def tiny(tiny_llama_dir):
    return load_causal_lm(str(tiny_llama_dir))


@pytest.fixture(scope="module")
def generator(tiny):
    model, tokenizer = tiny
    return TransformersGenerator("tiny", model_obj=model, tokenizer=tokenizer)


def favour_tokens(model, bonuses: dict[int, float]):
    """A copy of ``model`` that adds ``bonuses[token]`` to that token's logit everywhere.

    Embedding dimension 0 is made large and constant, so after the final RMSNorm every
    hidden state has about sqrt(hidden) on it; the output row of each favoured token gets
    a weight on that dimension worth the bonus.
    """
    favoured = copy.deepcopy(model)
    hidden = favoured.config.hidden_size
    with torch.no_grad():
        favoured.model.embed_tokens.weight[:, 0] = 8.0
        for token, bonus in bonuses.items():
            favoured.lm_head.weight[token, 0] = bonus / math.sqrt(hidden)
    return favoured


def token_id(tokenizer, text: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, f"{text!r} is not one token: {ids}"
    return int(ids[0])


def texts(completions):
    return [[c.text for c in samples] for samples in completions]


def test_is_a_generator_with_parameter_count(generator, tiny):
    assert isinstance(generator, Generator)
    assert generator.num_parameters == count_parameters(tiny[0]) > 0
    assert generator.name == "transformers:tiny"


def test_n_completions_per_prompt_in_prompt_order_whatever_the_batching(tiny):
    model, tokenizer = tiny
    params = SamplingParams(n=4, max_tokens=12, temperature=1.0, seed=3)
    big = TransformersGenerator("tiny", model_obj=model, tokenizer=tokenizer, batch_size=64)
    small = TransformersGenerator("tiny", model_obj=model, tokenizer=tokenizer, batch_size=5)
    together = big.generate(PROMPTS, params)
    assert [len(samples) for samples in together] == [4, 4, 4]
    # batch_size=5 splits the 12 rows across batches of other lengths and neighbours.
    assert texts(small.generate(PROMPTS, params)) == texts(together)
    alone = [big.generate([prompt], params)[0] for prompt in PROMPTS]
    assert texts([[*samples] for samples in alone]) == texts(together)
    for a, b in zip(alone, together, strict=True):
        for x, y in zip(a, b, strict=True):
            assert (x.num_tokens, x.finish_reason) == (y.num_tokens, y.finish_reason)
            assert x.logprob == pytest.approx(y.logprob, abs=1e-3)
    # The samples of one prompt differ from each other (their own seeds).
    assert len(set(texts(together)[0])) == 4


def same_draws(a, b) -> None:
    """The same completions; log-probabilities within rounding: a second call reads its
    prompts from the stored prefix states, which sums in another order."""
    assert [[(c.text, c.num_tokens, c.finish_reason) for c in samples] for samples in a] == [
        [(c.text, c.num_tokens, c.finish_reason) for c in samples] for samples in b
    ]
    for x, y in zip((c for s in a for c in s), (c for s in b for c in s), strict=True):
        assert x.logprob == pytest.approx(y.logprob, abs=1e-3)


def test_seeded_and_deterministic(generator):
    params = SamplingParams(n=3, max_tokens=10, temperature=0.8, seed=11)
    first = generator.generate(PROMPTS, params)
    same_draws(generator.generate(PROMPTS, params), first)
    other = generator.generate(PROMPTS, SamplingParams(n=3, max_tokens=10, temperature=0.8))
    assert texts(other) != texts(first)


def test_global_torch_rng_is_left_alone(generator):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    generator.generate(PROMPTS[:1], SamplingParams(n=2, max_tokens=4, temperature=1.0))
    assert torch.equal(torch.rand(3), expected)


def test_stop_strings_kept_and_text_cut_at_the_first_one(generator):
    free = generator.generate(PROMPTS, SamplingParams(n=4, max_tokens=24, temperature=1.0))
    sample = free[1][0].text
    stop = sample[6:9]  # a piece of real output, so some samples surely contain it
    assert stop.strip(), f"pick a visible stop string from {sample!r}"
    params = SamplingParams(n=4, max_tokens=24, temperature=1.0, stop=(stop,))
    stopped = generator.generate(PROMPTS, params)
    seen_stop = 0
    for free_samples, stopped_samples in zip(free, stopped, strict=True):
        for original, completion in zip(free_samples, stopped_samples, strict=True):
            end = first_stop_end(original.text, [stop])
            if end is None:
                assert completion == original  # unchanged where the stop never occurs
                continue
            seen_stop += 1
            assert completion.text == original.text[:end]
            assert completion.text.endswith(stop)
            assert completion.text.find(stop) == len(completion.text) - len(stop)
            assert completion.finish_reason == "stop"
            assert 0 < completion.num_tokens <= original.num_tokens
    assert seen_stop >= 1


def test_token_count_is_the_tokens_up_to_the_stop(generator):
    """Same seeds, a budget of exactly num_tokens keeps the stop; one fewer loses it."""
    free = generator.generate(PROMPTS[1:2], SamplingParams(n=6, max_tokens=24, temperature=1.0))
    stop = free[0][0].text[4:6]
    params = SamplingParams(n=6, max_tokens=24, temperature=1.0, stop=(stop,))
    stopped = generator.generate(PROMPTS[1:2], params)[0]
    checked = 0
    for index, completion in enumerate(stopped):
        k = completion.num_tokens
        if completion.finish_reason != "stop" or k < 2:
            continue
        exact = generator.generate(PROMPTS[1:2], replace(params, max_tokens=k))[0][index]
        short = generator.generate(PROMPTS[1:2], replace(params, max_tokens=k - 1))[0][index]
        assert exact == completion
        assert (short.finish_reason, short.num_tokens) == ("length", k - 1)
        assert stop not in short.text
        assert completion.text.startswith(short.text[: len(completion.text) - len(stop)])
        checked += 1
    assert checked >= 1


def test_length_finish_uses_the_whole_budget(generator):
    for samples in generator.generate(PROMPTS, SamplingParams(n=2, max_tokens=7, seed=1)):
        for completion in samples:
            assert completion.finish_reason == "length"
            assert completion.num_tokens == 7
            assert completion.text


def test_a_prompts_own_cap_cuts_only_its_samples(generator):
    """``Prompt.max_tokens`` caps that prompt alone; what it drew up to its cap is the
    start of what it draws without one (a row's draws do not depend on the cap)."""
    params = SamplingParams(n=2, max_tokens=9, seed=3)
    capped = [replace(PROMPTS[0], max_tokens=4), PROMPTS[1], PROMPTS[2]]
    free = generator.generate(PROMPTS, params)
    cut = generator.generate(capped, params)
    assert texts(cut[1:]) == texts(free[1:])
    for short, full in zip(cut[0], free[0], strict=True):
        assert (short.num_tokens, short.finish_reason) == (4, "length")
        assert full.text.startswith(short.text)


def test_greedy_matches_a_hand_decoded_argmax_with_its_logprob(generator, tiny):
    model, tokenizer = tiny
    prompt = PROMPTS[1]
    ids = generator.prompt_ids(prompt)
    steps = 9
    tokens, logprob = list(ids), 0.0
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([tokens])).logits[0, -1].float()
            choice = int(logits.argmax())
            logprob += float(torch.log_softmax(logits, dim=-1)[choice])
            tokens.append(choice)
    expected_text = tokenizer.decode(tokens[len(ids) :], skip_special_tokens=True)
    samples = generator.generate([prompt], SamplingParams(n=3, max_tokens=steps, temperature=0))[0]
    assert len(samples) == 3 and len(set(samples)) == 1
    assert samples[0].text == expected_text
    assert samples[0].num_tokens == steps
    assert samples[0].logprob == pytest.approx(logprob, abs=1e-3)


def test_sampled_logprobs_are_finite_and_negative(generator):
    for samples in generator.generate(PROMPTS, SamplingParams(n=3, max_tokens=8)):
        for completion in samples:
            assert completion.logprob is not None
            assert -1e4 < completion.logprob < 0


def test_eos_finishes_with_the_eos_counted_and_not_in_the_text(tiny):
    model, tokenizer = tiny
    eos = tokenizer.eos_token_id
    likely = favour_tokens(model, {eos: 2.5})  # about 3% per token among ~400
    gen = TransformersGenerator("tiny", model_obj=likely, tokenizer=tokenizer)
    params = SamplingParams(n=16, max_tokens=30, temperature=1.0, seed=5)
    samples = gen.generate(PROMPTS[:1], params)[0]
    assert {c.finish_reason for c in samples} == {"eos", "length"}
    for index, completion in enumerate(samples):
        assert tokenizer.eos_token not in completion.text
        if completion.finish_reason == "length":
            assert completion.num_tokens == 30
            continue
        assert 1 <= completion.num_tokens < 30
        if completion.num_tokens > 1:  # one token fewer: the same text, cut by length
            shorter = replace(params, max_tokens=completion.num_tokens - 1)
            again = gen.generate(PROMPTS[:1], shorter)[0][index]
            assert (again.text, again.finish_reason) == (completion.text, "length")
    certain = TransformersGenerator(
        "tiny", model_obj=favour_tokens(model, {eos: 60.0}), tokenizer=tokenizer
    )
    first = certain.generate(PROMPTS[:1], SamplingParams(n=1, max_tokens=5, temperature=0))[0][0]
    assert (first.text, first.num_tokens, first.finish_reason) == ("", 1, "eos")


def test_prompt_ending_in_newline_does_not_complete_a_stop_across_the_boundary(tiny):
    """transformers' stop_strings would see "\\n" (prompt) + "\\n" (first token) as "\\n\\n"."""
    model, tokenizer = tiny
    newline = token_id(tokenizer, "\n")
    gen = TransformersGenerator(
        "tiny", model_obj=favour_tokens(model, {newline: 40.0}), tokenizer=tokenizer
    )
    prompt = user("What is 2 + 3?", partial="## Step 1: Add\n2 + 3 = 5\n")
    assert gen.prompt_ids(prompt)[-1] == newline
    greedy = SamplingParams(max_tokens=10, temperature=0, stop=("\n\n",))
    completion = gen.generate([prompt], greedy)[0][0]
    assert (completion.text, completion.num_tokens, completion.finish_reason) == ("\n\n", 2, "stop")


def test_prompt_ending_in_newline_with_newline_stop_keeps_generating(tiny):
    model, tokenizer = tiny
    word = token_id(tokenizer, " the")
    gen = TransformersGenerator(
        "tiny", model_obj=favour_tokens(model, {word: 40.0}), tokenizer=tokenizer
    )
    prompt = user("What is 2 + 3?", partial="## Step 1: Add\n")
    completion = gen.generate([prompt], SamplingParams(max_tokens=6, temperature=0, stop=("\n",)))
    assert completion[0][0].text == " the" * 6
    assert completion[0][0].finish_reason == "length"


def test_model_generation_config_does_not_change_sampling(tiny):
    model, tokenizer = tiny
    params = SamplingParams(n=2, max_tokens=10, temperature=0.7, seed=2)
    plain = TransformersGenerator("tiny", model_obj=model, tokenizer=tokenizer).generate(
        PROMPTS, params
    )
    odd = copy.deepcopy(model)
    odd.generation_config.repetition_penalty = 5.0
    odd.generation_config.temperature = 0.1
    odd.generation_config.top_k = 2
    other = TransformersGenerator("tiny", model_obj=odd, tokenizer=tokenizer).generate(
        PROMPTS, params
    )
    assert texts(other) == texts(plain)


def test_top_p_narrows_the_choices(generator):
    wide = generator.generate(PROMPTS[:1], SamplingParams(n=8, max_tokens=6, top_p=1.0))[0]
    narrow = generator.generate(PROMPTS[:1], SamplingParams(n=8, max_tokens=6, top_p=1e-6))[0]
    assert len({c.text for c in narrow}) == 1  # top_p near 0 keeps only the top token
    assert len({c.text for c in wide}) > 1


def test_bad_input_is_refused_clearly(generator, tiny):
    assert generator.generate([], SamplingParams()) == []
    with pytest.raises(ValueError, match="n=0"):
        generator.generate(PROMPTS, SamplingParams(n=0))
    with pytest.raises(ValueError, match="top_p"):
        generator.generate(PROMPTS, SamplingParams(top_p=0))
    with pytest.raises(ValueError, match="together"):
        TransformersGenerator("tiny", model_obj=tiny[0])
    with pytest.raises(ValueError, match="batch_size"):
        TransformersGenerator("tiny", model_obj=tiny[0], tokenizer=tiny[1], batch_size=0)
    long_prompt = user("step " * 3000)
    with pytest.raises(GenerationError, match="prompt 1 has"):
        generator.generate([PROMPTS[0], long_prompt], SamplingParams(max_tokens=2))


def test_seeded_sampler_draws_in_proportion_and_never_impossible_tokens():
    probs = torch.tensor([0.5, 0.3, 0.2, 0.0])
    rows = 4000
    scores = probs.log().expand(rows, -1).clone()
    sampler = SeededSampler(range(rows), temperature=1.0, top_p=1.0, greedy=False, device="cpu")
    forced = sampler(torch.zeros((rows, 1), dtype=torch.long), scores)
    picks = forced.argmax(dim=-1)
    assert torch.all(forced.max(dim=-1).values == 0) and torch.isinf(forced).sum() == rows * 3
    freq = torch.bincount(picks, minlength=4).float() / rows
    assert torch.allclose(freq, probs, atol=0.03), freq
    assert freq[3] == 0
    logprobs = torch.tensor(sampler.chosen_logprobs()).squeeze(1)
    assert torch.allclose(logprobs, probs.log()[picks])
    # Temperature 2 flattens to p**0.5 (0.41, 0.32, 0.26 normalised); top_p 0.6 then keeps
    # the two likeliest, in the ratio sqrt(0.5) : sqrt(0.3).
    narrow = SeededSampler(range(rows), temperature=2.0, top_p=0.6, greedy=False, device="cpu")
    picks = narrow(torch.zeros((rows, 1), dtype=torch.long), scores).argmax(dim=-1)
    freq = torch.bincount(picks, minlength=4).float() / rows
    assert freq[2] == freq[3] == 0
    assert freq[0] == pytest.approx(0.5**0.5 / (0.5**0.5 + 0.3**0.5), abs=0.03)


def test_first_stop_end_takes_the_earliest_completed_stop():
    assert first_stop_end("ab\n\ncd", ["cd", "\n\n"]) == 4
    assert first_stop_end("xabc", ["abc", "bc"]) == 4
    assert first_stop_end("a\nb\n\n", ["\n\n", "\n"]) == 2
    assert first_stop_end("abc", ["z", ""]) is None


# -- registry ----------------------------------------------------------------------------


def test_registry_builds_transformers_from_a_local_folder(tiny_llama_dir):
    gen = build_generator("transformers", str(tiny_llama_dir), batch_size=8)
    assert isinstance(gen, TransformersGenerator)
    assert gen.batch_size == 8
    out = gen.generate(PROMPTS[:1], SamplingParams(n=2, max_tokens=3))
    assert [c.num_tokens for c in out[0]] == [3, 3]


def test_registry_refuses_unknown_backends_listing_the_known_ones():
    with pytest.raises(ValueError, match="known: transformers, vllm, openai, simulator"):
        build_generator("tgi", "smollm2")
    with pytest.raises(ValueError, match="did you mean 'vllm'"):
        build_generator("vlm", "smollm2")
    assert set(BACKENDS) == {"transformers", "vllm", "openai", "simulator"}


def test_registry_simulator_needs_its_world():
    from strategies.backends.simulator import SimulatedWorld, SimulatorGenerator

    world = SimulatedWorld(3, seed=1)
    gen = build_generator("simulator", "ignored", world=world)
    assert isinstance(gen, SimulatorGenerator)
    out = gen.generate([user(world.problems[0].text)], SamplingParams(n=2, max_tokens=64))
    assert len(out[0]) == 2
    with pytest.raises(ValueError, match="world="):
        build_generator("simulator", "ignored")


def test_registry_openai_needs_base_urls():
    with pytest.raises(ValueError, match="base_urls"):
        build_generator("openai", "smollm2")


def test_registry_vllm_without_vllm_says_how_to_get_it():
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here; tests/test_vllm_backend.py covers it")
    with pytest.raises(ImportError, match="needs vllm"):
        build_generator("vllm", "smollm2")


def test_default_backend_is_transformers_without_a_gpu_vllm():
    expected = {"transformers"} if not torch.cuda.is_available() else {"transformers", "vllm"}
    assert default_backend() in expected


# -- the real embedded model --------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_gguf_generates_steps():
    from strategies.prompts import SMOLLM2_ARITHMETIC

    gen = build_generator("transformers", "smollm2")
    assert gen.num_parameters > 100_000_000
    prompt = SMOLLM2_ARITHMETIC.prompt("What is 8 + 5?")
    params = SamplingParams(n=2, max_tokens=24, temperature=0.8, stop=("\n\n",), seed=0)
    samples = gen.generate([prompt], params)[0]
    assert len(samples) == 2
    for completion in samples:
        assert completion.text and completion.num_tokens > 0
        assert completion.finish_reason in {"stop", "eos", "length"}
        if completion.finish_reason == "stop":
            assert completion.text.endswith("\n\n")
