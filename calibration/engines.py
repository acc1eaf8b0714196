"""Building the generator and verifier a calibration runs with.

Loaded only when there is sampling or searching left to do, so re-running a finished
calibration (or merging) rebuilds the artifact without starting a model. Stage 3 may
run on an engine of its own (``--tree-backend``, see ``CalibrationConfig``).
``--backend simulator`` and ``--verifier simulator`` take their engines from the
SimulatedWorld behind ``--problems simulator:COUNT``; ``--backend replay`` and
``--verifier replay`` from the ReplayWorld behind ``--pool`` (``pool:`` problems).
"""

from __future__ import annotations

from typing import Any

from calibration.config import CalibrationConfig
from calibration.sources import ProblemSource
from strategies.engine_context import job_context
from strategies.generation import Generator
from strategies.prompts import get_prompt_config
from strategies.verification import Verifier

SIMULATOR = "simulator"
REPLAY = "replay"


def _replay_world(source: ProblemSource, flag: str) -> Any:
    from strategies.pools.replay import ReplayWorld

    if not isinstance(source.world, ReplayWorld):
        raise ValueError(f"{flag} replay needs --pool FILE (the recorded samples to replay)")
    return source.world


def build_generator(config: CalibrationConfig, source: ProblemSource) -> Generator:
    if config.backend == REPLAY:
        generator_: Generator = _replay_world(source, "--backend").generator(
            **config.backend_options
        )
        return generator_
    if config.backend == SIMULATOR:
        if source.world is None:
            raise ValueError(
                "--backend simulator needs --problems simulator:COUNT (the simulator can only "
                "solve its own problems)"
            )
        generator: Generator = source.world.generator()
        return generator
    if source.world is not None:
        needs = "replay" if source.spec.startswith("pool:") else "simulator"
        raise ValueError(f"--problems {source.spec.split(':')[0]}:... needs --backend {needs}")
    return _build_backend(
        config.model, config.backend, config.backend_options, config.endpoints, config, source
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
    return _build_backend(
        config.model, backend, engine["tree_backend_options"], endpoints, config, source
    )


def _build_backend(
    model: str,
    backend: str,
    backend_options: dict[str, Any],
    endpoints: tuple[str, ...],
    config: CalibrationConfig,
    source: ProblemSource,
) -> Generator:
    from strategies.backends.registry import build_generator as build

    options: dict[str, Any] = dict(backend_options)
    if endpoints:
        options["base_urls"] = list(endpoints)
    if backend == "vllm":  # an engine sized for this job's prompts and answers
        options.setdefault(
            "context",
            job_context(
                get_prompt_config(config.prompt_config),
                [p.text for p in source.problems],
                config.strategies,
                config.max_tokens,
            ),
        )
    return build(backend, model, **options)


def build_verifier(config: CalibrationConfig, source: ProblemSource) -> Verifier:
    if config.verifier == REPLAY:
        from strategies.prompts import get_prompt_config

        delimiter = get_prompt_config(config.prompt_config).step_delimiter
        replayed: Verifier = _replay_world(source, "--verifier").verifier(
            delimiter=delimiter, **config.verifier_options
        )
        return replayed
    if config.verifier == SIMULATOR:
        if source.world is None:
            raise ValueError("--verifier simulator needs --problems simulator:COUNT")
        verifier: Verifier = source.world.verifier(**config.verifier_options)
        return verifier
    from strategies.verifiers.registry import build_verifier as build

    return build(config.verifier, **config.verifier_options)
