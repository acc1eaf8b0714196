"""The whole calibration, stage by stage, resumable at every step.

``run_calibration`` does stages 1 and 3 (sampling, tree searches) for this machine's
shard, then, when every shard's work is in the folder, stages 2 and 4-6 (difficulty,
pool estimates, predictor, table, artifact). ``merge_calibration`` does only the
latter, from the settings the shards recorded.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from calibration.analysis.analyse import AnalysisResult, AnalysisSettings, analyse
from calibration.config import CalibrationConfig, ShardSpec
from calibration.progress import stage_reporter
from calibration.sampling.engines import build_generator, build_tree_generator, build_verifier
from calibration.sampling.sampling_stage import SamplingJob, run_sampling
from calibration.sampling.strategy_plan import StrategyPlan, plan_strategies, pool_sampler
from calibration.sampling.tree_stage import run_tree_searches, search_work, tree_units
from calibration.sequential.decision_pool import load_decision_pool
from calibration.sequential.stage import build_sequential_model, sequential_data
from calibration.store.artifact import ArtifactError, Manifest, read_manifest, write_artifact
from calibration.store.records import ProblemSamples, TreeRecord
from calibration.store.shards import ShardError, ShardWriter, read_shard
from calibration.store.work_state import (
    SAMPLES,
    TREE,
    SessionLog,
    append_session,
    artifact_lock,
    check_problem_hashes,
    check_settings,
    latest_plan,
    make_header,
    read_samples,
    read_sessions,
    read_tree_records,
    recorded_settings,
    sample_shard,
    shards_folder,
    tree_shard,
)
from runtime.sources import ProblemSource, load_source, shard_problems
from strategies.generation import GenerationSettings
from strategies.prompts import PromptConfig, get_prompt_config

# Stages in the order: 1 sampling, 2 difficulty, 3 strategies, 4 table,
# 5 predictor, 6 artifact (the predictor runs before the table, which reports it).
ANALYSIS_STAGE_NUMBERS = {
    "difficulty": "[2/6]",
    "strategy evaluation": "[3/6]",
    "difficulty predictor": "[5/6]",
    "table": "[4/6]",
    "decision model": "[5/6]",
}


@dataclass(frozen=True)
class CalibrationOutcome:
    """What a run did; ``analysis`` and ``manifest`` are None until all shards are in."""

    config: CalibrationConfig
    source: ProblemSource
    sampled: int
    searched: int
    notes: tuple[str, ...]
    analysis: AnalysisResult | None = None
    manifest: Manifest | None = None


def _settings(config: CalibrationConfig, source: ProblemSource) -> dict[str, Any]:
    """What both kinds of shard record and require: the sampling settings and the data."""
    return {**config.sampling_settings(), "dataset_sha256": source.sha256}


def _tree_settings(config: CalibrationConfig, source: ProblemSource) -> dict[str, Any]:
    """What tree shards record and require: the above plus the engine searches ran on."""
    return {**_settings(config, source), **config.tree_engine_settings()}


def _plan(config: CalibrationConfig) -> StrategyPlan:
    return plan_strategies(
        config.strategies,
        config.budgets,
        tree_budgets=config.tree_budgets,
        generation=config.generation,
    )


def run_calibration(config: CalibrationConfig) -> CalibrationOutcome:
    started = time.perf_counter()
    stage = stage_reporter(config.progress)
    source = load_source(config.problems)
    plan = _plan(config)
    prompt_config = get_prompt_config(config.prompt_config)
    settings = _settings(config, source)
    tree_settings = _tree_settings(config, source)
    folder = shards_folder(config.out)
    check_settings(folder, SAMPLES, settings)
    check_settings(folder, TREE, tree_settings)
    check_problem_hashes(folder, source.problems)
    if config.decision_pool is not None:
        # refused now, not after hours of sampling
        load_decision_pool(config.decision_pool, config.all_settings())

    shard = config.shard
    problems = shard_problems(source.problems, shard.index, shard.count)
    samples_path = sample_shard(folder, shard.index, shard.count)
    tree_path = tree_shard(folder, shard.index, shard.count)
    sampled_ids = {r["problem_id"] for r in read_shard(samples_path).records}
    searched = {
        (r["problem_id"], r["strategy"], int(r["budget"]), int(r["seed"]))
        for r in read_shard(tree_path).records
    }
    units = tree_units(problems, plan.tree, config.seed_values, config.batch_size)
    pending_samples = sum(p.id not in sampled_ids for p in problems)
    pending_searches = sum(key not in searched for unit in units for key in unit.search_keys())
    notes: list[str] = list(plan.notes)
    sampled_now = searched_now = 0

    if pending_samples or pending_searches:
        verifier = build_verifier(config, source)
        # Engines start only when they have work: a run that only searches may use a
        # tree engine of its own and never load the sampling backend.
        sampling_generator = build_generator(config, source) if pending_samples else None
        job = SamplingJob(
            strategy=pool_sampler(config.generation),
            samples=config.samples,
            seed=config.seed,
            batch_size=config.batch_size,
            prompt_config=prompt_config,
        )
        header = make_header(SAMPLES, settings, str(shard))
        with ShardWriter(samples_path, header) as writer:
            if writer.discarded_tail:
                notes.append(_torn_note(samples_path))
            with stage(
                "[1/6] sampling", len(problems), len(problems) - pending_samples, "problem"
            ) as advance:
                if sampling_generator is not None:
                    sampled_now = run_sampling(
                        problems, sampled_ids, job, sampling_generator, verifier, writer, advance
                    )
        tree_generator = None
        if pending_searches:
            tree_generator = (
                build_tree_generator(config, source)
                if config.separate_tree_engine or sampling_generator is None
                else sampling_generator
            )
        header = make_header(TREE, tree_settings, str(shard))
        with ShardWriter(tree_path, header) as writer:
            if writer.discarded_tail:
                notes.append(_torn_note(tree_path))
            total = search_work(units)
            with stage(
                "[3/6] tree searches", total, search_work(units, searched), "solution"
            ) as advance:
                if tree_generator is not None:
                    searched_now = run_tree_searches(
                        units,
                        searched,
                        base_seed=config.seed,
                        generator=tree_generator,
                        verifier=verifier,
                        prompt_config=prompt_config,
                        writer=writer,
                        advance=advance,
                    )
    else:
        # Make sure both shards exist with headers even when nothing was left to do.
        for path, kind, recorded in (
            (samples_path, SAMPLES, settings),
            (tree_path, TREE, tree_settings),
        ):
            with ShardWriter(path, make_header(kind, recorded, str(shard))):
                pass
    append_session(
        folder,
        SessionLog(
            stage="sampling and search",
            shard=str(shard),
            wall_time_s=time.perf_counter() - started,
            finished=_now(),
            plan=config.plan_settings(),
        ),
    )
    outcome = CalibrationOutcome(config, source, sampled_now, searched_now, tuple(notes))
    waiting = _missing_work(config, source, plan)
    if waiting:
        if shard.count == 1:
            raise ShardError(f"calibration work is missing after a full run: {waiting}")
        notes.append(
            f"shard {shard} is done; {waiting}. Run the other shards into {config.out} "
            f"(or copy their {folder.name}/ files there), then `ttc calibrate --merge --out "
            f"{config.out}`."
        )
        return replace(outcome, notes=tuple(notes))
    return _finish(config, source, plan, outcome, prompt_config)


def merge_calibration(
    out: Path,
    analysis: dict[str, Any],
    plan_overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> CalibrationOutcome:
    """Stages 2 and 4-6 from the shards in ``out``, on any machine.

    Sampling settings come from the shards. The plan (strategies, budgets, tree budgets,
    seeds) is taken from ``plan_overrides`` where given, else from the latest session that ran
    into ``out``, else from the defaults.
    """
    config, source, plan = merge_config(out, analysis, plan_overrides, progress)
    outcome = CalibrationOutcome(config, source, 0, 0, plan.notes)
    return _finish(config, source, plan, outcome, get_prompt_config(config.prompt_config))


def merge_config(
    out: Path,
    analysis: dict[str, Any] | None = None,
    plan_overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[CalibrationConfig, ProblemSource, StrategyPlan]:
    """The settings, problems and plan that ``merge_calibration`` would analyse ``out``
    with; refuses while any planned sample or search is missing."""
    folder = shards_folder(out)
    recorded = dict(recorded_settings(folder, TREE))
    dataset_sha = recorded.pop("dataset_sha256", None)
    shard_count = int(recorded.pop("shards", 1))
    chosen = {**recorded, **(latest_plan(folder) or {})}
    chosen.update({k: v for k, v in (plan_overrides or {}).items() if v is not None})
    plan_fields: dict[str, Any] = {}
    if chosen.get("strategies") is not None:
        plan_fields["strategies"] = tuple(chosen["strategies"])
    if chosen.get("budgets") is not None:
        plan_fields["budgets"] = tuple(int(b) for b in chosen["budgets"])
    if chosen.get("tree_budgets") is not None:
        plan_fields["tree_budgets"] = tuple(int(b) for b in chosen["tree_budgets"])
    if chosen.get("seeds") is not None:
        plan_fields["seeds"] = int(chosen["seeds"])
    analysis = dict(analysis or {})
    if analysis.get("decision_pool") is None and (pool := recorded_decision_pool(out)):
        analysis["decision_pool"] = pool
    # the shards' sampling settings, and the reduction the analysis asks for now
    reduction = {"reduction": analysis.pop("reduction")} if "reduction" in analysis else {}
    config = CalibrationConfig(
        problems=recorded["problems"],
        model=recorded["model"],
        backend=recorded["backend"],
        verifier=recorded["verifier"],
        prompt_config=recorded["prompt_config"],
        backend_options=dict(recorded.get("backend_options", {})),
        tree_backend=recorded["tree_backend"],  # filled in for older shards on reading
        tree_backend_options=dict(recorded["tree_backend_options"]),
        verifier_options=dict(recorded.get("verifier_options", {})),
        samples=int(recorded["samples"]),
        generation=GenerationSettings.from_record({**recorded, **reduction}),
        seed=int(recorded["seed"]),
        batch_size=int(recorded["batch_size"]),
        out=out,
        shard=ShardSpec(0, shard_count),
        progress=progress,
        **plan_fields,
        **analysis,
    )
    source = load_source(config.problems)
    if dataset_sha is not None and source.sha256 != dataset_sha:
        raise ShardError(
            f"the problems {config.problems!r} changed since they were sampled (sha256 "
            f"{dataset_sha[:12]}... recorded, {source.sha256[:12]}... now); merge needs the "
            "same problems"
        )
    plan = _plan(config)
    check_problem_hashes(folder, source.problems)
    waiting = _missing_work(config, source, plan)
    if waiting:
        raise ShardError(f"cannot merge {out} yet: {waiting}")
    return config, source, plan


def recorded_decision_pool(out: Path) -> str | None:
    """The decision pool the artifact in ``out`` was fitted with (its manifest's record),
    so that refitting it (``--merge``) keeps it unless another is given."""
    try:
        recorded = read_manifest(out).settings.get("decision_pool")
    except ArtifactError:  # no artifact yet, or none readable: nothing was recorded
        return None
    return str(recorded["path"]) if isinstance(recorded, dict) and "path" in recorded else None


def _planned_searches(
    config: CalibrationConfig, source: ProblemSource, plan: StrategyPlan
) -> list[tuple[str, str, int, int]]:
    return [
        (p.id, s.key, b, seed)
        for p in source.problems
        for s in plan.tree
        for b in s.budgets
        for seed in config.seed_values
    ]


def _missing_work(config: CalibrationConfig, source: ProblemSource, plan: StrategyPlan) -> str:
    """'' when every problem and search of every shard is on disk, else what is missing."""
    folder = shards_folder(config.out)
    samples = read_samples(folder, _settings(config, source))
    missing_samples = [p.id for p in source.problems if p.id not in samples]
    records = read_tree_records(folder, _tree_settings(config, source))
    missing_searches = sum(key not in records for key in _planned_searches(config, source, plan))
    parts = []
    if missing_samples:
        parts.append(f"{len(missing_samples)} problems have no samples yet")
    if missing_searches:
        parts.append(f"{missing_searches} tree searches are not done yet")
    return " and ".join(parts)


def calibration_records(
    config: CalibrationConfig, source: ProblemSource, plan: StrategyPlan
) -> tuple[dict[str, ProblemSamples], list[TreeRecord]]:
    """Every problem's samples, and the records of the searches the plan runs (earlier
    runs into the same folder may have planned more)."""
    folder = shards_folder(config.out)
    samples = read_samples(folder, _settings(config, source))
    all_records = read_tree_records(folder, _tree_settings(config, source))
    return samples, [all_records[key] for key in _planned_searches(config, source, plan)]


def _finish(
    config: CalibrationConfig,
    source: ProblemSource,
    plan: StrategyPlan,
    outcome: CalibrationOutcome,
    prompt_config: PromptConfig,
) -> CalibrationOutcome:
    with artifact_lock(shards_folder(config.out)):
        return _write_calibration(config, source, plan, outcome, prompt_config)


def _write_calibration(
    config: CalibrationConfig,
    source: ProblemSource,
    plan: StrategyPlan,
    outcome: CalibrationOutcome,
    prompt_config: PromptConfig,
) -> CalibrationOutcome:
    started = time.perf_counter()
    folder = shards_folder(config.out)
    samples, tree_records = calibration_records(config, source, plan)
    problem_ids = [p.id for p in source.problems]
    settings = AnalysisSettings(
        budgets=tuple(sorted(set(config.budgets))),
        seeds=config.seed_values,
        draws=config.draws,
        probe_k=config.probe_k,
        probe_draws=config.probe_draws,
        bootstrap=config.bootstrap,
        cv_repeats=config.cv_repeats,
        reduction=config.generation.reduction,
        base_seed=config.seed,
        delimiter=prompt_config.step_delimiter,
    )
    stage = stage_reporter(config.progress)

    def labelled(name: str, total: int) -> AbstractContextManager[Callable[[int], object]]:
        return stage(f"{ANALYSIS_STAGE_NUMBERS.get(name, '')} {name}".strip(), total)

    pool = (
        None
        if config.decision_pool is None
        else load_decision_pool(config.decision_pool, config.all_settings())
    )
    analysis = analyse(samples, tree_records, problem_ids, plan, settings, labelled)
    with labelled("decision model", 2) as advance:
        prepared = sequential_data(
            {p.id: p.text for p in source.problems},
            samples,
            analysis.evaluations,
            budgets=settings.budgets,
            tree_strategies=[s.key for s in plan.tree],
            reduction=config.generation.reduction,
            delimiter=prompt_config.step_delimiter,
            seed=config.seed,
            tree_records=tree_records,
            pool=pool,
        )
        sequential = (
            None
            if prepared is None
            else build_sequential_model(
                prepared,
                samples,
                analysis.evaluations,
                budgets=settings.budgets,
                reduction=config.generation.reduction,
                seed=config.seed,
                progress=advance,
            )
        )
    analysis = replace(analysis, sequential=sequential)
    analysis_s = time.perf_counter() - started
    sessions = read_sessions(folder)
    manifest = Manifest(
        schema_version=0,  # set by write_artifact
        created=_now(),
        package_version=_package_version(),
        model=config.model,
        verifier=config.verifier,
        backend=config.backend,
        prompt_config=config.prompt_config,
        dataset=source.describe(),
        settings={
            **config.all_settings(),
            "dataset_sha256": source.sha256,
            "decision_pool": None if pool is None else pool.describe(),
        },
        wall_time_s=sum(s.wall_time_s for s in sessions) + analysis_s,
        files={},
        predictor=None,
        versions=_versions(),
    )
    with stage("[6/6] artifact", 1) as advance:
        written = write_artifact(
            config.out,
            manifest=manifest,
            table=analysis.table,
            problems=analysis.problems,
            evaluations=analysis.evaluations,
            predictor=analysis.predictor,
            sequential=sequential,
        )
        advance(1)
    return replace(outcome, analysis=analysis, manifest=written)


def _torn_note(path: Path) -> str:
    return (
        f"discarded a half-written last line in {path} (left by an interrupted run); "
        "that work is being redone"
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ttc-router")
    except PackageNotFoundError:
        return "unknown"


def _versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
    }
