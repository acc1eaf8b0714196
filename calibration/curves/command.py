"""`ttc curves`: accuracy against compute for a calibration artifact, as text and PNG plots.

Examples::

    ttc curves artifacts/smollm2-arithmetic                       # aligned text table
    ttc curves runs/sim --x flops --png runs/sim/curves.png       # plus five PNG files
    ttc curves runs/sim --format csv > curves.csv                 # csv, json, markdown
    ttc curves runs/sim --bins predicted --target 0.8

The router's policies are shown when `ttc evaluate` results are found in or beside the
artifact (``calibration.curves.evaluation``), or given with ``--evaluation FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calibration.curves.data import X_AXES

BINNING_CHOICES: tuple[str, ...] = ("oracle", "verifier", "predicted", "absolute")


def parse_target(text: str) -> float:
    """An accuracy as a fraction (0.8) or a percentage (80 or 80%)."""
    cleaned = text.strip().rstrip("%")
    try:
        value = float(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--target {text!r}: expected an accuracy such as 0.8 or 80%"
        ) from None
    if text.strip().endswith("%") or value > 1:
        value /= 100
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"--target {text!r}: an accuracy must lie in (0, 1] (or (0, 100]%)"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", metavar="DIR", help="calibration artifact folder")
    parser.add_argument(
        "--x",
        dest="axis",
        choices=X_AXES,
        default="generations",
        help="compute axis: generations (the generation budget N, full-solution "
        "equivalents), tokens (mean generated tokens per problem) or flops (mean generator "
        "+ verifier FLOPs per problem); default generations",
    )
    parser.add_argument(
        "--bins",
        choices=BINNING_CHOICES,
        default="oracle",
        help="binning whose compute-optimal curve is drawn bold and whose levels the "
        "per-level plot and table show (the text table lists every binning); default oracle",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("text", "csv", "json", "markdown"),
        default="text",
        help="output on stdout: text (aligned, 80 columns), csv (one row per point), json "
        "(everything), markdown; default text",
    )
    parser.add_argument(
        "--target",
        type=parse_target,
        metavar="ACC",
        help="accuracy whose reach (compute needed) is reported for each curve, e.g. 0.8 or "
        "80%%; default: best-of-N's accuracy at its largest budget",
    )
    parser.add_argument(
        "--png",
        metavar="PATH",
        help="write plots: PATH.png gets the four-panel overview and PATH-accuracy.png, "
        "-bins, -coverage, -difficulty beside it; a folder gets overview.png, accuracy.png, ...",
    )
    parser.add_argument(
        "--evaluation",
        metavar="FILE",
        help="`ttc evaluate` results (JSON) to show the router's policies; default: found in "
        "or beside DIR when present",
    )


def run(args: argparse.Namespace) -> int:
    from calibration.curves.data import build_report
    from calibration.curves.evaluation import find_router_curves
    from calibration.curves.table import render
    from calibration.store.artifact import ArtifactError, load_artifact
    from calibration.store.evaluation_records import EvaluationError

    try:
        artifact = load_artifact(args.artifact)
    except ArtifactError as exc:
        print(f"ttc curves: error: {exc}", file=sys.stderr)
        return 2
    if args.bins not in artifact.table.binnings:
        known = ", ".join(sorted(artifact.table.binnings))
        print(
            f"ttc curves: error: {args.artifact} has no {args.bins!r} binning (it has: {known}); "
            "predicted bins need a difficulty predictor, trained on 10 or more problems",
            file=sys.stderr,
        )
        return 2
    try:
        router_curves, notes = find_router_curves(
            artifact.path, None if args.evaluation is None else Path(args.evaluation)
        )
    except EvaluationError as exc:
        print(f"ttc curves: error: {exc}", file=sys.stderr)
        return 2
    report = build_report(
        artifact,
        axis=args.axis,
        binning=args.bins,
        target=args.target,
        router_curves=router_curves,
        notes=notes,
    )
    sys.stdout.write(render(report, args.fmt))
    sys.stdout.flush()
    if args.png:
        from calibration.curves.plots import write_plots

        try:
            outcome = write_plots(report, artifact, args.png)
        except OSError as exc:  # a read-only folder, a full disk, a folder where a file goes
            where = exc.filename or args.png
            reason = exc.strerror or str(exc)
            print(
                f"ttc curves: error: --png {args.png}: cannot write {where}: {reason}",
                file=sys.stderr,
            )
            return 2
        for name, path in outcome.written.items():
            print(f"wrote {name} plot: {path}", file=sys.stderr)
        for name, reason in outcome.skipped.items():
            print(f"skipped {name} plot: {reason}", file=sys.stderr)
    return 0
