"""Strategies by spec string: ``name`` or ``name:param=value,param=value``.

Examples: ``majority``, ``best_of_n:reduction=min``, ``beam_search:m=4,depth=40``,
``dvts:m=4,lookahead=1``. The budget is not part of the spec; it is passed to ``run``.
``m`` is short for ``beam_width`` and ``k`` for ``lookahead``. ``strategy.spec`` gives the
canonical form (parameters that differ from their defaults, full names), which the
command line and calibration tables use as the strategy's key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from strategies.search.base import SearchStrategy
from strategies.search.budget import beam_search_layout, dvts_layout
from strategies.search.sampling import SamplingConfig, SamplingStrategy
from strategies.search.tree import TreeSearch, TreeSearchConfig

ALIASES: dict[str, str] = {"m": "beam_width", "k": "lookahead"}


@dataclass(frozen=True)
class _Entry:
    config_type: type
    build: Callable[[str, Any], SearchStrategy]
    excluded: frozenset[str] = frozenset()
    summary: str = ""


_REGISTRY: dict[str, _Entry] = {
    "majority": _Entry(
        SamplingConfig,
        lambda name, config: SamplingStrategy(name, "majority", config),
        excluded=frozenset({"reduction"}),
        summary="most frequent final answer of N samples (self-consistency)",
    ),
    "best_of_n": _Entry(
        SamplingConfig,
        lambda name, config: SamplingStrategy(name, "best_of_n", config),
        summary="answer of the highest-scoring of N samples",
    ),
    "weighted_best_of_n": _Entry(
        SamplingConfig,
        lambda name, config: SamplingStrategy(name, "weighted_best_of_n", config),
        summary="answer with the largest summed score over N samples",
    ),
    "beam_search": _Entry(
        TreeSearchConfig,
        lambda name, config: TreeSearch(name, beam_search_layout, config),
        summary="N beams, keep the best N/M per step, expand each M ways",
    ),
    "dvts": _Entry(
        TreeSearchConfig,
        lambda name, config: TreeSearch(name, dvts_layout, config),
        summary="N/M independent subtrees, each keeps its best of M per step",
    ),
}

STRATEGY_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def strategy_names() -> tuple[str, ...]:
    return STRATEGY_NAMES


def strategy_parameters(name: str) -> dict[str, str]:
    """Parameter name -> help text, for the command line's help."""
    entry = _entry(name, name)
    return {
        f.name: f"{f.metadata.get('help', '')} (default {f.default})"
        for f in fields(entry.config_type)
        if f.name not in entry.excluded
    }


def get_strategy(spec: str) -> SearchStrategy:
    """Build a strategy from ``name[:param=value,...]``; unknown names or parameters
    raise ValueError saying what is known."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty strategy spec {spec!r}; known: {', '.join(STRATEGY_NAMES)}")
    name, _, param_text = spec.strip().partition(":")
    name = name.strip()
    entry = _entry(name, spec)
    allowed = {f.name: f for f in fields(entry.config_type) if f.name not in entry.excluded}
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in param_text.split(","))):
        key, sep, raw = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep:
            raise ValueError(
                f"strategy spec {spec!r}: parameter {item!r} needs the form name=value"
            )
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ValueError(
                f"strategy spec {spec!r}: unknown parameter {key!r} for {name}; known: {known}"
            )
        if key in values:
            raise ValueError(f"strategy spec {spec!r}: parameter {key!r} given twice")
        values[key] = _parse_value(spec, key, raw.strip(), type(allowed[key].default))
    try:
        config = entry.config_type(**values)
    except ValueError as exc:
        raise ValueError(f"strategy spec {spec!r}: {exc}") from None
    return entry.build(name, config)


def _entry(name: str, spec: str) -> _Entry:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(STRATEGY_NAMES)
        raise ValueError(f"unknown strategy {name!r} in spec {spec!r}; known: {known}") from None


def _parse_value(spec: str, key: str, raw: str, kind: type) -> Any:
    """Every config field has a scalar default, whose type is the field's type."""
    try:
        if kind is bool:
            lowered = raw.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        return raw
    except ValueError as exc:
        raise ValueError(
            f"strategy spec {spec!r}: bad value {raw!r} for {key} ({kind.__name__}): {exc}"
        ) from None
