"""`ttc calibrate`, `ttc evaluate` and `ttc solve` with --backend replay, end to end.

The round trip: a live simulator calibration, replayed from its own shards (and from the
generic JSONL they export to), gives the same table for the sampling strategies.
The shipped SmolLM2 artifact's shards are the small real pool: calibrated on one half and
evaluated held out on the other.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sim_calibration import calibrate_simulator

from router.cli import main
from strategies.pools.export import write_generic_pool
from strategies.pools.loading import load_pool

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "artifacts" / "smollm2-arithmetic"
SAMPLING = ("majority", "best_of_n", "weighted_best_of_n")
QUICK = [
    "--seeds", "1",
    "--draws", "16",
    "--probe-k", "2",
    "--probe-draws", "2",
    "--bootstrap", "50",
    "--cv-repeats", "1",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("live") / "calibration"
    calibrate_simulator(
        out,
        problems="simulator:40",
        budgets=(1, 2, 4, 8),
        strategies=SAMPLING,
        draws=16,
        bootstrap=50,
        batch_size=40,
    )
    return out


def replay_calibrate(pool: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "calibrate",
            "--pool",
            str(pool),
            "--budgets",
            "1,2,4,8",
            "--out",
            str(out),
            *QUICK,
            *extra,
        ]
    )


def flatten(value: object, path: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in flatten(item, f"{path}/{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in flatten(item, f"{path}/{i}").items()
        }
    return {path: value}


def table(folder: Path) -> dict:
    return json.loads((folder / "table.json").read_text())


@pytest.mark.parametrize("exported", [False, True], ids=["shards", "generic-jsonl"])
def test_a_live_calibration_replayed_gives_the_same_table(live, tmp_path, exported):
    pool = write_generic_pool(load_pool([live]), tmp_path / "pool.jsonl") if exported else live
    out = tmp_path / "replayed"
    assert replay_calibrate(pool, out, "--backend-option", "order=recorded") == 0
    original, replayed = table(live), table(out)
    assert replayed["strategies"] == list(SAMPLING)
    for key in ("budgets", "coverage", "binnings", "num_problems"):
        assert replayed[key] == original[key], key
    # accuracies and intervals exactly; costs up to float summation order (ledgers add
    # per generator call, and the replay batches problems differently)
    flat_original, flat_replayed = flatten(original["overall"]), flatten(replayed["overall"])
    assert flat_replayed.keys() == flat_original.keys()
    for path, value in flat_original.items():
        if "cost" in path:
            assert flat_replayed[path] == pytest.approx(value, rel=1e-9), path
        else:
            assert flat_replayed[path] == value, path
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == "replay" and manifest["verifier"] == "replay"
    assert manifest["dataset"]["pools"][0]["sha256"]


def test_a_shuffled_replay_keeps_every_sample_so_pass_at_1_is_unchanged(live, tmp_path):
    import pandas as pd

    out = tmp_path / "shuffled"
    assert replay_calibrate(live, out) == 0
    before = pd.read_parquet(live / "problems.parquet").set_index("problem_id")
    after = pd.read_parquet(out / "problems.parquet").set_index("problem_id")
    assert after["pass_at_1"].equals(before["pass_at_1"].loc[after.index])
    assert table(out)["coverage"] == table(live)["coverage"]


def test_tree_strategies_are_refused_by_name(live, tmp_path, capsys):
    code = replay_calibrate(live, tmp_path / "x", "--strategies", "majority,beam_search:m=2")
    assert code == 2
    err = capsys.readouterr().err
    assert "beam_search:m=2" in err and "cannot be replayed" in err


def test_a_search_and_learn_file_with_a_wrong_column_is_named_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "sal.jsonl"
    path.write_text(
        json.dumps({"problem": "p", "answer": "1", "completions": ["x"]})
        + "\n"
        + json.dumps({"problem": "q", "answer": "2", "completion": ["y"]})
        + "\n"
    )
    assert replay_calibrate(path, tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert f"{path}, line 2" in err and "'completions'" in err


@pytest.fixture(scope="module")
def shipped_half(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shipped") / "half0"
    code = main(
        ["calibrate", "--pool", str(SHIPPED), "--pool-split", "0/2", "--budgets", "1,2,4,8",
         "--out", str(out), *QUICK]
    )  # fmt: skip
    assert code == 0
    return out


def test_evaluate_held_out_on_the_other_half_of_the_shipped_pool(shipped_half, tmp_path, capsys):
    report_path = tmp_path / "eval.json"
    code = main(
        ["evaluate", "--calibration", str(shipped_half), "--pool", str(SHIPPED), "--pool-split",
         "1/2", "--policies", "auto,8", "--resamples", "50", "--out", str(report_path),
         "--no-progress"]
    )  # fmt: skip
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["num_problems"] == 50
    routers = {r["policy"]: r for r in report["router"]}
    assert routers["auto"]["failed"] == 0 and routers["8"]["failed"] == 0
    fixed = {(f["strategy"], f["budget"]): f for f in report["fixed"]}
    assert fixed[("majority", 8)]["mean_generations"] == 8.0
    assert "were also calibrated on" not in capsys.readouterr().err


def test_evaluating_on_calibrated_problems_warns_and_dropping_them_by_id_works(
    shipped_half, tmp_path, capsys
):
    common = ["evaluate", "--calibration", str(shipped_half), "--pool", str(SHIPPED),
              "--policies", "4", "--budgets", "4", "--resamples", "20", "--no-progress"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "all.json")]) == 0
    assert "50 of 100 pool problems were also calibrated on" in capsys.readouterr().err
    assert main([*common, "--drop-calibration-problems", "--out", str(tmp_path / "d.json")]) == 0
    assert json.loads((tmp_path / "d.json").read_text())["num_problems"] == 50


def test_solve_by_replay_answers_the_pool_problems(shipped_half, tmp_path):
    out = tmp_path / "answers.jsonl"
    code = main(
        ["solve", "--calibration", str(shipped_half), "--pool", str(SHIPPED), "--pool-split",
         "1/2", "--budget", "4", "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    held_out = {p.id for p in list(load_pool([SHIPPED]))[1::2]}
    assert {line["id"] for line in lines} == held_out
    # --budget 4 is at most 4 generations per problem; samples at recorded token counts
    assert all(line["status"] != "failed" for line in lines)
    assert all(1 <= line["compute"]["generations"] <= 4 for line in lines)
    assert all(line["compute"]["generations"] == line["samples"] for line in lines)
    assert all(line["compute"]["tokens"] > 0 for line in lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--backend", "replay"], "--backend replay needs --pool FILE"),
        (["--pool", str(SHIPPED), "--backend", "vllm"], "drop --backend vllm"),
    ],
)
def test_replay_without_a_pool_or_with_another_backend_is_refused(
    shipped_half, tmp_path, capsys, argv, message
):
    code = main(["solve", "--calibration", str(shipped_half), "arithmetic:2", *argv,
                 "--out", str(tmp_path / "a.jsonl"), "--no-progress"])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_pool_that_runs_out_is_an_error_naming_the_problem(tmp_path, capsys):
    pool = tmp_path / "tiny.jsonl"
    samples = [{"text": f"$\\boxed{{{i}}}$", "score": 0.5} for i in range(2)]
    pool.write_text(
        json.dumps({"id": "only", "problem": "p", "answer": "1", "samples": samples}) + "\n"
    )
    code = main(["calibrate", "--pool", str(pool), "--samples", "4", "--budgets", "1",
                 "--out", str(tmp_path / "x"), *QUICK])  # fmt: skip
    assert code != 0
    assert "problem 'only' ran out" in capsys.readouterr().err
