"""The start-up hook that quiets vLLM's engine processes (router/commands/child_hook.py),
run as it runs there: a fresh interpreter with the hook's folder on PYTHONPATH, logging
before any logging configuration exists (what vLLM's processes do while importing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from router.commands.child_hook import hook_source, prepend_path, write_hook
from router.commands.log_setup import QUIET_MESSAGES, quiet_by_logger

CHILD = """
import logging, os
logging.getLogger({logger!r}).warning({quiet!r} + " (sent by the test)")
logging.getLogger({logger!r}).warning("a warning that asks something of the user")
print("TORCH_CPP_LOG_LEVEL", os.environ.get("TORCH_CPP_LOG_LEVEL"))
"""


def run_child(path: str, **env: str) -> subprocess.CompletedProcess:
    quiet = QUIET_MESSAGES[0]
    environ = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TORCH_CPP_LOG_LEVEL")
    }
    environ.update(env, PYTHONPATH=path)
    code = CHILD.format(logger=quiet.logger, quiet=quiet.starts)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, check=True
    )


def test_a_child_drops_the_quiet_messages_from_its_first_line(tmp_path):
    home = write_hook(quiet_by_logger(), tmp_path)
    done = run_child(str(home))
    assert "a warning that asks something of the user" in done.stderr
    assert QUIET_MESSAGES[0].starts not in done.stderr
    assert "TORCH_CPP_LOG_LEVEL ERROR" in done.stdout
    assert "Error in sitecustomize" not in done.stderr
    # Without the hook the same child prints both (Python's last-resort handler).
    bare = run_child("")
    assert QUIET_MESSAGES[0].starts in bare.stderr
    assert "TORCH_CPP_LOG_LEVEL None" in bare.stdout


def test_the_users_torch_log_level_and_own_sitecustomize_are_kept(tmp_path):
    home = write_hook(quiet_by_logger(), tmp_path / "hooks")
    other = tmp_path / "theirs"
    other.mkdir()
    (other / "sitecustomize.py").write_text("print('their sitecustomize ran')\n")
    done = run_child(os.pathsep.join([str(home), str(other)]), TORCH_CPP_LOG_LEVEL="INFO")
    assert "their sitecustomize ran" in done.stdout
    assert "TORCH_CPP_LOG_LEVEL INFO" in done.stdout
    assert "Error in sitecustomize" not in done.stderr
    assert QUIET_MESSAGES[0].starts not in done.stderr


def test_written_once_per_content_and_put_first_on_the_path_once(tmp_path):
    quiet = {"vllm.a": ("one", "two")}
    first = write_hook(quiet, tmp_path)
    assert write_hook(quiet, tmp_path) == first
    assert write_hook({"vllm.a": ("one",)}, tmp_path) != first
    assert "'vllm.a': ['one', 'two']" in hook_source(quiet)
    env = {"PYTHONPATH": "/theirs"}
    prepend_path(env, Path("/hook"))
    prepend_path(env, Path("/hook"))
    assert env["PYTHONPATH"] == os.pathsep.join(["/hook", "/theirs"])
