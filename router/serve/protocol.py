"""Request and response bodies of ``/v1/chat/completions``, and the checks between them.

A request becomes a ``ChatCall`` (one problem and one budget policy) or an ``ApiError``
whose ``param`` names the offending field, in OpenAI's error layout
(``{"error": {"message", "type", "param", "code"}}``), so the official clients raise
``BadRequestError`` with ``.param`` set.

Why the sampling fields are checked rather than passed on: the calibration table's
accuracies hold only for the temperature, top_p and token limit it was measured with,
and the router returns one chosen solution per problem. So ``n`` must be 1,
``temperature`` and ``top_p`` must equal the calibration's, and ``max_tokens`` (or
``max_completion_tokens``) may not cut solutions shorter than the calibration's limit;
anything else is a 400 that says what the server runs instead. The user's own system
prompt is not used either: the calibration's prompt configuration (system prompt and
worked examples) wraps the problem, because that is the prompt the table describes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.records import AnswerRecord
from router.serve.budgets import BudgetPolicy, PolicyError, request_policy
from router.serve.usage import usage
from strategies.generation import GenerationSettings
from strategies.problems import Problem

ErrorType = Literal[
    "invalid_request_error", "rate_limit_error", "upstream_error", "server_error", "unavailable"
]


class ApiError(Exception):
    """An HTTP error answer: status, OpenAI-style type, message and the field it is about."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        type: ErrorType = "invalid_request_error",
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type
        self.code = code
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        if self.retry_after_s is None:
            return None
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(param: str | None, message: str, code: str = "invalid_value") -> ApiError:
    prefix = f"{param}: " if param else ""
    return ApiError(400, prefix + message, param=param, code=code)


# ---------------------------------------------------------------- request bodies


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[TextPart] | None = None


class TtcOptionsIn(BaseModel):
    """The ``ttc`` object of a request; unknown keys are refused (a typo would be ignored)."""

    model_config = ConfigDict(extra="forbid")

    # read by request_policy, which takes a string or a whole number and nothing else
    # (JSON true is not the budget 1, nor 4.0 the budget 4)
    budget: Any = None


