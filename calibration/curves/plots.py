"""The four pictures of `ttc curves`, as PNG files (matplotlib, headless).

1. ``accuracy``: accuracy against compute (log2 axis), one line per fixed strategy
   with its 95% interval shaded, the compute-optimal curve of the chosen binning (bold,
   held out) and the router's policies as points when evaluation results exist.
2. ``bins``: one panel per difficulty level, grouped bars of each strategy's accuracy at
   each budget with 95% intervals (as in Snell et al. and the Hugging Face blog).
3. ``coverage``: pass@k against k (log2 axis), measured and per oracle level, with the
   fitted law log c = a * k^b (``calibration.curves.coverage_law``) drawn past the largest k.
4. ``difficulty``: the difficulty predictor's levels against the oracle levels, a
   confusion matrix from its cross-validation (row-normalised colour, counts written).

Each goes to its own PNG, and the four tiled two by two to an overview PNG. Figures are
built on ``matplotlib.figure.Figure`` and drawn with the Agg canvas directly, never
through pyplot, so no GUI backend or global figure state is touched; every panel has the
same size in pixels (``PANEL``). A picture whose data the artifact lacks is skipped with
the reason, and the overview's tile says so in its place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calibration.curves.data import (
    AXIS_LABELS,
    BINNING_LABELS,
    OPTIMAL,
    ROUTER,
    STRATEGY,
    Curve,
    CurvePoint,
    CurvesReport,
    coverage_by_level,
    strategy_label,
)
from calibration.curves.evaluation import FIXED_KEY, SWEEP_KEY
from calibration.curves.table import compact, text_names
from calibration.store.artifact import Artifact

DPI = 100
PLOTS: tuple[str, ...] = ("accuracy", "bins", "coverage", "difficulty")
OVERVIEW = "overview"
PANEL: tuple[int, int] = (1000, 620)
SIZES: dict[str, tuple[int, int]] = {
    **dict.fromkeys(PLOTS, PANEL),
    OVERVIEW: (2 * PANEL[0], 2 * PANEL[1]),
}
TITLES = {
    "accuracy": "Accuracy against compute",
    "bins": "Accuracy per difficulty level",
    "coverage": "Coverage (pass@k)",
    "difficulty": "Predicted against oracle difficulty",
}


@dataclass(frozen=True)
class PlotOutcome:
    """Files written (by plot name, ``overview`` included) and plots skipped, with why."""

    written: dict[str, Path]
    skipped: dict[str, str]


def plot_paths(target: str | Path) -> dict[str, Path]:
    """Where each PNG goes.

    ``curves.png`` -> the overview there, and ``curves-accuracy.png``,
    ``curves-bins.png``, ... beside it; a folder (any path not ending in .png) ->
    ``overview.png``, ``accuracy.png``, ... inside it.
    """
    path = Path(target)
    if path.suffix.lower() == ".png":
        return {
            OVERVIEW: path,
            **{name: path.with_name(f"{path.stem}-{name}.png") for name in PLOTS},
        }
    return {name: path / f"{name}.png" for name in (OVERVIEW, *PLOTS)}


def _figure(name: str) -> Any:
    from matplotlib.figure import Figure

    width, height = SIZES[name]
    return Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")


def _palette(count: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(count)]


def _finite_points(points, axis):  # type: ignore[no-untyped-def]
    return [p for p in points if math.isfinite(p.x(axis)) and p.x(axis) > 0]


def _log2_axis(ax: Any) -> None:
    """Log2 x axis with ticks written as plain numbers (8, not 2^3; 1.35k, 52T)."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: compact(value)))


ROUTER_COLORS = ("deeppink", "saddlebrown", "teal", "olive", "gold", "darkslateblue")


