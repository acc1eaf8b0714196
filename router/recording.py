"""Generator and verifier wrappers that remember every answer they gave.

Two jobs, one mechanism:
- **Resume without paying twice.** ``ttc solve`` logs every generator and verifier call
  to a file beside the answers (appended and flushed per call). After a kill, the rerun
  makes the same calls (the router is deterministic given its seed), gets the logged
  outputs back at no cost, and so reaches the same answers with the same ledgers.
- **Evaluate many policies on one set of samples.** `ttc evaluate` runs a dozen policies
  over the same problems; their sampling rounds mostly make the same requests.

Per-request seeds make this exact: a request's samples depend only on (seed, problem,
partial answer, sampling settings), never on the batch around it
(``strategies.backends.seeds``). A call holding the same prompt twice (whose copies get
consecutive seeds) is looked up as a whole, never split. A prompt with its own sample
count or token cap (``Prompt.samples``, ``Prompt.max_tokens``: a tree search's step) is
keyed by its own settings, so its output is served as the list it got.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from strategies.generation import Completion, Generator, Prompt, SamplingParams, own_params
from strategies.verification import ScoreRequest, StepScores, Verifier


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def prompt_key(prompt: Prompt, params: SamplingParams) -> str:
    """A prompt's request as it is answered: the settings are its own (``own_params``:
    its sample count and token cap where it has them), so a prompt asking for 2 samples in
    a call for 4 is remembered as what it got, and found again by a call like it."""
    return _digest(
        {
            "messages": [[m.role, m.content] for m in prompt.messages],
            "partial": prompt.partial,
            "key": prompt.key,
            "params": asdict(own_params(prompt, params)),
        }
    )


def request_key(request: ScoreRequest) -> str:
    return _digest({"problem": request.problem, "steps": list(request.steps)})


class CallLog:
    """An append-only JSONL of outputs by key; a torn last line (a kill mid-write) is
    ignored and overwritten by the next append."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Any] = {}
        self._stream: IO[str] | None = None
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        good = 0
        with path.open("rb") as stream:
            for line in stream:
                if not line.endswith(b"\n"):
                    break
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break
                self.entries[str(entry["key"])] = entry["value"]
                good += len(line)
        if good < path.stat().st_size:
            with path.open("r+b") as stream:
                stream.truncate(good)

    def get(self, key: str) -> Any:
        return self.entries.get(key)

    def put_many(self, items: Sequence[tuple[str, Any]]) -> None:
        for key, value in items:
            self.entries[key] = value
        if self.path is None:
            return
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = self.path.open("a", encoding="utf-8")
        for key, value in items:
            self._stream.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class RecordingGenerator:
    """Serves remembered completions; asks ``inner`` only for the rest."""

    def __init__(self, inner: Generator, log: CallLog) -> None:
        self.inner = inner
        self.log = log
        self.name = inner.name
        self.num_parameters = inner.num_parameters
        self.calls = 0
        self.hits = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        identities = [(p.problem_key, p.partial) for p in prompts]
        if len(set(identities)) < len(identities):
            return self._whole_call(prompts, params)
        keys = [prompt_key(p, params) for p in prompts]
        found = [self.log.get(k) for k in keys]
        missing = [i for i, value in enumerate(found) if value is None]
        self.hits += len(prompts) - len(missing)
        if missing:
            self.calls += 1
            fresh = self.inner.generate([prompts[i] for i in missing], params)
            self.log.put_many(
                [
                    (keys[i], [_completion_json(c) for c in out])
                    for i, out in zip(missing, fresh, strict=True)
                ]
            )
            for i, out in zip(missing, fresh, strict=True):
                found[i] = [_completion_json(c) for c in out]
        return [[_completion(c) for c in value] for value in found]

    def _whole_call(
        self, prompts: Sequence[Prompt], params: SamplingParams
    ) -> list[list[Completion]]:
        key = _digest({"call": [prompt_key(p, params) for p in prompts]})
        value = self.log.get(key)
        if value is None:
            self.calls += 1
            outputs = self.inner.generate(prompts, params)
            value = [[_completion_json(c) for c in out] for out in outputs]
            self.log.put_many([(key, value)])
        else:
            self.hits += len(prompts)
        return [[_completion(c) for c in out] for out in value]


class RecordingVerifier:
    """Serves remembered step scores; asks ``inner`` only for the rest."""

    def __init__(self, inner: Verifier, log: CallLog) -> None:
        self.inner = inner
        self.log = log
        self.name = inner.name
        self.num_parameters = inner.num_parameters

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        keys = [request_key(r) for r in requests]
        found = [self.log.get(k) for k in keys]
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            fresh = self.inner.score([requests[i] for i in missing])
            values = [[list(s.scores), s.num_tokens] for s in fresh]
            self.log.put_many([(keys[i], v) for i, v in zip(missing, values, strict=True)])
            for i, value in zip(missing, values, strict=True):
                found[i] = value
        return [StepScores(tuple(float(s) for s in v[0]), int(v[1])) for v in found]


def _completion_json(completion: Completion) -> list[Any]:
    return [completion.text, completion.num_tokens, completion.finish_reason, completion.logprob]


def _completion(value: Sequence[Any]) -> Completion:
    return Completion(str(value[0]), int(value[1]), value[2], value[3])