class ChatRequestIn(BaseModel):
    """The fields of an OpenAI chat request this server reads; others are ignored."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    model: str | None = None
    messages: list[MessageIn] = Field(min_length=1)
    n: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream: bool | None = None
    ttc: TtcOptionsIn | None = None


# ---------------------------------------------------------------- request checks


@dataclass(frozen=True)
class RequestRules:
    """What this server accepts: its model ids, calibrated settings, budgets and default."""

    model_ids: tuple[str, ...]
    generation: GenerationSettings
    budgets: tuple[int, ...]
    default_policy: BudgetPolicy
    # the most generations per problem one request may order (None: the calibration's most)
    max_request_budget: int | None = None
    # raises ValueError/KeyError for a problem text this server cannot solve (simulator)
    check_problem: Callable[[str], object] | None = None


@dataclass(frozen=True)
class ChatCall:
    """One accepted request: the problem text, its budget policy and the model asked for."""

    text: str
    policy: BudgetPolicy
    model: str


def parse_chat_request(raw: bytes, rules: RequestRules) -> ChatCall:
    """The request's problem and policy, or an ApiError naming the field that is wrong."""
    data = _json_body(raw)
    if not isinstance(data, dict):
        raise bad_request("body", "expected a JSON object", "invalid_json")
    try:
        request = ChatRequestIn.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    model = _check_model(request.model, rules.model_ids)
    _check_sampling(request, rules.generation)
    text = problem_text(request.messages)
    if rules.check_problem is not None:
        try:
            rules.check_problem(text)
        except (KeyError, ValueError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise bad_request("messages", f"this server cannot solve it: {message}") from None
    policy = _policy(request.ttc, rules)
    return ChatCall(text=text, policy=policy, model=model)


# JSON nested deeper than this is refused before Python's recursion limit is near
MAX_JSON_DEPTH = 64


def _json_body(raw: bytes) -> Any:
    """The body as JSON, refusing what ``json.loads`` reads beyond the standard (NaN,
    Infinity) and nesting deep enough to exhaust the parser's recursion."""
    depth = _nesting_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise bad_request(
            "body", f"JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH}", "invalid_json"
        )
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise bad_request("body", f"not valid JSON ({exc})", "invalid_json") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"])
    if first["type"] == "missing":
        message = "required"
    return bad_request(param, message, "missing" if message == "required" else "invalid_type")


def _check_model(model: str | None, known: Sequence[str]) -> str:
    if model is None or model in known:
        return model or known[0]
    raise ApiError(
        404,
        f"model: {model!r} is not served here; this server routes {', '.join(known)}",
        param="model",
        code="model_not_found",
    )


def _check_sampling(request: ChatRequestIn, generation: GenerationSettings) -> None:
    if request.stream:
        raise bad_request("stream", "streaming is not supported; send stream=false", "unsupported")
    if request.n not in (None, 1):
        raise bad_request(
            "n",
            f"got {request.n}; the router answers each request with one chosen solution. "
            'Ask for more compute with "ttc": {"budget": N} instead',
        )
    for name in ("temperature", "top_p"):
        asked = getattr(request, name)
        calibrated = getattr(generation, name)
        if asked is not None and not (math.isfinite(asked) and abs(asked - calibrated) <= 1e-6):
            raise bad_request(
                name,
                f"got {asked}; the calibration measured its accuracies at {name} "
                f"{calibrated}, which this server always uses (omit the field)",
            )
    for name in ("max_tokens", "max_completion_tokens"):
        asked = getattr(request, name)
        if asked is not None and asked < generation.max_tokens:
            raise bad_request(
                name,
                f"got {asked}; the calibration let solutions run to {generation.max_tokens} "
                "tokens and shorter ones would change its accuracies (omit the field or "
                f"send >= {generation.max_tokens})",
            )


def problem_text(messages: Sequence[MessageIn]) -> str:
    """The last user message's text (text parts joined); the problem to solve."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, list):
            content = "".join(part.text or "" for part in content if part.type == "text")
        if not content or not content.strip():
            raise bad_request(f"messages.{index}.content", "the problem text is empty")
        _check_unicode(content, f"messages.{index}.content")
        return content.strip()
    raise bad_request("messages", "no user message; the last user message is the problem")


def _check_unicode(text: str, param: str) -> None:
    """Refuse a lone surrogate (JSON's ``"\\ud800"``): no encoder, tokenizer or hash of
    the problem can read it, and it would fail far from the request that sent it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise bad_request(
            param,
            f"character {exc.start} is a lone surrogate ({text[exc.start]!a}), which is not "
            "valid Unicode; send the text as UTF-8",
            "invalid_unicode",
        ) from None


def _policy(options: TtcOptionsIn | None, rules: RequestRules) -> BudgetPolicy:
    if options is None or options.budget is None:
        return rules.default_policy
    try:
        return request_policy(options.budget, rules.budgets, rules.max_request_budget)
    except PolicyError as exc:
        raise bad_request("ttc.budget", str(exc).removeprefix("--budget ")) from None


def problem_id(text: str) -> str:
    """A stable id for a problem text: the same text gets the same seeds on every run."""
    # surrogatepass: an id for any str; the request checks refuse such texts before this
    return "q-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def batch_problems(texts: Sequence[str]) -> list[Problem]:
    """Problems for one batch; a text repeated in the batch gets ``#k`` ids (fresh seeds),
    since the router keys its results by problem id."""
    seen: dict[str, int] = {}
    problems = []
    for text in texts:
        base = problem_id(text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        problems.append(Problem(base if count == 0 else f"{base}#{count + 1}", text))
    return problems


# ---------------------------------------------------------------- response bodies


def chat_completion(
    record: AnswerRecord,
    *,
    request_id: str,
    model: str,
    batch_size: int,
    prompt_tokens: int = 0,
) -> dict[str, Any]:
    """The chat completion for a finished record; a failed record is an upstream error."""
    if record.status == "failed":
        raise ApiError(
            502,
            f"the model upstream failed, so no answer was made: {record.error}",
            type="upstream_error",
            code="upstream_failed",
        )
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": record.solution or ""},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        # every token generated for this request, every round's samples and searches, and
        # the prompt tokens those generations read
        "usage": usage(record, prompt_tokens),
        "ttc": ttc_object(record, batch_size),
    }


def ttc_object(record: AnswerRecord, batch_size: int) -> dict[str, Any]:
    data = record.to_json()
    for private in ("id", "correct", "reference", "solution"):
        data.pop(private)
    data["problem_id"] = record.id
    data["batch_size"] = batch_size
    return data
