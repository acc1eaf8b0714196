"""Re-read and re-grade a recorded calibration with today's answer extraction and grader.

Why: grading is the ground truth of every table, and it improves (new extraction tiers,
new normalisation rules) far more cheaply than sampling can be redone. Stage 1 shards
record every sample's full text, so its answer can be extracted again from the text and
graded again against the reference; the verifier's step scores depend on the text only
and stay as they are. Tree-search records keep only the chosen answer (not the texts),
so their answers stay and only their grades are recomputed.

Every shard's writer lock is taken before the first one is read and held until the last
is rewritten (a calibration writing into any of them makes this refuse at once), so no
record a resumed `ttc calibrate` appends can fall between the read and the rewrite.
Each shard is rewritten whole into a temporary file, locked, and moved over the old
one, so a kill leaves either the old shard or the new one, never a mix. Records are
edited in place (only ``answer`` and ``correct`` change), so every other field,
``problem_sha256`` among them, comes through as it was. ``ttc calibrate --regrade --out DIR``
then rebuilds the tables from the shards like ``--merge``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from calibration.sampling.grading import Grader
from calibration.store.records import ProblemSamples, SampleRecord, TreeRecord
from calibration.store.shards import ShardError, iter_shard_paths, read_shard, shard_lock
from calibration.store.work_state import (
    SAMPLES,
    TREE,
    SessionLog,
    append_session,
    artifact_lock,
    shards_folder,
)
from strategies.answers import extract_answer
from strategies.prompts import get_prompt_config
from strategies.safe_files import atomic_write_locked, remove_stale_temporaries


@dataclass(frozen=True)
class GradeCounts:
    """How many recorded samples / tree searches have an answer, and a right one."""

    samples: int = 0
    answered: int = 0
    correct: int = 0
    searches: int = 0
    searches_answered: int = 0
    searches_correct: int = 0

    @property
    def unanswered_share(self) -> float:
        return 1.0 - self.answered / self.samples if self.samples else 0.0

    @property
    def pass_at_1(self) -> float:
        """Mean over all samples (every problem has the same K) of being right."""
        return self.correct / self.samples if self.samples else 0.0

    def add(self, other: GradeCounts) -> GradeCounts:
        return GradeCounts(
            *(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__)
        )


@dataclass(frozen=True)
class RegradeReport:
    before: GradeCounts
    after: GradeCounts
    answers_changed: int
    grades_changed: int
    shards: tuple[Path, ...]

    def describe(self) -> str:
        b, a = self.before, self.after
        lines = [
            f"re-graded {b.samples} samples and {b.searches} tree searches "
            f"in {len(self.shards)} shards: {self.answers_changed} answers and "
            f"{self.grades_changed} grades changed",
            f"  samples without an answer: {b.unanswered_share:.1%} -> {a.unanswered_share:.1%}",
            f"  pass@1 (mean over samples): {b.pass_at_1:.3f} -> {a.pass_at_1:.3f}",
        ]
        if b.searches:
            lines.append(
                f"  tree searches right: {b.searches_correct}/{b.searches} -> "
                f"{a.searches_correct}/{a.searches}"
            )
        return "\n".join(lines)


def regrade_samples(pool: ProblemSamples, extraction: str) -> ProblemSamples:
    """The pool with each sample's answer extracted again from its text and graded again."""
    grade = Grader(pool.gold)
    samples = []
    for sample in pool.samples:
        answer = extract_answer(sample.text, extraction)
        samples.append(replace(sample, answer=answer, correct=grade(answer)))
    return replace(pool, samples=tuple(samples))


