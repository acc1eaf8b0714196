"""Stage 5: the difficulty predictor, which guesses a problem's difficulty level from a
few of its samples. The router does not route by it (its decision model reads the same
sample features in its state); ``ttc curves --bins predicted`` shows what it can tell.

Training rows are simulated draws: for every problem, several random k-subsets of its
K-sample pool, turned into features by ``runtime.sample_features.sample_features`` (the
function the decision model's states use too). Targets are the problem's oracle level (a
classifier, whose ``predict_proba`` gives a distribution over levels), its absolute
level, and its pass@1 (a regressor).

Quality is measured by cross-validation grouped by problem (all probes of a problem
fall in the same fold, so no problem is ever predicted by a model that saw it): level
accuracy, Spearman correlation of predicted with oracle pass@1, and how often the
predicted level is two or more away from the oracle one.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration.analysis.table import PredictorMetrics
from calibration.predictor import plain_models
from runtime.sample_features import FEATURE_NAMES, sample_features
from strategies.search.result import Candidate

PREDICTED_BINNINGS: tuple[str, ...] = ("oracle", "absolute")
DEFAULT_PROBE_DRAWS = 8
MAX_FOLDS = 5
PREDICTOR_MODELS_KIND = "ttc-router difficulty predictor"


@dataclass(frozen=True)
class DifficultyPrediction:
    """What the predictor says about one problem."""

    distribution: dict[int, float]
    level: int
    pass_at_1: float
    features: np.ndarray


@dataclass
class DifficultyPredictor:
    """Fitted models plus what they need to be used correctly.

    ``classifiers`` and ``regressor`` are plain models (``calibration.predictor.plain_models``):
    numbers, no code, stored as predictor.json by :meth:`models_to_json`; everything else
    is metadata kept in manifest.json.
    """

    classifiers: dict[str, Any]
    regressor: Any
    levels: dict[str, tuple[int, ...]]
    probe_k: int
    reduction: str = "last"
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def features(self, candidates: Sequence[Candidate]) -> np.ndarray:
        """The feature vector of one probe (the same function training used)."""
        return sample_features(candidates, self.reduction)

    def distribution_from_features(
        self, features: np.ndarray, binning: str = "oracle"
    ) -> np.ndarray:
        """Probability of each level (in ``levels[binning]`` order), one row per input row."""
        model = self._classifier(binning)
        rows = np.atleast_2d(features)
        return _probabilities_over_levels(model, rows, self.levels[binning])

    def pass_at_1_from_features(self, features: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(features)
        prediction: np.ndarray = np.clip(self.regressor.predict(rows), 0.0, 1.0)
        return prediction

    def predict(
        self, candidates: Sequence[Candidate], binning: str = "oracle"
    ) -> DifficultyPrediction:
        features = self.features(candidates)
        probabilities = self.distribution_from_features(features, binning)[0]
        levels = self.levels[binning]
        distribution = {level: float(p) for level, p in zip(levels, probabilities, strict=True)}
        return DifficultyPrediction(
            distribution=distribution,
            level=levels[int(np.argmax(probabilities))],
            pass_at_1=float(self.pass_at_1_from_features(features)[0]),
            features=features,
        )

    def bin_distribution(
        self, candidates: Sequence[Candidate], binning: str = "oracle"
    ) -> dict[int, float]:
        return self.predict(candidates, binning).distribution

    def _classifier(self, binning: str) -> Any:
        try:
            return self.classifiers[binning]
        except KeyError:
            known = ", ".join(sorted(self.classifiers))
            raise KeyError(
                f"the predictor has no model for binning {binning!r}; it has: {known}"
            ) from None

    def metadata(self) -> dict[str, Any]:
        return {
            "probe_k": self.probe_k,
            "reduction": self.reduction,
            "feature_names": list(self.feature_names),
            "levels": {name: list(levels) for name, levels in self.levels.items()},
        }

    def models_to_json(self) -> dict[str, Any]:
        """The fitted models as plain JSON data (what predictor.json holds)."""
        return {
            "kind": PREDICTOR_MODELS_KIND,
            "classifiers": {
                name: plain_models.to_json(_plain(model))
                for name, model in self.classifiers.items()
            },
            "regressor": plain_models.to_json(_plain(self.regressor)),
        }

    @classmethod
    def from_parts(
        cls, models: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> DifficultyPredictor:
        feature_names = tuple(metadata["feature_names"])
        if feature_names != FEATURE_NAMES:
            raise ValueError(
                "the predictor was trained on other features "
                f"({', '.join(feature_names)}) than this version computes "
                f"({', '.join(FEATURE_NAMES)}); recalibrate with this version"
            )
        return cls(
            classifiers=dict(models["classifiers"]),
            regressor=models["regressor"],
            levels={k: tuple(int(x) for x in v) for k, v in metadata["levels"].items()},
            probe_k=int(metadata["probe_k"]),
            reduction=str(metadata["reduction"]),
            feature_names=feature_names,
        )


def models_from_json(data: Any, where: str) -> dict[str, Any]:
    """:meth:`DifficultyPredictor.models_to_json` read back and checked; raises
    ``plain_models.PlainModelError`` naming ``where`` and the bad field."""
    if not isinstance(data, Mapping) or data.get("kind") != PREDICTOR_MODELS_KIND:
        raise plain_models.PlainModelError(
            f"{where}: not a ttc-router predictor (expected kind {PREDICTOR_MODELS_KIND!r})"
        )
    classifiers = data.get("classifiers")
    if not isinstance(classifiers, Mapping) or not classifiers:
        raise plain_models.PlainModelError(f"{where}: 'classifiers' must be a non-empty object")
    return {
        "classifiers": {
            str(name): _checked(model, f"{where}: classifiers.{name}", classifier=True)
            for name, model in classifiers.items()
        },
        "regressor": _checked(data.get("regressor"), f"{where}: regressor", classifier=False),
    }


def _checked(data: Any, where: str, *, classifier: bool) -> plain_models.PlainModel:
    model = plain_models.from_json(data, where)
    if model.is_classifier != classifier:
        wanted = "a classifier" if classifier else "a regressor"
        raise plain_models.PlainModelError(f"{where}: expected {wanted}")
    if model.num_features not in (None, len(FEATURE_NAMES)):
        raise plain_models.PlainModelError(
            f"{where}: takes {model.num_features} features; this version computes "
            f"{len(FEATURE_NAMES)}"
        )
    return model


def _plain(model: Any) -> plain_models.PlainModel:
    return model if isinstance(model, plain_models.PlainModel) else plain_models.from_sklearn(model)


def _probabilities_over_levels(model: Any, rows: np.ndarray, levels: Sequence[int]) -> np.ndarray:
    """predict_proba with columns for every level, zero for levels unseen in training."""
    raw = model.predict_proba(rows)
    out = np.zeros((rows.shape[0], len(levels)))
    column = {level: i for i, level in enumerate(levels)}
    for j, cls in enumerate(model.classes_):
        out[:, column[int(cls)]] = raw[:, j]
    return out


# ---------------------------------------------------------------- training data


@dataclass(frozen=True)
class ProbeTrainingSet:
    """Simulated probes: one row per (problem, draw)."""

    features: np.ndarray
    problem_index: np.ndarray
    draw: np.ndarray


def probe_rng(problem_id: str, k: int, seed: int) -> np.random.Generator:
    word = int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, k, word, 7])


def simulate_probes(
    pools: Sequence[tuple[str, Sequence[Candidate]]],
    k: int,
    draws: int,
    seed: int,
    reduction: str = "last",
) -> ProbeTrainingSet:
    """``draws`` random k-subsets of every pool, as probe feature rows."""
    rows: list[np.ndarray] = []
    owners: list[int] = []
    draw_ids: list[int] = []
    for index, (problem_id, pool) in enumerate(pools):
        if len(pool) < k:
            raise ValueError(f"problem {problem_id!r} has {len(pool)} samples, fewer than k={k}")
        rng = probe_rng(problem_id, k, seed)
        for d in range(draws):
            subset = rng.choice(len(pool), size=k, replace=False)
            rows.append(sample_features([pool[i] for i in subset], reduction))
            owners.append(index)
            draw_ids.append(d)
    return ProbeTrainingSet(
        features=np.vstack(rows) if rows else np.zeros((0, len(FEATURE_NAMES))),
        problem_index=np.array(owners, dtype=np.int64),
        draw=np.array(draw_ids, dtype=np.int64),
    )


# ---------------------------------------------------------------- models


def new_classifier(labels: np.ndarray) -> Any:
    """Multinomial logistic regression on standardised features.

    Chosen over tree ensembles because a few hundred problems are a small training set:
    it gives smooth, reasonably calibrated probabilities (the router weighs accuracy
    curves by them) and a few hundred numbers to store. With a single class it falls back to the
    class prior, so tiny calibrations still produce a usable (if uninformative) model.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(labels)) < 2:
        return DummyClassifier(strategy="prior")
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def new_regressor() -> Any:
    """Ridge regression on standardised features, clipped to [0, 1] when used.

    On the simulator's probes it matched gradient boosting's cross-validated Spearman
    correlation (0.867 against 0.870-0.873) at a fiftieth of the time, with no thread
    pool to oversubscribe on a busy machine and a few dozen numbers to store.
    """
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def _fit(model: Any, features: np.ndarray, target: np.ndarray) -> Any:
    """Fit single-threaded: the models are small, and BLAS/OpenMP thread pools on a busy
    machine spin-wait for cores, which made fits here 10-20x slower, not faster."""
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")  # convergence chatter on tiny folds
        model.fit(features, target)
    return model


