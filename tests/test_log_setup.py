"""How loud `ttc` is: the engines at WARNING by default, INFO with --verbose, any level
by TTC_LOG_LEVEL. The level is set in a fresh interpreter each time (as `ttc` does, before
the engines are imported), since logging and warnings filters are process-wide."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from router.commands.log_setup import (
    CHILD_WARNINGS,
    LEVEL_ENV,
    QUIET_MESSAGES,
    VLLM_CONFIG_ENV,
    LogLevelError,
    engine_environment,
    quiet_vllm_children,
    resolve_level,
)

ROOT = Path(__file__).resolve().parents[1]


def test_level_is_warning_by_default_info_when_verbose_and_else_the_environments():
    assert resolve_level(False, {}) == logging.WARNING
    assert resolve_level(True, {}) == logging.INFO
    assert resolve_level(False, {LEVEL_ENV: "debug"}) == logging.DEBUG
    assert resolve_level(False, {LEVEL_ENV: " error "}) == logging.ERROR
    assert resolve_level(True, {LEVEL_ENV: "ERROR"}) == logging.INFO  # the flag wins
    with pytest.raises(LogLevelError, match=r"TTC_LOG_LEVEL='loud'.*DEBUG, INFO"):
        resolve_level(False, {LEVEL_ENV: "loud"})


def test_engine_variables_default_to_the_level_and_verbose_overrides_the_users():
    env: dict[str, str] = {}
    engine_environment(logging.WARNING, env)
    assert env == {
        "VLLM_LOGGING_LEVEL": "WARNING",
        "TRANSFORMERS_VERBOSITY": "warning",
        "PYTHONWARNINGS": CHILD_WARNINGS,
    }
    users = {"VLLM_LOGGING_LEVEL": "ERROR"}
    engine_environment(logging.WARNING, users)
    assert users["VLLM_LOGGING_LEVEL"] == "ERROR"  # the default leaves an export alone
    verbose: dict[str, str] = {"VLLM_LOGGING_LEVEL": "ERROR"}
    engine_environment(logging.INFO, verbose)
    assert verbose == {"VLLM_LOGGING_LEVEL": "INFO", "TRANSFORMERS_VERBOSITY": "info"}


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "VLLM_LOGGING_LEVEL",
            "TRANSFORMERS_VERBOSITY",
            "PYTHONWARNINGS",
            VLLM_CONFIG_ENV,
            LEVEL_ENV,
        )
    }
    environ.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, check=True
    )


CHECK = """
import logging, os, sys, warnings
from router.commands.log_setup import configure_logging, resolve_level
configure_logging(resolve_level({verbose}, os.environ))
import transformers
from transformers.utils import logging as hf_logging
print("transformers", hf_logging.get_verbosity())
quiet = logging.getLogger("{quiet_logger}")
quiet.warning("{quiet_message} (sent by the test)")
quiet.warning("a warning that asks something of the user")
logging.getLogger("vllm.engine.arg_utils").info("an info line")
warnings.warn_explicit("old API", FutureWarning, "x.py", 1, module="vllm.something")
"""


def _check(verbose: bool, **env: str) -> subprocess.CompletedProcess:
    quiet = QUIET_MESSAGES[0]
    code = CHECK.format(verbose=verbose, quiet_logger=quiet.logger, quiet_message=quiet.starts)
    return _run(code, **env)


def test_by_default_engines_say_only_warnings_that_ask_something_of_the_user():
    done = _check(False)
    assert f"transformers {logging.WARNING}" in done.stdout
    assert "a warning that asks something of the user" in done.stderr
    assert QUIET_MESSAGES[0].starts not in done.stderr
    assert "an info line" not in done.stderr
    assert "old API" not in done.stderr


def test_verbose_shows_the_engines_info_lines_and_everything_dropped_by_default():
    done = _check(True)
    assert f"transformers {logging.INFO}" in done.stdout
    assert QUIET_MESSAGES[0].starts in done.stderr
    assert "an info line" in done.stderr
    assert "old API" in done.stderr


def test_ttc_log_level_sets_the_level_without_the_flag():
    done = _check(False, **{LEVEL_ENV: "info"})
    assert f"transformers {logging.INFO}" in done.stdout and "an info line" in done.stderr


def test_the_command_line_takes_verbose_on_either_side_and_refuses_a_bad_level():
    from router.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["-v", "curves", "x"]).verbose is True
    assert parser.parse_args(["curves", "x", "--verbose"]).verbose is True
    assert parser.parse_args(["curves", "x"]).verbose is False
    environ = dict(os.environ, PYTHONPATH=str(ROOT), **{LEVEL_ENV: "chatty"})
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "curves", "nowhere"],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
    )
    assert done.returncode == 2
    assert "ttc curves: error: TTC_LOG_LEVEL='chatty' is not a log level" in done.stderr


# What vLLM does in each of its engine processes (a fresh interpreter) at import: load
# the file VLLM_LOGGING_CONFIG_PATH names into dictConfig, then log.
CHILD = """
import json, logging, logging.config, os
with open(os.environ["VLLM_LOGGING_CONFIG_PATH"]) as handle:
    logging.config.dictConfig(json.load(handle))
