"""Small fitted models as plain data: JSON in, JSON out, numpy to predict, no pickle.

Why: calibration artifacts are made to be shared, and a pickle (joblib) runs whatever code
its author put in it the moment it is loaded; a sha256 in a manifest beside it does not
help, since whoever edits one can edit both. The models the project fits are small and
linear (a standardiser followed by a logistic regression, a ridge regression, or a class
prior), so their fitted state is a few arrays of numbers. This module

- converts a fitted scikit-learn model of a *fixed list of types* into a plain model
  (:func:`from_sklearn`; anything else is refused by name),
- writes a plain model as a JSON object (:func:`to_json`) and reads one back with every
  field's type and shape checked (:func:`from_json`; a bad file raises
  :class:`PlainModelError` naming the field), and
- predicts with numpy alone, matching scikit-learn's ``predict``/``predict_proba`` to
  rounding (tests compare them), so loading needs no scikit-learn at all.

Supported: ``Pipeline`` of an optional ``StandardScaler`` and one of ``LogisticRegression``
(binary or multinomial), ``Ridge``, ``LinearRegression``, ``DummyClassifier(strategy=
"prior")``. Use it for any small model an artifact stores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PLAIN_MODEL_FORMAT = 1


class PlainModelError(ValueError):
    """A model that cannot be stored as, or read back from, plain data; says which field."""


@dataclass(frozen=True)
class Standardizer:
    """``(x - mean) / scale`` per feature, as StandardScaler.transform."""

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, rows: np.ndarray) -> np.ndarray:
        result: np.ndarray = (rows - self.mean) / self.scale
        return result


@dataclass(frozen=True)
class LinearClassifier:
    """A fitted logistic regression: softmax over classes, or the logistic for two."""

    classes: np.ndarray
    coef: np.ndarray  # (1, d) for two classes, (classes, d) otherwise
    intercept: np.ndarray

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        scores = rows @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        result: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return result


@dataclass(frozen=True)
class PriorClassifier:
    """The class frequencies of the training labels, whatever the input."""

    classes: np.ndarray
    prior: np.ndarray

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.prior, (rows.shape[0], 1))


@dataclass(frozen=True)
class LinearRegressor:
    coef: np.ndarray  # (d,)
    intercept: float

    def predict(self, rows: np.ndarray) -> np.ndarray:
        result: np.ndarray = rows @ self.coef + self.intercept
        return result


Estimator = LinearClassifier | PriorClassifier | LinearRegressor


@dataclass(frozen=True)
class PlainModel:
    """An optional standardiser, then one estimator; the sklearn-style methods callers use."""

    estimator: Estimator
    standardizer: Standardizer | None = None

    @property
    def num_features(self) -> int | None:
        if self.standardizer is not None:
            return int(self.standardizer.mean.shape[0])
        if isinstance(self.estimator, LinearClassifier | LinearRegressor):
            return int(self.estimator.coef.shape[-1])
        return None

    @property
    def is_classifier(self) -> bool:
        return not isinstance(self.estimator, LinearRegressor)

    @property
    def classes_(self) -> np.ndarray:
        if isinstance(self.estimator, LinearRegressor):
            raise AttributeError("a regressor has no classes_")
        return self.estimator.classes

    def _rows(self, features: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(features, dtype=np.float64))
        expected = self.num_features
        if expected is not None and rows.shape[1] != expected:
            raise ValueError(f"the model takes {expected} features, got {rows.shape[1]}")
        return rows if self.standardizer is None else self.standardizer.transform(rows)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        if isinstance(self.estimator, LinearRegressor):
            raise AttributeError("a regressor has no predict_proba")
        return self.estimator.predict_proba(self._rows(features))

    def predict(self, features: np.ndarray) -> np.ndarray:
        if isinstance(self.estimator, LinearRegressor):
            return self.estimator.predict(self._rows(features))
        probabilities = self.predict_proba(features)
        result: np.ndarray = self.estimator.classes[np.argmax(probabilities, axis=1)]
        return result


# ---------------------------------------------------------------- from scikit-learn


def from_sklearn(model: Any) -> PlainModel:
    """The plain form of a fitted scikit-learn model of a supported type (see module doc)."""
    from sklearn.pipeline import Pipeline

    steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else [model]
    *preprocessing, last = steps
    if len(preprocessing) > 1:
        raise PlainModelError(
            f"a pipeline of {len(steps)} steps; plain models hold at most a StandardScaler "
            "and one estimator"
        )
    standardizer = _standardizer(preprocessing[0]) if preprocessing else None
    return PlainModel(estimator=_estimator(last), standardizer=standardizer)


def _standardizer(step: Any) -> Standardizer:
    from sklearn.preprocessing import StandardScaler

    if type(step) is not StandardScaler:
        raise PlainModelError(f"unsupported preprocessing step {type(step).__name__}")
    width = int(step.n_features_in_)
    mean = step.mean_ if step.mean_ is not None else np.zeros(width)
    scale = step.scale_ if step.scale_ is not None else np.ones(width)
    return Standardizer(np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64))


def _estimator(step: Any) -> Estimator:
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    kind = type(step)
    if kind is LogisticRegression:
        return LinearClassifier(
            classes=np.asarray(step.classes_),
            coef=np.asarray(step.coef_, dtype=np.float64),
            intercept=np.asarray(step.intercept_, dtype=np.float64),
        )
    if kind is DummyClassifier and step.strategy == "prior":
        return PriorClassifier(
            classes=np.asarray(step.classes_), prior=np.asarray(step.class_prior_, dtype=float)
        )
    if kind in (Ridge, LinearRegression):
        coef = np.asarray(step.coef_, dtype=np.float64)
        if coef.ndim != 1:
            raise PlainModelError("only regressors of a single target can be stored")
        return LinearRegressor(coef=coef, intercept=float(step.intercept_))
    raise PlainModelError(
        f"{kind.__name__} cannot be stored as plain data; supported: LogisticRegression, "
        "Ridge, LinearRegression, DummyClassifier(strategy='prior'), after an optional "
        "StandardScaler"
    )


# ---------------------------------------------------------------- JSON


def to_json(model: PlainModel) -> dict[str, Any]:
    estimator = model.estimator
    data: dict[str, Any] = {"format": PLAIN_MODEL_FORMAT}
    if model.standardizer is not None:
        data["standardizer"] = {
            "mean": _floats(model.standardizer.mean),
            "scale": _floats(model.standardizer.scale),
        }
    if isinstance(estimator, LinearClassifier):
        data["estimator"] = {
            "kind": "linear_classifier",
            "classes": _labels(estimator.classes),
            "coef": [_floats(row) for row in estimator.coef],
            "intercept": _floats(estimator.intercept),
        }
    elif isinstance(estimator, PriorClassifier):
        data["estimator"] = {
            "kind": "prior_classifier",
            "classes": _labels(estimator.classes),
            "prior": _floats(estimator.prior),
        }
    else:
        data["estimator"] = {
            "kind": "linear_regressor",
            "coef": _floats(estimator.coef),
            "intercept": float(estimator.intercept),
        }
    return data


def from_json(data: Any, where: str = "model") -> PlainModel:
    """Read :func:`to_json`'s output back, checking every type and shape.

    ``where`` prefixes error messages (e.g. ``"predictor.json: classifiers.oracle"``).
    """
    reader = _Reader(where)
    body = reader.mapping(data, "")
    version = body.get("format")
    if version != PLAIN_MODEL_FORMAT:
        raise reader.error("format", f"is {version!r}; this version reads {PLAIN_MODEL_FORMAT}")
    standardizer = None
    if body.get("standardizer") is not None:
        raw = reader.mapping(body["standardizer"], "standardizer")
        mean = reader.vector(raw.get("mean"), "standardizer.mean")
        scale = reader.vector(raw.get("scale"), "standardizer.scale", len(mean))
        if np.any(scale == 0):
            raise reader.error("standardizer.scale", "holds a zero")
        standardizer = Standardizer(mean, scale)
    raw = reader.mapping(body.get("estimator"), "estimator")
    width = None if standardizer is None else len(standardizer.mean)
    kind = raw.get("kind")
    estimator: Estimator
    if kind == "linear_classifier":
        classes = reader.labels(raw.get("classes"), "estimator.classes")
        rows = 1 if len(classes) == 2 else len(classes)
        coef = reader.matrix(raw.get("coef"), "estimator.coef", rows, width)
        intercept = reader.vector(raw.get("intercept"), "estimator.intercept", rows)
        estimator = LinearClassifier(classes, coef, intercept)
    elif kind == "prior_classifier":
        classes = reader.labels(raw.get("classes"), "estimator.classes")
        prior = reader.vector(raw.get("prior"), "estimator.prior", len(classes))
        if np.any(prior < 0) or not math.isclose(float(prior.sum()), 1.0, abs_tol=1e-6):
            raise reader.error("estimator.prior", "is not a probability distribution")
        estimator = PriorClassifier(classes, prior)
    elif kind == "linear_regressor":
        coef = reader.vector(raw.get("coef"), "estimator.coef", width)
        offset = reader.number(raw.get("intercept"), "estimator.intercept")
        estimator = LinearRegressor(coef, offset)
    else:
        raise reader.error(
            "estimator.kind",
            f"is {kind!r}; expected linear_classifier, prior_classifier or linear_regressor",
        )
    return PlainModel(estimator=estimator, standardizer=standardizer)


def _floats(values: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(values, dtype=np.float64).ravel()]


def _labels(classes: np.ndarray) -> list[int | str]:
    labels: list[int | str] = []
    for value in classes.tolist():
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PlainModelError(f"class label {value!r} is neither an integer nor a string")
        labels.append(value)
    return labels


@dataclass(frozen=True)
class _Reader:
    where: str

    def error(self, field: str, reason: str) -> PlainModelError:
        return PlainModelError(f"{self.where}: {field or 'the model'} {reason}")

    def mapping(self, value: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(field, f"must be a JSON object, got {type(value).__name__}")
        return value

    def number(self, value: Any, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(field, f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise self.error(field, "is not finite")
        return float(value)

    def vector(self, value: Any, field: str, length: int | None = None) -> np.ndarray:
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise self.error(field, "must be a non-empty list of numbers")
        numbers = np.array([self.number(x, field) for x in value], dtype=np.float64)
        if length is not None and len(numbers) != length:
            raise self.error(field, f"has {len(numbers)} entries, expected {length}")
        return numbers

    def matrix(self, value: Any, field: str, rows: int, width: int | None) -> np.ndarray:
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != rows:
            raise self.error(field, f"must be a list of {rows} rows")
        first = self.vector(value[0], field, width)
        matrix = np.vstack([self.vector(row, field, len(first)) for row in value])
        return matrix

    def labels(self, value: Any, field: str) -> np.ndarray:
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) < 1:
            raise self.error(field, "must be a non-empty list of labels")
        if any(isinstance(x, bool) or not isinstance(x, int | str) for x in value):
            raise self.error(field, "must hold integers or strings")
        if len(set(value)) != len(value):
            raise self.error(field, "repeats a label")
        return np.asarray(value)
