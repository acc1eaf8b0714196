"""`ttc curves` output: an aligned text table (80 columns), CSV, JSON or Markdown.

The text form is for people at a terminal: each curve takes two lines (accuracy in %,
then its 95% interval), budgets wrap into blocks that fit ``WIDTH`` columns, and the
report ends with the compute each curve needs to reach the target accuracy. It holds
no dates or wall times, so the same artifact always prints the same text. The other
forms are for programs: CSV has one row per point, JSON everything the report holds
(NaN written as null), Markdown one row per curve.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from calibration.curves.data import (
    AXIS_LABELS,
    OPTIMAL,
    ROUTER,
    STRATEGY,
    Curve,
    CurvePoint,
    CurvesReport,
    strategy_label,
)
from calibration.curves.evaluation import FIXED_KEY, MATCHED_KEY, SWEEP_KEY
from calibration.strategy_names import grid_tags, name_legend, unique_names

WIDTH = 80
NAME_WIDTH = 21
CELL_WIDTH = 8
# Curves too long for the text table (a sweep over a grid); plotted, and in CSV and JSON.
PLOT_ONLY: frozenset[str] = frozenset({SWEEP_KEY})
FORMATS: tuple[str, ...] = ("text", "csv", "json", "markdown")
JSON_SCHEMA_VERSION = 1
GROUP_TITLES = {
    STRATEGY: "fixed strategies, all problems",
    OPTIMAL: "compute-optimal: best strategy per bin, held-out (two-fold CV)",
    ROUTER: "router on held-out problems (ttc evaluate; probe in its compute)",
}
CSV_COLUMNS: tuple[str, ...] = (
    "group",
    "curve",
    "label",
    "point",
    "budget",
    "tokens",
    "flops",
    "accuracy",
    "ci_low",
    "ci_high",
)


def compact(value: float | None) -> str:
    """A number in at most six characters: 8, 5.25, 336, 1.35k, 52.0T."""
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) < 10:
        return f"{value:.2f}".rstrip("0").rstrip(".") or "0"
    if abs(value) < 1000:
        return f"{value:.0f}"
    for exponent, suffix in ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k")):
        scaled = value / 10**exponent
        if abs(scaled) >= 1:
            return f"{scaled:.3g}{suffix}" if abs(scaled) < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:.3g}"


def percent(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.1f}"


def interval(point: CurvePoint) -> str:
    if not (math.isfinite(point.ci_low) and math.isfinite(point.ci_high)):
        return ""
    return f"{100 * point.ci_low:.0f}-{100 * point.ci_high:.0f}"


def _row(name: str, cells: Sequence[str]) -> str:
    fitted = (c if len(c) < CELL_WIDTH else c[: CELL_WIDTH - 2] + "~" for c in cells)
    return (f"{name:<{NAME_WIDTH}}" + "".join(f"{c:>{CELL_WIDTH}}" for c in fitted)).rstrip()


def _blocks(budgets: Sequence[int]) -> list[list[int]]:
    per_block = max(1, (WIDTH - NAME_WIDTH) // CELL_WIDTH)
    return [list(budgets[i : i + per_block]) for i in range(0, len(budgets), per_block)]


def text_names(report: CurvesReport) -> dict[str, str]:
    """The name of each curve in the text table: a fixed strategy's name leaves its
    parameters to the legend under the table (``strategy_legend``), so it is never cut."""
    strategies = unique_names((c.key for c in report.group(STRATEGY)), strategy_label)
    return {c.key: strategies.get(c.key, c.label) for c in report.curves}


def strategy_legend(report: CurvesReport) -> list[str]:
    strategies = {c.key: c.key for c in report.group(STRATEGY)}
    names = {key: name for key, name in text_names(report).items() if key in strategies}
    legend = name_legend(names, parameters_only=True)
    return [*_packed(legend, "parameters: ", "  "), ""] if legend else []


def _packed(entries: Sequence[str], first: str, indent: str) -> list[str]:
    """Legend entries joined by ', ' into lines of at most WIDTH, never split inside one."""
    lines, current = [], first
    for entry in entries:
        if current.strip() and len(current) + len(entry) + 1 > WIDTH:
            lines.append(current.rstrip().rstrip(",").rstrip())
            current = indent
        current += entry + ", "
    lines.append(current.rstrip().rstrip(","))
    return lines


def _curve_lines(curve: Curve, budgets: Sequence[int], axis: str, name: str) -> list[str]:
    points = [curve.at_budget(b) for b in budgets]
    lines = [
        _row(
            "  " + name[: NAME_WIDTH - 3],
            [percent(p.accuracy) if p else "-" for p in points],
        ),
        _row("", [interval(p) if p else "" for p in points]),
    ]
    if axis != "generations":
        lines.append(_row(f"    {axis}", [compact(p.x(axis)) if p else "" for p in points]))
    return [line for line in lines if line.strip()]


def _budget_table(report: CurvesReport) -> list[str]:
    names = text_names(report)
    lines: list[str] = []
    for block in _blocks(report.budgets):
        lines.append(_row("", [f"N={b}" for b in block]))
        for group in (STRATEGY, OPTIMAL):
            curves = report.group(group)
            if not curves:
                continue
            lines.append(GROUP_TITLES[group])
            for curve in curves:
                lines.extend(_curve_lines(curve, block, report.axis, names[curve.key]))
        lines.append("")
    return lines


def _router_row(name: str, point: CurvePoint) -> str:
    return (
        f"  {name[:17]:<18}{compact(point.budget):>7}{compact(point.tokens):>8}"
        f"{compact(point.flops):>8}{percent(point.accuracy):>8}{interval(point):>10}"
    )


def _router_table(report: CurvesReport) -> list[str]:
    """Policies, then each best fixed strategy beside the router at its compute."""
    by_key = {c.key: c for c in report.group(ROUTER)}
    if not by_key:
        return []
    lines = [
        GROUP_TITLES[ROUTER],
        f"  {'policy':<18}{'N':>7}{'tokens':>8}{'FLOPs':>8}{'acc %':>8}{'95% int.':>10}",
    ]
    paired = {FIXED_KEY, MATCHED_KEY}
    for key, curve in by_key.items():
        if key in paired or key in PLOT_ONLY:
            continue
        lines.extend(_router_row(p.label or curve.label, p) for p in curve.points)
    fixed, matched = by_key.get(FIXED_KEY), by_key.get(MATCHED_KEY)
    if fixed is not None and matched is not None and len(fixed.points) == len(matched.points):
        lines.append("  at the best fixed strategy's compute, same problems:")
        for baseline, routed in zip(fixed.points, matched.points, strict=True):
            lines += [_router_row(baseline.label, baseline), _router_row(routed.label, routed)]
    else:
        for unpaired in (fixed, matched):
            if unpaired is not None:
                lines.extend(_router_row(p.label or unpaired.label, p) for p in unpaired.points)
    return [*lines, ""]


def _reach_text(report: CurvesReport, curve: Curve, reference: str | None) -> str:
    reached = report.reach[curve.key]
    if reached.compute is None:
        if not math.isfinite(reached.best_accuracy):
            return f"no {report.axis} figures"
        return f"not reached (best {percent(reached.best_accuracy)}%)"
    text = ("<=" if reached.at_first_point else "") + compact(reached.compute)
    savings = report.savings(curve.key)
    if savings is not None and curve.key != report.reference and reference:
        least = "at least " if reached.at_first_point else ""
        text = f"{text:>7}   {least}{savings:.1f}x less than {reference}"
    return text


def _reach_lines(report: CurvesReport) -> list[str]:
    if not math.isfinite(report.target):
        return []
    unit = AXIS_LABELS[report.axis]
    lines = [f"{unit} to reach {100 * report.target:.1f}% ({report.target_source}):"]
    names = text_names(report)
    reference = None if report.reference is None else names[report.reference]
    for curve in report.curves:
        if curve.key not in report.reach:
            continue
        text = _reach_text(report, curve, reference)
        if text[:1].isdigit() or text.startswith("<="):
            text = f"{text:>7}"
        lines.append(f"  {names[curve.key][: NAME_WIDTH - 3]:<{NAME_WIDTH - 2}}{text}")
    return [*lines, ""]


def _level_lines(report: CurvesReport) -> list[str]:
    if not report.levels:
        return []
    lines = [f"best strategy per {report.binning} level (1 = easiest; ties to the cheaper):"]
    measure = "score" if "score" in report.measure else "pass@1"
    tags = grid_tags(key for row in report.levels for key in row.best.values())
    for block in _blocks(report.budgets):
        lines.append(_row(f"  {'level':<6}{measure:<11}", [f"N={b}" for b in block]))
        for row in report.levels:
            span = (
                f"{row.value_range[0]:.2f}-{row.value_range[1]:.2f}"
                if row.value_range is not None
                else ""
            )
            cells = [tags[row.best[b]] if b in row.best else "-" for b in block]
            lines.append(_row(f"  {row.level:<6}{span:<11}", cells))
    legend = name_legend(tags)
    if legend:
        lines.extend(_packed(legend, "  ", "  "))
    return [*lines, ""]


def _footer_lines(report: CurvesReport) -> list[str]:
    lines = []
    if report.coverage:
        shown = ", ".join(f"k={k} {percent(v)}" for k, v in sorted(report.coverage.items()))
        lines.append(f"coverage pass@k %: {shown}")
    if report.coverage_fit is not None:
        fit = report.coverage_fit
        lines.append(f"  fitted law (Brown et al.): {fit.describe()}")
    elif report.coverage_note:
        lines.append(f"  {report.coverage_note}")
    metrics = report.predictor
    if metrics is not None:
        lines.append(
            f"difficulty predictor ({metrics.probe_k} probes, {metrics.folds}-fold CV): level "
            f"accuracy {100 * metrics.bin_accuracy:.1f}%, Spearman {metrics.spearman:.2f}, off by"
            f" >= 2 levels {100 * metrics.off_by_two_or_more:.1f}%; predicted-bins figures leave"
            " out the probe's cost"
        )
    else:
        lines.append("difficulty predictor: none in this artifact (no predicted bins)")
    lines.extend(f"note: {note}" for note in report.notes)
    return lines


def render_text(report: CurvesReport) -> str:
    info = report.info
    samples = "" if info.samples is None else f", K={info.samples} samples each"
    seeds = f"{info.seeds} seed" + ("" if info.seeds == 1 else "s")
    header = [
        f"ttc curves: {info.title}",
        f"{info.num_problems} problems{samples}, {seeds}. Accuracy in %, 95% interval below"
        + ("" if report.axis == "generations" else f", then mean {report.axis}")
        + ".",
        "",
    ]
    body = [
        *_budget_table(report),
        *strategy_legend(report),
        *_router_table(report),
        *_reach_lines(report),
        *_level_lines(report),
        *_footer_lines(report),
    ]
    return "\n".join(_wrap(line) for line in [*header, *body]).rstrip() + "\n"


def _wrap(line: str) -> str:
    """Prose lines longer than WIDTH break at spaces, continuation indented two more."""
    if len(line) <= WIDTH:
        return line
    lead = line[: len(line) - len(line.lstrip())]
    indent = lead + "  "
    words = line.strip().split(" ")
    out, current = [], lead + words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) > WIDTH:
            out.append(current)
            current = indent + word
        else:
            current = f"{current} {word}"
    out.append(current)
    return "\n".join(out)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def report_to_json(report: CurvesReport) -> dict[str, Any]:
    def point(p: CurvePoint) -> dict[str, Any]:
        return {k: (_finite(v) if isinstance(v, float) else v) for k, v in asdict(p).items()}

    fit = report.coverage_fit
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "artifact": asdict(report.info),
        "axis": report.axis,
        "binning": report.binning,
        "budgets": list(report.budgets),
        "target": _finite(report.target),
        "target_source": report.target_source,
        "reference": report.reference,
        "curves": [
            {
                "key": c.key,
                "label": c.label,
                "group": c.group,
                "points": [point(p) for p in c.points],
                "reach": _finite(report.reach[c.key].compute) if c.key in report.reach else None,
                "savings": report.savings(c.key),
            }
            for c in report.curves
        ],
        "coverage": {
            "points": [{"k": k, "pass_at_k": v} for k, v in sorted(report.coverage.items())],
            "fit": None
            if fit is None
            else {
                "a": fit.a,
                "b": fit.b,
                "r_squared": fit.r_squared,
                "ks": list(fit.ks),
                "excluded": list(fit.excluded),
            },
            "note": report.coverage_note,
        },
        "levels": [
            {
                "level": row.level,
                "size": row.size,
                "value_range": None if row.value_range is None else list(row.value_range),
                "best": [{"budget": b, "strategy": s} for b, s in sorted(row.best.items())],
            }
            for row in report.levels
        ],
        "predictor": None if report.predictor is None else report.predictor.to_json(),
        "notes": list(report.notes),
    }


def render_json(report: CurvesReport) -> str:
    return json.dumps(report_to_json(report), indent=1, allow_nan=False) + "\n"


def render_csv(report: CurvesReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for curve in report.curves:
        for p in curve.points:
            writer.writerow(
                {
                    "group": curve.group,
                    "curve": curve.key,
                    "label": curve.label,
                    "point": p.label,
                    "budget": repr(p.budget),
                    "tokens": repr(p.tokens),
                    "flops": repr(p.flops),
                    "accuracy": repr(p.accuracy),
                    "ci_low": repr(p.ci_low),
                    "ci_high": repr(p.ci_high),
                }
            )
    return buffer.getvalue()


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render_markdown(report: CurvesReport) -> str:
    reach_head = f"reaches {100 * report.target:.1f}% at ({report.axis})"
    head = ["curve", "group", *[f"N={b}" for b in report.budgets], reach_head]
    lines = [
        f"**{report.info.title}**",
        "",
        _markdown_row(head),
        _markdown_row(["---"] * len(head)),
    ]
    for curve in report.curves:
        cells = []
        for budget in report.budgets:
            p = curve.at_budget(budget)
            ci = "" if p is None else interval(p)
            cells.append("-" if p is None else percent(p.accuracy) + (f" ({ci})" if ci else ""))
        reached = report.reach.get(curve.key)
        lines.append(
            _markdown_row(
                [
                    curve.label,
                    curve.group,
                    *cells,
                    compact(None if reached is None else reached.compute),
                ]
            )
        )
    router = [(c, p) for c in report.group(ROUTER) if c.key not in PLOT_ONLY for p in c.points]
    if router:
        lines += [
            "",
            _markdown_row(["policy", "N", "tokens", "FLOPs", "accuracy %", "95% interval"]),
        ]
        lines.append(_markdown_row(["---"] * 6))
        for curve, p in router:
            lines.append(
                _markdown_row(
                    [
                        p.label or curve.label,
                        compact(p.budget),
                        compact(p.tokens),
                        compact(p.flops),
                        percent(p.accuracy),
                        interval(p),
                    ]
                )
            )
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[CurvesReport], str]] = {
    "text": render_text,
    "csv": render_csv,
    "json": render_json,
    "markdown": render_markdown,
}


def render(report: CurvesReport, fmt: str) -> str:
    try:
        return RENDERERS[fmt](report)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
