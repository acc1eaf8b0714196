"""The text table `ttc evaluate` prints (the JSON file is ``EvaluationReport.to_json``)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from calibration.store.evaluation_records import (
    ComputeToMatch,
    EvaluationReport,
    MethodSummary,
    OracleLimit,
)
from calibration.strategy_names import LabelNames


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}"


def _ci(method: MethodSummary) -> str:
    return f"[{100 * method.ci_low:4.1f},{100 * method.ci_high:5.1f}]"


def _signed_ci(difference: tuple[float, float, float]) -> str:
    point, low, high = difference
    return f"{100 * point:+5.1f} [{100 * low:+5.1f},{100 * high:+5.1f}]"


def _method_rows(methods: Sequence[MethodSummary], with_mix: bool, names: LabelNames) -> list[str]:
    width = max([len(names(m.name)) for m in methods] + [6])
    rows = [f"  {'method':<{width}}  acc %  95% CI        gens/prob  FLOPs/prob"]
    for m in methods:
        row = (
            f"  {names(m.name):<{width}}  {_pct(m.accuracy)}  {_ci(m):<12}  "
            f"{m.mean_generations:9.2f}  {m.mean_flops:10.3g}"
        )
        if m.failed:
            row += f"  ({m.failed} failed)"
        rows.append(row)
        if with_mix and m.mix:
            shown = ", ".join(f"{names(name)} x{count}" for name, count in list(m.mix.items())[:6])
            rows.append(f"  {'':<{width}}    chose: {shown}")
    return rows


def _match_rows(rows: Sequence[ComputeToMatch], names: LabelNames) -> list[str]:
    out = ["  N     best fixed               target  fixed gens  router gens  saving"]
    for c in rows:
        if c.router_generations is None:
            needed, saving = "not reached", "-"
        else:
            needed = ("<=" if c.at_least else "  ") + f"{c.router_generations:7.2f}"
            saving = f"{c.ratio:.2f}x" if c.ratio is not None else "-"
        out.append(
            f"  {c.budget:<4}  {names(c.fixed):<23}  {_pct(c.target_accuracy)}%  "
            f"{c.fixed_generations:10.2f}  {needed:>11}  {saving:>6}"
        )
    return out


def _matched_rows(report: EvaluationReport, unit: str, names: LabelNames) -> list[str]:
    """Best fixed strategy at each N against the router under total:B at its compute."""
    flops = unit == "flops"
    if flops and report.matched and all(c.by_flops is None for c in report.matched):
        return [
            "Matched compute in FLOPs: not measured, this calibration records no FLOPs (a pool "
            "replay): generations are the cost"
        ]
    title = "FLOPs" if flops else "generations"
    rows = [
        f"Matched compute in {title}: router under total:B, B = the best fixed strategy's "
        f"total {title}",
        f"  N     best fixed              acc %  router acc %  {'FLOPs/prob' if flops else 'gens/prob'}"
        "   difference [95% CI]",
    ]
    over = False
    for c in report.matched:
        routed = c.by_flops if flops else c.by_generations
        difference = c.by_flops_difference if flops else c.by_generations_difference
        if routed is None or difference is None:
            continue
        spent, limit = (
            (routed.mean_flops, c.fixed.mean_flops)
            if flops
            else (routed.mean_generations, c.fixed.mean_generations)
        )
        mark = "*" if spent > limit * (1 + 1e-9) else " "
        over = over or mark == "*"
        rows.append(
            f"  {c.budget:<4}  {names(c.fixed.name):<22}  {_pct(c.fixed.accuracy)}         "
            f"{_pct(routed.accuracy)}  {format(spent, '9.3g' if flops else '9.2f')}{mark}  "
            f"{_signed_ci(difference)}"
        )
    if over:
        rows.append(
            "  * more than B: (FLOPs) a run cost more than the calibration's estimate of it"
        )
    return rows


def _oracle_rows(rows: Sequence[OracleLimit]) -> list[str]:
    out = [
        "One-draw oracle (the cheapest fixed run that happened to solve each problem in this "
        "draw: it credits luck, so it overstates the limit; the expected oracle over several "
        "draws is python -m scripts.pool_evaluations REPORTS)",
        "  N     target  fixed gens  oracle gens  oracle saving  router gens  gap closed",
    ]
    for o in rows:
        oracle = "-" if o.oracle_generations is None else f"{o.oracle_generations:11.2f}"
        ratio = "-" if o.oracle_ratio is None else f"{o.oracle_ratio:.2f}x"
        router = "-" if o.router_generations is None else f"{o.router_generations:11.2f}"
        gap = "-" if o.gap_closed is None else f"{100 * o.gap_closed:.0f}%"
        out.append(
            f"  {o.budget:<4}  {_pct(o.target_accuracy)}%  {o.fixed_generations:10.2f}  "
            f"{oracle:>11}  {ratio:>12}  {router:>11}  {gap:>10}"
        )
    return out


def _overlap_lines(report: EvaluationReport) -> list[str]:
    shared = report.overlap_with_calibration
    if shared is None:
        return ["  (could not check these problems against the calibration's own)"]
    if shared == 0:
        return ["  none of these problems was in the calibration set"]
    return [
        f"  NOTE: {shared} of these problems (same text) were also in the calibration set, "
        "so they are not held out"
    ]


def format_report(report: EvaluationReport) -> str:
    labels = [m.name for m in report.fixed] + [k for m in report.router for k in m.mix]
    names = LabelNames(labels)
    lines = [
        f"ttc evaluate: {report.num_problems} held-out problems ({report.problems})",
        f"  calibration {report.calibration}: model {report.model}, verifier "
        f"{report.verifier}, first tranche {report.probe_k} sample(s), seed {report.seed}",
        f"  intervals: 95% paired bootstrap over problems ({report.resamples} resamples)",
        "  gens/prob: full-solution generations per problem, every round included",
        *_overlap_lines(report),
        "",
        "Fixed strategies (every problem at budget N)",
        *_method_rows(report.fixed, with_mix=False, names=names),
        "",
        "Router policies",
        *_method_rows(report.router, with_mix=True, names=names),
        "",
    ]
    lines += _matched_rows(report, "generations", names)
    lines.append("")
    lines += _matched_rows(report, "flops", names)
    shown = [
        p
        for i, p in enumerate(report.sweep)
        if i == 0
        or (p.mean_generations, p.accuracy)
        != (report.sweep[i - 1].mean_generations, report.sweep[i - 1].accuracy)
    ]  # a saturated router spends the same at every larger B: show that point once
    sweep = ", ".join(f"{p.mean_generations:.2f} -> {_pct(p.accuracy).strip()}%" for p in shown)
    lines += [
        "",
        "Router under total:B (gens/prob -> accuracy):",
        textwrap.fill(sweep, width=96, initial_indent="  ", subsequent_indent="  "),
        "",
        "Compute to match: router generations per problem to reach the best fixed strategy",
        *_match_rows(report.to_match, names),
    ]
    if report.to_match_sampling:
        lines += [
            "",
            "... and to reach the best sampling strategy (majority / best-of-N, the paper's "
            "baseline)",
            *_match_rows(report.to_match_sampling, names),
        ]
    if report.oracle:
        lines += ["", *_oracle_rows(report.oracle)]
    headline = report.headline()
    lines.append("")
    if headline is not None and headline.ratio is not None:
        lines.append(
            f"Headline: the router matches {names(headline.fixed)} "
            f"({_pct(headline.target_accuracy).strip()}%) with "
            f"{headline.router_generations:.2f} generations per problem instead of "
            f"{headline.fixed_generations:.2f}: {headline.ratio:.2f}x "
            f"{'less' if headline.ratio >= 1 else 'MORE'} compute."
        )
    else:
        lines.append("Headline: the router did not reach the best fixed strategy's accuracy.")
    legend = names.legend()
    if legend:
        lines += ["", "Strategies: " + "; ".join(legend)]
    lines.append(f"({report.wall_time_s:.1f} s)")
    return "\n".join(lines)
