"""The answers file: one JSON line per problem, written as each problem finishes.

Resuming is reading this file back. Finished problems (``ok`` or ``no_answer``) are
skipped by the next run of the same command; ``failed`` ones are retried. A last line
cut short by a kill is dropped with a note (that problem is simply redone). When failed
records are about to be retried the kept lines are rewritten to a temporary file and
moved into place, so a crash in between never loses finished work.

Why each safeguard:

- *Fingerprints.* Every line carries ``run`` (the settings that produced it: the
  calibration manifest's sha256, model, backend, verifier, prompt, options, seed,
  budget policy, cost unit) and ``problem_sha256`` (of the problem text and reference).
  Problem ids repeat across problem sets (``sim-0000`` of ``simulator:50:1`` and of
  ``simulator:50:2`` are different problems), so resuming by id alone would hand back
  another problem's answer. A rerun whose settings or problems differ is refused with the
  difference named; ``overwrite`` starts the file afresh instead.
- *Only answers files are touched.* A file holding anything but answer records (a config
  file, a problems file, one line without a newline) is refused untouched, even with
  ``overwrite``.
- *Only regular files.* ``/dev/stdout``, ``/dev/null``, ``/dev/zero``, pipes and folders are
  refused before any compute, as is a path that cannot be created or written.
- *One writer at a time.* The file is locked (``flock``) for the whole run, so a second
  ``ttc solve`` on the same file stops at once instead of redoing and duplicating every
  problem. The lock stays on the file's current inode across the rewrite (the new file
  is locked before it replaces the old one; a waiter re-checks the inode).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from router.records import AnswerRecord
from strategies.problems import Problem, problem_sha256
from strategies.safe_files import (
    LockHeldError,
    PathKeptChangingError,
    atomic_write_locked,
    non_regular_kind,
    open_locked,
    remove_stale_temporaries,
)

RUN_KEY = "run"
PROBLEM_KEY = "problem_sha256"
# Which command-line flag each run setting comes from, to name a difference.
RUN_FLAGS: dict[str, str] = {
    "calibration_sha256": "--calibration",
    "model": "--model",
    "backend": "--backend",
    "verifier": "--verifier",
    "prompt_config": "--prompt-config",
    "backend_options": "--backend-option",
    "verifier_options": "--verifier-option",
    "seed": "--seed",
    "policy": "--budget",
    "cost_unit": "--cost-unit",
}
# How every record line starts (``AnswerRecord.to_json`` puts id and status first); a
# file whose only content is an unfinished line is an answers file only if it starts so.
_RECORD_START = re.compile(rb'^\{"id": "(?:[^"\\]|\\.)*", "status": "(?:ok|no_answer|failed)"')


class AnswersFileError(ValueError):
    """The output cannot be used (not an answers file, another run's, not a regular file,
    locked); nothing was changed."""


def normalise_run(run: Mapping[str, Any]) -> dict[str, Any]:
    """``run`` as it reads back from JSON (tuples become lists), for comparison."""
    normalised: dict[str, Any] = json.loads(json.dumps(dict(run), sort_keys=True))
    return normalised


@dataclass
class ExistingAnswers:
    """What an answers file already holds: finished and failed records in file order, by
    id, with each record's stored fingerprint and line number."""

    finished: dict[str, AnswerRecord] = field(default_factory=dict)
    failed: dict[str, AnswerRecord] = field(default_factory=dict)
    torn_tail: bool = False
    runs: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    problem_hashes: dict[str, str | None] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.finished and not self.failed


def parse_answers(raw: bytes, label: str) -> ExistingAnswers:
    """Parse an answers file's bytes; AnswersFileError when they are anything else."""
    existing = ExistingAnswers()
    *lines, tail = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line.decode("utf-8"))
            record = AnswerRecord.from_json(data)
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise AnswersFileError(
                f"{label}, line {number}: not a `ttc solve` answer record ({exc!r}); refusing "
                "to resume into it or overwrite it. Pass another --out, or move this file away."
            ) from None
        target, other = (
            (existing.finished, existing.failed)
            if record.finished
            else (existing.failed, existing.finished)
        )
        other.pop(record.id, None)
        target[record.id] = record
        run = data.get(RUN_KEY)
        existing.runs[record.id] = run if isinstance(run, dict) else None
        digest = data.get(PROBLEM_KEY)
        existing.problem_hashes[record.id] = digest if isinstance(digest, str) else None
        existing.lines[record.id] = number
    # Every record ends with "\n", so anything after the last one is a line cut by a kill,
    # if the file is an answers file at all: with no complete record before it, the cut
    # line itself must start the way a record does.
    if tail.strip():
        if existing.empty and not _RECORD_START.match(tail.lstrip()):
            raise AnswersFileError(
                f"{label}, line {len(lines) + 1}: not a `ttc solve` answer record (a line "
                "without a final newline that does not start like one); refusing to resume "
                "into it or overwrite it. Pass another --out, or move this file away."
            )
        existing.torn_tail = True
    return existing


