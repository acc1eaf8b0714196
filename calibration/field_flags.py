"""Command-line flags made from dataclass fields, so a setting is declared once.

``add_field_flags`` gives each named field of a settings dataclass a ``--field-name``
flag with the field's type, default and help (its ``metadata["help"]``, with the
default shown in brackets); ``field_values`` reads the flags back. `ttc calibrate`'s
generation and analysis flags are made this way from ``GenerationSettings`` and
``CalibrationConfig``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, get_type_hints


def add_field_flags(
    group: argparse._ArgumentGroup | argparse.ArgumentParser,
    cls: type,
    names: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """A flag for each field of ``cls`` in ``names`` (default: all), in that order;
    ``overrides[name]`` replaces any of the flag's argparse keywords."""
    hints = get_type_hints(cls)
    by_name = {f.name: f for f in fields(cls)}
    for name in names or list(by_name):
        spec = by_name[name]
        options: dict[str, Any] = {
            "type": hints[name],
            "default": spec.default,
            "help": f"{spec.metadata.get('help', '')} ({spec.default})".strip(),
        }
        options.update((overrides or {}).get(name, {}))
        group.add_argument("--" + name.replace("_", "-"), **options)


def field_values(args: argparse.Namespace, cls: type, names: Sequence[str] | None = None) -> dict:
    """The values of ``cls``'s flags in ``args`` (those given or defaulted, not None)."""
    wanted = names or [f.name for f in fields(cls)]
    return {name: getattr(args, name) for name in wanted if getattr(args, name) is not None}