def _draw_router(ax: Any, report: CurvesReport) -> None:
    """The router's evaluation (held-out problems): policies in reds, its fixed baselines
    on the same problems as grey crosses, the total:B sweep as a dotted line."""
    colors = iter(ROUTER_COLORS * 4)
    for curve in report.group(ROUTER):
        points = _finite_points(curve.points, report.axis)
        if not points:
            continue
        x = [p.x(report.axis) for p in points]
        y = [100 * p.accuracy for p in points]
        label = f"{curve.label} (held-out problems)"
        if curve.key == SWEEP_KEY:
            ax.plot(x, y, linestyle=":", color="deeppink", linewidth=1.5, label=label)
            continue
        errors = np.array(
            [
                [100 * (p.accuracy - p.ci_low) for p in points],
                [100 * (p.ci_high - p.accuracy) for p in points],
            ]
        )
        baseline = curve.key == FIXED_KEY
        ax.errorbar(
            x,
            y,
            yerr=np.where(np.isfinite(errors), errors, 0.0),
            marker="X" if baseline else "D",
            markersize=7,
            linestyle="--" if baseline else "none" if len(points) == 1 else "-",
            linewidth=0.8,
            color="dimgrey" if baseline else next(colors),
            capsize=3,
            label=label,
        )


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
# Each fixed strategy's points sit this far apart on the log2 axis (a fraction of a
# doubling), so strategies with equal figures at a budget (beam search and DVTS often
# are) are all seen rather than drawn over one another.
DODGE = 0.025
# Layers, bottom to top: interval bands, the compute-optimal envelope, the strategies.
ENVELOPE_Z, STRATEGY_Z = 2, 3


def accuracy_limits(report: CurvesReport) -> tuple[float, float]:
    """The y range (in %) the curves and their intervals span, with a margin, within
    0-100: a calibration whose strategies all lie between 15 and 50 % gets that band,
    not a flat bundle at the bottom of a 0-100 axis."""
    values = [
        100 * v
        for curve in report.curves
        for p in curve.points
        for v in (p.accuracy, p.ci_low, p.ci_high)
        if math.isfinite(v)
    ]
    if math.isfinite(report.target):
        values.append(100 * report.target)
    if not values:
        return 0.0, 100.0
    low, high = min(values), max(values)
    margin = max(5.0, 0.1 * (high - low))
    return max(0.0, math.floor((low - margin) / 5) * 5), min(
        100.0, math.ceil((high + margin) / 5) * 5
    )


def strategy_legend_label(key: str, name: str) -> str:
    """'beam search (depth=6, step_tokens=48, max_tokens=128)': the plot has room for the
    parameters the text table puts in its legend."""
    params = key.partition(":")[2]
    return f"{name} ({params.replace(',', ', ')})" if params else name


def dodge_factors(count: int) -> list[float]:
    """Multipliers of x that spread ``count`` curves symmetrically around each budget."""
    return [2 ** (DODGE * (i - (count - 1) / 2)) for i in range(count)]


def best_fixed_points(report: CurvesReport) -> list[tuple[Curve, CurvePoint]]:
    """Per budget, the most accurate fixed strategy's point (the baseline to beat)."""
    out = []
    for budget in report.budgets:
        at = [(c, p) for c in report.group(STRATEGY) if (p := c.at_budget(budget)) is not None]
        if at:
            out.append(max(at, key=lambda pair: pair[1].accuracy))
    return out


