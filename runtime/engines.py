"""Building generators and verifiers from names and options: the one engine factory.

``make_generator`` and ``make_verifier`` turn a backend or verifier name plus its
options into an engine, for `ttc calibrate` (``calibration.sampling.engines``) and for
the router alike (``router.setup``), so a new engine kind is wired in once.
``simulator`` engines come from the SimulatedWorld behind ``simulator:COUNT`` problems,
``replay`` ones from the ReplayWorld behind ``--pool`` (``pool:`` problems); every other
name goes to the registries in ``strategies.backends`` and ``strategies.verifiers``.
Each command checks first that the names fit its problems, with messages naming its own
flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strategies.engine_context import EngineContext
from strategies.generation import Generator
from strategies.prompts import get_prompt_config
from strategies.score_transforms import SCORE_TRANSFORM_OPTION
from strategies.verification import Verifier

SIMULATOR = "simulator"
REPLAY = "replay"


def make_generator(
    backend: str,
    model: str,
    options: Mapping[str, Any],
    *,
    world: Any = None,
    endpoints: tuple[str, ...] = (),
    context: EngineContext | None = None,
) -> Generator:
    """The generator ``backend`` names. ``endpoints`` become an OpenAI backend's
    ``base_urls``; ``context`` sizes a vLLM engine for the job (``job_context``)."""
    if backend == REPLAY:
        replayed: Generator = world.generator(**options)
        return replayed
    if backend == SIMULATOR:
        simulated: Generator = world.generator()
        return simulated
    from strategies.backends.registry import build_generator

    built = dict(options)
    if endpoints:
        built["base_urls"] = list(endpoints)
    if backend == "vllm" and context is not None:
        built.setdefault("context", context)
    return build_generator(backend, model, **built)


def make_verifier(
    name: str, options: Mapping[str, Any], *, prompt_config: str, world: Any = None
) -> Verifier:
    """The verifier ``name`` names; a replayed one splits steps at ``prompt_config``'s
    delimiter, as the recorded scores did. A ``score_transform`` option maps its scores
    to [0, 1] (``strategies.score_transforms``: logits of a reward model, say)."""
    from strategies.score_transforms import with_transform

    options = dict(options)
    transform = {k: options.pop(k) for k in [SCORE_TRANSFORM_OPTION] if k in options}
    built: Verifier
    if name == REPLAY:
        delimiter = get_prompt_config(prompt_config).step_delimiter
        built = world.verifier(delimiter=delimiter, **options)
    elif name == SIMULATOR:
        built = world.verifier(**options)
    else:
        from strategies.verifiers.registry import build_verifier

        built = build_verifier(name, **options)
    return with_transform(built, transform)
