"""A decision pool: problems with graded samples and no searches, which the decision
model is fitted on beside the calibration's own problems (``fit.with_sampled``).

Why: recording every tree search on a problem costs hours on a CPU; sampling it costs
seconds. The decision model's stops and continuations are learnt from samples, so a
pool of several hundred sampled problems teaches them far more than the few dozen
problems with searches can (SmolLM2: see ``fit.with_sampled``).

The pool is a samples shard as ``ttc calibrate`` writes it (``shards/samples-*.jsonl``,
or gzipped, as ``artifacts/smollm2-pool/samples.jsonl.gz``). Its header names the
problem source the texts are read from, and the model, verifier and prompt that made
and graded the samples: a pool made otherwise is refused, because it would teach the
router another model's habits.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibration.store.records import ProblemSamples
from runtime.sources import load_source

# what the pool's samples must share with the calibration they join
MATCHING_SETTINGS = ("model", "verifier", "prompt_config")


class DecisionPoolError(ValueError):
    """A decision pool that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class DecisionPool:
    path: str
    sha256: str
    texts: dict[str, str]  # problem id -> text
    samples: dict[str, ProblemSamples]

    def describe(self) -> dict[str, Any]:
        """What the manifest records of it."""
        return {"path": self.path, "sha256": self.sha256, "problems": len(self.samples)}


def load_decision_pool(path: str | Path, settings: Mapping[str, Any]) -> DecisionPool:
    """The pool at ``path``, checked against the calibration's ``settings`` (model,
    verifier and prompt configuration must match)."""
    path = Path(path)
    if not path.is_file():
        raise DecisionPoolError(f"--decision-pool {path}: no such file")
    raw = path.read_bytes()
    try:
        text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DecisionPoolError(f"{path}: not a readable samples shard ({exc})") from None
    lines = text.split("\n")
    # a last line without its newline is one a running sampler is still writing: skip it,
    # as the shards' own reader does
    complete = lines[:-1] if lines else []
    header: dict[str, Any] | None = None
    samples: dict[str, ProblemSamples] = {}
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if number == 1 and isinstance(row, dict) and "header" in row:
                header = row["header"]
                continue
            record = ProblemSamples.from_json(row)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DecisionPoolError(f"{path}:{number}: not a samples record ({exc})") from None
        samples[record.problem_id] = record
    if header is None or header.get("kind") != "samples":
        raise DecisionPoolError(
            f"{path}:1: no samples-shard header; a decision pool is a samples shard that "
            "ttc calibrate wrote (shards/samples-*.jsonl)"
        )
    made = header.get("settings", {})
    for name in MATCHING_SETTINGS:
        if made.get(name) != settings.get(name):
            raise DecisionPoolError(
                f"{path}: its samples were made with {name} {made.get(name)!r}, this "
                f"calibration's is {settings.get(name)!r}"
            )
    try:
        problems = load_source(str(made["problems"])).problems
    except (KeyError, ValueError, OSError) as exc:
        raise DecisionPoolError(
            f"{path}: the problems its header names cannot be read ({exc})"
        ) from None
    texts = {p.id: p.text for p in problems if p.id in samples}
    return DecisionPool(
        path=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
        texts=texts,
        samples={pid: samples[pid] for pid in texts},
    )