@dataclass(frozen=True)
class PredictorTargets:
    """Per-problem targets, indexed like the pools."""

    levels: dict[str, np.ndarray]
    pass_at_1: np.ndarray
    level_names: dict[str, tuple[int, ...]] = field(default_factory=dict)


def train_predictor(
    training: ProbeTrainingSet, targets: PredictorTargets, probe_k: int, reduction: str
) -> DifficultyPredictor:
    rows = training.problem_index
    classifiers = {
        name: _fit(new_classifier(labels[rows]), training.features, labels[rows])
        for name, labels in targets.levels.items()
    }
    regressor = _fit(new_regressor(), training.features, targets.pass_at_1[rows])
    # Stored and used as plain models, so a fresh predictor predicts exactly as a loaded one.
    return DifficultyPredictor(
        classifiers={name: plain_models.from_sklearn(m) for name, m in classifiers.items()},
        regressor=plain_models.from_sklearn(regressor),
        levels=dict(targets.level_names),
        probe_k=probe_k,
        reduction=reduction,
    )


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-fold predictions, one row per training row."""

    probabilities: np.ndarray  # oracle levels
    levels: np.ndarray
    pass_at_1: np.ndarray
    absolute_levels: np.ndarray | None
    folds: int


def cross_validate(
    training: ProbeTrainingSet, targets: PredictorTargets, *, oracle_only: bool = False
) -> CrossValidated:
    """Out-of-fold predictions; ``oracle_only`` skips the absolute-level and pass@1 models."""
    from sklearn.model_selection import GroupKFold

    groups = training.problem_index
    num_problems = len(np.unique(groups))
    folds = min(MAX_FOLDS, num_problems)
    oracle_levels = targets.level_names["oracle"]
    probabilities = np.zeros((len(groups), len(oracle_levels)))
    pass_at_1 = np.full(len(groups), np.nan)
    absolute = None if oracle_only else targets.levels.get("absolute")
    absolute_pred = None if absolute is None else np.zeros(len(groups), dtype=np.int64)
    if folds < 2:
        raise ValueError("cross-validating the predictor needs at least two problems")
    for train, test in GroupKFold(n_splits=folds).split(training.features, groups=groups):
        x_train, x_test = training.features[train], training.features[test]
        oracle = targets.levels["oracle"][groups]
        model = _fit(new_classifier(oracle[train]), x_train, oracle[train])
        probabilities[test] = _probabilities_over_levels(model, x_test, oracle_levels)
        if absolute is not None and absolute_pred is not None:
            labels = absolute[groups]
            model = _fit(new_classifier(labels[train]), x_train, labels[train])
            absolute_pred[test] = model.predict(x_test)
        if not oracle_only:
            target = targets.pass_at_1[groups]
            regressor = _fit(new_regressor(), x_train, target[train])
            pass_at_1[test] = np.clip(regressor.predict(x_test), 0.0, 1.0)
    levels = np.array(oracle_levels)[probabilities.argmax(axis=1)]
    return CrossValidated(probabilities, levels, pass_at_1, absolute_pred, folds)


def predictor_metrics(
    cv: CrossValidated,
    training: ProbeTrainingSet,
    targets: PredictorTargets,
    probe_k: int,
    accuracy_by_k: Mapping[int, float],
) -> PredictorMetrics:
    from scipy.stats import spearmanr

    groups = training.problem_index
    true_levels = targets.levels["oracle"][groups]
    true_pass = targets.pass_at_1[groups]
    distance = np.abs(cv.levels - true_levels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input on degenerate sets
        rho = float(spearmanr(cv.pass_at_1, true_pass).statistic)
    oracle_levels = targets.level_names["oracle"]
    position = {level: i for i, level in enumerate(oracle_levels)}
    confusion = np.zeros((len(oracle_levels), len(oracle_levels)), dtype=np.int64)
    for truth, guess in zip(true_levels, cv.levels, strict=True):
        confusion[position[int(truth)], position[int(guess)]] += 1
    absolute_accuracy = None
    if cv.absolute_levels is not None and "absolute" in targets.levels:
        absolute_accuracy = float(np.mean(cv.absolute_levels == targets.levels["absolute"][groups]))
    return PredictorMetrics(
        probe_k=probe_k,
        bin_accuracy=float(np.mean(distance == 0)),
        spearman=rho if np.isfinite(rho) else 0.0,
        off_by_two_or_more=float(np.mean(distance >= 2)),
        pass1_mae=float(np.mean(np.abs(cv.pass_at_1 - true_pass))),
        num_problems=len(np.unique(groups)),
        folds=cv.folds,
        bin_accuracy_by_k=dict(accuracy_by_k),
        confusion=confusion.tolist(),
        absolute_bin_accuracy=absolute_accuracy,
    )


def out_of_fold_levels(
    cv: CrossValidated, training: ProbeTrainingSet, num_problems: int
) -> np.ndarray:
    """Each problem's predicted oracle level from its first simulated probe (held out)."""
    levels = np.zeros(num_problems, dtype=np.int64)
    first = training.draw == 0
    levels[training.problem_index[first]] = cv.levels[first]
    return levels
