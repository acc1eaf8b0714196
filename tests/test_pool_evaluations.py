"""Pooling several `ttc evaluate` draws (scripts/pool_evaluations.py) on hand-made reports."""

from __future__ import annotations

import json

import pytest

from scripts.pool_evaluations import PoolingError, check_poolable, format_pooled, main


def report(seed: int, beam: float, rebase: float, sweep: list[tuple[float, float]]) -> dict:
    def method(name: str, strategy: str, accuracy: float) -> dict:
        return {
            "name": name, "kind": "fixed", "accuracy": accuracy, "ci_low": accuracy - 0.05,
            "ci_high": accuracy + 0.05, "mean_generations": 16.0, "mean_flops": 1.0,
            "mean_tokens": 1.0, "strategy": strategy, "budget": 16,
        }  # fmt: skip

    fixed = [
        method("beam_search@16", "beam_search", beam),
        method("rebase@16", "rebase", rebase),
        method("weighted_best_of_n@16", "weighted_best_of_n", 0.6),
    ]
    points = [
        {"per_problem_budget": b, "accuracy": a, "mean_generations": g, "mean_flops": 1.0}
        for b, (g, a) in zip((4.0, 8.0, 16.0), sweep, strict=True)
    ]
    best = max(beam, rebase)
    return {
        "problems": "simulator:300:8", "calibration": "runs/cal", "num_problems": 300,
        "seed": seed, "fixed": fixed, "sweep": points,
        "to_match": [{"budget": 16, "ratio": 16.0 / 10.0 if best <= 0.9 else None}],
    }  # fmt: skip


def test_pooling_picks_the_best_fixed_strategy_on_the_mean_over_draws():
    # draw 0: beam search lucky (0.96); draw 1: REBASE (0.93); pooled: REBASE 0.92 vs
    # beam 0.905, and the router's pooled sweep reaches 0.92 between its 8 and 16 points
    reports = [
        report(0, beam=0.96, rebase=0.91, sweep=[(4.0, 0.80), (8.0, 0.90), (12.0, 0.95)]),
        report(1, beam=0.85, rebase=0.93, sweep=[(4.0, 0.78), (8.0, 0.88), (12.0, 0.93)]),
    ]
    text = format_pooled(reports)
    row = next(line for line in text.splitlines() if line.strip().startswith("16"))
    assert "rebase@16" in row and "92.0%" in row
    # pooled sweep: (4, 0.79), (8, 0.89), (12, 0.94); 0.92 is reached at 8 + 4 * 3/5
    assert "10.40" in row and "1.54x" in row
    assert "weighted_best_of_n@16" in text


def test_reports_of_other_problems_or_the_same_draw_are_refused(tmp_path, capsys):
    sweep = [(4.0, 0.8), (8.0, 0.9), (12.0, 0.95)]
    same_seed = [report(0, 0.9, 0.9, sweep), report(0, 0.9, 0.9, sweep)]
    with pytest.raises(PoolingError, match="share a seed"):
        check_poolable(same_seed, [])
    other = report(1, 0.9, 0.9, sweep) | {"problems": "simulator:300:9"}
    with pytest.raises(PoolingError, match="problems"):
        check_poolable([report(0, 0.9, 0.9, sweep), other], [])
    paths = []
    for index, data in enumerate([report(0, 0.9, 0.9, sweep), report(1, 0.9, 0.9, sweep)]):
        path = tmp_path / f"r{index}.json"
        path.write_text(json.dumps(data))
        paths.append(str(path))
    assert main(paths) == 0
    assert "2 draws (seeds 0, 1)" in capsys.readouterr().out
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SystemExit):
        main([paths[0], str(broken)])
    assert "broken.json: not a readable" in capsys.readouterr().err
