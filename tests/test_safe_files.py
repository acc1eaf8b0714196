"""strategies.safe_files: atomic replacement, locks, stale temporaries, regular-file checks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import strategies.safe_files as safe_files
from strategies.safe_files import (
    LockHeldError,
    PathKeptChangingError,
    atomic_write,
    atomic_write_locked,
    exclusive_lock,
    non_regular_kind,
    open_locked,
    remove_stale_temporaries,
)

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a second process (the repository importable), ``args`` as argv[1:]."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


TRY_LOCK = """
    import os, sys
    from pathlib import Path
    from strategies.safe_files import LockHeldError, open_locked
    try:
        fd = open_locked(Path(sys.argv[1]), os.O_RDONLY)
    except LockHeldError:
        print("held")
    else:
        os.close(fd)
        print("taken")
"""


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- atomic_write


@pytest.mark.parametrize("content", [b"new\n", "new\n", lambda tmp: tmp.write_bytes(b"new\n")])
def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path, content):
    path = tmp_path / "sub" / "file.jsonl"
    assert atomic_write(path, content) == path
    assert path.read_bytes() == b"new\n"
    assert _files(path.parent) == ["file.jsonl"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0o600


def test_text_is_written_as_utf8(tmp_path):
    path = atomic_write(tmp_path / "f.txt", "√2 ≈ 1.414\n")
    assert path.read_bytes() == "√2 ≈ 1.414\n".encode()


def test_a_writer_failing_midway_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_bytes(b"old\n")

    def half_then_fail(temporary: Path) -> None:
        temporary.write_bytes(b"ne")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old\n"
    assert _files(tmp_path) == ["answers.jsonl"]


def test_a_failing_fsync_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "table.json"
    path.write_bytes(b"old\n")

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(safe_files.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        atomic_write(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert _files(tmp_path) == ["table.json"]


def test_a_kill_midway_leaves_the_old_file_and_a_temporary_that_is_then_removed(tmp_path):
    path = tmp_path / "table.json"
    path.write_bytes(b"old\n")
    killed = _python(
        """
        import os, signal, sys
        from pathlib import Path
        from strategies.safe_files import atomic_write

        def half_then_killed(temporary):
            temporary.write_bytes(b"ne")
            os.kill(os.getpid(), signal.SIGKILL)

        atomic_write(Path(sys.argv[1]), half_then_killed)
        """,
        str(path),
    )
    assert killed.returncode == -9, killed.stderr
    assert path.read_bytes() == b"old\n"
    (stale,) = [p for p in tmp_path.iterdir() if p != path]
    assert stale.name.startswith(".table.json.") and stale.name.endswith(".tmp")
    assert remove_stale_temporaries(path) == [stale]
    assert _files(tmp_path) == ["table.json"]


def test_the_replaced_file_keeps_its_permissions_unless_a_mode_is_given(tmp_path):
    path = tmp_path / "private.jsonl"
    path.write_bytes(b"old\n")
    path.chmod(0o600)
    atomic_write(path, b"new\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic_write(path, b"newer\n", mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_atomic_write_replaces_a_symbolic_link_not_its_target(tmp_path):
    target = tmp_path / "target.json"
    target.write_bytes(b"keep\n")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write(link, b"new\n")
    assert not link.is_symlink() and link.read_bytes() == b"new\n"
    assert target.read_bytes() == b"keep\n"


# ---------------------------------------------------------------- locks


def test_open_locked_excludes_a_second_process_until_closed(tmp_path):
    path = tmp_path / "samples-000-of-001.jsonl"
    fd = open_locked(path, os.O_RDWR | os.O_CREAT)
    try:
        assert _python(TRY_LOCK, str(path)).stdout.strip() == "held"
        with pytest.raises(LockHeldError):  # a second open file in this process too
            os.close(open_locked(path, os.O_RDONLY))
    finally:
        os.close(fd)
    assert _python(TRY_LOCK, str(path)).stdout.strip() == "taken"


def test_open_locked_locks_the_file_that_replaced_the_one_it_opened(tmp_path, monkeypatch):
    path = tmp_path / "answers.jsonl"
    path.write_bytes(b"old\n")
    replacement = tmp_path / "replacement"
    replacement.write_bytes(b"new\n")
    real_flock = safe_files.fcntl.flock
    moves = [replacement]

    def replaced_between_open_and_lock(fd: int, operation: int) -> None:
        if moves:
            os.replace(moves.pop(), path)
        real_flock(fd, operation)

    monkeypatch.setattr(safe_files.fcntl, "flock", replaced_between_open_and_lock)
    fd = open_locked(path, os.O_RDONLY)
    try:
        assert os.fstat(fd).st_ino == path.stat().st_ino
        assert os.read(fd, 100) == b"new\n"
    finally:
        os.close(fd)


def test_open_locked_gives_up_on_a_path_replaced_at_every_try(tmp_path, monkeypatch):
    path = tmp_path / "answers.jsonl"
    path.write_bytes(b"0\n")
    real_flock = safe_files.fcntl.flock
    tries: list[int] = []

    def always_replaced(fd: int, operation: int) -> None:
        tries.append(fd)
        fresh = tmp_path / "fresh"
        fresh.write_bytes(b"%d\n" % len(tries))
        os.replace(fresh, path)
        real_flock(fd, operation)

    monkeypatch.setattr(safe_files.fcntl, "flock", always_replaced)
    with pytest.raises(PathKeptChangingError):
        open_locked(path, os.O_RDONLY, attempts=3)
    assert len(tries) == 3


def test_a_check_refuses_a_pipe_before_locking_and_closes_it(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    opened = len(os.listdir("/proc/self/fd"))

    def regular_only(fd: int) -> None:
        kind = non_regular_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise ValueError(f"{pipe} is {kind}")

    with pytest.raises(ValueError, match="is a pipe"):
        open_locked(pipe, os.O_RDWR | os.O_NONBLOCK, check=regular_only)
    assert len(os.listdir("/proc/self/fd")) == opened


def test_exclusive_lock_keeps_a_second_process_waiting_until_released(tmp_path):
    lock = tmp_path / "cal" / ".artifact.lock"
    waiter = """
        import sys, time
        from pathlib import Path
        from strategies.safe_files import exclusive_lock
        print("ready", flush=True)
        with exclusive_lock(Path(sys.argv[1])):
            print(time.time(), flush=True)
    """
    with exclusive_lock(lock):
        assert _python(TRY_LOCK, str(lock)).stdout.strip() == "held"
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(waiter), str(lock)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # the waiter is blocked in flock by now (it would print at once)
        released = time.time()
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert float(out.strip()) >= released


def test_atomic_write_locked_hands_back_the_new_file_locked_at_its_end(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_bytes(b"old\nfailed\n")
    path.chmod(0o640)
    fd = atomic_write_locked(path, b"old\n")
    try:
        assert _python(TRY_LOCK, str(path)).stdout.strip() == "held"
        assert os.fstat(fd).st_ino == path.stat().st_ino
        os.write(fd, b"appended\n")
        assert path.read_bytes() == b"old\nappended\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert _files(tmp_path) == ["answers.jsonl"]
    finally:
        os.close(fd)
    assert _python(TRY_LOCK, str(path)).stdout.strip() == "taken"


# ---------------------------------------------------------------- stale temporaries


def test_stale_temporaries_of_the_named_files_only_are_removed(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("kept")
    stale = [tmp_path / ".a.jsonl.abc123.tmp", tmp_path / ".a.jsonl.x.tmp"]
    for item in stale:
        item.write_text("half")
    other_file = tmp_path / ".a.jsonl.b.jsonl.k1ll3d.tmp"  # a temporary of a.jsonl.b.jsonl
    unrelated = tmp_path / ".notes.tmp"
    for item in (other_file, unrelated):
        item.write_text("mine")
    folder = tmp_path / ".a.jsonl.dir.tmp"
    folder.mkdir()
    target = tmp_path / "precious"
    target.write_text("precious")
    link = tmp_path / ".a.jsonl.link.tmp"
    link.symlink_to(target)

    assert sorted(remove_stale_temporaries(path)) == sorted(stale)
    assert not any(item.exists() for item in stale)
    assert other_file.exists() and unrelated.exists() and folder.is_dir()
    assert link.is_symlink() and target.read_text() == "precious"
    assert path.read_text() == "kept"


def test_stale_temporaries_of_a_name_with_glob_characters(tmp_path):
    path = tmp_path / "run[1].jsonl"
    mine = tmp_path / ".run[1].jsonl.abc.tmp"
    mine.write_text("half")
    lookalike = tmp_path / ".run1.jsonl.abc.tmp"  # what an unescaped pattern would match
    lookalike.write_text("other")
    assert remove_stale_temporaries(path) == [mine]
    assert lookalike.exists()


# ---------------------------------------------------------------- regular files


def test_non_regular_kind_names_what_a_path_is(tmp_path):
    regular = tmp_path / "file"
    regular.write_text("x")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    link = tmp_path / "link"
    link.symlink_to(regular)
    assert non_regular_kind(os.stat(regular).st_mode) is None
    assert non_regular_kind(os.stat(link).st_mode) is None  # followed: a regular file
    assert non_regular_kind(os.lstat(link).st_mode) == "a symbolic link"
    assert non_regular_kind(os.stat(tmp_path).st_mode) == "a folder"
    assert non_regular_kind(os.stat(pipe).st_mode) == "a pipe"
    assert non_regular_kind(os.stat("/dev/null").st_mode) == "a character device"
