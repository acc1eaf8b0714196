"""Loading a causal language model and its tokenizer with transformers.

The name goes through ``strategies.models.resolve_model`` (``smollm2``, a local folder,
or a Hub id), so every backend agrees on what a name means. Nothing is cached here: the
caller holds the model, and can hand the same object to a generator and a judge.

Why the dtype rule in ``choose_dtype``: transformers (5.23) reads the embedded SmolLM2
GGUF file into an ordinary dense model (Llama GGUF files take its dequantizing loader).
On a CPU with native bf16 arithmetic (AVX512-BF16 or AMX) a dense bf16 model decodes
about 1.6x faster than float32 (44 against 28 tokens/s batched, one thread); on one
without it (an AVX2-only AMD EPYC) bf16 is emulated and float32 is 2.7x faster (138
against 51 tokens/s batched, two threads), so "auto" asks the CPU
(``scripts/bench_engines.py --dtypes bfloat16 float32`` measures both side by side).
The price of bf16: a sample's text can change with the batch around it (rounding),
where float32 gives the same text. transformers warns that packed GGUF weights are
fastest in float32; that applies only to architectures it keeps packed, so the file is
read in float32 and cast afterwards only when every layer came out dense.

Why a GGUF model is loaded from its dequantized folder: reading the GGUF file takes about
19 s here (transformers de-quantizes every tensor on each load), reading the same weights
from the bf16 safetensors folder ``model_files.prepare_model_location`` caches (the one
vLLM loads) about 2 s; the weights, tokenizer and chat template are identical (checked
tensor by tensor). The first load on a machine writes the folder.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from strategies.models import ResolvedModel, resolve_model

if TYPE_CHECKING:
    import torch

# torch.cpu.get_capabilities() flags, any of which means bf16 matrix products in hardware.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def load_causal_lm(
    name_or_resolved: str | ResolvedModel,
    *,
    dtype: Any = "auto",
    device: str = "cpu",
    trust_remote_code: bool = False,
    read_gguf: bool = False,
) -> tuple[Any, Any]:
    """(model, tokenizer) for generation, the model in eval mode on ``device``.

    ``dtype`` is "auto" (see ``choose_dtype``), a name such as "bfloat16", or a
    ``torch.dtype``. A Hub id downloads only when the Hub is reachable; offline it fails
    with transformers' own error, which names the id. A GGUF model loads from its cached
    dequantized folder (see the module docstring); ``read_gguf`` reads the file itself
    (what writing that folder needs).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = (
        name_or_resolved
        if isinstance(name_or_resolved, ResolvedModel)
        else resolve_model(name_or_resolved)
    )
    wanted = choose_dtype(resolved, dtype, device)
    if resolved.kind == "gguf" and not read_gguf:
        from strategies.backends.model_files import prepare_model_location

        return load_causal_lm(
            prepare_model_location(resolved),
            dtype=wanted,
            device=device,
            trust_remote_code=trust_remote_code,
        )
    kwargs = resolved.from_pretrained_kwargs()
    tokenizer = AutoTokenizer.from_pretrained(
        resolved.location, trust_remote_code=trust_remote_code, **kwargs
    )
    import torch

    load_dtype = torch.float32 if resolved.kind == "gguf" else wanted
    with _load_bars(shown=resolved.kind == "hub"):
        model: Any = AutoModelForCausalLM.from_pretrained(
            resolved.location, dtype=load_dtype, trust_remote_code=trust_remote_code, **kwargs
        )
    if wanted != "auto" and load_dtype != wanted and not _has_packed_layers(model):
        model = model.to(wanted)
    model.to(device)
    model.eval()
    return model, tokenizer


@contextlib.contextmanager
def _load_bars(*, shown: bool) -> Iterator[None]:
    """transformers' loading bars ("Converting and de-quantizing GGUF tensors", "Loading
    weights") only when they can say something: a Hub download may take minutes, a local
    file loads in seconds, and its bars would crowd the screen the command's own progress
    bar is on. Logging at INFO (``ttc --verbose``) shows them all."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    quiet = not shown and not logging.getLogger("transformers").isEnabledFor(logging.INFO)
    if not quiet:
        yield
        return
    # The GGUF reader draws a plain tqdm bar that transformers' switch does not reach.
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    gguf_tqdm = getattr(gguf_utils, "tqdm", None)
    if was_enabled:
        hf_logging.disable_progress_bar()
    if gguf_tqdm is not None:
        gguf_utils.tqdm = functools.partial(gguf_tqdm, disable=True)  # type: ignore[assignment]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
        if gguf_tqdm is not None:
            gguf_utils.tqdm = gguf_tqdm


def choose_dtype(resolved: ResolvedModel, dtype: Any, device: str) -> Any:
    """The dtype to run in: an explicit choice wins; "auto" means, for the GGUF model, bf16
    on a GPU, and on CPU bf16 where the CPU computes it natively and float32 where it would
    be emulated (both measured, see the module docstring); for any other model the
    checkpoint's own dtype ("auto", which transformers reads from the model's config)."""
    import torch

    if dtype is None or dtype == "auto":
        if resolved.kind != "gguf":
            return "auto"
        if device != "cpu":
            return torch.bfloat16
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    named = getattr(torch, str(dtype), None)
    if not isinstance(named, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}: use auto, bfloat16, float16 or float32")
    return named


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware, as torch reports it; False
    where this torch cannot say (older releases lack ``torch.cpu.get_capabilities``):
    float32 is never the slow choice by much, emulated bf16 is (2.7x)."""
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is None:
        return False
    try:
        flags = capabilities()
    except (RuntimeError, OSError):
        return False
    return any(bool(flags.get(flag)) for flag in NATIVE_BF16_FLAGS)


def count_parameters(model: Any) -> int:
    """Parameters of a loaded model, for the cost ledger's FLOPs estimate (2 x params x tokens)."""
    return int(sum(p.numel() for p in model.parameters()))


def model_device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _has_packed_layers(model: Any) -> bool:
    """Whether transformers kept some GGUF weights in their quantized blocks."""
    return any(type(module).__name__.startswith("Gguf") for module in model.modules())
