"""The whole calibration on the simulator: ~200 problems, in-process, every stage."""

from __future__ import annotations

from dataclasses import replace

import pytest

from calibration.config import CalibrationConfig
from calibration.pipeline import run_calibration
from calibration.store.artifact import load_artifact
from calibration.store.shards import ShardError
from calibration.summary import format_summary
from strategies.search import get_strategy, strategy_names

NUM_PROBLEMS = 200
BUDGETS = (1, 2, 4, 8)
POOL = ("majority", "best_of_n", "weighted_best_of_n")
# every registered step-level search runs by default (beam search, DVTS, particle
# filtering, REBASE, and any plug-in added later)
TREE = tuple(name for name in strategy_names() if not get_strategy(name).reuses_samples)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> CalibrationConfig:
    return CalibrationConfig(
        problems=f"simulator:{NUM_PROBLEMS}",
        backend="simulator",
        verifier="simulator",
        prompt_config="llama-math",
        samples=16,
        budgets=BUDGETS,
        seeds=1,
        draws=32,
        bootstrap=200,
        cv_repeats=3,
        batch_size=50,
        out=tmp_path_factory.mktemp("calibration") / "sim",
        progress=False,
    )


@pytest.fixture(scope="module")
def outcome(config):
    return run_calibration(config)


def test_every_stage_ran_and_the_artifact_loads(outcome, config):
    assert outcome.sampled == NUM_PROBLEMS
    # tree searches run at N >= 2: every step-level strategy x 3 budgets x 1 seed
    assert {"beam_search", "dvts"} <= set(TREE)
    assert outcome.searched == NUM_PROBLEMS * len(TREE) * 3
    artifact = load_artifact(config.out)
    assert len(artifact.problems) == NUM_PROBLEMS
    expected_rows = NUM_PROBLEMS * (len(POOL) * len(BUDGETS) + len(TREE) * 3)
    assert len(artifact.evaluations) == expected_rows
    assert artifact.table == outcome.analysis.table


