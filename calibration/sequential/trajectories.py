"""Calibration pools replayed as the router would meet them: random orders of each
problem's recorded samples, with the state after every rung and what stopping there
would have scored.

Many random orders per problem stand in for many fresh runs (as the pool estimators do
for best-of-N), and every tree search's recorded accuracy (mean over seeds) is what
switching to it would have scored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from calibration.sequential.rule_choice import choose_answer_rules, rule_hits
from runtime.actions import ActionKey, action_key
from runtime.answer_rule import AnswerRule
from runtime.second_opinion import Run, recorded_outcome
from runtime.states import prompt_features, state_features
from strategies.search.result import Candidate

if TYPE_CHECKING:
    import pandas as pd

    from calibration.store.records import ProblemSamples, TreeRecord


@dataclass(frozen=True)
class TrainingPool:
    """One calibration problem: its text, graded pool, and tree searches' accuracy."""

    problem_id: str
    text: str
    candidates: tuple[Candidate, ...]
    correct: np.ndarray  # bool per candidate
    tree_accuracy: Mapping[str, float]  # "strategy@budget" -> mean accuracy over seeds
    tree_cost: Mapping[str, float] = field(default_factory=dict)  # generations; default B


@dataclass(frozen=True)
class Trajectories:
    """``features[r]``: (rows, features) at rung ``rungs[r]``; ``stop[r]``: whether the
    answer rule at that rung (``answer_rules[rungs[r]]``) is right (rung 0: zeros,
    unused); ``trees[key]``: per row."""

    rungs: tuple[int, ...]
    problem: np.ndarray  # row -> pool index
    features: list[np.ndarray]
    stop: list[np.ndarray]
    trees: dict[str, np.ndarray]
    # generations each tree action spent, per row (a key left out spent its budget)
    tree_costs: dict[str, np.ndarray] = field(default_factory=dict)
    answer_rules: dict[int, AnswerRule] = field(default_factory=dict)

    def cost_of(self, key: str) -> np.ndarray:
        spent = self.tree_costs.get(key)
        if spent is None:
            return np.full(len(self.problem), float(ActionKey.parse(key).budget))
        return spent

    def subset(self, rows: np.ndarray) -> Trajectories:
        return Trajectories(
            rungs=self.rungs,
            problem=self.problem[rows],
            features=[f[rows] for f in self.features],
            stop=[s[rows] for s in self.stop],
            trees={k: v[rows] for k, v in self.trees.items()},
            tree_costs={k: v[rows] for k, v in self.tree_costs.items()},
            answer_rules=self.answer_rules,
        )

    def __len__(self) -> int:
        return len(self.problem)

    def joined(self, other: Trajectories) -> Trajectories:
        """These rows, then ``other``'s (same rungs, answer rules and tree actions), its
        problems numbered after these so that none is mistaken for one of these."""
        if other.rungs != self.rungs or set(other.trees) != set(self.trees):
            raise ValueError("joined trajectories need the same rungs and tree actions")
        offset = int(self.problem.max()) + 1 if len(self.problem) else 0
        return Trajectories(
            rungs=self.rungs,
            problem=np.concatenate([self.problem, other.problem + offset]),
            features=[
                np.vstack([a, b]) for a, b in zip(self.features, other.features, strict=True)
            ],
            stop=[np.concatenate([a, b]) for a, b in zip(self.stop, other.stop, strict=True)],
            trees={k: np.concatenate([v, other.trees[k]]) for k, v in self.trees.items()},
            tree_costs={
                k: np.concatenate([self.cost_of(k), other.cost_of(k)])
                for k in set(self.tree_costs) | set(other.tree_costs)
            },
            answer_rules=self.answer_rules,
        )


def order_rng(problem_id: str, seed: int) -> np.random.Generator:
    word = int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, word, 31])


def order_permutations(pools: Sequence[TrainingPool], orders: int, seed: int) -> list[np.ndarray]:
    """Per pool, ``orders`` random drawing orders of its samples (rows of indices): the
    orders every replay of the calibration shares, so all are compared on the same draws."""
    return [
        np.argsort(
            order_rng(pool.problem_id, seed).random((orders, len(pool.candidates))),
            axis=1,
            kind="stable",
        )
        for pool in pools
    ]


