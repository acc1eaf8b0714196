"""The FastAPI application: ``/v1/chat/completions``, ``/v1/models``, ``/health``,
``/metrics``.

The chat route reads the body itself (bounded by ``max_body_bytes``) instead of letting
FastAPI validate it, so every bad request gets the same OpenAI-style 400 naming the
field, malformed JSON and oversize bodies included. Requests beyond
``max_concurrency`` (admitted and not yet answered) get a 429 at once rather than a
queue that grows without bound. Every error is an answer: nothing a client sends, and
no failure of an upstream, stops the process.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from router.execution import describe_error
from router.serve.batcher import MicroBatcher
from router.serve.metrics import ServeMetrics
from router.serve.protocol import (
    ApiError,
    RequestRules,
    bad_request,
    chat_completion,
    parse_chat_request,
)

LOG = logging.getLogger("ttc.serve")


@dataclass(frozen=True)
class ServeLimits:
    max_concurrency: int = 256
    max_body_bytes: int = 1_000_000


def create_app(
    batcher: MicroBatcher, rules: RequestRules, metrics: ServeMetrics, limits: ServeLimits
) -> FastAPI:
    """The app; the batcher starts and stops with it (FastAPI's lifespan)."""
    created = int(time.time())
    in_flight = 0

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="ttc serve", lifespan=lifespan)
    app.state.batcher = batcher  # the server tells it when a shutdown begins

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")
        return _error_response(error)

    @app.get("/health")
    async def health() -> JSONResponse:
        status = "ok" if batcher.running else "unavailable"
        if batcher.draining:
            status = "shutting_down"
        body = {"status": status, "models": list(rules.model_ids), "in_flight": in_flight}
        return JSONResponse(body, status_code=200 if batcher.running else 503)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "ttc-router"}
            for name in rules.model_ids
        ]
        return {"object": "list", "data": data}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        nonlocal in_flight
        started = time.perf_counter()
        if in_flight >= limits.max_concurrency:
            error = ApiError(
                429,
                f"the server is answering {in_flight} requests, its limit; retry shortly",
                type="rate_limit_error",
                code="concurrency_limit",
                retry_after_s=1,
            )
            metrics.observe_request(429, time.perf_counter() - started)
            return _error_response(error)
        in_flight += 1
        metrics.in_flight.inc()
        try:
            response = await _answer(request)
        finally:
            in_flight -= 1
            metrics.in_flight.dec()
        metrics.observe_request(response.status_code, time.perf_counter() - started)
        return response

    async def _answer(request: Request) -> JSONResponse:
        try:
            body = await _read_body(request, limits.max_body_bytes)
            call = parse_chat_request(body, rules)
            solved = await batcher.submit(call.text, call.policy)
            payload = chat_completion(
                solved.record,
                request_id=f"chatcmpl-{uuid.uuid4().hex}",
                model=call.model,
                batch_size=solved.batch_size,
                prompt_tokens=solved.prompt_tokens,
            )
            return AsciiJSONResponse(payload)
        except ApiError as error:
            if error.status >= 500:
                LOG.warning("chat request failed (%d): %s", error.status, error.message)
            return _error_response(error)
        except Exception as exc:  # a bug must cost one request, not the server
            LOG.exception("chat request crashed")
            crash = ApiError(500, f"internal error: {describe_error(exc)}", type="server_error")
            return _error_response(crash)

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return bad_request(
        "body", f"{size} bytes is over this server's limit of {limit}", "body_too_large"
    )


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped. Why: Starlette's JSONResponse encodes
    UTF-8, which fails on a lone surrogate (a model's text or an error message quoting a
    request can hold one) and turns the answer into a bare 500; escaped, any str is
    valid JSON that every client decodes to the same text."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=True, allow_nan=False)
        except ValueError:  # NaN or Infinity is not JSON: a figure that has none is null
            text = json.dumps(_finite_only(content), ensure_ascii=True, allow_nan=False)
        return text.encode("ascii")


def _finite_only(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_only(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_only(item) for item in value]
    return value


def _error_response(error: ApiError) -> JSONResponse:
    return AsciiJSONResponse(error.body(), status_code=error.status, headers=error.headers())
