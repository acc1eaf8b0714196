"""Problems: the record every layer passes around, and its loaders.

A problem file is JSONL, one record a line; blank lines are skipped and line numbers in
error messages count every line of the file, so they match what an editor shows.

The layout is detected per record, so one file may mix layouts:

- a ``problem`` field and a ``unique_id`` field: the MATH-500 layout (``problem``,
  ``answer``, ``unique_id``, ``level``, ``subject``; the id is ``unique_id``);
- a ``problem`` field without ``unique_id``: the generic layout (``id``, ``problem``,
  ``answer``);
- a ``question`` field (and no ``problem``): the GSM8K layout, whose ``answer`` is a worked
  solution ending in ``#### N``. The reference is N with thousands separators removed; the
  whole worked solution is kept as ``metadata["solution"]``.

Every other field of a record goes into ``Problem.metadata`` unchanged (``level``,
``subject``, ``solution``, ...). A record without an id gets ``"<file stem>-<line>"``.
A missing, null or empty ``answer`` means the reference is unknown: such a problem can
be solved but not used for calibration (see :func:`require_answers`).

A reference keeps the text the user wrote. A JSON *number* has no single text once Python
holds it as a float (``1e20`` prints as ``1e+20``, ``0.00000025`` as ``2.5e-07``), and an
exponent is what a grader misreads (e as Euler's number), so numbers become plain decimal
strings from the digits in the file: ``1e20`` -> ``"100000000000000000000"``, ``2.5e-7`` ->
``"0.00000025"``, ``1.50`` -> ``"1.50"``. A number too long to write out that way is
refused with the line named: write it as a string.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from strategies.safe_files import atomic_write


@dataclass(frozen=True)
class Problem:
    """One math problem. ``answer`` is None when the reference is unknown (solve only)."""

    id: str
    text: str
    answer: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def problem_sha256(problem: Problem) -> str:
    """A fingerprint of what an answer to ``problem`` depends on: its text and reference.

    Stored beside every answer and sample record, because ids repeat across problem sets
    (``sim-0000`` of two simulator seeds are different problems).
    """
    payload = json.dumps([problem.text, problem.answer], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ProblemFormatError(ValueError):
    """A record that cannot become a Problem; the message names the file and the line."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}, line {line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class ProblemSourceError(ValueError):
    """A problem source that cannot be opened at all (no such file, no `datasets`, offline)."""


class MissingAnswerWarning(UserWarning):
    """Some problems were left out of a step that needs reference answers."""


@dataclass(frozen=True)
class HubDataset:
    """Where a known Hub dataset lives; loaded only through the optional `datasets` package."""

    name: str
    config: str | None
    split: str
    local_hint: str


HUB_DATASETS: dict[str, HubDataset] = {
    dataset.name.lower(): dataset
    for dataset in (
        HubDataset("HuggingFaceH4/MATH-500", None, "test", "math500_test.jsonl"),
        HubDataset("openai/gsm8k", "main", "test", "gsm8k_test.jsonl"),
    )
}

# Fields a record's layout consumes; they never reach metadata. Writing uses the generic
# layout, so metadata may not carry keys that would change how the record is read back.
_RESERVED_METADATA_KEYS = frozenset({"id", "problem", "answer", "unique_id"})
# Longest reference written out from a JSON number, and longest integer literal read
# (Python refuses to convert integers over 4300 digits; a clear message beats that).
MAX_NUMBER_CHARS = 1000


class _JsonFloat(float):
    """A JSON number with a fraction or exponent that remembers how the file wrote it."""

    text: str

    def __new__(cls, text: str) -> _JsonFloat:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_CHARS:
        raise ValueError(
            f"an integer of {len(text.lstrip('-'))} digits; write numbers longer than "
            f"{MAX_NUMBER_CHARS} digits as strings"
        )
    return int(text)


def _plain_floats(value: Any) -> Any:
    """Metadata as plain JSON values (the float subclass above back to float)."""
    if isinstance(value, _JsonFloat):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_floats(item) for item in value]
    return value


def plain_decimal(text: str) -> str:
    """A number's text as a plain decimal: digits kept, exponent written out.

    Raises ValueError for NaN, infinities and numbers whose plain form would be longer
    than MAX_NUMBER_CHARS.
    """
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers have an integer exponent
    if abs(exponent) + len(number.as_tuple().digits) > MAX_NUMBER_CHARS:
        raise ValueError(
            f"the number {text.strip()} has over {MAX_NUMBER_CHARS} digits written out; "
            "give the reference answer as a string"
        )
    return format(number, "f")


