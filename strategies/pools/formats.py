"""Readers of the pool layouts, one function each, registered by name.

Layouts (``describe_layouts`` prints this list for error messages):

- ``shards``: the project's own calibration shards (``samples-*.jsonl``; a header line,
  then one problem a line with ``problem_id``, ``gold`` and ``samples``). A folder (an
  artifact or its ``shards/``) means every samples shard in it. Problem texts are
  regenerated from the header's ``problems`` setting when it is a generated set or a
  file still on disk; otherwise the id stands in for the text.
- ``generic``: one problem a line (documented in the README): ``id``, ``problem`` (text),
  ``answer`` (reference), ``samples``: a list of ``{"text", "answer", "step_scores" or
  "score", "num_tokens", "finish_reason"}`` where ``text`` or ``answer`` is required and
  the rest is optional. Any other field (``level``, ...) goes into the problem's metadata.
  An optional first line ``{"header": {"model": ..., "verifier": ..., "num_parameters": ...}}``
  says how the samples were made.
- ``search-and-learn``: the layout of search-and-learn's published datasets, JSONL or
  Parquet, one row per problem: ``problem``, ``answer``, ``completions`` (N texts),
  ``scores`` (per completion, the list of step scores), ``completion_tokens`` (per
  completion); ``unique_id``, ``level`` and ``subject`` are kept, the ``pred*`` columns are
  ignored (answers are extracted again from the texts).

Why one reader per layout and no pandas-style guessing: a wrong column must be named, in
the file and row where it is wrong, before hours of replay are spent on a misread pool.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strategies.pools.records import PoolFile, PoolFormatError, RecordedProblem, RecordedSample
from strategies.registry import Registry

# Without a recorded count, tokens are estimated at about 4 characters each (the usual
# figure for English BPE vocabularies); only costs depend on it.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ReadPool:
    """What a reader returns: the problems of one file and what the file recorded."""

    problems: list[RecordedProblem]
    model: str | None = None
    verifier: str | None = None
    num_parameters: int | None = None
    verifier_num_parameters: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)


Reader = Callable[[Path], ReadPool]
LAYOUTS = Registry[Reader]("pool layout")


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0


def file_sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def jsonl_rows(path: Path, *, torn_tail_ok: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; anything else names file and line.

    ``torn_tail_ok`` skips a last line without its newline: a shard that a running
    calibration is still appending to can be replayed as far as it got.
    """
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip() or (torn_tail_ok and not raw.endswith(b"\n")):
                continue
            value = _json_line(path, number, raw)
            if not isinstance(value, dict):
                raise PoolFormatError(f"{path}, line {number}: expected a JSON object")
            yield number, value


# JSON nested deeper than this is refused before Python's recursion limit is near
MAX_JSON_DEPTH = 100