def read_answers(path: Path) -> ExistingAnswers:
    if not path.exists():
        return ExistingAnswers()
    _require_regular(path, os.stat(path))
    return parse_answers(path.read_bytes(), str(path))


class AnswersWriter:
    """Checks, locks and appends to an answers file; each record is fsync'd on write.

    Construction does every check and takes the lock, so a caller can fail before any
    compute; ``run`` (the settings fingerprint) and ``problems`` enable the fingerprint
    checks, ``overwrite`` discards a mismatching (or any) earlier answers file. Use it
    as a context manager; ``notes`` says what was repaired or discarded.
    """

    def __init__(
        self,
        path: Path,
        run: Mapping[str, Any] | None = None,
        problems: Iterable[Problem] = (),
        *,
        overwrite: bool = False,
    ) -> None:
        self.path = path
        self.run = None if run is None else normalise_run(run)
        self.problem_hashes = {problem.id: problem_sha256(problem) for problem in problems}
        self.notes: list[str] = []
        self._fd: int | None = None
        self._appending = False
        self._created = not path.exists()
        self._fd = _open_locked(path)
        try:
            self.existing = parse_answers(_read_all(self._fd), str(path))
            if self.existing.torn_tail:
                self.notes.append(
                    f"discarded a half-written last line in {path} (left by an interrupted "
                    "run); that problem is redone"
                )
            mismatch = self._mismatch()
            if overwrite and not self.existing.empty:
                self.notes.append(
                    f"--overwrite: discarded the {len(self.existing.finished)} finished and "
                    f"{len(self.existing.failed)} failed answers {path} held"
                )
                self._truncate(0)
                self.existing = ExistingAnswers()
            elif mismatch:
                raise AnswersFileError(
                    f"{path} holds answers from another run: {mismatch}. Pass --overwrite "
                    "to start it afresh, or another --out to keep both."
                )
        except BaseException:
            self.close()
            raise

    # -- checks ------------------------------------------------------------------------

    def _mismatch(self) -> str:
        """'' when every earlier record may be reused by this run, else why not."""
        existing = self.existing
        if self.run is not None:
            for pid, run in existing.runs.items():
                line = existing.lines[pid]
                if run is None:
                    return (
                        f"line {line} was written by an older ttc-router that recorded no run "
                        "settings, so it cannot be checked against this run"
                    )
                if normalise_run(run) != self.run:
                    return f"line {line} was made with {describe_run_difference(run, self.run)}"
        for pid, digest in self.problem_hashes.items():
            stored = existing.problem_hashes.get(pid)
            if stored is not None and stored != digest:
                return (
                    f"line {existing.lines[pid]} answers a problem {pid!r} with another text or "
                    "reference answer than this problem set's (ids repeat across problem sets)"
                )
        return ""

    # -- writing -----------------------------------------------------------------------

    def __enter__(self) -> AnswersWriter:
        if self._fd is None:
            raise AnswersFileError(f"{self.path} is closed; make a new AnswersWriter")
        if self.existing.torn_tail or self.existing.failed:
            self._rewrite(list(self.existing.finished))
        self._appending = True
        return self

    def write(self, record: AnswerRecord) -> None:
        if self._fd is None or not self._appending:
            raise RuntimeError("AnswersWriter is not open; use it in a with-block")
        data = record.to_json()
        if self.run is not None:
            data[RUN_KEY] = self.run
        digest = self.problem_hashes.get(record.id)
        if digest is not None:
            data[PROBLEM_KEY] = digest
        _write_all(self._fd, (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(self._fd)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            if self._created and os.fstat(self._fd).st_size == 0:
                self.path.unlink(missing_ok=True)  # made by this run, which wrote nothing
            os.close(self._fd)  # releases the lock
            self._fd = None
        self._appending = False

    def _truncate(self, size: int) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)

    def _rewrite(self, keep: list[str]) -> None:
        """Keep only the lines of the ``keep`` ids (their latest), via a locked temporary."""
        assert self._fd is not None
        lines = _latest_lines(_read_all(self._fd), set(keep))
        mode = stat.S_IMODE(os.fstat(self._fd).st_mode)
        handle = atomic_write_locked(self.path, b"".join(lines), mode=mode)
        os.close(self._fd)
        self._fd = handle
        # a kill in the middle of an earlier rewrite (we hold the lock, so none is live)
        remove_stale_temporaries(self.path)


def describe_run_difference(before: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """'--seed 0 (this run: 1), ...' for every setting that differs."""
    old, new = normalise_run(before), normalise_run(now)
    parts = []
    for key in sorted(
        set(old) | set(new), key=lambda k: list(RUN_FLAGS).index(k) if k in RUN_FLAGS else 99
    ):
        if old.get(key) != new.get(key):
            flag = RUN_FLAGS.get(key, key)
            was, is_ = old.get(key), new.get(key)
            if key == "calibration_sha256":
                parts.append(
                    f"{flag}: another calibration artifact (manifest sha256 {str(was)[:12]}..., "
                    f"this run's {str(is_)[:12]}...)"
                )
            else:
                parts.append(f"{flag} {_shown(was)} (this run: {_shown(is_)})")
    return ", ".join(parts)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _latest_lines(raw: bytes, keep: set[str]) -> list[bytes]:
    """The last complete line of each kept id, in the order those lines appear."""
    chosen: dict[str, bytes] = {}
    for line in raw.split(b"\n")[:-1]:
        if not line.strip():
            continue
        pid = str(json.loads(line)["id"])
        if pid in keep:
            chosen.pop(pid, None)
            chosen[pid] = line + b"\n"
    return list(chosen.values())


# ---------------------------------------------------------------- the file itself


def _require_regular(path: Path, status: os.stat_result) -> None:
    kind = non_regular_kind(status.st_mode)
    if kind is not None:
        raise AnswersFileError(
            f"--out {path} is {kind}, not a regular file: `ttc solve` "
            "keeps a resumable answers file there (it reads it back to resume and appends "
            "to it). Pass a file path; print the answers with `cat` once it is written."
        )


def _check_creatable(path: Path) -> None:
    """A missing ``path`` can be created: its nearest existing ancestor is a writable folder."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise AnswersFileError(f"--out {path}: {ancestor} is a file, so no folder can go there")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise AnswersFileError(
            f"--out {path}: cannot create it, {ancestor} is not writable; pass another --out"
        )


def _refuse_standard_streams(path: Path, fd: int) -> None:
    """``--out /dev/stdout`` into a file: the summary would land among the records."""
    mine = os.fstat(fd)
    for stream, name in ((1, "standard output"), (2, "standard error")):
        try:
            other = os.fstat(stream)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (mine.st_dev, mine.st_ino):
            raise AnswersFileError(
                f"--out {path} is this command's {name}, where its messages go too; pass a "
                "file path and print the answers with `cat` once it is written"
            )


def _open_locked(path: Path) -> int:
    """Open (creating) ``path`` for reading and appending, locked; checks first. Opened
    without blocking, so that a pipe is refused instead of waited on."""
    if path.exists() or path.is_symlink():
        try:
            _require_regular(path, os.stat(path))
        except FileNotFoundError:
            raise AnswersFileError(f"--out {path} is a broken symbolic link") from None
    else:
        _check_creatable(path)

    def check(fd: int) -> None:
        _require_regular(path, os.fstat(fd))
        _refuse_standard_streams(path, fd)

    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_locked(path, flags, create_mode=0o644, check=check, attempts=10)
    except LockHeldError:
        raise AnswersFileError(
            f"{path} is being written by another `ttc solve` run; wait for it to finish "
            "(a rerun then resumes where it stopped) or pass another --out"
        ) from None
    except PathKeptChangingError:
        raise AnswersFileError(
            f"{path} keeps being replaced by another run; pass another --out"
        ) from None
    except OSError as exc:
        raise AnswersFileError(
            f"--out {path}: cannot open it for writing ({exc.strerror or exc})"
        ) from None
    os.set_blocking(fd, True)
    return fd


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]
