"""The calibration's engines, built from its configuration by the one engine factory
(``runtime.engines``).

These builders are loaded only when there is sampling or searching
left to do, so re-running a finished calibration (or merging) rebuilds the artifact
without starting a model. Stage 3 may run on an engine of its own (``--tree-backend``,
see ``CalibrationConfig``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calibration.config import CalibrationConfig
from runtime.engines import REPLAY, SIMULATOR, make_generator, make_verifier
from runtime.sources import ProblemSource
from strategies.engine_context import job_context
from strategies.generation import Generator
from strategies.prompts import get_prompt_config
from strategies.verification import Verifier


def _replay_world(source: ProblemSource, flag: str) -> Any:
    from strategies.pools.replay import ReplayWorld

    if not isinstance(source.world, ReplayWorld):
        raise ValueError(f"{flag} replay needs --pool FILE (the recorded samples to replay)")
    return source.world


def build_generator(config: CalibrationConfig, source: ProblemSource) -> Generator:
    if config.backend == REPLAY:
        _replay_world(source, "--backend")
    elif config.backend == SIMULATOR:
        if source.world is None:
            raise ValueError(
                "--backend simulator needs --problems simulator:COUNT (the simulator can only "
                "solve its own problems)"
            )
    elif source.world is not None:
        needs = "replay" if source.spec.startswith("pool:") else "simulator"
        raise ValueError(f"--problems {source.spec.split(':')[0]}:... needs --backend {needs}")
    return _calibration_generator(
        config, source, config.backend, config.backend_options, config.endpoints
    )


def build_tree_generator(config: CalibrationConfig, source: ProblemSource) -> Generator:
    """The engine stage 3 searches on: ``--tree-backend`` when given, else the sampler's.

    Server endpoints go to whichever engine is the OpenAI-compatible one.
    """
    engine = config.tree_engine_settings()
    backend = engine["tree_backend"]
    if not config.separate_tree_engine:
        return build_generator(config, source)
    if source.world is not None or SIMULATOR in (backend, config.backend):
        raise ValueError(
            "the simulator cannot share its problems with another engine: drop --tree-backend"
        )
    endpoints = config.endpoints if backend == "openai" else ()
    return _calibration_generator(
        config, source, backend, engine["tree_backend_options"], endpoints
    )


def _calibration_generator(
    config: CalibrationConfig,
    source: ProblemSource,
    backend: str,
    options: Mapping[str, Any],
    endpoints: tuple[str, ...],
) -> Generator:
    context = None
    if backend == "vllm":  # an engine sized for this job's prompts and answers
        context = job_context(
            get_prompt_config(config.prompt_config),
            [p.text for p in source.problems],
            config.strategies,
            config.generation.max_tokens,
        )
    return make_generator(
        backend, config.model, options, world=source.world, endpoints=endpoints, context=context
    )


def build_verifier(config: CalibrationConfig, source: ProblemSource) -> Verifier:
    if config.verifier == REPLAY:
        _replay_world(source, "--verifier")
    elif config.verifier == SIMULATOR and source.world is None:
        raise ValueError("--verifier simulator needs --problems simulator:COUNT")
    return make_verifier(
        config.verifier,
        config.verifier_options,
        prompt_config=config.prompt_config,
        world=source.world,
    )
