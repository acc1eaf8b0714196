"""A GGUF model loads from its dequantized folder, written once per machine, keyed by the
file's bytes: reading the GGUF file costs about 19 s a load, the folder about 2 s."""

from __future__ import annotations

import os

import torch

from strategies import hf_loading
from strategies.backends import model_files
from strategies.models import ResolvedModel


def test_a_gguf_model_is_read_from_its_cached_folder(tiny_llama_dir, tmp_path, monkeypatch):
    gguf = ResolvedModel(name="m", kind="gguf", location=str(tmp_path), gguf_file="m.gguf")
    asked = []

    def prepare(resolved, cache_dir=None):
        asked.append(resolved)
        return str(tiny_llama_dir)

    monkeypatch.setattr(model_files, "prepare_model_location", prepare)
    # a CPU with native bf16, so the GGUF rule's dtype differs from the folder's float32
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": True})
    model, tokenizer = hf_loading.load_causal_lm(gguf)
    assert asked == [gguf]
    assert model.dtype == torch.bfloat16  # the GGUF rule on CPU, not the folder's own
    assert tokenizer.vocab_size > 0 and not model.training


def test_the_cache_key_is_the_files_bytes_not_its_install(tmp_path):
    first, again, other = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    first.write_bytes(b"weights" * 1000)
    again.write_bytes(b"weights" * 1000)
    other.write_bytes(b"weights" * 999 + b"WEIGHTS")
    os.utime(again, (1, 1))  # another install: another modification time
    key = model_files._file_fingerprint
    assert key(first) == key(again)
    assert key(first) != key(other)


def test_a_cached_folder_is_not_written_twice(tmp_path, monkeypatch):
    (tmp_path / "m.gguf").write_bytes(b"gguf" * 100)
    gguf = ResolvedModel(name="m", kind="gguf", location=str(tmp_path), gguf_file="m.gguf")
    writes = []

    def dequantize(resolved, out_dir):
        writes.append(out_dir)
        (out_dir / "config.json").write_text("{}")

    monkeypatch.setattr(model_files, "_dequantize_gguf", dequantize)
    cache = tmp_path / "cache"
    folder = model_files.prepare_model_location(gguf, cache)
    assert model_files.prepare_model_location(gguf, cache) == folder
    assert len(writes) == 1 and (cache / os.path.basename(folder) / "config.json").is_file()