def test_bins_have_the_expected_sizes(outcome):
    table = outcome.analysis.table
    for name in ("oracle", "verifier"):
        assert table.binning(name).sizes == {level: NUM_PROBLEMS // 5 for level in range(1, 6)}
    absolute = table.binning("absolute")
    problems = outcome.analysis.problems
    assert absolute.sizes[1] == int((problems["pass_at_1"] >= 0.5).sum())
    assert absolute.sizes[3] == int((problems["pass_at_1"] < 0.1).sum())
    assert sum(absolute.sizes.values()) == NUM_PROBLEMS
    # the simulator spans easy to hopeless problems
    assert table.binning("oracle").value_ranges[1][0] > 0.8
    assert table.binning("oracle").value_ranges[5][1] < 0.2


def test_best_strategy_moves_from_cheap_sampling_on_easy_to_step_search_on_hard(outcome):
    oracle = outcome.analysis.table.binning("oracle")
    for budget in (4, 8):
        easy = oracle.cell(1, budget)
        # every strategy solves the easiest fifth; the tie goes to the cheapest sampler
        assert min(s.accuracy for s in easy.strategies.values()) > 0.95
        assert easy.best in POOL
        hard = oracle.cell(5, budget)
        assert hard.best in TREE
        best = hard.strategies[hard.best]
        for name in POOL:
            # not a coin flip: the best search's interval lies above every pool strategy's
            assert best.ci_low > hard.strategies[name].ci_high, (budget, name)
    # majority vote locks onto the tempting wrong answer on the hardest problems
    assert oracle.cell(5, 8).strategies["majority"].accuracy <= 0.05


def test_routing_is_cross_validated_and_not_above_in_sample(outcome):
    table = outcome.analysis.table
    for binning in table.binnings.values():
        routing = binning.routing
        assert set(routing.heldout) == set(BUDGETS)
        for budget in BUDGETS:
            assert routing.heldout[budget] <= routing.in_sample[budget] + 1e-12
    # at N=1 every strategy is one sample: nothing to choose, no optimism
    oracle = table.binning("oracle").routing
    assert oracle.heldout[1] == pytest.approx(oracle.in_sample[1])


def test_predictor_is_trained_and_cross_validated(outcome):
    metrics = outcome.analysis.table.predictor
    assert metrics is not None
    assert metrics.probe_k == 4
    assert metrics.bin_accuracy > 0.35  # chance is 0.2
    assert metrics.spearman > 0.6
    assert metrics.off_by_two_or_more < 0.2
    assert set(metrics.bin_accuracy_by_k) == {2, 4, 8}
    assert metrics.bin_accuracy_by_k[8] >= metrics.bin_accuracy_by_k[2]
    assert sum(map(sum, metrics.confusion)) == NUM_PROBLEMS * 8


def test_summary_reports_the_figures(outcome):
    text = format_summary(outcome)
    assert "pass@1: mean" in text
    assert "best strategy per oracle level" in text
    assert "held-out (two-fold CV) / in-sample" in text
    assert "predictor (4 probes" in text


def test_rerun_resumes_with_nothing_left_to_do(outcome, config):
    again = run_calibration(config)
    assert again.sampled == 0 and again.searched == 0
    assert again.analysis.table == outcome.analysis.table


def test_rerun_with_other_sampling_settings_is_refused(outcome, config):
    with pytest.raises(ShardError, match="samples: recorded 16, now 32"):
        run_calibration(replace(config, samples=32))
    with pytest.raises(ShardError, match="max_tokens: recorded 2048, now 512"):
        run_calibration(replace(config, generation=replace(config.generation, max_tokens=512)))


def test_a_smaller_plan_reuses_every_search(outcome, config):
    smaller = run_calibration(replace(config, budgets=(1, 2, 4), strategies=(*POOL, "beam_search")))
    assert smaller.sampled == 0 and smaller.searched == 0
    table = smaller.analysis.table
    assert table.budgets == (1, 2, 4)
    assert table.strategies == (*POOL, "beam_search")
    assert set(smaller.analysis.evaluations["strategy"]) == {*POOL, "beam_search"}
    # the same searches and pools give the same accuracies (intervals are resampled)
    before = outcome.analysis.table.binning("oracle")
    after = table.binning("oracle")
    for level, budget, strategy in ((5, 4, "beam_search"), (1, 2, "majority"), (3, 4, "best_of_n")):
        assert after.accuracy(level, budget, strategy) == before.accuracy(level, budget, strategy)


def test_analysis_settings_may_change_without_resampling(outcome, config):
    changed = run_calibration(replace(config, probe_k=2, cv_repeats=2))
    assert changed.sampled == 0 and changed.searched == 0
    assert changed.analysis.table.predictor.probe_k == 2
    # the strategy figures come from the same shards
    oracle_before = outcome.analysis.table.binning("oracle")
    oracle_after = changed.analysis.table.binning("oracle")
    assert oracle_before.cells == oracle_after.cells


def test_grid_tags_leave_parameters_to_the_legend_and_number_shared_names():
    from calibration.strategy_names import grid_tags, name_legend

    tags = grid_tags(["majority", "beam_search:depth=6,step_tokens=48", "majority"])
    assert tags == {"majority": "maj", "beam_search:depth=6,step_tokens=48": "beam"}
    assert name_legend(tags) == ["beam = beam_search:depth=6,step_tokens=48", "maj = majority"]
    assert name_legend(tags, parameters_only=True) == ["beam = beam_search:depth=6,step_tokens=48"]
    two = grid_tags(["beam_search:m=4", "beam_search:m=2", "dvts"])
    assert two == {"beam_search:m=2": "beam 1", "beam_search:m=4": "beam 2", "dvts": "dvts"}
    assert name_legend(two) == ["beam 1 = beam_search:m=2", "beam 2 = beam_search:m=4"]
