"""The Generator protocol: the one interface every search strategy talks to.

Strategies are written once against this protocol, so beam search on a GPU vLLM
engine, on an HTTP server farm, on transformers or on the simulator is the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "eos", "length"]
Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class GenerationSettings:
    """How a run samples and scores solutions: the one home of these defaults.

    A calibration records them (``ttc calibrate --temperature ...``, generated from these
    fields and their help) and the router reuses the calibration's, since the table's
    accuracies hold only for them; strategy configs and ``SamplingParams`` take their
    defaults from here (``generation_field``).
    """

    temperature: float = field(default=0.8, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    max_tokens: int = field(default=2048, metadata={"help": "new tokens per solution at most"})
    reduction: str = field(
        default="last", metadata={"help": "solution score from step scores: last, min or prod"}
    )

    @classmethod
    def from_record(cls, settings: Mapping[str, Any]) -> GenerationSettings:
        """The settings a manifest or shard recorded (flat keys); defaults where absent."""
        defaults = cls()
        return cls(
            **{
                f.name: type(getattr(defaults, f.name))(settings[f.name])
                for f in fields(cls)
                if f.name in settings
            }
        )


DEFAULT_GENERATION = GenerationSettings()


def generation_field(name: str, help: str | None = None) -> Any:
    """A config field defaulting to ``GenerationSettings``'s ``name`` (its help unless
    ``help`` says better what it means there)."""
    (spec,) = [f for f in fields(GenerationSettings) if f.name == name]
    return field(default=spec.default, metadata={"help": help or spec.metadata["help"]})


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Prompt:
    """A chat to continue, plus an optional partial assistant answer.

    ``partial`` is the text the assistant has already written (earlier search steps);
    backends must continue it verbatim, never trimming its trailing "\\n\\n".
    ``key`` identifies the problem for backends that care (the simulator) and for
    deterministic per-request seeds; it defaults to the last user message.
    ``max_tokens`` is this prompt's own cap on new tokens, used instead of the call's
    ``SamplingParams.max_tokens`` when given: a tree search gives each beam what is left
    of its own token budget, so one beam's cap never depends on the others in the call.
    ``samples`` is this prompt's own n, used instead of ``SamplingParams.n`` when given:
    a tree search gives each node as many children as its selector asked for, so nodes
    asking for different numbers share one call. Its samples are those of a call with
    ``n = samples`` (same seeds), whatever the other prompts ask for.
    """

    messages: tuple[ChatMessage, ...]
    partial: str = ""
    key: str | None = None
    max_tokens: int | None = None
    samples: int | None = None

    def __post_init__(self) -> None:
        if self.samples is not None and (
            isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1
        ):
            raise ValueError(f"a prompt's samples must be an integer >= 1, got {self.samples!r}")

    @property
    def problem_key(self) -> str:
        if self.key is not None:
            return self.key
        users = [m.content for m in self.messages if m.role == "user"]
        return users[-1] if users else ""


def token_limit(prompt: Prompt, params: SamplingParams) -> int:
    """The new-token cap of ``prompt`` in a call with ``params`` (its own, when it has one)."""
    return params.max_tokens if prompt.max_tokens is None else prompt.max_tokens


def sample_count(prompt: Prompt, params: SamplingParams) -> int:
    """The samples ``prompt`` gets in a call with ``params`` (its own n, when it has one)."""
    return params.n if prompt.samples is None else prompt.samples


def own_params(prompt: Prompt, params: SamplingParams) -> SamplingParams:
    """``params`` as a call holding ``prompt`` alone would have them: its own n and token
    cap. What backends that build one request per prompt send, and what a recorded call
    is keyed by."""
    n, max_tokens = sample_count(prompt, params), token_limit(prompt, params)
    if n == params.n and max_tokens == params.max_tokens:
        return params
    return replace(params, n=n, max_tokens=max_tokens)


@dataclass(frozen=True)
class SamplingParams:
    """How to continue each prompt. Defaults are ``GenerationSettings``' (DESIGN.md s.2)."""

    n: int = 1
    max_tokens: int = generation_field("max_tokens")
    temperature: float = generation_field("temperature")
    top_p: float = generation_field("top_p")
    stop: tuple[str, ...] = ()
    seed: int = 0
    # A top-up continues a stream: these ``n`` are its samples ``offset``.. of the stream
    # first drawn with seed ``stream``. Live engines just use ``seed`` (fresh samples); a
    # replay serves those positions, so every policy's k-th sample of a problem is the same
    # recorded one however it got there (one at a time or doubling).
    stream: int | None = None
    offset: int = 0

    def check(self, backend: str, *, min_max_tokens: int = 1) -> None:
        """Refuse settings no backend can honour, naming every problem at once.

        Checked by each backend rather than at construction, because a backend may accept
        more (the simulator takes ``max_tokens=0`` to mean "close the current step").
        """
        problems = []
        if self.n < 1:
            problems.append(f"n={self.n} (need >= 1)")
        if self.max_tokens < min_max_tokens:
            problems.append(f"max_tokens={self.max_tokens} (need >= {min_max_tokens})")
        if self.temperature < 0:
            problems.append(f"temperature={self.temperature} (need >= 0)")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p={self.top_p} (need 0 < top_p <= 1)")
        if problems:
            raise ValueError(f"{backend}: bad sampling parameters: " + ", ".join(problems))


@dataclass(frozen=True)
class Completion:
    """One sampled continuation.

    ``text`` includes the matched stop string (steps keep their "\\n\\n").
    ``num_tokens`` is the number of generated tokens, never left at 0 for non-empty text.
    """

    text: str
    num_tokens: int
    finish_reason: FinishReason
    logprob: float | None = None


@runtime_checkable
class Generator(Protocol):
    """Continues a batch of prompts with ``params.n`` samples each (``Prompt.samples``
    where a prompt has its own count: ``sample_count``).

    Returns one list of ``sample_count(prompt, params)`` completions per prompt, in
    prompt order.
    ``num_parameters`` feeds the FLOPs estimate of the cost ledger.
    """

    name: str
    num_parameters: int

    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams
    ) -> list[list[Completion]]: ...


@dataclass(eq=False)
class GenerationError(RuntimeError):
    """A backend failed in a way the caller should report, not retry blindly.

    Not frozen: ``add_note`` (used to say which search step failed) must be able to set
    ``__notes__``; ``eq=False`` keeps exceptions hashable by identity.
    """

    message: str
    backend: str = ""
    details: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        prefix = f"[{self.backend}] " if self.backend else ""
        return prefix + self.message
