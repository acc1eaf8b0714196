"""Command-line options every ttc command reads the same way: the engines' ``KEY=VALUE``
options and the recorded pool to replay (``--pool``, ``--pool-split``; the problem spec
they make is ``runtime.sources.pool_spec``).

Why here and not in one command's module: `ttc calibrate`, `ttc solve`, `ttc evaluate`
and `ttc serve` must read them alike, and the router's commands should not import the
calibration pipeline to do so.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def add_pool_arguments(group: argparse._ArgumentGroup) -> None:
    """``--pool`` and ``--pool-split``, shared with `ttc solve` and `ttc evaluate`."""
    group.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar="FILE",
        help="recorded samples to replay (--backend replay): calibration shards or their "
        "folder, the generic pool JSONL, or search-and-learn's layout (JSONL or Parquet); "
        "repeatable",
    )
    group.add_argument(
        "--pool-split",
        metavar="I/N",
        help="use part I of N of the pool's problems (positions I, I+N, ... in file order), "
        "e.g. calibrate on 0/2 and evaluate held out on 1/2",
    )


def parse_options(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (``--backend-option`` and the like, for every command); values
    are read as JSON when they parse, else as strings."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} {item!r}: expected KEY=VALUE")
        try:
            value: Any = json.loads(raw, parse_constant=_not_finite, parse_float=_finite_float)
        except json.JSONDecodeError:
            value = raw
            if _reads_as_non_finite(raw):  # float() would read "nan" or "inf" later
                raise ValueError(f"{flag} {item!r}: {raw} is not a finite number") from None
        except ValueError:
            raise ValueError(f"{flag} {item!r}: {raw} is not a finite number") from None
        options[key.strip()] = value
    return options


def _reads_as_non_finite(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def _not_finite(name: str) -> Any:
    raise ValueError(name)


def _finite_float(text: str) -> float:
    """Why: ``timeout_s=nan`` passed every ``<= 0`` check an engine makes, and
    ``1e999`` reads as infinity; a number in an option must be finite."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value
