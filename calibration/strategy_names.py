"""Cell-sized strategy names for the text grids of `ttc calibrate` and `ttc curves`.

One home for them so both grids name a strategy the same way and the legend under each
grid reads the same. Each strategy declares its own short name (``short_name``).
"""

from __future__ import annotations

from collections.abc import Iterable

from strategies.search.base import display_names


def short(strategy: str) -> str:
    name, sep, params = strategy.partition(":")
    return display_names(name)[0] + (sep + params if sep else "")


def strategy_tag(key: str) -> str:
    """A cell-sized name: 'beam', 'wbon', 'beam/2' (parameter values after the slash)."""
    name, sep, params = key.partition(":")
    values = ",".join(item.partition("=")[2] or item for item in params.split(",")) if sep else ""
    return short(name) + (f"/{values}" if values else "")


def tag_legend(keys: Iterable[str]) -> list[str]:
    """'tag = key' for each strategy whose tag is not its full name, in key order."""
    return [f"{strategy_tag(key)} = {key}" for key in sorted(set(keys)) if strategy_tag(key) != key]