def _json_line(path: Path, number: int, raw: bytes) -> Any:
    """One line as JSON; bytes that are not UTF-8, NaN or Infinity (not JSON, though
    Python reads them) and nesting deep enough to exhaust the parser each get one error
    naming the file and line."""
    where = f"{path}, line {number}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoolFormatError(
            f"{where}: byte {exc.start + 1} is not UTF-8 (0x{raw[exc.start]:02x}); save "
            "the file as UTF-8"
        ) from None
    depth = _nesting(line)
    if depth > MAX_JSON_DEPTH:
        raise PoolFormatError(f"{where}: JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH}")
    try:
        return json.loads(line, parse_constant=_not_json, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise PoolFormatError(f"{where}: not valid JSON ({exc.msg})") from None
    except ValueError as exc:
        raise PoolFormatError(f"{where}: {exc}") from None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large for a number; write it as a string")
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; write a finite number (or a string)")


def _nesting(line: str) -> int:
    """The deepest bracket nesting outside strings, by a scan (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in line:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _first_row(path: Path) -> dict[str, Any] | None:
    for _number, row in jsonl_rows(path):
        return row
    return None


def detect_layout(path: Path) -> str:
    """The layout of ``path``, from its suffix, header and first record's fields."""
    if path.is_dir() or path.suffix == ".parquet":
        return "shards" if path.is_dir() else "search-and-learn"
    first = _first_row(path)
    if first is None:
        raise PoolFormatError(f"{path}: the file holds no problems")
    header = first.get("header")
    if isinstance(header, dict) and header.get("kind") == "samples":
        return "shards"
    if "completions" in first:
        return "search-and-learn"
    if "samples" in first or isinstance(header, dict):
        return "generic"
    raise PoolFormatError(
        f"{path}, line 1: cannot tell the pool layout: expected a calibration shard header, "
        f"a 'samples' list (generic layout) or a 'completions' list (search-and-learn "
        f"layout); found fields {sorted(first)}"
    )


# --- field checks shared by the readers -------------------------------------------------


def _where(path: Path, line: int, unit: str = "line") -> str:
    return f"{path}, {unit} {line}"


def _text(value: Any, where: str, name: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PoolFormatError(f"{where}: '{name}' must be a string, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise PoolFormatError(f"{where}: '{name}' is {value}, not a finite number")
    return str(value)


def _scores(value: Any, where: str, name: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise PoolFormatError(f"{where}: '{name}' must be a list of numbers")
    try:
        scores = tuple(float(s) for s in value)
    except (TypeError, ValueError):
        raise PoolFormatError(f"{where}: '{name}' must be a list of numbers") from None
    # any finite real: reward models give logits; the calibration picks the transform
    # that reads them (strategies.score_transforms) and records it
    bad = [s for s in scores if not math.isfinite(s)]
    if bad:
        raise PoolFormatError(f"{where}: '{name}' holds {bad[0]}, not a finite number")
    return scores


# a count above this (a billion tokens for one sample) is a corrupt field, not a count:
# taken as it is, 1e300 tokens made FLOPs of Infinity, written into table.json
MAX_COUNT = 10**9


def _count(value: Any, where: str, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not float(value).is_integer()
        or not 0 <= value <= MAX_COUNT
    ):
        raise PoolFormatError(
            f"{where}: '{name}' must be a whole number from 0 to {MAX_COUNT}, got {value!r}"
        )
    return int(value)


def _header_fields(header: dict[str, Any], where: str) -> dict[str, Any]:
    """The generic header's model, verifier (strings) and parameter counts (whole
    numbers), checked: a ``"model": 5`` used to end in an AttributeError far away."""
    fields: dict[str, Any] = {}
    for name in ("model", "verifier"):
        value = header.get(name)
        if value is not None and not isinstance(value, str):
            raise PoolFormatError(
                f"{where}: header '{name}' must be a string, got {type(value).__name__}"
            )
        fields[name] = value
    for name in ("num_parameters", "verifier_num_parameters"):
        value = header.get(name)
        fields[name] = None if value is None else _count_parameters(value, where, name)
    return fields


def _count_parameters(value: Any, where: str, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not float(value).is_integer()
        or value < 1
    ):
        raise PoolFormatError(
            f"{where}: header '{name}' must be a whole number >= 1, got {value!r}"
        )
    return int(value)


def make_sample(
    text: str | None,
    answer: str | None,
    scores: tuple[float, ...] | None,
    tokens: int | None,
    finish_reason: str | None,
    where: str,
    verifier_tokens: int | None = None,
) -> RecordedSample:
    if not text and answer is None:
        raise PoolFormatError(f"{where}: a sample needs a 'text' or an 'answer'")
    body = text or ""
    return RecordedSample(
        text=body,
        answer=answer,
        step_scores=scores,
        num_tokens=estimate_tokens(body) if tokens is None else tokens,
        finish_reason=finish_reason or "eos",
        verifier_tokens=verifier_tokens,
    )


# --- generic ----------------------------------------------------------------------------

_GENERIC_FIELDS = ("id", "problem", "answer", "samples")


@LAYOUTS.register("generic", summary="one problem a line: id, problem, answer, samples[...]")
def read_generic(path: Path) -> ReadPool:
    problems: list[RecordedProblem] = []
    header: dict[str, Any] = {}
    recorded = _header_fields({}, str(path))
    for number, row in jsonl_rows(path):
        if number == 1 and isinstance(row.get("header"), dict):
            header = row["header"]
            recorded = _header_fields(header, _where(path, number))
            continue
        where = _where(path, number)
        if "samples" not in row:
            raise PoolFormatError(
                f"{where}: no 'samples' field (generic layout: id, problem, answer, samples); "
                f"found fields {sorted(row)}"
            )
        raw = row["samples"]
        if not isinstance(raw, list):
            raise PoolFormatError(f"{where}: 'samples' must be a list of objects")
        samples = []
        for index, item in enumerate(raw):
            at = f"{where}, sample {index}"
            if not isinstance(item, dict):
                raise PoolFormatError(f"{at}: expected an object with 'text' and/or 'answer'")
            scores = _scores(item.get("step_scores"), at, "step_scores")
            if scores is None:
                scores = _scores(item.get("score"), at, "score")
            tokens, read = item.get("num_tokens"), item.get("verifier_tokens")
            samples.append(
                make_sample(
                    _text(item.get("text"), at, "text", required=False),
                    _text(item.get("answer"), at, "answer", required=False),
                    scores,
                    None if tokens is None else _count(tokens, at, "num_tokens"),
                    _text(item.get("finish_reason"), at, "finish_reason", required=False),
                    at,
                    None if read is None else _count(read, at, "verifier_tokens"),
                )
            )
        ident = row.get("id", f"{path.stem}-{number}")
        problems.append(
            RecordedProblem(
                id=str(_text(ident, where, "id", required=True)),
                text=_text(row.get("problem"), where, "problem", required=False),
                answer=_text(row.get("answer"), where, "answer", required=False),
                samples=tuple(samples),
                where=where,
                metadata={k: v for k, v in row.items() if k not in _GENERIC_FIELDS},
            )
        )
    return ReadPool(problems, **recorded, settings=dict(header))


# --- search-and-learn -------------------------------------------------------------------

SAL_REQUIRED = ("problem", "answer", "completions")
SAL_KEPT = ("unique_id", "level", "subject")


@LAYOUTS.register(
    "search-and-learn",
    summary="one row per problem: problem, answer, completions, scores, completion_tokens",
)
def read_search_and_learn(path: Path) -> ReadPool:
    if path.suffix == ".parquet":
        rows: Iterator[tuple[int, Mapping[str, Any]]] = _parquet_rows(path)
        unit = "row"
    else:
        rows = jsonl_rows(path)
        unit = "line"
    problems = [_sal_problem(path, number, row, unit) for number, row in rows]
    return ReadPool(problems)


def _parquet_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise PoolFormatError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [name for name in SAL_REQUIRED if name not in table.column_names]
    if missing:
        raise PoolFormatError(_missing_columns(str(path), missing, table.column_names))
    yield from enumerate(table.to_pylist(), start=1)


def _missing_columns(where: str, missing: Sequence[str], found: Sequence[str]) -> str:
    return (
        f"{where}: no column {', '.join(repr(m) for m in missing)} (search-and-learn layout needs "
        f"{', '.join(SAL_REQUIRED)}; found {', '.join(sorted(found))})"
    )


def _sal_problem(path: Path, number: int, row: Mapping[str, Any], unit: str) -> RecordedProblem:
    where = _where(path, number, unit)
    missing = [name for name in SAL_REQUIRED if name not in row]
    if missing:
        raise PoolFormatError(_missing_columns(where, missing, list(row)))
    completions = row["completions"]
    if not isinstance(completions, Sequence) or isinstance(completions, str):
        raise PoolFormatError(f"{where}: 'completions' must be a list of texts")
    scores = _per_completion(row.get("scores"), len(completions), where, "scores")
    tokens = _per_completion(
        row.get("completion_tokens"), len(completions), where, "completion_tokens"
    )
    samples = []
    for index, text in enumerate(completions):
        at = f"{where}, completion {index}"
        samples.append(
            make_sample(
                _text(text, at, "completions", required=True),
                None,
                None if scores is None else _scores(scores[index], at, "scores"),
                None if tokens is None else _count(tokens[index], at, "completion_tokens"),
                None,
                at,
            )
        )
    ident = row.get("unique_id") or f"{path.stem}-{number}"
    return RecordedProblem(
        id=str(ident),
        text=_text(row["problem"], where, "problem", required=True),
        answer=_text(row["answer"], where, "answer", required=False),
        samples=tuple(samples),
        where=where,
        metadata={k: row[k] for k in SAL_KEPT if row.get(k) is not None},
    )


def _per_completion(value: Any, count: int, where: str, name: str) -> Sequence[Any] | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != count:
        size = len(value) if isinstance(value, Sequence) and not isinstance(value, str) else "no"
        raise PoolFormatError(
            f"{where}: '{name}' must be a list with one entry per completion ({count}), "
            f"got {size} entries"
        )
    return value


# --- the project's calibration shards ---------------------------------------------------


def shard_files(path: Path) -> list[Path]:
    """A shard file itself, or every samples shard in a folder (or its ``shards/``)."""
    if not path.is_dir():
        return [path]
    folder = path / "shards" if (path / "shards").is_dir() else path
    files = sorted(folder.glob("samples-*.jsonl"))
    if not files:
        raise PoolFormatError(f"{path}: no calibration sample shards (samples-*.jsonl) in it")
    return files


@LAYOUTS.register("shards", summary="the project's calibration sample shards (or their folder)")
def read_shards(path: Path) -> ReadPool:
    problems: list[RecordedProblem] = []
    settings: dict[str, Any] = {}
    parameters: dict[str, int | None] = {"generator": None, "verifier": None}
    for file in shard_files(path):
        rows = jsonl_rows(file, torn_tail_ok=True)
        header = next(rows, (0, {}))[1].get("header")
        if not isinstance(header, dict) or header.get("kind") != "samples":
            raise PoolFormatError(f"{file}, line 1: not a calibration samples shard header")
        settings = dict(header.get("settings", {}))
        for number, row in rows:
            problem, found = _shard_problem(file, number, row)
            problems.append(problem)
            for role, count in found.items():
                parameters[role] = parameters[role] or count
    texts = _shard_texts(settings.get("problems"))
    if texts:
        problems = [
            RecordedProblem(p.id, texts.get(p.id), p.answer, p.samples, p.where, p.metadata)
            for p in problems
        ]
    return ReadPool(
        problems,
        model=settings.get("model"),
        verifier=settings.get("verifier"),
        num_parameters=parameters["generator"],
        verifier_num_parameters=parameters["verifier"],
        settings=settings,
    )


def _parameters(flops: Any, tokens: Any) -> int | None:
    """The parameter count behind a ledger's FLOPs (2 x parameters x tokens)."""
    return round(float(flops) / (2 * float(tokens))) if tokens and flops else None


def _shares(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), summing exactly."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    shares = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _shard_problem(
    file: Path, number: int, row: Mapping[str, Any]
) -> tuple[RecordedProblem, dict[str, int | None]]:
    """One shard line; its ledger gives the parameter counts and the verifier's tokens,
    which a shard records per problem only, so they are shared out by sample length."""
    where = _where(file, number)
    for name in ("problem_id", "gold", "samples"):
        if name not in row:
            raise PoolFormatError(f"{where}: a samples shard line needs '{name}'")
    cost = row.get("cost") or {}
    lengths = [_count(item.get("num_tokens", 0), where, "num_tokens") for item in row["samples"]]
    read = _shares(int(cost.get("verifier_tokens") or 0), lengths)
    samples = []
    for index, item in enumerate(row["samples"]):
        at = f"{where}, sample {index}"
        samples.append(
            make_sample(
                _text(item.get("text"), at, "text", required=False),
                _text(item.get("answer"), at, "answer", required=False),
                _scores(item.get("step_scores"), at, "step_scores"),
                _count(item.get("num_tokens", 0), at, "num_tokens"),
                _text(item.get("finish_reason"), at, "finish_reason", required=False),
                at,
                read[index] if cost else None,
            )
        )
    parameters = {
        "generator": _parameters(cost.get("generator_flops"), cost.get("generated_tokens")),
        "verifier": _parameters(cost.get("verifier_flops"), cost.get("verifier_tokens")),
    }
    problem = RecordedProblem(
        id=str(row["problem_id"]),
        text=None,
        answer=str(row["gold"]),
        samples=tuple(samples),
        where=where,
        metadata=dict(row.get("metadata") or {}),
    )
    return problem, parameters


def _shard_texts(spec: Any) -> dict[str, str]:
    """Problem texts by id from a shard's recorded ``problems`` setting, when recoverable."""
    if not isinstance(spec, str):
        return {}
    kind, _, rest = spec.partition(":")
    try:
        if kind == "arithmetic" and rest:
            from strategies.arithmetic_problems import generate_arithmetic_problems

            count, _, seed = rest.partition(":")
            found = generate_arithmetic_problems(int(count), seed=int(seed or 0))
        elif kind == "simulator" and rest:
            from strategies.simulation import SimulatedWorld

            count, _, seed = rest.partition(":")
            found = list(SimulatedWorld(int(count), seed=int(seed or 0)).problems)
        elif Path(spec).is_file():
            from strategies.problems import load_problems

            found = load_problems(spec)
        else:
            return {}
    except (ValueError, OSError):
        return {}
    return {p.id: p.text for p in found}


def read_pool_file(path: Path, layout: str | None = None) -> tuple[ReadPool, PoolFile]:
    """Read one pool file (or shard folder) in ``layout`` (detected when None)."""
    if not path.exists():
        raise PoolFormatError(f"--pool {path}: no such file or folder")
    chosen = layout or detect_layout(path)
    read = LAYOUTS.get(chosen)(path)
    files = shard_files(path) if chosen == "shards" else [path]
    described = PoolFile(
        path=str(path.resolve()),
        layout=chosen,
        sha256=file_sha256(files),
        num_problems=len(read.problems),
        model=read.model,
        verifier=read.verifier,
        num_parameters=read.num_parameters,
        verifier_num_parameters=read.verifier_num_parameters,
        settings=read.settings,
    )
    return read, described
