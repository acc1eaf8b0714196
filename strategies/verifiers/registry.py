"""Verifiers by name: one place that maps a name to an adapter, imported only when used.

Names are case-insensitive. Each PRM answers to a short name and to its Hub id; options
are passed to the adapter's constructor (``model=`` a local folder or a preloaded
``(model, tokenizer)``, ``device=``, ``dtype=``, ``batch_size=``, ...). A PRM called by
its Hub id loads that id unless ``model=`` says otherwise.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from strategies.verification import Verifier


@dataclass(frozen=True)
class VerifierEntry:
    module: str
    class_name: str
    hub_id: str | None = None
    summary: str = ""


_ENTRIES = {
    "rlhflow": VerifierEntry(
        "strategies.verifiers.rlhflow",
        "RLHFlowPRM",
        "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data",
        "Llama-3.1-8B PRM: steps as user turns, P('+') at each answer",
    ),
    "math-shepherd": VerifierEntry(
        "strategies.verifiers.math_shepherd",
        "MathShepherdPRM",
        "peiyi9979/math-shepherd-mistral-7b-prm",
        "Mistral-7B PRM: 'ки' step tags, +/- probabilities at each tag",
    ),
    "qwen-prm": VerifierEntry(
        "strategies.verifiers.qwen_prm",
        "QwenMathPRM",
        "Qwen/Qwen2.5-Math-PRM-7B",
        "Qwen2.5-Math 7B PRM: <extra_0> separators, positive-class probability",
    ),
    "judge": VerifierEntry(
        "strategies.verifiers.judge",
        "LLMJudgeVerifier",
        None,
        "any chat model asked 'is this step correct?' (model= option, default smollm2)",
    ),
    "arithmetic": VerifierEntry(
        "strategies.verifiers.arithmetic",
        "ArithmeticStepChecker",
        None,
        "no model: recomputes the equations written in each step",
    ),
}
_ALIASES = {
    entry.hub_id.lower(): short for short, entry in _ENTRIES.items() if entry.hub_id is not None
}


def verifier_names() -> list[str]:
    """Every name ``build_verifier`` accepts: short names, then Hub ids."""
    hub_ids = [entry.hub_id for entry in _ENTRIES.values() if entry.hub_id is not None]
    return [*_ENTRIES, *hub_ids]


def build_verifier(name: str, **options: Any) -> Verifier:
    """The verifier called ``name``, built with ``options``.

    >>> build_verifier("arithmetic").num_parameters
    0
    """
    key = name.strip().lower()
    short = _ALIASES.get(key, key)
    entry = _ENTRIES.get(short)
    if entry is None:
        known = ", ".join(verifier_names())
        raise ValueError(f"unknown verifier {name!r}; known verifiers: {known}")
    cls = getattr(importlib.import_module(entry.module), entry.class_name)
    verifier: Verifier = cls(**options)
    return verifier
