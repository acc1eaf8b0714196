"""Verifiers by name: ``VERIFIERS``, lazy entries imported only when used.

The project's one registry idiom (``strategies.registry``): each adapter is registered
lazily as ``module:Class`` so that importing this module loads no model library, and an
unknown name gets a did-you-mean. Names are case-insensitive. Each PRM answers to a short
name and to its Hub id (an alias); options are passed to the adapter's constructor
(``model=`` a local folder or a preloaded ``(model, tokenizer)``, ``device=``, ``dtype=``,
``batch_size=``, ...). A PRM called by its Hub id loads that id unless ``model=`` says
otherwise.
"""

from __future__ import annotations

from typing import Any

from strategies.registry import Registry
from strategies.verification import Verifier

VERIFIERS: Registry[type] = Registry("verifier")

VERIFIERS.register_lazy(
    "rlhflow",
    "strategies.verifiers.rlhflow:RLHFlowPRM",
    summary="Llama-3.1-8B PRM: steps as user turns, P('+') at each answer",
)
VERIFIERS.alias("rlhflow/llama3.1-8b-prm-deepseek-data", "rlhflow")
VERIFIERS.register_lazy(
    "math-shepherd",
    "strategies.verifiers.math_shepherd:MathShepherdPRM",
    summary="Mistral-7B PRM: 'ки' step tags, +/- probabilities at each tag",
)
VERIFIERS.alias("peiyi9979/math-shepherd-mistral-7b-prm", "math-shepherd")
VERIFIERS.register_lazy(
    "qwen-prm",
    "strategies.verifiers.qwen_prm:QwenMathPRM",
    summary="Qwen2.5-Math 7B PRM: <extra_0> separators, positive-class probability",
)
VERIFIERS.alias("qwen/qwen2.5-math-prm-7b", "qwen-prm")
VERIFIERS.register_lazy(
    "judge",
    "strategies.verifiers.judge:LLMJudgeVerifier",
    summary="any chat model asked 'is this step correct?' (model= option, default smollm2)",
)
VERIFIERS.register_lazy(
    "arithmetic",
    "strategies.verifiers.arithmetic:ArithmeticStepChecker",
    summary="no model: recomputes the equations written in each step",
)

# The Hub ids as their owners spell them (the registry's aliases are lower-case).
HUB_IDS: tuple[str, ...] = (
    "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data",
    "peiyi9979/math-shepherd-mistral-7b-prm",
    "Qwen/Qwen2.5-Math-PRM-7B",
)


def verifier_names() -> list[str]:
    """Every name ``build_verifier`` accepts: short names, then Hub ids."""
    return [*VERIFIERS.names(), *HUB_IDS]


def build_verifier(name: str, **options: Any) -> Verifier:
    """The verifier called ``name``, built with ``options``.

    >>> build_verifier("arithmetic").num_parameters
    0
    """
    cls = VERIFIERS.get(name.strip().lower())
    verifier: Verifier = cls(**options)
    return verifier
