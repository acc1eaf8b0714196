"""Where calibration problems come from: a JSONL file, the arithmetic generator, or the simulator.

``--problems`` takes ``PATH`` (a JSONL file, or a known dataset name), ``arithmetic:COUNT``
(optionally ``arithmetic:COUNT:SEED``), ``simulator:COUNT`` (optionally
``simulator:COUNT:SEED``; needs ``--backend simulator``) or ``pool:FILE[,FILE...][@I/N]``
(the problems of recorded pools, part I of N of them; what ``--pool`` and ``--pool-split``
spell, for ``--backend replay``). Every source gets a sha256 that the manifest records: of
the file's bytes, of the generated problems' JSON, or of the pool files and the split.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strategies.problems import Problem, ProblemSourceError, load_problems, require_answers

GENERATED_SOURCES = ("arithmetic", "simulator")


@dataclass(frozen=True)
class ProblemSource:
    """The problems to calibrate on, and what the manifest says about them.

    ``world`` is the SimulatedWorld behind ``simulator:`` problems (its generator and
    PRM are the simulator backend and verifier), else None.
    """

    spec: str
    problems: list[Problem]
    skipped_without_answer: int
    sha256: str
    path: str | None
    world: Any = None

    def describe(self) -> dict[str, Any]:
        described = {
            "source": self.spec,
            "path": self.path,
            "sha256": self.sha256,
            "num_problems": len(self.problems) + self.skipped_without_answer,
            "num_used": len(self.problems),
            "skipped_without_answer": self.skipped_without_answer,
        }
        describe_world = getattr(self.world, "describe", None)
        if describe_world is not None:
            described.update(describe_world())
        return described


POOL_PREFIX = "pool:"


def pool_spec(paths: list[str], split: str | None = None) -> str:
    """The ``--problems`` spelling of ``--pool`` files (absolute paths) and a split."""
    joined = ",".join(str(Path(p).resolve()) for p in paths)
    return f"{POOL_PREFIX}{joined}" + (f"@{split}" if split else "")


def parse_pool_spec(spec: str) -> tuple[list[str], str | None]:
    """``pool:A,B@I/N`` -> (["A", "B"], "I/N")."""
    body = spec[len(POOL_PREFIX) :]
    head, at, tail = body.rpartition("@")
    if at and "/" in tail and tail.replace("/", "").isdigit():
        body, split = head, tail
    else:
        split = None
    paths = [p for p in body.split(",") if p]
    if not paths:
        raise ValueError(f"--problems {spec!r}: expected pool:FILE[,FILE...][@I/N]")
    return paths, split


def load_pool_source(spec: str) -> ProblemSource:
    """The problems of recorded pools, with the ReplayWorld that serves their samples."""
    from strategies.pools.loading import parse_split
    from strategies.pools.replay import ReplayWorld

    paths, split = parse_pool_spec(spec)
    world = ReplayWorld.from_files(paths, parse_split(split))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        usable, skipped = require_answers(world.problems, purpose="calibration")
    return ProblemSource(spec, usable, skipped, world.sha256, None, world)


def _generated_spec(spec: str) -> tuple[str, int, int] | None:
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in GENERATED_SOURCES:
        return None
    count_text, _, seed_text = rest.partition(":")
    try:
        count = int(count_text)
        seed = int(seed_text) if seed_text else 0
    except ValueError:
        raise ProblemSourceError(
            f"problems {spec!r}: expected {kind}:COUNT or {kind}:COUNT:SEED with integers"
        ) from None
    if count < 1:
        raise ProblemSourceError(f"problems {spec!r}: COUNT must be >= 1, got {count}")
    return kind, count, seed


def _problems_sha256(problems: list[Problem]) -> str:
    payload = json.dumps([[p.id, p.text, p.answer] for p in problems], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def load_source(spec: str) -> ProblemSource:
    """Resolve ``--problems``; problems without a reference answer are counted and dropped."""
    if spec.startswith(POOL_PREFIX):
        return load_pool_source(spec)
    generated = _generated_spec(spec)
    world = None
    path: str | None = None
    if generated is not None:
        kind, count, seed = generated
        if kind == "arithmetic":
            from strategies.arithmetic_problems import generate_arithmetic_problems

            problems = generate_arithmetic_problems(count, seed=seed)
        else:
            from strategies.backends.simulator import SimulatedWorld

            world = SimulatedWorld(count, seed=seed)
            problems = list(world.problems)
        digest = _problems_sha256(problems)
    else:
        problems = load_problems(spec)
        if not problems:
            raise ProblemSourceError(
                f"--problems {spec} holds no problems (it is empty or has only blank lines)"
            )
        file = Path(spec)
        if file.is_file():
            path = str(file.resolve())
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
        else:
            digest = _problems_sha256(problems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the count is reported in the summary instead
        usable, skipped = require_answers(problems, purpose="calibration")
    return ProblemSource(spec, usable, skipped, digest, path, world)


def shard_problems(problems: list[Problem], index: int, count: int) -> list[Problem]:
    """Problems index, index + count, ...: shards stay balanced across difficulty levels."""
    return problems[index::count]