def regrade_shards(
    out: Path, progress: Callable[[str], object] = lambda line: None
) -> RegradeReport:
    """Rewrite every sample and tree shard in ``out``/shards with today's grading."""
    folder = shards_folder(out)
    sample_paths = list(iter_shard_paths(folder, SAMPLES))
    if not sample_paths:
        raise ShardError(f"no sample shards in {folder}: nothing to re-grade")
    started = time.perf_counter()
    before = after = GradeCounts()
    answers_changed = grades_changed = 0
    golds: dict[str, str] = {}
    tree_paths = list(iter_shard_paths(folder, TREE))
    with artifact_lock(folder), ExitStack() as held:
        for path in sample_paths + tree_paths:  # all of them, before the first read
            held.enter_context(shard_lock(path))
            # what a kill during an earlier re-grade left (this name before safe_files)
            path.with_name(path.name + ".regrade.tmp").unlink(missing_ok=True)
        remove_stale_temporaries(*sample_paths, *tree_paths)
        for path in sample_paths:
            header, records = _read_whole(path)
            extraction = _extraction_of(path, header)
            rewritten = []
            for number, data in enumerate(records, start=2):
                old = _parsed(path, number, data, ProblemSamples.from_json)
                new = regrade_samples(old, extraction)
                golds[new.problem_id] = new.gold
                before = before.add(_sample_counts(old.samples))
                after = after.add(_sample_counts(new.samples))
                for was, now in zip(old.samples, new.samples, strict=True):
                    answers_changed += was.answer != now.answer
                    grades_changed += was.correct != now.correct
                rewritten.append(_regraded_pool(data, new))
            _rewrite(path, header, rewritten, held)
            progress(f"{path.name}: {len(rewritten)} problems re-graded")
        for path in tree_paths:
            header, records = _read_whole(path)
            graders: dict[str, Grader] = {}
            rewritten = []
            for number, data in enumerate(records, start=2):
                record = _parsed(path, number, data, TreeRecord.from_json)
                gold = golds.get(record.problem_id)
                if gold is None:
                    raise ShardError(
                        f"{path}: tree search of problem {record.problem_id!r} has no sample "
                        "pool in the shards, so its reference answer is unknown"
                    )
                grade = graders.setdefault(record.problem_id, Grader(gold))
                new_record = replace(record, correct=grade(record.answer))
                grades_changed += new_record.correct != record.correct
                before = before.add(_search_counts(record))
                after = after.add(_search_counts(new_record))
                rewritten.append({**data, "correct": new_record.correct})
            _rewrite(path, header, rewritten, held)
            progress(f"{path.name}: {len(rewritten)} tree searches re-graded")
        append_session(
            folder,
            SessionLog(
                stage="regrade",
                shard="all",
                wall_time_s=time.perf_counter() - started,
                finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            ),
        )
    return RegradeReport(
        before, after, answers_changed, grades_changed, tuple(sample_paths + tree_paths)
    )


def _parsed(path: Path, number: int, data: dict[str, Any], parse: Callable[[Any], Any]) -> Any:
    """One shard record, or a ShardError naming the file and line (records follow the
    header line, so record k is line k + 1)."""
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        what = f"no field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise ShardError(f"{path}:{number}: not a record this shard can hold ({what})") from None


def _regraded_pool(data: dict[str, Any], pool: ProblemSamples) -> dict[str, Any]:
    """``data`` (a recorded pool) with each sample's answer and grade from ``pool``, and
    every other field, known to this version or not, as it was."""
    samples = [
        {**recorded, "answer": sample.answer, "correct": sample.correct}
        for recorded, sample in zip(data["samples"], pool.samples, strict=True)
    ]
    return {**data, "samples": samples}


def _sample_counts(samples: tuple[SampleRecord, ...]) -> GradeCounts:
    return GradeCounts(
        samples=len(samples),
        answered=sum(s.answer is not None for s in samples),
        correct=sum(s.correct for s in samples),
    )


def _search_counts(record: TreeRecord) -> GradeCounts:
    return GradeCounts(
        searches=1,
        searches_answered=int(record.answer is not None),
        searches_correct=int(record.correct),
    )


def _extraction_of(path: Path, header: dict[str, Any]) -> str:
    name = header.get("settings", {}).get("prompt_config")
    if not isinstance(name, str):
        raise ShardError(f"{path}: its header names no prompt configuration to re-grade with")
    return get_prompt_config(name).extraction


def _read_whole(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    contents = read_shard(path)
    if contents.discarded_tail:
        raise ShardError(
            f"{path} ends in a half-written line: resume the calibration that wrote it "
            "(it repairs the shard) before re-grading"
        )
    if contents.header is None:
        raise ShardError(f"{path} has no header line; it is not a calibration shard")
    return contents.header, contents.records


def _rewrite(
    path: Path, header: dict[str, Any], records: list[dict[str, Any]], held: ExitStack
) -> None:
    """Replace ``path`` atomically (its lock is held by the caller); the new file is
    locked before the move and stays locked in ``held``, so no writer can append to
    it until the whole re-grade is done."""
    lines = [{"header": header}, *records]
    payload = b"".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        for line in lines
    )
    held.callback(os.close, atomic_write_locked(path, payload))
