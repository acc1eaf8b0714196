"""The router's `ttc evaluate` results, read as curves for `ttc curves`.

The file is ``EvaluationReport.to_json()``; it is read back into the same typed records
(``calibration.store.evaluation_records``, below router/ so that both may use it): the router
policies (``router``), the best fixed strategy at each budget against the router under
``total:B`` at its compute (``matched``), and ``total:B`` over a grid (``sweep``).

Generations there are full-solution equivalents with the probe included, the same
unit as the table's budget N, so router points sit on the curves' generation axis.
The evaluation runs on held-out problems, not the calibration's, so its accuracies are
compared with its own fixed baselines (``matched[].fixed``, shown as "best fixed"), not
with the calibration curves; no reach against the calibration's target is computed.

Where the file is: ``--evaluation FILE``, else the newest of ``*evaluation*.json`` or
``evaluate/*.json`` inside the artifact folder, else of ``*evaluation*.json`` beside it
or ``runs/evaluate/<artifact name>/*.json`` (`ttc evaluate`'s default output) whose
``calibration`` names this artifact folder (``candidate_files``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from calibration.curves.data import ROUTER, Curve, CurvePoint
from calibration.store.evaluation_records import (
    EvaluationError,
    EvaluationReport,
    MethodSummary,
    read_report,
)
from calibration.strategy_names import short

PATTERN = "*evaluation*.json"
FIXED_KEY = "router:best-fixed"  # the evaluation's own fixed baselines (same problems)
MATCHED_KEY = "router:matched"  # total:B at each best fixed strategy's compute, in order
SWEEP_KEY = "router:sweep"
DEFAULT_OUTPUT = Path("runs") / "evaluate"  # where `ttc evaluate` writes by default


def _summary_point(method: MethodSummary, label: str) -> CurvePoint:
    return CurvePoint(
        budget=method.mean_generations,
        accuracy=method.accuracy,
        ci_low=method.ci_low,
        ci_high=method.ci_high,
        tokens=method.mean_tokens,
        flops=method.mean_flops,
        label=label,
    )


def _policy_family(policy: str, cost_unit: str | None) -> str:
    kind = policy.split(":", 1)[0]
    family = "N" if kind.replace(".", "", 1).isdigit() else kind
    return family + (" FLOPs" if cost_unit == "flops" else "")


def _policy_label(policy: str) -> str:
    return f"router N={policy}" if policy.replace(".", "", 1).isdigit() else f"router {policy}"


def _short_method(name: str) -> str:
    """'beam_search@8' -> 'beam@8' (the names `ttc evaluate` gives fixed runs)."""
    strategy, sep, budget = name.partition("@")
    return short(strategy) + (sep + budget if sep else "")


def router_curves(report: EvaluationReport) -> list[Curve]:
    """Curves from one evaluation: each policy kind, the best fixed strategy per budget on
    the same problems, the router at that strategy's compute, and the total:B sweep."""
    families: dict[str, list[CurvePoint]] = {}
    for method in report.router:
        policy = method.policy or method.name or "router"
        point = _summary_point(method, _policy_label(policy))
        families.setdefault(_policy_family(policy, method.cost_unit), []).append(point)
    curves = [
        Curve(f"router:{family}", f"router {family}", ROUTER, _by_compute(points))
        for family, points in families.items()
    ]
    fixed = [
        _summary_point(c.fixed, f"fixed {_short_method(c.fixed.name or str(c.budget))}")
        for c in report.matched
    ]
    matched = [_summary_point(c.by_generations, f"total:B ~ N={c.budget}") for c in report.matched]
    if fixed:
        curves.append(Curve(FIXED_KEY, "best fixed", ROUTER, tuple(fixed)))
    if matched:
        curves.append(Curve(MATCHED_KEY, "router total:B", ROUTER, tuple(matched)))
    sweep = [
        CurvePoint(
            budget=p.mean_generations,
            accuracy=p.accuracy,
            ci_low=math.nan,
            ci_high=math.nan,
            tokens=math.nan,
            flops=p.mean_flops,
            label=f"total:{p.per_problem_budget:.3g}/problem",
        )
        for p in report.sweep
    ]
    if sweep:
        curves.append(Curve(SWEEP_KEY, "router sweep", ROUTER, _by_compute(sweep)))
    return curves


def _by_compute(points: Sequence[CurvePoint]) -> tuple[CurvePoint, ...]:
    return tuple(sorted(points, key=lambda p: (math.isnan(p.budget), p.budget)))


def _names_artifact(report: EvaluationReport, folder: Path, base: Path) -> bool:
    named = report.calibration
    if not named:
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
        report = read_report(explicit)
        notes = [f"router results from {explicit}{_scope(report)}", *_headline(report)]
        if not _names_artifact(report, folder, explicit.parent):
            notes.append(f"{explicit} names calibration {report.calibration!r}, not {folder}")
        return router_curves(report), notes
    passed_over = []
    candidates = candidate_files(folder)
    for path, must_name in candidates:
        try:
            report = read_report(path)
            if must_name and not _names_artifact(report, folder, path.parent):
                continue
            curves = router_curves(report)
        except EvaluationError as exc:
            passed_over.append(f"passed over {exc}")
            continue
        others = [p for p, must in candidates if p != path and _usable(p, must, folder)]
        notes = [f"router results from {path}{_scope(report)}", *_headline(report), *passed_over]
        if others:
            notes.append(
                f"{len(others)} other evaluation file(s) found; pick one with --evaluation FILE"
            )
        return curves, notes
    return [], passed_over


def _usable(path: Path, must_name: bool, folder: Path) -> bool:
    try:
        report = read_report(path)
    except EvaluationError:
        return False
    return not must_name or _names_artifact(report, folder, path.parent)


def _scope(report: EvaluationReport) -> str:
    parts = [f"{report.num_problems} held-out problems"]
    if report.problems:
        parts.append(report.problems)
    return f" ({', '.join(parts)})"


def _headline(report: EvaluationReport) -> list[str]:
    """The evaluation's own compute-to-match figure at the largest budget it reached."""
    top = report.headline()
    if top is None or top.ratio is None or top.router_generations is None:
        return []
    ratio = top.ratio
    verdict = f"{ratio:.1f}x less" if ratio >= 1 else f"{1 / ratio:.1f}x more"
    bound = "at most " if top.at_least else ""
    return [
        f"on those problems the router (total:B) matched {top.fixed}'s "
        f"{100 * top.target_accuracy:.1f}% with {bound}"
        f"{top.router_generations:.3g} generations per problem instead of "
        f"{top.fixed_generations:.3g}: {verdict} compute"
    ]
