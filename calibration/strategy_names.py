"""Strategy names for the text tables of `ttc calibrate` and `ttc curves`.

One home for them so every grid names a strategy the same way and the legends read the
same: names leave parameters out (a key such as
'beam_search:depth=6,step_tokens=48,max_tokens=128' fits no cell), and a legend under
the table gives the key behind each name. Each strategy declares its
own short name (``short_name``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from runtime.actions import CHECK_SUFFIX, base_strategy, is_checked, split_label
from strategies.search.base import display_names


def short(strategy: str) -> str:
    name, sep, params = strategy.partition(":")
    return display_names(name)[0] + (sep + params if sep else "")


def unique_names(keys: Iterable[str], base: Callable[[str], str]) -> dict[str, str]:
    """Each strategy key's name without its parameters (``base`` of the bare name); keys
    that would share a name are numbered in key order: 'beam 1', 'beam 2'.

    Parameters make names too long for a grid cell or an 80-column row (and cut ones
    read as different strategies); ``parameter_legend`` says what each name stands for.
    """
    ordered = sorted(set(keys))
    bases = {key: base(key.partition(":")[0]) for key in ordered}
    counts: dict[str, int] = {}
    for name in bases.values():
        counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    names = {}
    for key, name in bases.items():
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name} {seen[name]}"
        names[key] = name
    return names


def grid_tags(keys: Iterable[str]) -> dict[str, str]:
    """Cell-sized names for the best-strategy grids: 'maj', 'wbon', 'beam' ('beam 1', ...)."""
    return unique_names(keys, short)


def name_legend(names: Mapping[str, str], *, parameters_only: bool = False) -> list[str]:
    """'name = key' for each strategy whose name is not its key (with ``parameters_only``:
    whose key has parameters), in key order."""
    return [
        f"{names[key]} = {key}"
        for key in sorted(names)
        if names[key] != key and (":" in key or not parameters_only)
    ]


class LabelNames:
    """Names for 'strategy@N' labels (``+check`` searches included) without the strategy's
    parameters, so tables and summaries stay aligned and short ('rebase+check@8' for
    'rebase:depth=6,step_tokens=48,max_tokens=128+check@8'); ``legend`` gives the key
    behind each name. Labels it was not built from come back unchanged."""

    def __init__(self, labels: Iterable[str]) -> None:
        keys = {base_strategy(split_label(label)[0]) for label in labels if "@" in label}
        self.names = unique_names(keys, lambda name: name)

    def __call__(self, label: str) -> str:
        key, budget = split_label(label)
        base = base_strategy(key)
        if base not in self.names:
            return label
        return self.names[base] + (CHECK_SUFFIX if is_checked(key) else "") + budget

    def legend(self) -> list[str]:
        return name_legend(self.names, parameters_only=True)
