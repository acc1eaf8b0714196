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
The evaluation runs on held-out problems, not the calibration's, so its accuracies are
compared with its own fixed baselines (``matched[].fixed``, shown as "best fixed"), not
with the calibration curves; no reach against the calibration's target is computed.
Other fields are ignored, so the reader keeps working as the evaluation grows.

Where the file is: ``--evaluation FILE``, else the newest of ``*evaluation*.json`` or
``evaluate/*.json`` inside the artifact folder, else of ``*evaluation*.json`` beside it
or ``runs/evaluate/<artifact name>/*.json`` (`ttc evaluate`'s default output) whose
``calibration`` names this artifact folder (``candidate_files``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from calibration.curves_data import ROUTER, Curve, CurvePoint
from calibration.strategy_names import short

PATTERN = "*evaluation*.json"
FIXED_KEY = "router:best-fixed"  # the evaluation's own fixed baselines (same problems)
MATCHED_KEY = "router:matched"  # total:B at each best fixed strategy's compute, in order
SWEEP_KEY = "router:sweep"
DEFAULT_OUTPUT = Path("runs") / "evaluate"  # where `ttc evaluate` writes by default


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


def _policy_family(policy: str, cost_unit: object) -> str:
    kind = policy.split(":", 1)[0]
    family = "N" if kind.replace(".", "", 1).isdigit() else kind
    return family + (" FLOPs" if cost_unit == "flops" else "")


def _policy_label(policy: str) -> str:
    return f"router N={policy}" if policy.replace(".", "", 1).isdigit() else f"router {policy}"


def _short_method(name: str) -> str:
    """'beam_search@8' -> 'beam@8' (the names `ttc evaluate` gives fixed runs)."""
    strategy, sep, budget = name.partition("@")
    return short(strategy) + (sep + budget if sep else "")


def router_curves(data: Mapping[str, Any], path: Path) -> list[Curve]:
    """Curves from one evaluation: each policy kind, the best fixed strategy per budget on
    the same problems, the router at that strategy's compute, and the total:B sweep."""
    families: dict[str, list[CurvePoint]] = {}
    for i, entry in enumerate(_list(data, "router", path)):
        where = f"{path}: router[{i}]"
        policy = str(entry.get("policy") or entry.get("name") or "router")
        point = _summary_point(entry, where, _policy_label(policy))
        families.setdefault(_policy_family(policy, entry.get("cost_unit")), []).append(point)
    curves = [
        Curve(f"router:{family}", f"router {family}", ROUTER, _by_compute(points))
        for family, points in families.items()
    ]
    fixed, matched = [], []
    for i, entry in enumerate(_list(data, "matched", path)):
        if not isinstance(entry, Mapping) or "by_generations" not in entry:
            raise EvaluationError(f"{path}: matched[{i}] needs 'by_generations'")
        budget = entry.get("budget", "?")
        if isinstance(entry.get("fixed"), Mapping):
            best = entry["fixed"]
            label = f"fixed {_short_method(str(best.get('name', budget)))}"
            fixed.append(_summary_point(best, f"{path}: matched[{i}].fixed", label))
        matched.append(
            _summary_point(
                entry["by_generations"],
                f"{path}: matched[{i}].by_generations",
                f"total:B ~ N={budget}",
            )
        )
    if fixed:
        curves.append(Curve(FIXED_KEY, "best fixed", ROUTER, tuple(fixed)))
    if matched:
        curves.append(Curve(MATCHED_KEY, "router total:B", ROUTER, tuple(matched)))
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
        curves.append(Curve(SWEEP_KEY, "router sweep", ROUTER, _by_compute(sweep)))
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


def _names_artifact(data: Mapping[str, Any], folder: Path, base: Path) -> bool:
    named = data.get("calibration")
    if not isinstance(named, str) or not named:
        return False
    candidate = Path(named)
    for root in (Path.cwd(), base):
        resolved = candidate if candidate.is_absolute() else root / candidate
        if resolved.exists() and resolved.resolve() == folder.resolve():
            return True
    return False


def candidate_files(folder: Path) -> list[tuple[Path, bool]]:
    """Evaluation files to try, in order, with whether they must name this artifact.

    Inside the artifact folder (``*evaluation*.json``, ``evaluate/*.json``) a file is
    taken as its own; beside it (``*evaluation*.json``) and in `ttc evaluate`'s default
    output folder (``runs/evaluate/<artifact name>/*.json``, from the working directory)
    a file must name this artifact in its ``calibration`` field. Newest first in each.
    """
    groups = [
        (list(folder.glob(PATTERN)) + list(folder.glob("evaluate/*.json")), False),
        (list(folder.resolve().parent.glob(PATTERN)), True),
        (list((Path.cwd() / DEFAULT_OUTPUT / folder.resolve().name).glob("*.json")), True),
    ]
    found: list[tuple[Path, bool]] = []
    for paths, must_name in groups:
        files = [p for p in paths if p.is_file()]
        files.sort(key=lambda p: (-p.stat().st_mtime, p.name))
        found.extend((p, must_name) for p in files if p not in {f for f, _ in found})
    return found


def find_router_curves(folder: Path, explicit: Path | None = None) -> tuple[list[Curve], list[str]]:
    """Router curves and notes (which file was used, which were passed over and why)."""
    if explicit is not None:
        data = read_evaluation(explicit)
        notes = [f"router results from {explicit}{_scope(data)}", *_headline(data)]
        if not _names_artifact(data, folder, explicit.parent):
            notes.append(f"{explicit} names calibration {data.get('calibration')!r}, not {folder}")
        return router_curves(data, explicit), notes
    passed_over = []
    candidates = candidate_files(folder)
    for path, must_name in candidates:
        try:
            data = read_evaluation(path)
            if must_name and not _names_artifact(data, folder, path.parent):
                continue
            curves = router_curves(data, path)
        except EvaluationError as exc:
            passed_over.append(f"passed over {exc}")
            continue
        others = [p for p, must in candidates if p != path and _usable(p, must, folder)]
        notes = [f"router results from {path}{_scope(data)}", *_headline(data), *passed_over]
        if others:
            notes.append(
                f"{len(others)} other evaluation file(s) found; pick one with --evaluation FILE"
            )
        return curves, notes
    return [], passed_over


def _usable(path: Path, must_name: bool, folder: Path) -> bool:
    try:
        data = read_evaluation(path)
    except EvaluationError:
        return False
    return not must_name or _names_artifact(data, folder, path.parent)


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
        ratio = float(top["ratio"])
        verdict = f"{ratio:.1f}x less" if ratio >= 1 else f"{1 / ratio:.1f}x more"
        bound = "at most " if top.get("at_least") else ""
        return [
            f"on those problems the router (total:B) matched {top['fixed']}'s "
            f"{100 * float(top['target_accuracy']):.1f}% with {bound}"
            f"{float(top['router_generations']):.3g} generations per problem instead of "
            f"{float(top['fixed_generations']):.3g}: {verdict} compute"
        ]
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return []
