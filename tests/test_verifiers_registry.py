"""Building verifiers by name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from strategies.verification import ScoreRequest, Verifier
from strategies.verifiers import build_verifier, verifier_names


def test_names_cover_every_adapter_and_hub_id():
    names = verifier_names()
    for name in (
        "rlhflow",
        "math-shepherd",
        "qwen-prm",
        "judge",
        "arithmetic",
        "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data",
        "peiyi9979/math-shepherd-mistral-7b-prm",
        "Qwen/Qwen2.5-Math-PRM-7B",
    ):
        assert name in names


def test_hub_ids_are_aliases_of_their_short_names_and_typos_get_a_suggestion():
    from strategies.verifiers.registry import HUB_IDS, VERIFIERS

    assert {hub.lower() for hub in HUB_IDS} == set(VERIFIERS.aliases())
    with pytest.raises(ValueError, match="did you mean 'arithmetic'"):
        build_verifier("arithmetc")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        build_verifier("gpt-judge-9000")
    message = str(error.value)
    assert "gpt-judge-9000" in message
    for name in ("rlhflow", "math-shepherd", "qwen-prm", "judge", "arithmetic"):
        assert name in message


def test_arithmetic_takes_options_and_names_are_case_insensitive():
    checker = build_verifier(" Arithmetic ", neutral_score=0.5)
    assert isinstance(checker, Verifier)
    assert checker.score([ScoreRequest("p", ("Add.",))])[0].scores == (0.5,)
    with pytest.raises(TypeError):
        build_verifier("arithmetic", no_such_option=1)


def test_model_backed_names_build_their_adapters(tiny_llama_dir):
    from strategies.verifiers.judge import LLMJudgeVerifier
    from strategies.verifiers.math_shepherd import MathShepherdPRM
    from strategies.verifiers.rlhflow import RLHFlowPRM

    path = str(tiny_llama_dir)
    assert isinstance(build_verifier("rlhflow", model=path), RLHFlowPRM)
    assert isinstance(
        build_verifier("rlhflow/llama3.1-8b-prm-deepseek-data", model=path), RLHFlowPRM
    )
    assert isinstance(
        build_verifier("peiyi9979/math-shepherd-mistral-7b-prm", model=path), MathShepherdPRM
    )
    judge = build_verifier("judge", model=path, batch_size=4)
    assert isinstance(judge, LLMJudgeVerifier)
    assert judge.name.startswith("judge:")


def test_importing_the_registry_loads_no_model_library():
    code = (
        "import sys, strategies.verifiers, strategies.verifiers.registry;"
        "heavy = [m for m in ('torch', 'transformers', 'sympy') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
