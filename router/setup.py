"""Which model, backend, verifier and prompt the router runs, and building them.

Everything defaults to what the calibration artifact's manifest recorded, because the
table's accuracies only hold for that model, verifier and prompt. Overrides are allowed
(a bigger server, a local copy of the model) but every difference from the manifest
raises a loud ``CalibrationMismatchWarning``: the router would then be choosing budgets
from another model's curves.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from calibration.store.artifact import Manifest
from runtime.engines import REPLAY, SIMULATOR, make_generator, make_verifier
from strategies.engine_context import EngineContext, job_context
from strategies.generation import GenerationSettings, Generator
from strategies.prompts import PromptConfig, get_prompt_config
from strategies.verification import Verifier

DEFAULT_CALIBRATION = Path(__file__).resolve().parents[1] / "artifacts" / "smollm2-arithmetic"


class CalibrationMismatchWarning(UserWarning):
    """The router runs with another model, verifier, backend or prompt than calibrated."""


@dataclass(frozen=True)
class EngineSettings:
    model: str
    backend: str
    verifier: str
    prompt_config: str
    backend_options: dict[str, Any] = field(default_factory=dict)
    verifier_options: dict[str, Any] = field(default_factory=dict)
    endpoints: tuple[str, ...] = ()
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    # the engine the calibration's tree searches ran on, when not ``backend``
    tree_backend: str | None = None


@dataclass(frozen=True)
class Overrides:
    """Command-line overrides; None (or empty) keeps the manifest's value."""

    model: str | None = None
    backend: str | None = None
    verifier: str | None = None
    prompt_config: str | None = None
    backend_options: dict[str, Any] = field(default_factory=dict)
    verifier_options: dict[str, Any] = field(default_factory=dict)
    endpoints: tuple[str, ...] = ()


def calibrated_settings(manifest: Manifest) -> EngineSettings:
    settings = manifest.settings
    return EngineSettings(
        model=manifest.model,
        backend=manifest.backend,
        verifier=manifest.verifier,
        prompt_config=manifest.prompt_config,
        backend_options=dict(settings.get("backend_options", {})),
        verifier_options=dict(settings.get("verifier_options", {})),
        tree_backend=settings.get("tree_backend"),
        generation=GenerationSettings.from_record(settings),
    )


def resolve_settings(manifest: Manifest, overrides: Overrides) -> EngineSettings:
    """The manifest's settings with ``overrides`` applied; warns on every mismatch."""
    calibrated = calibrated_settings(manifest)
    chosen = replace(
        calibrated,
        model=overrides.model or calibrated.model,
        backend=overrides.backend or calibrated.backend,
        verifier=overrides.verifier or calibrated.verifier,
        prompt_config=overrides.prompt_config or calibrated.prompt_config,
        backend_options={**calibrated.backend_options, **overrides.backend_options},
        verifier_options={**calibrated.verifier_options, **overrides.verifier_options},
        endpoints=tuple(overrides.endpoints),
    )
    for message in mismatches(calibrated, chosen):
        warnings.warn(message, CalibrationMismatchWarning, stacklevel=2)
    return chosen


def mismatches(calibrated: EngineSettings, chosen: EngineSettings) -> list[str]:
    out = []
    if chosen.backend.lower() not in {
        calibrated.backend.lower(),
        str(calibrated.tree_backend).lower(),
    }:
        out.append(
            f"the calibration ran the model on {calibrated.backend!r} but the router runs it "
            f"on {chosen.backend!r}: the same weights on another engine sample differently "
            "(precision, random streams), so accuracies may drift from the table's."
        )
    for name in ("model", "verifier", "prompt_config"):
        was, now = getattr(calibrated, name), getattr(chosen, name)
        if str(was).lower() != str(now).lower():
            out.append(
                f"the calibration was made with {name.replace('_', ' ')} {was!r} but the router "
                f"runs {now!r}: its per-difficulty accuracy curves, and so the strategy and "
                "budget it picks, describe another setup. Recalibrate with this setup "
                "(`ttc calibrate`) for choices you can trust."
            )
    for name in ("backend_options", "verifier_options"):
        was, now = getattr(calibrated, name), getattr(chosen, name)
        if was != now:
            out.append(
                f"{name.replace('_', ' ')} differ from the calibration's ({was} there, {now} "
                "here); accuracies may differ from the table's."
            )
    return out


def prompt_config_of(settings: EngineSettings) -> PromptConfig:
    return get_prompt_config(settings.prompt_config)


def engine_context(
    settings: EngineSettings, strategies: Sequence[str], problem_texts: Sequence[str]
) -> EngineContext | None:
    """What the router will ask of its engine (vLLM sizes its context by it): the
    problems under the prompt configuration, answered by sampling or any ``strategies``
    of the table; None when a strategy is unknown here (the engine keeps its default)."""
    try:
        return job_context(
            prompt_config_of(settings),
            problem_texts,
            strategies,
            settings.generation.max_tokens,
        )
    except ValueError:
        return None


def build_engines(
    settings: EngineSettings, world: Any = None, context: EngineContext | None = None
) -> tuple[Generator, Verifier]:
    """The generator and verifier (``runtime.engines`` builds them); simulator ones
    come from the problems' SimulatedWorld, replay ones from the problems' ReplayWorld
    (``--pool``).

    ``context`` sizes a vLLM engine for the job (see ``engine_context``)."""
    if REPLAY in (settings.backend, settings.verifier):
        from strategies.pools.replay import ReplayWorld

        if settings.backend != REPLAY or not isinstance(world, ReplayWorld):
            raise ValueError(
                "the replay backend and verifier serve recorded samples and scores: pass "
                "--pool FILE (and --backend replay; the replay verifier needs it)"
            )
    elif SIMULATOR in (settings.backend, settings.verifier) and world is None:
        raise ValueError(
            "the simulator backend and verifier only solve their own problems: pass "
            "simulator:COUNT[:SEED] as the problems (e.g. simulator:200:1 for problems "
            "held out from a calibration on simulator:200)"
        )
    generator = make_generator(
        settings.backend,
        settings.model,
        settings.backend_options,
        world=world,
        endpoints=settings.endpoints,
        context=context,
    )
    verifier = make_verifier(
        settings.verifier,
        settings.verifier_options,
        prompt_config=settings.prompt_config,
        world=world,
    )
    return generator, verifier
