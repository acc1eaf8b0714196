"""Where `ttc evaluate` writes its report, checked before any compute is spent.

Why: an evaluation runs every policy and fixed strategy on every problem, which can
take hours; a report path that cannot be written (a folder, ``/dev/full``, a path below
a file, a folder without write permission) used to be found only at the end, with a
traceback and the finished work lost. ``ttc solve`` checks its ``--out`` the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from strategies.safe_files import non_regular_kind


class ReportPathError(ValueError):
    """A report path no report can be written to; the message names it and why."""


def check_report_path(out: Path) -> None:
    """Refuse ``out`` (and the ``.txt`` written beside it) unless each is a regular file
    or can be created as one."""
    for path in (out, out.with_suffix(".txt")):
        _check_one(path, out)


def _check_one(path: Path, out: Path) -> None:
    try:
        status = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if path.is_symlink():
            raise ReportPathError(f"--out {out}: {path} is a broken symbolic link") from None
        _check_creatable(path, out)
        return
    except OSError as exc:
        raise ReportPathError(f"--out {out}: cannot use {path} ({exc.strerror})") from None
    kind = non_regular_kind(status.st_mode)
    if kind is not None:
        raise ReportPathError(
            f"--out {out}: {path} is {kind}, not a regular file; the "
            "report is a JSON file (and a .txt beside it): pass a file path"
        )
    if not os.access(path, os.W_OK):
        raise ReportPathError(f"--out {out}: {path} is not writable")


def _check_creatable(path: Path, out: Path) -> None:
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ReportPathError(f"--out {out}: {ancestor} is a file, so no folder can go there")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ReportPathError(f"--out {out}: cannot create it, {ancestor} is not writable")
