"""The report `ttc evaluate` writes, as typed records, and reading it back.

The router fills these records (``router.evaluation.harness``) and writes ``to_json()``; the
curves (``calibration.curves.evaluation``) read the file back through ``read_report``
into the same records. They live here, below router/, because calibration/ may not
import router/ (the layering), and one definition means the writer and the reader
cannot drift apart.

Reading is strict about what the router always writes (every field without a default
must be there, with the right type) and ignores fields it does not know, so a reader
keeps working as the evaluation grows. Numbers may be JSON NaN (no interval).
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class EvaluationError(ValueError):
    """An evaluation file that cannot be read; the message names the file and the field."""


@dataclass(frozen=True)
class MethodSummary:
    """One fixed strategy at one budget, or the router under one policy."""

    name: str
    kind: str
    accuracy: float
    ci_low: float
    ci_high: float
    mean_generations: float
    mean_flops: float
    mean_tokens: float
    strategy: str | None = None
    budget: int | None = None
    policy: str | None = None
    cost_unit: str | None = None
    failed: int = 0
    mix: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MatchedComparison:
    """Best fixed strategy at budget N against the router at the same total compute."""

    budget: int
    fixed: MethodSummary
    by_generations: MethodSummary
    by_generations_difference: tuple[float, float, float]
    # None where the calibration records no FLOPs (a pool replay): every action would
    # cost 0 FLOPs, and a "matched" router would sample without limit
    by_flops: MethodSummary | None = None
    by_flops_difference: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class SweepPoint:
    per_problem_budget: float
    accuracy: float
    mean_generations: float
    mean_flops: float


@dataclass(frozen=True)
class ComputeToMatch:
    """Compute the router needs to reach the best fixed strategy's accuracy at budget N.

    ``router_generations`` is None when no sweep point reached it; ``at_least`` is True
    when the cheapest sweep point already did (the router could need even less).
    """

    budget: int
    fixed: str
    target_accuracy: float
    fixed_generations: float
    router_generations: float | None
    ratio: float | None
    at_least: bool = False


@dataclass(frozen=True)
class OracleLimit:
    """At budget N: the best fixed strategy, the oracle's and the router's compute to
    match its accuracy (generations per problem), and the router's share of the gap."""

    budget: int
    fixed: str
    target_accuracy: float
    fixed_generations: float
    oracle_generations: float | None
    oracle_ratio: float | None
    router_generations: float | None
    gap_closed: float | None


@dataclass
class EvaluationReport:
    problems: str
    num_problems: int
    calibration: str
    model: str
    verifier: str
    probe_k: int
    seed: int
    resamples: int
    fixed: list[MethodSummary]
    router: list[MethodSummary]
    matched: list[MatchedComparison]
    sweep: list[SweepPoint]
    to_match: list[ComputeToMatch]
    to_match_sampling: list[ComputeToMatch] = field(default_factory=list)
    oracle: list[OracleLimit] = field(default_factory=list)
    overlap_with_calibration: int | None = None
    wall_time_s: float = 0.0
    # per fixed run ("strategy@N"), per problem in ``problem_ids`` order: whether it was
    # right and what it spent, so that several draws give each problem's *expected*
    # accuracy per action (``scripts.pool_evaluations``: the expected oracle)
    problem_ids: list[str] = field(default_factory=list)
    fixed_correct: dict[str, list[float]] = field(default_factory=dict)
    fixed_generations: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def best_fixed(self, budget: int) -> MethodSummary:
        return best_of([m for m in self.fixed if m.budget == budget])

    def headline(self) -> ComputeToMatch | None:
        """The comparison at the largest budget where the router reached the target."""
        reached = [c for c in self.to_match if c.ratio is not None]
        return max(reached, key=lambda c: c.budget) if reached else None


def best_of(methods: Sequence[MethodSummary]) -> MethodSummary:
    """Highest accuracy; ties go to the cheaper (FLOPs) method."""
    return max(methods, key=lambda m: (m.accuracy, -m.mean_flops))


def read_report(path: Path) -> EvaluationReport:
    """The report in ``path``; EvaluationError names the file and the field when not."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such evaluation file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not ({"router", "sweep", "matched"} & set(data)):
        raise EvaluationError(
            f"{path} is not `ttc evaluate` output (no 'router', 'matched' or 'sweep' list)"
        )
    return report_from_json(data, str(path))


def report_from_json(data: Mapping[str, Any], where: str) -> EvaluationReport:
    """``EvaluationReport.to_json()`` read back (``where`` prefixes error messages)."""
    return _record(EvaluationReport, data, _Place(where))


Record = TypeVar("Record", bound="DataclassInstance")


@dataclass(frozen=True)
class _Place:
    """Where a value sits, for messages: ``FILE: matched[0].fixed``."""

    file: str
    trail: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.trail}" if self.trail else self.file

    def child(self, name: str) -> _Place:
        return _Place(self.file, f"{self.trail}.{name}" if self.trail else name)

    def item(self, index: int) -> _Place:
        return _Place(self.file, f"{self.trail}[{index}]")


def _record(cls: type[Record], data: Any, place: _Place) -> Record:
    if not isinstance(data, Mapping):
        raise EvaluationError(f"{place}: expected an object")
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name], place, f.name)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise EvaluationError(f"{place}: needs {f.name!r}")
    return cls(**values)


def _value(kind: Any, value: Any, place: _Place, name: str) -> Any:
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):  # X | None
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _value(kind, value, place, name)
    if isinstance(kind, type) and is_dataclass(kind):
        return _record(kind, value, place.child(name))
    if origin is list:
        if not isinstance(value, list):
            raise EvaluationError(f"{place}: {name!r} should be a list")
        inner = place.child(name)
        return [_record(args[0], v, inner.item(i)) for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise EvaluationError(f"{place}: {name!r} should be a list of {len(args)}")
        return tuple(_value(a, v, place, name) for a, v in zip(args, value, strict=True))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise EvaluationError(f"{place}: {name!r} should be an object")
        return {str(k): _value(args[1], v, place, name) for k, v in value.items()}
    if kind is float or kind is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EvaluationError(f"{place}: {name!r} is {value!r}, not a number")
        if kind is int and value != int(value):
            raise EvaluationError(f"{place}: {name!r} is {value!r}, not a whole number")
        return kind(value)
    if kind is bool or kind is str:
        if not isinstance(value, kind):
            raise EvaluationError(f"{place}: {name!r} is {value!r}, not a {kind.__name__}")
        return value
    raise TypeError(f"no reader for {kind!r}")  # a field type this module does not know