def draw_accuracy(container: Any, report: CurvesReport, artifact: Artifact) -> str | None:
    """The router's held-out curve is the headline, the expected oracle the limit, and the
    best fixed strategy per budget the baseline: only those three carry intervals or
    weight. Every strategy is a thin line with its own marker (seven interval bands used
    to overlap into one blur)."""
    ax = container.add_subplot()
    strategies = report.group(STRATEGY)
    names = text_names(report)
    styles = zip(strategies, _palette(len(strategies)), dodge_factors(len(strategies)), strict=True)
    for i, (curve, color, dodge) in enumerate(styles):
        points = _finite_points(curve.points, report.axis)
        if not points:
            continue
        x = [p.x(report.axis) * dodge for p in points]
        ax.plot(
            x,
            [100 * p.accuracy for p in points],
            marker=MARKERS[i % len(MARKERS)],
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            markersize=4,
            linewidth=0.8,
            alpha=0.7,
            color=color,
            label=strategy_legend_label(curve.key, names[curve.key]),
            zorder=STRATEGY_Z,
        )
    baseline = [(c, p) for c, p in best_fixed_points(report) if math.isfinite(p.x(report.axis))]
    if baseline:
        x = [p.x(report.axis) for _, p in baseline]
        ax.plot(
            x,
            [100 * p.accuracy for _, p in baseline],
            color="black",
            linewidth=2.2,
            marker="s",
            markersize=5,
            label="best fixed strategy at each N",
            zorder=ENVELOPE_Z,
        )
        ax.fill_between(
            x,
            [100 * p.ci_low for _, p in baseline],
            [100 * p.ci_high for _, p in baseline],
            color="black",
            alpha=0.08,
            linewidth=0,
            zorder=1,
        )
    # the decision model's curve is in generations only; elsewhere the bins' envelope leads
    headline = report.decision if report.axis == "generations" else None
    if headline is not None:
        ax.plot(
            [p.budget for p in headline.points],
            [100 * p.accuracy for p in headline.points],
            color="deeppink",
            linewidth=3.0,
            marker="o",
            markersize=4,
            label=f"{headline.label}: ttc solve, two-fold by problem",
            zorder=STRATEGY_Z + 1,
        )
    if report.limit is not None and report.axis == "generations":
        points = report.limit.points
        ax.plot(
            [p.budget for p in points],
            [100 * p.accuracy for p in points],
            color="dimgrey",
            linestyle="--",
            linewidth=1.6,
            label=report.limit.label,
            zorder=ENVELOPE_Z,
        )
    if headline is None:
        optimal = [c for c in report.group(OPTIMAL) if c.key == f"optimal:{report.binning}"]
        for curve in optimal:
            points = _finite_points(curve.points, report.axis)
            if points:
                ax.plot(
                    [p.x(report.axis) for p in points],
                    [100 * p.accuracy for p in points],
                    color="deeppink",
                    linewidth=3.0,
                    label=f"compute-optimal by {curve.label} (held out)",
                    zorder=STRATEGY_Z + 1,
                )
    _draw_router(ax, report)
    if math.isfinite(report.target):
        ax.axhline(100 * report.target, color="grey", linestyle="--", linewidth=0.8)
        ax.annotate(
            f"target {100 * report.target:.1f}%",
            xy=(0.01, 100 * report.target),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize=8,
            color="grey",
        )
    _log2_axis(ax)
    ax.set_xlabel(f"{AXIS_LABELS[report.axis]} (log2 scale)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(*accuracy_limits(report))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncols=2 if report.group(ROUTER) else 1)
    return None


def draw_bins(container: Any, report: CurvesReport, artifact: Artifact) -> str | None:
    binning = artifact.table.binning(report.binning)
    levels = [level for level in binning.levels if any(k[0] == level for k in binning.cells)]
    if not levels:
        return f"the table's {report.binning} binning has no cells"
    strategies = list(artifact.table.strategies)
    colors = _palette(len(strategies))
    budgets = list(artifact.table.budgets)
    axes = np.atleast_1d(container.subplots(1, len(levels), sharey=True))
    width = 0.8 / len(strategies)
    for ax, level in zip(axes, levels, strict=True):
        for s, (name, color) in enumerate(zip(strategies, colors, strict=True)):
            xs, heights, low, high = [], [], [], []
            for b, budget in enumerate(budgets):
                cell = binning.cells.get((level, budget))
                stats = None if cell is None else cell.strategies.get(name)
                if stats is None:
                    continue
                xs.append(b - 0.4 + width * (s + 0.5))
                heights.append(100 * stats.accuracy)
                low.append(100 * (stats.accuracy - stats.ci_low))
                high.append(100 * (stats.ci_high - stats.accuracy))
            if xs:
                ax.bar(
                    xs,
                    heights,
                    width=width,
                    color=color,
                    yerr=[low, high],
                    capsize=1.5,
                    error_kw={"linewidth": 0.6},
                    label=strategy_label(name) if level == levels[0] else None,
                )
        ax.set_xticks(range(len(budgets)), [str(b) for b in budgets], fontsize=8)
        ax.set_xlabel("budget N", fontsize=8)
        span = binning.value_ranges.get(level)
        subtitle = "" if span is None else f"\n{span[0]:.2f}-{span[1]:.2f}"
        easiest = (
            " (easiest)" if level == levels[0] else " (hardest)" if level == levels[-1] else ""
        )
        ax.set_title(f"level {level}{easiest}{subtitle}", fontsize=9)
        ax.set_ylim(0, 105)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    container.legend(loc="outside lower center", ncols=len(strategies), fontsize=8)
    return None


def draw_coverage(container: Any, report: CurvesReport, artifact: Artifact) -> str | None:
    if not report.coverage:
        return report.coverage_note or "the artifact has no coverage (pass@k) figures"
    ax = container.add_subplot()
    ks = sorted(report.coverage)
    ax.plot(
        ks,
        [100 * report.coverage[k] for k in ks],
        "o",
        color="black",
        markersize=7,
        label="pass@k, all problems",
        zorder=3,
    )
    by_level = (
        coverage_by_level(artifact, "oracle", ks) if "oracle" in artifact.table.binnings else {}
    )
    for (level, values), color in zip(by_level.items(), _palette(len(by_level)), strict=True):
        ax.plot(
            ks,
            [100 * v for v in values],
            color=color,
            linewidth=1,
            alpha=0.7,
            label=f"oracle level {level}",
        )
    fit = report.coverage_fit
    if fit is not None:
        grid = np.geomspace(1, max(ks) * 4, 200)
        ax.plot(
            grid,
            100 * fit.coverage(grid),
            "--",
            color="black",
            linewidth=1.5,
            label=f"fit log c = a·k^b: a = {fit.a:.3f}, b = {fit.b:.3f} (R² {fit.r_squared:.3f})",
        )
    else:
        ax.text(
            0.02,
            0.95,
            report.coverage_note,
            transform=ax.transAxes,
            fontsize=8,
            va="top",
            wrap=True,
        )
    _log2_axis(ax)
    ax.set_xlabel("samples k (log2 scale)")
    ax.set_ylabel("coverage pass@k (%)")
    ax.set_ylim(0, 102)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return None


def _confusion(report: CurvesReport, artifact: Artifact) -> tuple[np.ndarray, list[int]] | None:
    levels = (
        list(artifact.table.binnings["oracle"].levels)
        if "oracle" in artifact.table.binnings
        else []
    )
    metrics = report.predictor
    if metrics is not None and metrics.confusion:
        matrix = np.array(metrics.confusion, dtype=float)
        if matrix.shape == (len(levels), len(levels)):
            return matrix, levels
    problems = artifact.problems
    if {"oracle_level", "predicted_level"} <= set(problems.columns) and levels:
        known = problems[problems["oracle_level"].notna() & problems["predicted_level"].notna()]
        matrix = np.zeros((len(levels), len(levels)))
        index = {level: i for i, level in enumerate(levels)}
        for truth, guess in zip(known["oracle_level"], known["predicted_level"], strict=True):
            if int(truth) in index and int(guess) in index:
                matrix[index[int(truth)], index[int(guess)]] += 1
        if matrix.sum() > 0:
            return matrix, levels
    return None


def draw_difficulty(container: Any, report: CurvesReport, artifact: Artifact) -> str | None:
    if report.predictor is None:
        return (
            "the artifact has no difficulty predictor (it is trained only when the calibration "
            "has at least 10 problems), so there is no predicted difficulty to compare"
        )
    found = _confusion(report, artifact)
    if found is None:
        return "the artifact's predictor metrics hold no confusion matrix of levels"
    matrix, levels = found
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    ax = container.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(levels)):
        for j in range(len(levels)):
            ax.text(
                j,
                i,
                f"{int(matrix[i, j])}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if shares[i, j] > 0.5 else "black",
            )
    ticks = range(len(levels))
    ax.set_xticks(ticks, [str(level) for level in levels])
    ax.set_yticks(ticks, [str(level) for level in levels])
    ax.set_xlabel("predicted level (from probes, cross-validated)")
    ax.set_ylabel("oracle level (pass@1 quintile; 1 = easiest)")
    container.colorbar(image, ax=ax, label="share of the oracle level's probes", shrink=0.8)
    metrics = report.predictor
    ax.set_title(
        f"{metrics.probe_k} probes: level accuracy "
        f"{100 * metrics.bin_accuracy:.1f}%, Spearman {metrics.spearman:.2f}, "
        f"off by >= 2: {100 * metrics.off_by_two_or_more:.1f}%",
        fontsize=10,
    )
    return None


