"""A start-up hook that quiets vLLM's engine processes from their first line.

Why: vLLM's engine core and its worker are fresh interpreters. vLLM applies its logging
configuration in them (the file ``log_setup`` points ``VLLM_LOGGING_CONFIG_PATH`` at)
only when the engine starts; what they log while importing vLLM ("Triton is installed,
but doesn't include CPU backend", once per process) reaches Python's last-resort handler
unformatted and unfiltered, and torch's C++ notice "NUMA binding: Using MEMBIND policy"
goes to torch's own C++ log. A ``sitecustomize`` module on the children's ``PYTHONPATH``
runs before any of that: it filters the same messages on the same loggers as the parent
(the filters stay on those loggers through vLLM's later configuration, which names only
the ``vllm`` logger), sets torch's C++ log to errors unless ``TORCH_CPP_LOG_LEVEL`` is
already set, and then imports any other ``sitecustomize`` the path holds, as Python
would have. The module is generated, self-contained (the children import nothing of
this project for it) and written once per content, like the logging configuration.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from strategies.safe_files import atomic_write

HOOK_MODULE = "sitecustomize.py"

_TEMPLATE = '''"""Written by ttc (router/commands/child_hook.py): quiets vLLM's engine processes."""
import logging as _logging
import os as _os
import sys as _sys

_QUIET = {quiet!r}


class _TtcQuiet(_logging.Filter):
    def __init__(self, starts):
        super().__init__()
        self.starts = starts

    def filter(self, record):
        return not str(record.msg).startswith(self.starts)


for _name, _starts in _QUIET.items():
    _logging.getLogger(_name).addFilter(_TtcQuiet(tuple(_starts)))
_os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")

# Hand over to the sitecustomize this one shadows, if any.
_here = _os.path.dirname(_os.path.abspath(__file__))
_path = list(_sys.path)
_sys.path[:] = [p for p in _path if _os.path.abspath(p or ".") != _here]
_me = _sys.modules.pop("sitecustomize", None)
try:
    import sitecustomize  # noqa: F401
except ModuleNotFoundError as _missing:
    if _missing.name != "sitecustomize":
        raise
finally:
    _sys.path[:] = _path
    # site.py's own import of this module reads it back from sys.modules.
    _sys.modules.setdefault("sitecustomize", _me)
'''


def hook_source(quiet: Mapping[str, tuple[str, ...]]) -> str:
    """The ``sitecustomize`` source that drops ``quiet`` (logger name -> message starts)."""
    return _TEMPLATE.format(quiet={name: list(starts) for name, starts in sorted(quiet.items())})


def write_hook(quiet: Mapping[str, tuple[str, ...]], folder: Path) -> Path:
    """The folder holding the hook for ``quiet``, written once per content under
    ``folder`` (its name holds a digest: commands running at once share it)."""
    source = hook_source(quiet)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    home = folder / f"ttc-child-hook-{digest}"
    module = home / HOOK_MODULE
    if not module.is_file() or module.read_text(errors="replace") != source:
        atomic_write(module, source)
    return home


def prepend_path(env: MutableMapping[str, str], folder: Path) -> None:
    """Put ``folder`` first on ``env``'s ``PYTHONPATH`` (once), keeping what was there."""
    entries = [e for e in env.get("PYTHONPATH", "").split(os.pathsep) if e]
    if str(folder) not in entries:
        env["PYTHONPATH"] = os.pathsep.join([str(folder), *entries])
