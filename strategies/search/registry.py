"""Strategies by spec string: ``name`` or ``name:param=value,param=value``.

Examples: ``majority``, ``best_of_n:reduction=min``, ``beam_search:m=4,depth=40``,
``dvts:m=4,lookahead=1``. The budget is not part of the spec; it is passed to ``run``.
``m`` is short for ``beam_width`` and ``k`` for ``lookahead``. ``strategy.spec`` gives the
canonical form (parameters that differ from their defaults, full names), which the
command line and calibration tables use as the strategy's key.

The names come from ``strategies.search.base.STRATEGIES``, where each strategy registers
itself next to its class; this module only parses specs.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from strategies.registry import UnknownNameError
from strategies.search.base import STRATEGIES, SearchStrategy

ALIASES: dict[str, str] = {"m": "beam_width", "k": "lookahead"}


def strategy_names() -> tuple[str, ...]:
    """Every registered strategy, in registration order."""
    return STRATEGIES.names()


def strategy_parameters(name: str) -> dict[str, str]:
    """Parameter name -> help text, for the command line's help."""
    cls = STRATEGIES.get(name)
    return {
        f.name: f"{f.metadata.get('help', '')} (default {f.default})"
        for f in fields(cls.config_type)
        if f.name not in cls.hidden_parameters
    }


def get_strategy(spec: str) -> SearchStrategy:
    """Build a strategy from ``name[:param=value,...]``; unknown names or parameters
    raise ValueError saying what is known (and the closest name)."""
    if not isinstance(spec, str) or not spec.strip():
        known = ", ".join(strategy_names())
        raise ValueError(f"empty strategy spec {spec!r}; known: {known}")
    name, _, param_text = spec.strip().partition(":")
    name = name.strip()
    try:
        cls = STRATEGIES.get(name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"strategy spec {spec!r}: {exc}") from None
    allowed = {f.name: f for f in fields(cls.config_type) if f.name not in cls.hidden_parameters}
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
        config = cls.config_type(**values)
    except ValueError as exc:
        raise ValueError(f"strategy spec {spec!r}: {exc}") from None
    return cls(name, config)


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
