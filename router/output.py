"""The answers file: one JSON line per problem, written as each problem finishes.

Resuming is reading this file back. Finished problems (``ok`` or ``no_answer``) are
skipped by the next run of the same command; ``failed`` ones are retried. A last line
cut short by a kill is dropped (that problem is simply redone). When anything has to go
(a torn line, failed records about to be retried) the kept lines are rewritten to a
temporary file and moved into place, so a crash in between never loses finished work.
A file that holds anything other than answer records is refused rather than touched.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from router.records import AnswerRecord


class AnswersFileError(ValueError):
    """The output file exists but is not a `ttc solve` answers file; nothing was changed."""


@dataclass
class ExistingAnswers:
    """What an answers file already holds: finished records in file order, by id."""

    finished: dict[str, AnswerRecord] = field(default_factory=dict)
    failed: dict[str, AnswerRecord] = field(default_factory=dict)
    torn_tail: bool = False


def read_answers(path: Path) -> ExistingAnswers:
    existing = ExistingAnswers()
    if not path.exists():
        return existing
    *lines, tail = path.read_bytes().split(b"\n")
    # Every record ends with "\n", so anything after the last one is a line cut by a kill.
    existing.torn_tail = bool(tail.strip())
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw.decode("utf-8"))
            record = AnswerRecord.from_json(data)
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise AnswersFileError(
                f"{path}, line {number}: not a `ttc solve` answer record ({exc!r}); refusing "
                "to resume into it. Pass another --out, or move this file away."
            ) from None
        if record.finished:
            existing.failed.pop(record.id, None)
            existing.finished[record.id] = record
        else:
            existing.finished.pop(record.id, None)
            existing.failed[record.id] = record
    return existing


class AnswersWriter:
    """Appends records, each flushed and fsync'd before ``write`` returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.existing = read_answers(path)
        self._stream: IO[str] | None = None

    def __enter__(self) -> AnswersWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.existing.torn_tail or self.existing.failed:
            _rewrite(self.path, list(self.existing.finished.values()))
        self._stream = self.path.open("a", encoding="utf-8")
        return self

    def write(self, record: AnswerRecord) -> None:
        if self._stream is None:
            raise RuntimeError("AnswersWriter is not open; use it in a with-block")
        self._stream.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _rewrite(path: Path, records: list[AnswerRecord]) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for record in records:
                stream.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