def heading(name: str, report: CurvesReport, artifact: Artifact) -> str:
    if name == "accuracy":
        if report.decision is not None and report.axis == "generations":
            return f"{TITLES[name]} ({report.axis}): the router, the best fixed strategy, the limit"
        return f"{TITLES[name]} ({report.axis}), compute-optimal by {report.binning} bins"
    if name == "bins":
        binning = artifact.table.binnings.get(report.binning)
        measure = "" if binning is None else f" ({binning.measure})"
        return f"{TITLES[name]}: {BINNING_LABELS.get(report.binning, report.binning)}{measure}"
    if name == "coverage":
        return f"{TITLES[name]} and Brown et al.'s law log c = a·k^b"
    return TITLES[name]


DRAWERS: dict[str, Callable[[Any, CurvesReport, Artifact], str | None]] = {
    "accuracy": draw_accuracy,
    "bins": draw_bins,
    "coverage": draw_coverage,
    "difficulty": draw_difficulty,
}


def _render(figure: Any) -> np.ndarray:
    """Draw a figure once into an RGBA array (Agg canvas, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def _placeholder(name: str, reason: str) -> Any:
    figure = _figure(name)
    figure.suptitle(TITLES[name], fontsize=12)
    figure.text(0.5, 0.5, f"not available:\n{reason}", ha="center", va="center", wrap=True)
    return figure


def _tile(images: list[np.ndarray]) -> np.ndarray:
    """Two by two, row by row; every panel has the same size (``PANEL``)."""
    top = np.concatenate(images[:2], axis=1)
    bottom = np.concatenate(images[2:4], axis=1)
    return np.concatenate([top, bottom], axis=0)


def write_plots(report: CurvesReport, artifact: Artifact, target: str | Path) -> PlotOutcome:
    """Write every plot the artifact allows, and the overview of all four.

    Each figure is drawn once; the overview tiles the four drawings (a skipped plot's
    tile says why it is missing), so it costs no second rendering.
    """
    from matplotlib.image import imsave

    paths = plot_paths(target)
    written: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    tiles = []
    for name in PLOTS:
        figure = _figure(name)
        reason = DRAWERS[name](figure, report, artifact)
        if reason is not None:
            skipped[name] = reason
            tiles.append(_render(_placeholder(name, reason)))
            continue
        figure.suptitle(f"{heading(name, report, artifact)}\n{report.info.title}", fontsize=11)
        image = _render(figure)
        tiles.append(image)
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        imsave(paths[name], image, format="png")
        written[name] = paths[name]
    paths[OVERVIEW].parent.mkdir(parents=True, exist_ok=True)
    imsave(paths[OVERVIEW], _tile(tiles), format="png")
    written[OVERVIEW] = paths[OVERVIEW]
    return PlotOutcome(written, skipped)
