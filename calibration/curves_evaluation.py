"""The router's `ttc evaluate` results, read as curves for `ttc curves`.

calibration/ may not import router/ (the layering), so this reads the evaluation's JSON
form, ``router.evaluation.EvaluationReport.to_json()``. The fields used::

    {
      "calibration": "path/to/artifact",     # which artifact the router used
      "problems": "held-out problems", "num_problems": 200,
      "router": [                              # one entry per --budget policy
        {"name": "router auto", "policy": "auto", "cost_unit": "generations",
         "accuracy": 0.81, "ci_low": 0.75, "ci_high": 0.86,
         "mean_generations": 6.2, "mean_tokens": 2100.0, "mean_flops": 1.2e13}, ...],
      "matched": [                             # total:B at each fixed strategy's compute
        {"budget": 8, "fixed": {<same fields>}, "by_generations": {<same fields>}}, ...],
      "sweep": [                               # total:B over a grid of budgets
        {"per_problem_budget": 4.0, "accuracy": 0.7, "mean_generations": 4.0,
         "mean_flops": 9e12}, ...]
    }

Generations there are full-solution equivalents with the probe included, the same
unit as the table's budget N, so router points sit on the curves' generation axis.
Other fields are ignored, so the reader keeps working as the evaluation grows.

Where the file is: ``--evaluation FILE``, else the first ``*evaluation*.json`` inside
the artifact folder, else beside it whose ``calibration`` names this artifact folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from calibration.artifact import Artifact
from calibration.curves_data import ROUTER, Curve, CurvePoint

PATTERN = "*evaluation*.json"


class EvaluationError(ValueError):
    """An evaluation file that cannot be read; the message names the file and the field."""


def _number(entry: Mapping[str, Any], key: str, where: str) -> float:
    value = entry.get(key)
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{where}: {key!r} is {value!r}, not a number") from None


def _summary_point(entry: Any, where: str, label: str | None = None) -> CurvePoint:
    if not isinstance(entry, Mapping):
        raise EvaluationError(f"{where}: expected an object with accuracy and costs")
    if "accuracy" not in entry or "mean_generations" not in entry:
        raise EvaluationError(f"{where}: needs 'accuracy' and 'mean_generations'")
    return CurvePoint(
        budget=_number(entry, "mean_generations", where),
        accuracy=_number(entry, "accuracy", where),
        ci_low=_number(entry, "ci_low", where),
        ci_high=_number(entry, "ci_high", where),
        tokens=_number(entry, "mean_tokens", where),
        flops=_number(entry, "mean_flops", where),
        label=label if label is not None else str(entry.get("name") or entry.get("policy", "")),
    )


def _list(data: Mapping[str, Any], key: str, path: Path) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise EvaluationError(f"{path}: {key!r} should be a list")
    return value


def router_curves(data: Mapping[str, Any], path: Path) -> list[Curve]:
    """Curves from one evaluation: each policy kind, the matched runs and the sweep."""
    families: dict[str, list[CurvePoint]] = {}
    for i, entry in enumerate(_list(data, "router", path)):
        where = f"{path}: router[{i}]"
        point = _summary_point(entry, where)
        policy = str(entry.get("policy") or entry.get("name") or "router")
        kind = policy.split(":", 1)[0] if ":" in policy else policy
        family = "fixed N" if kind.replace(".", "", 1).isdigit() else kind
        if entry.get("cost_unit") == "flops":
            family += " (FLOPs)"
        families.setdefault(family, []).append(point)
    curves = [
        Curve(f"router:{family}", f"router {family}", ROUTER, _by_compute(points))
        for family, points in families.items()
    ]
    matched = []
    for i, entry in enumerate(_list(data, "matched", path)):
        where = f"{path}: matched[{i}].by_generations"
        if not isinstance(entry, Mapping) or "by_generations" not in entry:
            raise EvaluationError(f"{path}: matched[{i}] needs 'by_generations'")
        fixed = entry.get("fixed") or {}
        label = f"total:B = {fixed.get('name', 'fixed')}" if isinstance(fixed, Mapping) else None
        matched.append(_summary_point(entry["by_generations"], where, label))
    if matched:
        curves.append(
            Curve("router:matched", "router total:B, matched", ROUTER, _by_compute(matched))
        )
    sweep = []
    for i, entry in enumerate(_list(data, "sweep", path)):
        where = f"{path}: sweep[{i}]"
        if not isinstance(entry, Mapping):
            raise EvaluationError(f"{where}: expected an object")
        budget = _number(entry, "per_problem_budget", where)
        sweep.append(
            CurvePoint(
                budget=_number(entry, "mean_generations", where),
                accuracy=_number(entry, "accuracy", where),
                ci_low=math.nan,
                ci_high=math.nan,
                tokens=_number(entry, "mean_tokens", where),
                flops=_number(entry, "mean_flops", where),
                label=f"total:{budget:.3g}/problem",
            )
        )
    if sweep:
        curves.append(Curve("router:sweep", "router total:B sweep", ROUTER, _by_compute(sweep)))
    return curves


def _by_compute(points: Sequence[CurvePoint]) -> tuple[CurvePoint, ...]:
    return tuple(sorted(points, key=lambda p: (math.isnan(p.budget), p.budget)))


def read_evaluation(path: Path) -> dict[str, Any]:
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
    return data


def _names_artifact(data: Mapping[str, Any], artifact: Artifact, base: Path) -> bool:
    named = data.get("calibration")
    if not isinstance(named, str) or not named:
        return False
    candidate = Path(named)
    for root in (Path.cwd(), base):
        resolved = candidate if candidate.is_absolute() else root / candidate
        if resolved.exists() and resolved.resolve() == artifact.path.resolve():
            return True
    return False


def candidate_files(artifact: Artifact) -> list[tuple[Path, bool]]:
    """Evaluation files to try, with whether they must name this artifact (beside it)."""
    folder = artifact.path
    inside = [(p, False) for p in sorted(folder.glob(PATTERN)) if p.is_file()]
    beside = [(p, True) for p in sorted(folder.resolve().parent.glob(PATTERN)) if p.is_file()]
    return inside + beside


def find_router_curves(
    artifact: Artifact, explicit: Path | None = None
) -> tuple[list[Curve], list[str]]:
    """Router curves and notes (which file was used, which were passed over and why)."""
    if explicit is not None:
        data = read_evaluation(explicit)
        notes = [f"router results from {explicit}{_scope(data)}", *_headline(data)]
        if not _names_artifact(data, artifact, explicit.parent):
            notes.append(
                f"{explicit} names calibration {data.get('calibration')!r}, not {artifact.path}"
            )
        return router_curves(data, explicit), notes
    passed_over = []
    for path, must_name in candidate_files(artifact):
        try:
            data = read_evaluation(path)
            if must_name and not _names_artifact(data, artifact, path.parent):
                continue
            curves = router_curves(data, path)
        except EvaluationError as exc:
            passed_over.append(f"passed over {exc}")
            continue
        notes = [f"router results from {path}{_scope(data)}", *_headline(data), *passed_over]
        return curves, notes
    return [], passed_over


def _scope(data: Mapping[str, Any]) -> str:
    count = data.get("num_problems")
    problems = data.get("problems")
    parts = []
    if count is not None:
        parts.append(f"{count} held-out problems")
    if problems:
        parts.append(str(problems))
    return f" ({', '.join(parts)})" if parts else ""


def _headline(data: Mapping[str, Any]) -> list[str]:
    """The evaluation's own compute-to-match figure at the largest budget it reached."""
    reached = [
        entry
        for entry in data.get("to_match", []) or []
        if isinstance(entry, Mapping) and entry.get("ratio") is not None
    ]
    if not reached:
        return []
    top = max(reached, key=lambda entry: float(entry.get("budget", 0)))
    try:
        return [
            f"router (total:B sweep) matched {top['fixed']}'s {100 * float(top['target_accuracy']):.1f}%"
            f" with {float(top['router_generations']):.3g} generations per problem instead of "
            f"{float(top['fixed_generations']):.3g}: {float(top['ratio']):.2g}x less"
            + (" or better" if top.get("at_least") else "")
        ]
    except (KeyError, TypeError, ValueError):
        return []
