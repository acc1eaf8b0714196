"""Append-only JSONL shards that survive being killed at any moment.

Why this shape: calibration runs for hours, so every finished unit of work (a problem's
sample pool, a tree search) is written as one JSON line, flushed and fsync'd before the
next unit starts. A kill can then only leave a *half-written last line*; ``open`` detects
it (no trailing newline, or the last line is not valid JSON), truncates the file back to
the last complete line and says so. A malformed line anywhere else is real corruption and
stops the run with the file and line number instead of silently dropping work.

The first line of every shard is a header carrying the run's settings, so shards copied
from several machines can be checked against each other before they are merged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from strategies.safe_files import LockHeldError, PathKeptChangingError, open_locked

HEADER_KEY = "header"
# On every record: the sha256 of the problem's text and reference (strategies.problems.
# problem_sha256), checked against the problems of a run that resumes or merges.
PROBLEM_HASH = "problem_sha256"
# ``open`` modes as ``os.open`` flags (a writer appends, creating; a holder only reads).
_OPEN_FLAGS = {"ab+": os.O_RDWR | os.O_APPEND | os.O_CREAT, "rb": os.O_RDONLY}


class ShardError(RuntimeError):
    """A shard cannot be used: corrupt, locked by another run, or from other settings."""


@dataclass(frozen=True)
class ShardContents:
    header: dict[str, Any] | None
    records: list[dict[str, Any]]
    discarded_tail: bool


def read_shard(path: Path) -> ShardContents:
    """Read a shard without changing it; a torn last line is reported, not returned."""
    if not path.exists():
        return ShardContents(header=None, records=[], discarded_tail=False)
    lines, _good_bytes, torn = _split_complete_lines(path)
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ShardError(
                f"{path}:{number}: not valid JSON ({exc.msg}); the shard is corrupt "
                "(only the last line may be half-written by an interrupted run)"
            ) from None
        if not isinstance(data, dict):
            raise ShardError(f"{path}:{number}: expected a JSON object")
        if number == 1 and HEADER_KEY in data:
            header = data[HEADER_KEY]
        else:
            records.append(data)
    return ShardContents(header=header, records=records, discarded_tail=torn)


def _split_complete_lines(path: Path) -> tuple[list[bytes], int, bool]:
    """Complete lines, the byte length they cover, and whether a torn tail follows."""
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1  # 0 when there is no newline at all
    complete = raw[:end]
    tail = raw[end:]
    lines = [line for line in complete.split(b"\n") if line.strip()]
    torn = bool(tail.strip())
    # A final line that ends in a newline but is not valid JSON can only come from a
    # crash between write and flush of a later byte range on odd filesystems; treat it
    # as torn too, because nothing after it exists.
    if lines and not torn and not _is_json(lines[-1]):
        dropped = len(lines[-1]) + 1
        lines = lines[:-1]
        end -= dropped
        torn = True
    return lines, end, torn


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


class ShardWriter:
    """Exclusive appender to one shard; use as a context manager.

    Opening repairs a torn tail (truncating to the last complete line) and holds an
    advisory lock so two runs never interleave lines in the same file.
    """

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self.discarded_tail = False
        self._file: IO[bytes] | None = None

    def __enter__(self) -> ShardWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = locked_handle(self.path, "ab+")  # closed in __exit__
        self._file = handle
        lines, good_bytes, torn = _split_complete_lines(self.path)
        if torn:
            handle.truncate(good_bytes)
            _fsync(handle)
            self.discarded_tail = True
        if not lines or self._holds_only_another_header(lines):
            handle.truncate(0)
            self._write_lines([{HEADER_KEY: self.header}])
        return self

    def _holds_only_another_header(self, lines: list[bytes]) -> bool:
        """A shard with no work yet takes the current run's header (callers check work)."""
        if len(lines) != 1:
            return False
        try:
            data = json.loads(lines[0])
        except json.JSONDecodeError:
            return False
        return isinstance(data, dict) and HEADER_KEY in data and data[HEADER_KEY] != self.header

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Write records as complete lines and make them durable before returning."""
        self._write_lines(records)

    def _write_lines(self, records: Iterable[dict[str, Any]]) -> None:
        if self._file is None:
            raise ShardError(f"{self.path} is not open for writing")
        payload = b"".join(
            json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            for record in records
        )
        if payload:
            self._file.seek(0, os.SEEK_END)
            self._file.write(payload)
            _fsync(self._file)


def locked_handle(path: Path, mode: str) -> IO[bytes]:
    """``path`` opened (``mode`` "ab+" or "rb") with its exclusive writer lock, or a
    ShardError while another run holds it. The lock is on the file the path names once it
    is held: a shard rewritten whole (``--regrade``) is a new file moved over the old one,
    and a lock taken on the old one after the move guards nothing (strategies.safe_files)."""
    try:
        fd = open_locked(path, _OPEN_FLAGS[mode])
    except LockHeldError:
        raise ShardError(
            f"{path} is being written by another calibration run; "
            "wait for it to finish or give this run another --out folder"
        ) from None
    except PathKeptChangingError:
        raise ShardError(
            f"{path} keeps being replaced by another run; try again when it is done"
        ) from None
    return os.fdopen(fd, mode)


@contextmanager
def shard_lock(path: Path) -> Iterator[IO[bytes]]:
    """Hold ``path``'s writer lock without writing to it (a reader that will rewrite
    it, such as ``--regrade``, holds it from its read to its rewrite)."""
    handle = locked_handle(path, "rb")
    try:
        yield handle
    finally:
        handle.close()


def _fsync(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def iter_shard_paths(folder: Path, kind: str) -> Iterator[Path]:
    """Every shard of one kind in a folder, in a stable order."""
    yield from sorted(folder.glob(f"{kind}-*.jsonl"))


def shard_path(folder: Path, kind: str, index: int, count: int) -> Path:
    return folder / f"{kind}-{index:03d}-of-{count:03d}.jsonl"