def load_problems(source: str | Path, *, limit: int | None = None) -> list[Problem]:
    """Load problems from a JSONL file or a known Hub dataset name.

    An existing file wins over a dataset name of the same spelling. ``limit`` keeps the
    first ``limit`` problems and stops reading there, so a bad line further down a large
    file does not block a quick run.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    path = Path(source)
    if path.is_file():
        return _collect(_read_jsonl(path), label=str(path), stem=path.stem, limit=limit)
    if path.is_dir():
        raise ProblemSourceError(f"{path} is a directory; pass a JSONL file of problems")
    dataset = HUB_DATASETS.get(str(source).lower())
    if dataset is not None:
        rows = _read_hub(dataset, limit)
        stem = dataset.name.rsplit("/", 1)[-1]
        return _collect(rows, label=dataset.name, stem=stem, limit=limit)
    known = ", ".join(d.name for d in HUB_DATASETS.values())
    raise ProblemSourceError(
        f"{str(source)!r} is neither an existing file nor a known dataset name "
        f"(known datasets: {known}); pass the path of a JSONL file of problems"
    )


def require_answers(
    problems: Sequence[Problem], *, purpose: str = "calibration"
) -> tuple[list[Problem], int]:
    """Split off the problems that have a reference answer, for a step that grades answers.

    Returns the problems with answers and how many were left out. Leaving some out warns
    (MissingAnswerWarning) with the count and a few ids; leaving all out is an error,
    because the step would silently measure nothing.
    """
    usable = [problem for problem in problems if problem.answer is not None]
    missing = [problem.id for problem in problems if problem.answer is None]
    if missing and not usable:
        raise ValueError(
            f"none of the {len(problems)} problems has a reference answer; {purpose} "
            "needs answers (such problems can still be solved)"
        )
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        warnings.warn(
            f"{len(missing)} of {len(problems)} problems have no reference answer and are "
            f"left out of {purpose}: {shown}",
            MissingAnswerWarning,
            stacklevel=2,
        )
    return usable, len(missing)


def write_problems_jsonl(problems: Iterable[Problem], path: str | Path) -> Path:
    """Write problems in the generic layout so that :func:`load_problems` reads them back.

    Metadata becomes extra fields. The file is written to a temporary name and moved into
    place, so an error half-way never leaves a truncated file behind.
    """
    path = Path(path)
    lines: list[str] = []
    seen: set[str] = set()
    for problem in problems:
        clash = _RESERVED_METADATA_KEYS.intersection(problem.metadata)
        if clash:
            raise ValueError(
                f"problem {problem.id!r}: metadata keys {sorted(clash)} clash with the "
                "generic layout's fields"
            )
        if problem.id in seen:
            raise ValueError(f"duplicate problem id {problem.id!r}")
        seen.add(problem.id)
        record = {"id": problem.id, "problem": problem.text, "answer": problem.answer}
        record.update(problem.metadata)
        try:
            lines.append(json.dumps(record, ensure_ascii=False))
        except (TypeError, ValueError) as error:
            raise ValueError(f"problem {problem.id!r}: metadata is not JSON: {error}") from error
    return atomic_write(path, "".join(line + "\n" for line in lines))


def _read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, decoded JSON value) lazily, skipping blank lines."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ProblemFormatError(str(path), number, f"not valid UTF-8 ({error})") from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            try:
                value = json.loads(text, parse_float=_JsonFloat, parse_int=_json_int)
            except ValueError as error:  # JSONDecodeError, or a number refused above
                raise ProblemFormatError(str(path), number, f"invalid JSON ({error})") from None
            yield number, value


def _read_hub(dataset: HubDataset, limit: int | None) -> Iterator[tuple[int, Any]]:
    try:
        import datasets  # optional; never needed by tests or by local files
    except ImportError:
        raise ProblemSourceError(
            f"loading {dataset.name!r} by name needs the `datasets` package, which is not "
            f"installed; pass a local JSONL file instead (for example ../shared/data/"
            f"{dataset.local_hint}), or `pip install datasets` and go online"
        ) from None
    split = dataset.split if limit is None else f"{dataset.split}[:{limit}]"
    try:
        rows = datasets.load_dataset(dataset.name, dataset.config, split=split)
    except Exception as error:  # offline, gated, renamed: all end the same way
        raise ProblemSourceError(
            f"could not load {dataset.name!r} from the Hugging Face Hub "
            f"({type(error).__name__}: {error}); pass a local JSONL file instead"
        ) from error
    for index, row in enumerate(rows, start=1):
        yield index, dict(row)


def _collect(
    rows: Iterable[tuple[int, Any]], *, label: str, stem: str, limit: int | None
) -> list[Problem]:
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    if limit == 0:
        return problems
    for line, value in rows:
        problem = _parse_record(value, _Where(label, line, stem))
        if problem.id in first_line:
            raise ProblemFormatError(
                label,
                line,
                f"duplicate id {problem.id!r} (first used on line {first_line[problem.id]})",
            )
        first_line[problem.id] = line
        problems.append(problem)
        if limit is not None and len(problems) >= limit:
            break
    return problems


@dataclass(frozen=True)
class _Where:
    label: str
    line: int
    stem: str

    def error(self, reason: str) -> ProblemFormatError:
        return ProblemFormatError(self.label, self.line, reason)


def _parse_record(value: Any, where: _Where) -> Problem:
    if not isinstance(value, dict):
        raise where.error(f"expected a JSON object, got {_json_type(value)}")
    if "problem" in value:
        id_key = "unique_id" if "unique_id" in value else "id"
        text = _text_field(value, "problem", where)
        answer = _answer_field(value, where)
        metadata = _rest(value, ("problem", "answer", id_key))
    elif "question" in value:
        id_key = "id"
        text = _text_field(value, "question", where)
        solution = value.get("answer")
        answer = None if solution is None else _gsm8k_reference(solution, where)
        metadata = _rest(value, ("question", "answer", id_key))
        if solution is not None:
            metadata["solution"] = solution
    else:
        raise where.error(
            "missing field 'problem' (MATH-500 or generic layout) or 'question' (GSM8K layout)"
        )
    return Problem(id=_id_field(value, id_key, where), text=text, answer=answer, metadata=metadata)


def _text_field(record: Mapping[str, Any], key: str, where: _Where) -> str:
    text = record[key]
    if not isinstance(text, str):
        raise where.error(f"field {key!r} must be a string, got {_json_type(text)}")
    if not text.strip():
        raise where.error(f"field {key!r} is empty")
    return text


def _answer_field(record: Mapping[str, Any], where: _Where) -> str | None:
    answer = record.get("answer")
    if answer is None:
        return None
    if isinstance(answer, bool) or not isinstance(answer, str | int | float):
        raise where.error(
            f"field 'answer' must be a string, a number or null, got {_json_type(answer)}"
        )
    if isinstance(answer, str):
        return answer.strip() or None
    if isinstance(answer, int):
        return str(answer)
    try:  # the file's own digits when read from JSON text, else Python's shortest repr
        return plain_decimal(answer.text if isinstance(answer, _JsonFloat) else repr(answer))
    except ValueError as error:
        raise where.error(f"field 'answer': {error}") from None


def _gsm8k_reference(solution: Any, where: _Where) -> str:
    if not isinstance(solution, str):
        raise where.error(
            f"field 'answer' (GSM8K worked solution) must be a string, got {_json_type(solution)}"
        )
    if "####" not in solution:
        raise where.error("GSM8K field 'answer' has no final '#### N'")
    reference = solution.rsplit("####", 1)[1].strip().replace(",", "")
    if not reference:
        raise where.error("GSM8K field 'answer' has nothing after '####'")
    return reference


def _id_field(record: Mapping[str, Any], key: str, where: _Where) -> str:
    value = record.get(key)
    if value is None:
        return f"{where.stem}-{where.line}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise where.error(f"field {key!r} must be a string or an integer, got {_json_type(value)}")
    identifier = str(value).strip()
    if not identifier:
        raise where.error(f"field {key!r} is empty")
    return identifier


def _rest(record: Mapping[str, Any], consumed: Sequence[str]) -> dict[str, Any]:
    return {key: _plain_floats(value) for key, value in record.items() if key not in consumed}


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
