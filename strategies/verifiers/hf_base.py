"""What every verifier backed by a Hugging Face model shares.

Each PRM has its own input format, but once a request is rendered into token ids and the
positions whose outputs become step scores, the rest is the same: pad a batch, run one
forward pass, read the scores at those positions, put them back in request order. So an
adapter only says how to *render* a request (``encode``) and how to turn the model output
at a position into a probability (``_position_probabilities``); this module does the rest.

Batches are padded on the right: with a causal model the outputs at real tokens do not
depend on what follows them, so a row scores the same alone or next to a longer row.
Inputs longer than ``max_length`` are refused with a message naming the request rather
than truncated: cutting the left would drop the problem and the positions of early steps,
and a PRM silently scoring a different input is worse than a clear error. The refusal is
that request's alone (``StepScores.error``): one over-long solution fails its own
problem, never the batch it was scored with.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from strategies.hf_loading import count_parameters, model_device
from strategies.verification import ScoreRequest, StepScores

if TYPE_CHECKING:
    import torch

ModelHead = Literal["causal-lm", "token-classification"]
PreloadedModel = tuple[Any, Any]
ModelSpec = str | PreloadedModel


@dataclass(frozen=True)
class ScoringRow:
    """One model input: token ids, and the positions whose outputs are step scores."""

    input_ids: tuple[int, ...]
    positions: tuple[int, ...]


def resolve_device(device: str | None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model_and_tokenizer(
    name: str,
    *,
    head: ModelHead,
    device: str,
    dtype: Any,
    trust_remote_code: bool = False,
) -> PreloadedModel:
    """Load a verifier's weights by model name (``smollm2``, a local folder or a Hub id).

    ``head="token-classification"`` loads a model whose outputs are class logits per
    token. A checkpoint that ships its own modelling code (``auto_map`` in its config,
    as Qwen2.5-Math-PRM does) is loaded through ``AutoModel`` with that code, which
    requires ``trust_remote_code=True``.
    """
    from strategies.hf_loading import choose_dtype, load_causal_lm
    from strategies.models import resolve_model

    if head == "causal-lm":
        return load_causal_lm(
            name,
            dtype="auto" if dtype is None else dtype,
            device=device,
            trust_remote_code=trust_remote_code,
        )
    from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification, AutoTokenizer

    resolved = resolve_model(name)
    kwargs = resolved.from_pretrained_kwargs()
    tokenizer = AutoTokenizer.from_pretrained(
        resolved.location, trust_remote_code=trust_remote_code, **kwargs
    )
    config = AutoConfig.from_pretrained(
        resolved.location, trust_remote_code=trust_remote_code, **kwargs
    )
    remote = "AutoModel" in (getattr(config, "auto_map", None) or {})
    if remote and not trust_remote_code:
        raise ValueError(f"{name} ships its own modelling code; pass trust_remote_code=True")
    loader: Any = AutoModel if remote else AutoModelForTokenClassification
    # Weights go straight to the device: a 7B PRM need not fit in host memory first.
    model = loader.from_pretrained(
        resolved.location,
        dtype=choose_dtype(resolved, "auto" if dtype is None else dtype, device),
        device_map=device,
        trust_remote_code=trust_remote_code,
        **kwargs,
    )
    model.eval()
    return model, tokenizer


def tokenizer_adds_bos(tokenizer: Any) -> bool:
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == bos


def tokenize_marked_text(
    tokenizer: Any, text: str, spans: Sequence[tuple[int, int]], *, ensure_bos: bool
) -> tuple[list[int], list[int]]:
    """Token ids of ``text`` and, for each character span, the index of its token.

    The span's token is the one that ends exactly where the span ends; it may begin one
    character early (a tokenizer that folds the preceding space into the token, as
    SentencePiece does with "▁ки"). A span merged with the text after it is an error: the
    format's position would not exist in the input the model sees. Special-token text in
    ``text`` (a chat template's markers) becomes the special tokens; ``ensure_bos``
    prepends the tokenizer's BOS when the text does not start with it.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("PRM adapters need a fast tokenizer (character offsets)")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoded["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in encoded["offset_mapping"]]
    ends = {end: index for index, (_, end) in enumerate(offsets)}
    positions = []
    for start, end in spans:
        index = ends.get(end)
        if index is None or offsets[index][0] < start - 1:
            raise ValueError(
                f"the tokenizer merges the marker {text[start:end]!r} at characters "
                f"{start}-{end} with neighbouring text, so its position does not exist"
            )
        positions.append(index)
    bos = getattr(tokenizer, "bos_token_id", None)
    if ensure_bos and bos is not None and (not ids or ids[0] != bos):
        ids.insert(0, bos)
        positions = [p + 1 for p in positions]
    return ids, positions


def verdict_token_ids(tokenizer: Any, words: Sequence[str]) -> set[int]:
    """The tokens that start a verdict word: its single-token spellings when it has any
    ("Yes", " Yes"), else the first token of each spelling (a tokenizer that splits
    "Yes" into "Y" + "es")."""
    encoded = [tokenizer.encode(w, add_special_tokens=False) for w in words]
    single = {ids[0] for ids in encoded if len(ids) == 1}
    return single or {ids[0] for ids in encoded if ids}


def default_max_length(model: Any, tokenizer: Any) -> int | None:
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(limit, int) and limit > 0:
        return limit
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else None


class HFStepVerifier(ABC):
    """A ``Verifier`` whose scores are read off a Hugging Face model at chosen positions.

    Subclasses render a request into one or more ``ScoringRow``s whose positions, in
    order, give exactly one score per step; this class batches rows from the whole call
    (longest first, ``batch_size`` rows per forward pass), refuses over-long rows, and
    reassembles the scores per request. ``num_tokens`` is the number of tokens fed to
    the model for the request, padding excluded.

    A model given by name loads on ``device`` (default: cuda when available) in
    ``dtype`` (default "auto": ``strategies.hf_loading.choose_dtype``, the checkpoint's
    own dtype); a preloaded ``(model, tokenizer)`` stays where and as it is.
    """

    name: str
    num_parameters: int

    def __init__(
        self,
        model: ModelSpec,
        *,
        head: ModelHead,
        device: str | None,
        dtype: Any,
        batch_size: int,
        max_length: int | None,
        trust_remote_code: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if isinstance(model, str):
            self.name = model
            self.model, self.tokenizer = load_model_and_tokenizer(
                model,
                head=head,
                device=resolve_device(device),
                dtype=dtype,
                trust_remote_code=trust_remote_code,
            )
        else:
            # A preloaded model stays where it is (it may be shared with a generator).
            self.model, self.tokenizer = model
            config = getattr(self.model, "config", None)
            self.name = str(getattr(config, "name_or_path", "") or type(self.model).__name__)
        self.batch_size = batch_size
        self.max_length = (
            max_length if max_length is not None else default_max_length(self.model, self.tokenizer)
        )
        self.num_parameters = count_parameters(self.model)
        pad = getattr(self.tokenizer, "pad_token_id", None)
        if pad is None:
            pad = getattr(self.tokenizer, "eos_token_id", None)
        self._pad_id = int(pad) if pad is not None else 0
        self._adds_bos = tokenizer_adds_bos(self.tokenizer)

    @abstractmethod
    def encode(self, request: ScoreRequest) -> list[ScoringRow]:
        """The model input(s) for one request; positions in order, one per step."""

    @abstractmethod
    def _position_probabilities(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: list[list[int]]
    ) -> list[list[float]]:
        """One forward pass over a padded batch; a probability per listed position."""

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        rows: list[tuple[int, ScoringRow]] = []
        errors: dict[int, str] = {}
        for index, request in enumerate(requests):
            if not request.steps:
                continue
            try:
                encoded = self._rows(index, request)
            except ValueError as exc:  # this request's input, not the model: fail it alone
                errors[index] = str(exc)
                continue
            rows.extend((index, row) for row in encoded)
        probabilities = self._run_rows([row for _, row in rows])
        scores: list[list[float]] = [[] for _ in requests]
        tokens = [0] * len(requests)
        for (index, row), values in zip(rows, probabilities, strict=True):
            scores[index].extend(values)
            tokens[index] += len(row.input_ids)
        return [
            StepScores((), 0, error=errors[index])
            if index in errors
            else StepScores(scores=tuple(_clamp(s) for s in values), num_tokens=count)
            for index, (values, count) in enumerate(zip(scores, tokens, strict=True))
        ]

    def _rows(self, index: int, request: ScoreRequest) -> list[ScoringRow]:
        """The request's rows, checked: one scoring position per step, none too long."""
        encoded = self.encode(request)
        found = sum(len(row.positions) for row in encoded)
        if found != len(request.steps):
            raise RuntimeError(
                f"{self.name}: request {index} has {len(request.steps)} steps but its "
                f"input has {found} scoring positions"
            )
        for row in encoded:
            self._check_length(index, row)
        return encoded

    def _check_length(self, index: int, row: ScoringRow) -> None:
        if self.max_length is not None and len(row.input_ids) > self.max_length:
            raise ValueError(
                f"{self.name}: request {index} needs {len(row.input_ids)} tokens, more than "
                f"max_length={self.max_length}; shorten the solution, or pass a larger "
                "max_length if the model supports it (inputs are never truncated, so that "
                "no step is scored on an input the model did not see)"
            )

    def _run_rows(self, rows: Sequence[ScoringRow]) -> list[list[float]]:
        import torch

        order = sorted(range(len(rows)), key=lambda i: -len(rows[i].input_ids))
        results: list[list[float]] = [[] for _ in rows]
        device = model_device(self.model)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(len(rows[i].input_ids) for i in chunk)
            input_ids = torch.full((len(chunk), width), self._pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for b, i in enumerate(chunk):
                ids = rows[i].input_ids
                input_ids[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                attention_mask[b, : len(ids)] = 1
            with torch.inference_mode():
                values = self._position_probabilities(
                    input_ids.to(device),
                    attention_mask.to(device),
                    [list(rows[i].positions) for i in chunk],
                )
            for i, row_values in zip(chunk, values, strict=True):
                results[i] = row_values
        return results


class CausalLMVerdictVerifier(HFStepVerifier):
    """Scores as P(positive) / (P(positive) + P(negative)) from a causal LM's logits.

    ``positive_ids`` and ``negative_ids`` are token-id sets (a verdict word may start with
    several tokenizations, such as "Yes" and " Yes"); each side's probability is the sum
    over its set, computed as a log-sum-exp of logits, so the ratio is exact.
    Only the hidden states at the scored positions go through the output head, which
    keeps an 8B PRM's [batch, length, 128k] logits tensor out of memory.
    """

    positive_ids: tuple[int, ...]
    negative_ids: tuple[int, ...]

    def _set_verdict_ids(self, positive: set[int], negative: set[int], what: str) -> None:
        shared = positive & negative
        positive, negative = positive - shared, negative - shared
        if not positive or not negative:
            raise ValueError(f"{self.name}: {what} have no distinct tokens in this tokenizer")
        self.positive_ids = tuple(sorted(positive))
        self.negative_ids = tuple(sorted(negative))

    def _position_probabilities(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: list[list[int]]
    ) -> list[list[float]]:
        import torch

        logits = causal_lm_logits_at(self.model, input_ids, attention_mask, positions)
        positive = torch.logsumexp(logits[:, list(self.positive_ids)].float(), dim=-1)
        negative = torch.logsumexp(logits[:, list(self.negative_ids)].float(), dim=-1)
        flat = torch.sigmoid(positive - negative).tolist()
        return split_flat(flat, positions)


def causal_lm_logits_at(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: list[list[int]]
) -> torch.Tensor:
    """Vocabulary logits at the listed positions of each row, as [n_positions, vocab]."""
    import torch

    rows = torch.tensor([b for b, row in enumerate(positions) for _ in row], dtype=torch.long)
    cols = torch.tensor([p for row in positions for p in row], dtype=torch.long)
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    head = model.get_output_embeddings()
    if decoder is not None and decoder is not model and head is not None:
        hidden = decoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return head(hidden[rows.to(hidden.device), cols.to(hidden.device)])
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return logits[rows.to(logits.device), cols.to(logits.device)]


def _clamp(score: float) -> float:
    """Into [0, 1], rounding error aside; NaN stays NaN so that the search's guard sees it
    (``min(1, max(0, nan))`` is 0.0: a broken score would pass as a confident "wrong")."""
    return score if math.isnan(score) else min(1.0, max(0.0, score))


def split_flat(flat: Sequence[float], positions: list[list[int]]) -> list[list[float]]:
    out, start = [], 0
    for row in positions:
        out.append(list(flat[start : start + len(row)]))
        start += len(row)
    return out