def build_trajectories(
    pools: Sequence[TrainingPool],
    rungs: Sequence[int],
    tree_keys: Sequence[str],
    *,
    orders: int,
    reduction: str,
    seed: int,
    rules: Mapping[int, AnswerRule] | None = None,
) -> Trajectories:
    """Each pool replayed in ``orders`` random orders, one row per order; ``rules``: the
    answer rule per rung (default: chosen on these pools, ``choose_answer_rules``)."""
    for pool in pools:
        if len(pool.candidates) < max(rungs):
            raise ValueError(
                f"problem {pool.problem_id!r}: {len(pool.candidates)} samples, "
                f"fewer than rung {max(rungs)}"
            )
    permutations = order_permutations(pools, orders, seed)
    if rules is None:
        rules = choose_answer_rules(pools, rungs, permutations)
    rows_per_rung: list[list[np.ndarray]] = [[] for _ in rungs]
    stop_per_rung: list[list[float]] = [[] for _ in rungs]
    owners: list[int] = []
    trees: dict[str, list[float]] = {k: [] for k in tree_keys}
    costs: dict[str, list[float]] = {k: [] for k in tree_keys}
    for index, (pool, order) in enumerate(zip(pools, permutations, strict=True)):
        prompt = prompt_features(pool.text)
        for r, rung in enumerate(rungs):
            if rung == 0:
                rows_per_rung[r].extend([prompt] * orders)
                stop_per_rung[r].extend([0.0] * orders)
                continue
            prefixes = order[:, :rung]
            hits = rule_hits(rules[rung], pool, prefixes)
            stop_per_rung[r].extend(float(h) for h in hits)
            for prefix in prefixes:
                rows_per_rung[r].append(
                    state_features(
                        pool.text, [pool.candidates[i] for i in prefix], reduction, prompt
                    )
                )
        owners.extend([index] * orders)
        for key in tree_keys:
            trees[key].extend([float(pool.tree_accuracy.get(key, 0.0))] * orders)
            budget = float(ActionKey.parse(key).budget)
            costs[key].extend([float(pool.tree_cost.get(key, budget))] * orders)
    return Trajectories(
        rungs=tuple(rungs),
        problem=np.array(owners, dtype=np.int64),
        features=[np.vstack(rows) for rows in rows_per_rung],
        stop=[np.array(s, dtype=np.float64) for s in stop_per_rung],
        trees={k: np.array(v, dtype=np.float64) for k, v in trees.items()},
        tree_costs={k: np.array(v, dtype=np.float64) for k, v in costs.items()},
        answer_rules=dict(rules),
    )


def tree_accuracies(
    evaluations: pd.DataFrame, tree_keys: Sequence[str]
) -> dict[str, dict[str, float]]:
    """problem id -> "strategy@budget" -> mean accuracy over the recorded seeds."""
    wanted = set(tree_keys)
    out: dict[str, dict[str, float]] = {}
    if evaluations.empty:
        return out
    means = (
        evaluations.groupby(["problem_id", "strategy", "budget"], sort=False)["accuracy"]
        .mean()
        .reset_index()
    )
    for pid, strategy, budget, value in means.itertuples(index=False):
        key = action_key(strategy, int(budget))
        if key in wanted:
            out.setdefault(str(pid), {})[key] = float(value)
    return out


def training_pools(
    texts: Mapping[str, str],
    samples: Mapping[str, ProblemSamples],
    accuracies: Mapping[str, Mapping[str, float]],
    delimiter: str,
    costs: Mapping[str, Mapping[str, float]] | None = None,
) -> list[TrainingPool]:
    """The pools of every problem with samples, in ``texts`` order."""
    pools = []
    for pid, text in texts.items():
        recorded = samples.get(pid)
        if recorded is None or not recorded.samples:
            continue
        pools.append(
            TrainingPool(
                problem_id=pid,
                text=text,
                candidates=tuple(s.to_candidate(delimiter) for s in recorded.samples),
                correct=np.array([s.correct for s in recorded.samples], dtype=bool),
                tree_accuracy=dict(accuracies.get(pid, {})),
                tree_cost=dict((costs or {}).get(pid, {})),
            )
        )
    return pools


def second_opinions(
    records: Sequence[TreeRecord], tree_keys: Sequence[str]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """problem id -> "strategy+check@budget" -> expected accuracy, and -> expected
    generations, of each search asking for a second opinion when unsure: from its three
    recorded seeds (problems or searches with fewer, or recorded before the leaves'
    agreement was, get none).

    A run that found no answer ("no extractable answer in 4 solutions") is a run: wrong,
    sure of nothing, so the router runs again, as it does live. Leaving such runs out
    dropped the problem from the decision model's data altogether (it lacked a checked
    action), and with it the hopeless problems where SmolLM2's searches write no number."""
    wanted = set(tree_keys)
    runs: dict[tuple[str, str], list[tuple[Run, bool]]] = {}
    for record in records:
        key = action_key(record.strategy, record.budget)
        if key in wanted and record.agreement is not None:
            runs.setdefault((record.problem_id, key), []).append(
                (Run(record.answer, record.agreement), record.correct)
            )
    outcomes = {
        (pid, key): outcome
        for (pid, key), recorded in runs.items()
        if (outcome := recorded_outcome(recorded, ActionKey.parse(key).budget)) is not None
    }
    # a search that is always sure of itself (one leaf: beam search at small N) never
    # asks again: its checked twin would only be a duplicate action
    asking = {key for (_, key), (_, cost) in outcomes.items() if cost > ActionKey.parse(key).budget}
    accuracies: dict[str, dict[str, float]] = {}
    costs: dict[str, dict[str, float]] = {}
    for (pid, key), (accuracy, cost) in outcomes.items():
        if key in asking:
            checked = str(ActionKey.parse(key).with_check())
            accuracies.setdefault(pid, {})[checked] = accuracy
            costs.setdefault(pid, {})[checked] = cost
    return accuracies, costs
