"""`ttc calibrate` on real backends with tiny local models: transformers, an unreachable
OpenAI-compatible server, and (marked vllm, run by `make test-vllm`) the vLLM engine."""

from __future__ import annotations

import os
import socket

import pytest

from calibration.artifact import load_artifact
from calibration.shard_store import read_shard
from router.cli import main

TINY = [
    "calibrate",
    "--problems", "arithmetic:4",
    "--verifier", "arithmetic",
    "--prompt-config", "llama-math",
    "--samples", "2",
    "--probe-k", "2",
    "--budgets", "1,2",
    "--strategies", "majority,weighted_best_of_n,beam_search:m=2,depth=2",
    "--seeds", "1",
    "--max-tokens", "12",
    "--bootstrap", "20",
    "--no-progress",
]  # fmt: skip


def test_transformers_backend_end_to_end(tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "tiny"
    args = [*TINY, "--model", str(tiny_llama_dir), "--backend", "transformers", "--threads", "1"]
    assert main([*args, "--out", str(out)]) == 0
    artifact = load_artifact(out)
    assert artifact.manifest.backend == "transformers"
    assert artifact.manifest.verifier == "arithmetic"
    assert artifact.predictor is None  # four problems are too few to train one
    assert "predictor: not trained" in capsys.readouterr().out
    samples = read_shard(out / "shards" / "samples-000-of-001.jsonl").records
    assert len(samples) == 4
    for record in samples:
        assert len(record["samples"]) == 2
        assert all(s["num_tokens"] > 0 for s in record["samples"])
        assert record["cost"]["generated_tokens"] == sum(s["num_tokens"] for s in record["samples"])
    tree = read_shard(out / "shards" / "tree-000-of-001.jsonl").records
    assert {(r["strategy"], r["budget"]) for r in tree} == {("beam_search:beam_width=2,depth=2", 2)}
    assert all(r["cost"]["generations"] > 0 for r in tree)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_server_stops_with_a_clear_message(tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "server"
    args = [
        *TINY,
        "--model", str(tiny_llama_dir),
        "--backend", "openai",
        "--endpoint", f"http://127.0.0.1:{_closed_port()}/v1",
        "--backend-option", "max_retries=0",
        "--backend-option", "timeout_s=5",
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "ttc calibrate: stopped (GenerationError" in err
    assert "rerun the same command to resume" in err
    # the state is resumable: the shard exists with its header and no half-made work
    contents = read_shard(out / "shards" / "samples-000-of-001.jsonl")
    assert contents.header is not None and contents.records == []


@pytest.mark.vllm
def test_vllm_backend_end_to_end(tmp_path, monkeypatch):
    if not os.environ.get("TTC_REQUIRE_VLLM"):  # make test-vllm sets it: fail, never skip
        pytest.importorskip("vllm")
    from vllm_helpers import build_vllm_test_model

    model_dir = build_vllm_test_model(tmp_path / "model")
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    out = tmp_path / "vllm"
    args = [
        *TINY,
        "--model", str(model_dir),
        "--backend", "vllm",
        "--backend-option", "dtype=float32",
        "--backend-option", "max_model_len=512",
        "--backend-option", "enforce_eager=true",
        "--backend-option", "distributed_executor_backend=uni",
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    artifact = load_artifact(out)
    assert artifact.manifest.backend == "vllm"
    assert len(artifact.problems) == 4
    assert len(read_shard(out / "shards" / "tree-000-of-001.jsonl").records) == 4
