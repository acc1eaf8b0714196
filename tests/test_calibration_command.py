"""`ttc calibrate` on the command line: defaults, bad input, crashes, shards and merge."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import pandas as pd

from calibration.command import add_arguments, config_from_args, split_strategy_specs
from calibration.store.shards import read_shard
from router.cli import main
from runtime.sources import load_source
from strategies.generation import GenerationError, GenerationSettings
from strategies.search import strategy_names
from strategies.simulation.generator import SimulatorGenerator

SMALL = [
    "calibrate",
    "--samples", "8",
    "--budgets", "1,2",
    "--strategies", "majority,weighted_best_of_n,beam_search:m=2",
    "--seeds", "1",
    "--draws", "8",
    "--probe-k", "2",
    "--probe-draws", "2",
    "--bootstrap", "20",
    "--cv-repeats", "1",
    "--batch-size", "4",
    "--no-progress",
]  # fmt: skip


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_are_the_embedded_smollm2_arithmetic_run():
    config = config_from_args(parse())
    assert config.problems == "arithmetic:300"
    assert (config.model, config.backend, config.verifier) == (
        "smollm2",
        "transformers",
        "arithmetic",
    )
    assert config.prompt_config == "smollm2-arithmetic"
    assert config.generation.max_tokens == 256
    assert config.generation.temperature == 0.8
    assert config.strategies == strategy_names(), "every registered strategy by default"
    assert {"majority", "weighted_best_of_n", "beam_search", "dvts"} <= set(config.strategies)
    assert config.budgets == (1, 2, 4, 8, 16)
    assert config.samples >= max(config.budgets)
    assert config.out == Path("runs/calibration-smollm2-arithmetic-300")


def test_generation_and_analysis_flags_are_the_settings_dataclasses_fields():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = parser.format_help()
    for spec in fields(GenerationSettings):
        assert f"--{spec.name.replace('_', '-')}" in text
    assert "sampling temperature (0.8)" in text and "two-fold CV repeats (5)" in text
    config = config_from_args(
        parse(
            *("--problems", "simulator:20", "--temperature", "0.5", "--top-p", "0.9"),
            *("--max-tokens", "64", "--reduction", "min", "--draws", "7", "--batch-size", "3"),
        )
    )
    assert config.generation == GenerationSettings(0.5, 0.9, 64, "min")
    assert (config.draws, config.batch_size, config.cv_repeats) == (7, 3, 5)
    assert config.sampling_settings()["temperature"] == 0.5
    assert config.analysis_settings()["reduction"] == "min"


def test_simulator_problems_pick_the_simulator_engines():
    config = config_from_args(parse("--problems", "simulator:50", "--endpoint", "http://x/v1"))
    assert (config.model, config.backend, config.verifier, config.prompt_config) == (
        "simulator",
        "simulator",
        "simulator",
        "llama-math",
    )
    assert config.endpoints == ("http://x/v1",)
    assert config.generation.max_tokens == 2048


def test_strategy_specs_keep_their_parameters():
    assert split_strategy_specs("majority, beam_search:m=4,depth=20,dvts:m=2") == (
        "majority",
        "beam_search:m=4,depth=20",
        "dvts:m=2",
    )


def test_bad_settings_exit_with_a_clear_message(tmp_path, capsys):
    code = main([*SMALL, "--problems", "simulator:5", "--budgets", "1,16", "--out", str(tmp_path)])
    assert code == 2
    assert "budget 16 is larger than the pool (--samples 8)" in capsys.readouterr().err
    code = main(
        [*SMALL, "--problems", "simulator:5", "--strategies", "nope", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err


def test_problems_without_answers_are_counted_and_skipped(tmp_path):
    path = tmp_path / "problems.jsonl"
    rows = [{"id": "a", "problem": "What is 2 + 2?", "answer": "4"},
            {"id": "b", "problem": "What is 3 + 3?"},
            {"id": "c", "problem": "What is 4 + 4?", "answer": None}]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    source = load_source(str(path))
    assert [p.id for p in source.problems] == ["a"]
    assert source.describe()["skipped_without_answer"] == 2
    assert source.describe()["num_problems"] == 3
    assert len(source.sha256) == 64


def test_engine_crash_stops_clearly_and_the_rerun_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "crash"
    args = [*SMALL, "--problems", "simulator:12", "--out", str(out)]
    original = SimulatorGenerator.generate
    calls = {"count": 0}

    def flaky(self, prompts, params):
        calls["count"] += 1
        if calls["count"] > 2:
            raise GenerationError("engine died", backend="simulator")
        return original(self, prompts, params)

    monkeypatch.setattr(SimulatorGenerator, "generate", flaky)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "stopped (GenerationError: [simulator] engine died; " in err
    assert "generator call failed at sampling" in err
    assert "rerun the same command to resume" in err
    kept = read_shard(out / "shards" / "samples-000-of-001.jsonl").records
    assert len(kept) == 8  # two batches of four finished before the crash
    monkeypatch.setattr(SimulatorGenerator, "generate", original)
    assert main(args) == 0
    assert "Calibration artifact written" in capsys.readouterr().out
    assert len(read_shard(out / "shards" / "samples-000-of-001.jsonl").records) == 12


def test_shards_then_merge_equal_one_unsharded_run(tmp_path, capsys):
    problems = ["--problems", "simulator:16"]
    whole = tmp_path / "whole"
    assert main([*SMALL, *problems, "--out", str(whole)]) == 0
    split = tmp_path / "split"
    assert main([*SMALL, *problems, "--shard", "0/2", "--out", str(split)]) == 0
    assert "shard 0/2 is done; 8 problems have no samples yet" in capsys.readouterr().out
    assert not (split / "manifest.json").exists()
    assert main(["calibrate", "--merge", "--out", str(split), "--no-progress"]) == 2
    assert "cannot merge" in capsys.readouterr().err
    # the second machine finishes the set and merges by itself
    assert main([*SMALL, *problems, "--shard", "1/2", "--out", str(split)]) == 0
    assert (split / "manifest.json").exists()
    # an explicit merge, with the analysis settings the first run used, gives the same table
    assert main(["calibrate", "--merge", "--out", str(split), "--no-progress", "--draws", "8",
                 "--probe-k", "2", "--probe-draws", "2", "--bootstrap", "20",
                 "--cv-repeats", "1"]) == 0  # fmt: skip
    for name in ("evaluations.parquet", "problems.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(split / name), pd.read_parquet(whole / name))
    assert (split / "table.json").read_text() == (whole / "table.json").read_text()


def test_rerun_into_a_folder_of_another_calibration_is_refused(tmp_path, capsys):
    out = tmp_path / "one"
    assert main([*SMALL, "--problems", "simulator:12", "--out", str(out)]) == 0
    capsys.readouterr()
    assert (
        main([*SMALL, "--problems", "simulator:12", "--temperature", "0.5", "--out", str(out)]) == 2
    )
    err = capsys.readouterr().err
    assert "made with other settings" in err and "temperature: recorded 0.8, now 0.5" in err


def test_tree_budgets_limit_the_searches_and_can_grow_later(tmp_path, capsys):
    out = tmp_path / "grow"
    base = [*SMALL, "--problems", "simulator:12", "--budgets", "1,2,4", "--out", str(out)]
    tree = out / "shards" / "tree-000-of-001.jsonl"
    assert main([*base, "--tree-budgets", "2"]) == 0
    assert {r["budget"] for r in read_shard(tree).records} == {2}
    assert "ran 12 tree searches this session" in capsys.readouterr().out
    assert main(base) == 0  # all budgets >= 2: only the N=4 searches are new
    assert {r["budget"] for r in read_shard(tree).records} == {2, 4}
    assert "sampled 0 and ran 12 tree searches this session" in capsys.readouterr().out
    code = main([*base, "--tree-budgets", "8"])
    assert code == 2
    assert "--tree-budgets [8] must be among --budgets [1, 2, 4]" in capsys.readouterr().err