logging.getLogger("{quiet_logger}").warning("{quiet_message} (sent by the test)")
logging.getLogger("{quiet_logger}").warning("a warning that asks something of the user")
logging.getLogger("vllm.other").warning("{quiet_message} from another logger")
logging.getLogger("vllm.engine.arg_utils").info("an info line")
"""


def test_vllm_engine_processes_inherit_the_quiet_logging_configuration(tmp_path):
    env: dict[str, str] = {}
    engine_environment(logging.WARNING, env)
    quiet_vllm_children(env, tmp_path)
    quiet = QUIET_MESSAGES[0]
    done = _run(CHILD.format(quiet_logger=quiet.logger, quiet_message=quiet.starts), **env)
    assert "a warning that asks something of the user" in done.stderr
    assert f"{quiet.starts} (sent by the test)" not in done.stderr
    assert f"{quiet.starts} from another logger" in done.stderr  # only its own logger's
    assert "an info line" not in done.stderr
    assert done.stderr.startswith(f"WARNING {quiet.logger}: ")
    # Written once per content: a second command reuses the same file.
    again: dict[str, str] = {"VLLM_LOGGING_LEVEL": "WARNING"}
    quiet_vllm_children(again, tmp_path)
    assert again[VLLM_CONFIG_ENV] == env[VLLM_CONFIG_ENV]
    assert len(list(tmp_path.iterdir())) == 2  # the configuration and the start-up hook


def test_a_users_vllm_logging_configuration_or_switch_wins(tmp_path):
    own = {VLLM_CONFIG_ENV: "/etc/my-vllm-logging.json"}
    quiet_vllm_children(own, tmp_path)
    assert own == {VLLM_CONFIG_ENV: "/etc/my-vllm-logging.json"}
    off = {"VLLM_CONFIGURE_LOGGING": "0"}
    quiet_vllm_children(off, tmp_path)
    assert VLLM_CONFIG_ENV not in off  # vLLM refuses a config file with its logging off
    assert not list(tmp_path.iterdir())


def test_verbose_leaves_vllms_own_logging_configuration_alone():
    code = (
        "import logging, os\n"
        "from router.commands.log_setup import configure_logging\n"
        "configure_logging(logging.INFO)\n"
        "print(os.environ.get('VLLM_LOGGING_CONFIG_PATH'))"
    )
    assert _run(code).stdout.split() == ["None"]


@pytest.mark.vllm
def test_vllm_logs_at_the_level_ttc_set_in_this_process_and_its_workers():
    if not os.environ.get("TTC_REQUIRE_VLLM"):
        pytest.importorskip("vllm")
    code = (
        "import logging, os\n"
        "from router.commands.log_setup import configure_logging\n"
        "configure_logging(logging.WARNING)\n"
        "import vllm\n"
        "print(logging.getLogger('vllm').getEffectiveLevel(), os.environ['VLLM_LOGGING_LEVEL'])"
    )
    done = _run(code)
    assert done.stdout.split()[-2:] == [str(logging.WARNING), "WARNING"]
    assert "Triton is installed, but doesn't include CPU backend" not in done.stderr


def test_loading_a_local_model_draws_no_bars_unless_transformers_logs_info(tmp_path, capfd):
    from tiny_models import build_tiny_llama

    from strategies.hf_loading import load_causal_lm

    model = str(build_tiny_llama(tmp_path / "tiny"))
    capfd.readouterr()
    load_causal_lm(model)
    assert "Loading weights" not in capfd.readouterr().err
    transformers_logger = logging.getLogger("transformers")
    level = transformers_logger.level
    transformers_logger.setLevel(logging.INFO)
    try:
        load_causal_lm(model)
    finally:
        transformers_logger.setLevel(level)
    assert "Loading weights" in capfd.readouterr().err
