"""Files that survive a kill at any moment and a second writer at the same time.

Why one module: a calibration runs for hours, ``ttc solve`` resumes from its answers file,
and an artifact is verified by hash on every load, so a kill must leave each file either
as it was or as it was meant to be, never half-written, and two runs must never write one
file at once. These rules were written separately in six modules; here they are written
once, below every layer (strategies.problems writes problem files too).

- :func:`atomic_write` puts the content in a temporary file in the same folder (``os.replace``
  is atomic only within one file system), fsyncs it and moves it over the target, so a
  reader sees the old file or the new one. Temporaries are named ``.NAME.XXXXXXXX.tmp``.
- :func:`atomic_write_locked` does the same and hands back the new file open and locked:
  a writer that holds a file's lock keeps holding it across the rewrite.
- :func:`open_locked` takes a file's exclusive ``flock`` without waiting, and makes sure
  the lock is on the file the path names once it is held: a rewrite may move a new file
  over the path between the open and the lock, and a lock on the old one guards nothing.
- :func:`exclusive_lock` waits for a lock file, to run one section at a time.
- :func:`remove_stale_temporaries` deletes the temporaries a kill left behind.
- :func:`non_regular_kind` names what a path is when it is not a regular file, so that a
  refusal can say "a pipe" or "a folder".

Locks are advisory (``flock``): they exclude every writer that takes them, which all of
this project's writers do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

NEW_FILE_MODE = 0o644
"""The permissions of a file that replaces none: readable by all (artifacts, answers and
problem files are meant to be shared), unlike ``mkstemp``'s private 0o600."""

_TEMPORARY_SUFFIX = ".tmp"


class LockError(Exception):
    """A file's lock could not be taken; callers turn it into their own message."""


class LockHeldError(LockError):
    """Another process (or another open file in this one) holds the lock."""


class PathKeptChangingError(LockError):
    """The path named a new file on every try: another writer keeps replacing it."""


def atomic_write(
    path: Path, content: bytes | str | Callable[[Path], object], *, mode: int | None = None
) -> Path:
    """Replace ``path`` (creating its folder) with ``content`` in one step; returns ``path``.

    ``content`` is bytes, text (written as UTF-8), or a function that writes the file it is
    given (for writers that want a path, such as ``DataFrame.to_parquet``). If anything
    fails, ``path`` stays as it was and the temporary is removed; a kill leaves at most a
    temporary, which :func:`remove_stale_temporaries` finds. ``mode`` defaults to the
    permissions of the file replaced, or :data:`NEW_FILE_MODE` for a new one.
    """
    os.close(_write_and_replace(Path(path), content, mode, lock=False))
    return Path(path)


def atomic_write_locked(path: Path, content: bytes, *, mode: int | None = None) -> int:
    """:func:`atomic_write`, except that the new file is locked before it replaces the old
    one and is returned as an open descriptor (read-write, at its end) that holds the
    lock until the caller closes it.

    Why: a writer holding ``path``'s lock that rewrites it must not give the lock up for a
    moment, or a second writer could slip in between; the temporary can be locked without
    waiting because nobody else can know its name yet.
    """
    return _write_and_replace(Path(path), content, mode, lock=True)


def _write_and_replace(
    path: Path, content: bytes | str | Callable[[Path], object], mode: int | None, *, lock: bool
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    permissions = _permissions(path) if mode is None else mode
    handle, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX
    )
    temporary = Path(name)
    try:
        if lock:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if callable(content):
            os.close(handle)
            handle = -1
            content(temporary)
            handle = os.open(temporary, os.O_RDONLY)  # to fsync what the writer wrote
        else:
            _write_all(handle, content.encode("utf-8") if isinstance(content, str) else content)
        os.fsync(handle)
        os.fchmod(handle, permissions)
        os.replace(temporary, path)
    except BaseException:
        if handle >= 0:
            os.close(handle)
        temporary.unlink(missing_ok=True)
        raise
    return handle


def _permissions(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return NEW_FILE_MODE


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def remove_stale_temporaries(*paths: Path) -> list[Path]:
    """Delete the temporaries of ``paths`` (``.NAME.<anything without a dot>.tmp`` beside
    each) that a kill during an earlier write left behind; returns those removed.

    Call it only while holding the lock every writer of these files takes: a temporary of
    a live writer looks the same as a stale one. Symbolic links and anything but a regular
    file are left alone (such a name was not made here), and so are temporaries of other
    files whose names start the same (``.a.jsonl.b.jsonl.XXXX.tmp`` belongs to
    ``a.jsonl.b.jsonl``, not to ``a.jsonl``).
    """
    removed: list[Path] = []
    for path in paths:
        prefix = f".{path.name}."
        for stale in path.parent.glob(f"{_glob_escape(prefix)}*{_TEMPORARY_SUFFIX}"):
            middle = stale.name[len(prefix) : -len(_TEMPORARY_SUFFIX)]
            if "." in middle or stale.is_symlink() or not stale.is_file():
                continue
            with contextlib.suppress(OSError):
                stale.unlink()
                removed.append(stale)
    return removed


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def open_locked(
    path: Path,
    flags: int,
    *,
    create_mode: int = 0o666,
    check: Callable[[int], None] | None = None,
    attempts: int = 100,
) -> int:
    """``path`` opened with ``os.open(path, flags, create_mode)`` and its exclusive lock
    held; the caller closes the descriptor, which releases the lock.

    ``check`` sees the open descriptor before the lock is taken and may raise to refuse the
    file (a pipe, standard output); the descriptor is then closed. Raises
    :class:`LockHeldError` at once when another holder has the lock, and
    :class:`PathKeptChangingError` when the path named a new file on each of ``attempts``
    tries (each replacement between open and lock costs one). ``OSError`` from opening
    passes through.
    """
    for _ in range(attempts):
        fd = os.open(path, flags, create_mode)
        try:
            if check is not None:
                check(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockHeldError(f"{path} is locked by another writer") from None
            if _names(path, fd):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # replaced between open and lock: lock the file there now
    raise PathKeptChangingError(f"{path} was replaced on each of {attempts} tries to lock it")


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` (created with its folder if missing) for the ``with``
    block, waiting while another holder has it.

    For a section that must run one at a time (writing an artifact). The lock file itself
    is never replaced, so no inode check is needed, unlike :func:`open_locked`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


def non_regular_kind(mode: int) -> str | None:
    """None when ``mode`` (an ``st_mode``) is a regular file's, else what the file is
    ("a folder", "a pipe", ...), for a message that refuses it.

    Why refuse: a writer that reads its file back to resume would hang on a pipe, read
    nothing from ``/dev/null`` and mix its records into a terminal's output.
    """
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")
