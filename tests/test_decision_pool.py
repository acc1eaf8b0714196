"""A decision pool: problems with samples and no searches, which the decision model also
learns from (calibration/sequential/decision_pool.py, fit.py ``with_sampled``). Searches
are dear to record and samples cheap, so the stops and continuations learn from many
more problems than the searches' values do."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from calibration.sequential.decision_pool import (
    DecisionPool,
    DecisionPoolError,
    load_decision_pool,
)
from calibration.sequential.fit import (
    fit_action_models,
    fit_folds,
    fit_model,
    replay,
    with_sampled,
)
from calibration.sequential.regression import fit_logistic
from calibration.sequential.stage import sequential_data
from calibration.sequential.trajectories import Trajectories
from calibration.store.records import ProblemSamples, SampleRecord
from router.cli import main as ttc
from scripts.heldout_sequential import main as heldout

PRICES = (0.0, 0.02, 0.1)


def hidden_difficulty(seed: int, problems: int, with_search: bool = True) -> Trajectories:
    """Problems whose first sample's feature tells easy (right at once, 90 %) from hard
    (right after one sample 20 %, after four 80 %): more samples pay on the hard ones
    only. One search, right half the time whatever the problem."""
    rng = np.random.default_rng(seed)
    orders = 4
    owner = np.repeat(np.arange(problems), orders)
    hard = rng.random(problems) < 0.5
    seen = (hard.astype(float) + rng.normal(scale=0.4, size=problems))[owner][:, None]
    prompt = rng.normal(size=(len(owner), 1))
    first = np.where(hard, rng.random(problems) < 0.2, rng.random(problems) < 0.9)
    later = np.where(hard, rng.random(problems) < 0.8, first)
    trees = {"rebase@4": (rng.random(problems) < 0.5).astype(float)[owner]} if with_search else {}
    return Trajectories(
        rungs=(0, 1, 4),
        problem=owner,
        features=[prompt, np.hstack([prompt, seen]), np.hstack([prompt, seen])],
        stop=[np.zeros(len(owner)), first.astype(float)[owner], later.astype(float)[owner]],
        trees=trees,
    )


def pool_of(data: Trajectories) -> Trajectories:
    """The same problems as a decision pool would hold them: samples only."""
    return Trajectories(data.rungs, data.problem, data.features, data.stop, trees={})


def test_joined_rows_number_the_other_problems_after_these():
    first = hidden_difficulty(0, 3)
    second = hidden_difficulty(1, 2)
    both = first.joined(second)
    assert len(both) == len(first) + len(second)
    assert len(np.unique(both.problem)) == 5
    assert np.array_equal(both.stop[1][len(first) :], second.stop[1])
    with pytest.raises(ValueError, match="same rungs and tree actions"):
        first.joined(pool_of(second))


def test_pool_problems_join_the_stop_values_and_never_the_search_values():
    data = hidden_difficulty(0, 20)
    pool = pool_of(hidden_difficulty(1, 200))
    alone = fit_action_models(data)
    joined = fit_action_models(data, pool)
    stacked = fit_logistic(
        np.vstack([data.features[1], pool.features[1]]),
        np.concatenate([data.stop[1], pool.stop[1]]),
        strength=1.0 / 4,
    )
    assert joined[1].stop == stacked
    assert joined[1].stop != alone[1].stop
    for rung in range(3):
        assert joined[rung].trees == alone[rung].trees


def test_a_pool_problems_searches_read_as_the_top_rungs_prediction_at_their_mean_cost():
    data = hidden_difficulty(0, 20)
    pool = pool_of(hidden_difficulty(1, 30))
    actions = fit_action_models(data, pool)
    rows = with_sampled(data, pool, actions)
    assert len(rows) == len(data) + len(pool)
    predicted = actions[-1].trees["rebase@4"].predict(pool.features[-1])
    assert np.allclose(rows.trees["rebase@4"][len(data) :], predicted)
    assert np.allclose(rows.cost_of("rebase@4")[len(data) :], 4.0)
    assert with_sampled(data, None, actions) is data


def test_folds_hold_out_only_problems_with_searches_and_every_fit_learns_from_the_pool():
    data = hidden_difficulty(0, 20)
    pool = pool_of(hidden_difficulty(1, 100))
    folds = fit_folds(data, reduction="last", prices=PRICES, seed=2, sampled=pool)
    plain = fit_folds(data, reduction="last", prices=PRICES, seed=2)
    assert len(folds) == 2
    assert all(len(fold.test) == len(data) and fold.sampled is pool for fold in folds)
    assert folds[0].model.rung_models[1].stop != plain[0].model.rung_models[1].stop


def heldout_net(model, test: Trajectories, price: float) -> float:
    outcome = replay(model, test, price)
    return float((outcome.accuracy - price * outcome.cost).mean())


def test_a_pool_teaches_the_router_where_more_samples_pay():
    """Twelve problems with searches cannot show where sampling on pays; 400 sampled
    problems can. Judged on 400 fresh problems, over five draws."""
    gains = []
    for seed in range(5):
        data = hidden_difficulty(seed, 12)
        pool = pool_of(hidden_difficulty(100 + seed, 400))
        test = hidden_difficulty(200 + seed, 400)
        alone = fit_model(data, reduction="last", prices=PRICES)
        joined = fit_model(data, reduction="last", prices=PRICES, sampled=pool)
        gains.append(heldout_net(joined, test, 0.02) - heldout_net(alone, test, 0.02))
    assert np.mean(gains) > 0.02
    assert min(gains) > -0.02


def write_shard(path: Path, settings: dict, records: list[dict], header: bool = True) -> Path:
    lines = [json.dumps({"header": {"format": 1, "kind": "samples", "settings": settings}})]
    lines = lines if header else []
    lines += [json.dumps(r) for r in records]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def sample_record(pid: str, answers: list[str], gold: str) -> dict:
    return ProblemSamples(
        pid,
        gold,
        tuple(SampleRecord(f"so {a}", a, a == gold, (0.5,), 3, "eos") for a in answers),
    ).to_json()


SETTINGS = {"model": "m", "verifier": "v", "prompt_config": "llama-math"}


@pytest.fixture
def problems_file(tmp_path: Path) -> Path:
    path = tmp_path / "problems.jsonl"
    rows = [{"id": f"p{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("name", ["pool.jsonl", "pool.jsonl.gz"])
def test_a_samples_shard_reads_as_a_pool_with_its_problems_texts(tmp_path, problems_file, name):
    settings = {**SETTINGS, "problems": str(problems_file)}
    records = [sample_record(f"p{i}", [str(i + 1), "0"], str(i + 1)) for i in range(3)]
    pool = load_decision_pool(write_shard(tmp_path / name, settings, records), SETTINGS)
    assert pool.texts == {f"p{i}": f"What is {i} + 1?" for i in range(3)}
    assert [s.correct for s in pool.samples["p1"].samples] == [True, False]
    assert pool.describe()["problems"] == 3 and len(pool.describe()["sha256"]) == 64


def test_a_pool_made_by_another_model_or_without_a_header_is_refused(tmp_path, problems_file):
    settings = {**SETTINGS, "problems": str(problems_file), "model": "other"}
    records = [sample_record("p0", ["1"], "1")]
    shard = write_shard(tmp_path / "other.jsonl", settings, records)
    with pytest.raises(DecisionPoolError, match=r"model 'other'.*this calibration's is 'm'"):
        load_decision_pool(shard, SETTINGS)
    bare = write_shard(tmp_path / "bare.jsonl", settings, records, header=False)
    with pytest.raises(DecisionPoolError, match="no samples-shard header"):
        load_decision_pool(bare, SETTINGS)
    with pytest.raises(DecisionPoolError, match="no such file"):
        load_decision_pool(tmp_path / "missing.jsonl", SETTINGS)


def test_a_broken_line_is_named_by_file_and_number(tmp_path, problems_file):
    settings = {**SETTINGS, "problems": str(problems_file)}
    shard = write_shard(tmp_path / "pool.jsonl", settings, [sample_record("p0", ["1"], "1")])
    complete = shard.read_text()
    # a last line still being written is skipped
    shard.write_text(complete + '{"problem_id": "p1", "gold"')
    assert list(load_decision_pool(shard, SETTINGS).samples) == ["p0"]
    shard.write_text(complete + '{"problem_id": "p1", "gold"\n')
    with pytest.raises(DecisionPoolError, match=r"pool.jsonl:3: not a samples record"):
        load_decision_pool(shard, SETTINGS)


def test_pool_problems_that_are_calibration_problems_or_too_small_are_left_out():
    def samples(pid: str, count: int) -> ProblemSamples:
        return ProblemSamples.from_json(sample_record(pid, ["1"] * count, "1"))

    texts = {f"c{i}": f"calibration problem {i}" for i in range(12)}
    calibration = {pid: samples(pid, 4) for pid in texts}
    pool_texts = {"c0": "renamed?", "x1": "calibration problem 3", "x2": "short", "x3": "new"}
    pool = {"c0": samples("c0", 4), "x1": samples("x1", 4), "x2": samples("x2", 2)}
    pool["x3"] = samples("x3", 4)
    import pandas as pd

    prepared = sequential_data(
        texts,
        calibration,
        pd.DataFrame(columns=["problem_id", "strategy", "budget", "accuracy"]),
        budgets=(1, 2, 4),
        tree_strategies=[],
        reduction="last",
        delimiter="\n\n",
        seed=0,
        pool=DecisionPool("pool.jsonl", "0" * 64, pool_texts, pool),
    )
    assert prepared is not None and prepared.sampled is not None
    # only x3: c0 is a calibration problem, x1 its text again, x2 below the top rung
    assert len(np.unique(prepared.sampled.problem)) == 1


def test_calibrate_with_a_decision_pool_records_it_and_the_script_replays_with_it(tmp_path, capsys):
    common = ["--samples", "8", "--budgets", "1,2,4", "--draws", "8", "--probe-k", "2"]
    common += ["--probe-draws", "2", "--bootstrap", "20", "--cv-repeats", "1", "--no-progress"]
    pool_dir = tmp_path / "pool"
    assert ttc(["calibrate", "--problems", "simulator:60:9", "--strategies", "majority",
                *common, "--out", str(pool_dir)]) == 0  # fmt: skip
    shard = pool_dir / "shards" / "samples-000-of-001.jsonl"
    out = tmp_path / "sim"
    capsys.readouterr()
    assert ttc(["calibrate", "--problems", "simulator:40:3", "--seeds", "3",
                "--strategies", "majority,weighted_best_of_n,rebase", *common,
                "--decision-pool", str(shard), "--out", str(out)]) == 0  # fmt: skip
    assert f"decision pool: {shard} (60 problems" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    recorded = manifest["settings"]["decision_pool"]
    assert recorded["path"] == str(shard) and recorded["problems"] == 60
    # a refit keeps the pool the artifact was fitted with
    assert ttc(["calibrate", "--merge", "--out", str(out), "--no-progress"]) == 0
    refitted = json.loads((out / "manifest.json").read_text())["settings"]["decision_pool"]
    assert refitted == recorded
    capsys.readouterr()
    # the script replays with the artifact's own pool unless told another
    assert heldout([str(out), "--splits", "1", "--bootstrap", "20"]) == 0
    printed = capsys.readouterr().out
    assert "problems with samples only join every fit" in printed
    assert "price curve, held out" in printed


def test_calibrate_refuses_a_pool_of_another_model_before_sampling(tmp_path, capsys):
    settings = {"model": "smollm2", "verifier": "arithmetic", "prompt_config": "llama-math"}
    shard = write_shard(tmp_path / "pool.jsonl", {**settings, "problems": "arithmetic:3"}, [])
    out = tmp_path / "sim"
    code = ttc(["calibrate", "--problems", "simulator:20:3", "--samples", "4",
                "--budgets", "1,2", "--strategies", "majority", "--no-progress",
                "--decision-pool", str(shard), "--out", str(out)])  # fmt: skip
    assert code != 0
    assert "its samples were made with model 'smollm2'" in capsys.readouterr().err
    assert not (out / "shards" / "samples-000-of-001.jsonl").exists()
