"""Writing a pool in the generic JSONL layout, the one to hand to other tools.

Why: calibration shards name problems by id only and keep grading fields of this
project's; the generic layout carries the problem text and reference with the samples,
so a pool exported once can be replayed anywhere (``--pool FILE``) without the shards'
problem source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from strategies.pools.records import RecordedProblem, SamplePool


def generic_record(problem: RecordedProblem) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": problem.id,
        "problem": problem.text,
        "answer": problem.answer,
    }
    record.update({k: v for k, v in problem.metadata.items() if k not in record})
    record["samples"] = [
        {
            "text": s.text,
            "answer": s.answer,
            "step_scores": None if s.step_scores is None else list(s.step_scores),
            "num_tokens": s.num_tokens,
            "finish_reason": s.finish_reason,
            "verifier_tokens": s.verifier_tokens,
        }
        for s in problem.samples
    ]
    return record


def write_generic_pool(pool: SamplePool, path: str | Path) -> Path:
    """Every problem of ``pool`` as one generic-layout line, after a header line."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "model": pool.recorded("model"),
        "verifier": pool.recorded("verifier"),
        "num_parameters": pool.num_parameters,
        "verifier_num_parameters": pool.verifier_num_parameters,
        "sources": [f.describe() for f in pool.files],
    }
    settings = {
        k: v
        for f in pool.files
        for k, v in f.settings.items()
        if k in ("prompt_config", "max_tokens")
    }
    header.update(settings)
    with out.open("w", encoding="utf-8") as stream:
        stream.write(json.dumps({"header": header}, ensure_ascii=False) + "\n")
        for problem in pool:
            stream.write(json.dumps(generic_record(problem), ensure_ascii=False) + "\n")
    return out
