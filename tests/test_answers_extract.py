"""extract_answer: boxes, "final answer is" phrases and GSM8K's ``#### N``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strategies.answers import extract_answer, normalize_answer_string

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So $x = \\boxed{5}$.", "5"),
        ("$\\boxed{\\frac{1}{2}}$", "\\frac{1}{2}"),
        (
            "nested: \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.",
            "\\left( 3, \\frac{\\pi}{2} \\right)",
        ),
        ("\\boxed{\\frac{\\sqrt{3}}{\\sqrt{2}+1}}", "\\frac{\\sqrt{3}}{\\sqrt{2}+1}"),
        ("escaped braces \\boxed{\\{1, 2\\}} count as text", "\\{1, 2\\}"),
        ("The answer is $\\boxed 5$.", "5"),
        ("The answer is \\boxed 42.", "42"),
        ("\\fbox{7}", "7"),
        ("first \\boxed{1}, then \\boxed{2}, finally \\boxed{3}.", "3"),
        ("\\boxed{1} and a box cut short at the end \\boxed{2", "1"),
        ("an empty box \\boxed{} after \\boxed{9}", "9"),
        ("\\boxed {  12 }", "12"),
        ("Therefore, the final answer is: $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("The final answer is $18$.", "18"),
        ("The final answer is 18", "18"),
        ("Final answer is: **x = 2**.", "x = 2"),
        ("Therefore, the final answer is: $\\boxed{7}$. I hope it is correct.", "7"),
        ("She makes 9 * 2 = $<<9*2=18>>18.\n#### 18", "18"),
        ("#### 1,450,000", "1450000"),
        ("#### -10", "-10"),
        ("No answer here, only 3 + 4 = 7.", None),
        ("", None),
        ("\\boxedfoo{3} is not a box", None),
    ],
)
def test_extract_answer_cases(text: str, expected: str | None) -> None:
    """Boxes and stated answers; the last-expression tier (mode "full") is tested apart."""
    assert extract_answer(text, "stated") == expected


def test_box_beats_final_answer_phrase_and_gsm8k_marker() -> None:
    text = "#### 3\nThe final answer is 4. Indeed $\\boxed{5}$"
    assert extract_answer(text) == "5"
    assert extract_answer("#### 3\nThe final answer is 4.") == "4"
    assert extract_answer("The final answer is 4.\n#### 3") == "3"  # the one stated last


def test_every_gsm8k_reference_gives_the_number_after_the_marker() -> None:
    lines = (DATA / "gsm8k_test.jsonl").read_text().splitlines()
    mismatches = []
    for number, line in enumerate(lines, start=1):
        solution = json.loads(line)["answer"]
        expected = solution.rsplit("####", 1)[1].strip().replace(",", "")
        got = extract_answer(solution)
        if got != expected:
            mismatches.append((number, expected, got))
    assert len(lines) == 1319
    assert not mismatches, f"{len(mismatches)} GSM8K records misread, e.g. {mismatches[:5]}"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("$\\dfrac{1}{2}$", "\\frac{1}{2}"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("1,000,000", "1000000"),
        ("90^\\circ", "90"),
        ("\\text{ Monday }", "Monday"),
        ("\\cos x", "\\cos x"),
        ("5.", "5"),
    ],
)
def test_normalize_answer_string(raw: str, normal: str) -> None:
    assert normalize_answer_string(raw) == normal


UNBOXED = "## Step 1: Add\n3 + 4 = 7\n\nThe final answer is 7."
WORKED_ONLY = "## Step 1: Add\n3 + 4 = 7"


@pytest.mark.parametrize(
    ("text", "boxed", "stated", "full"),
    [
        ("So \\boxed{7}.", "7", "7", "7"),
        (UNBOXED, None, "7", "7"),
        (WORKED_ONLY, None, None, "7"),
        ("Nothing to see.", None, None, None),
    ],
)
def test_each_mode_reads_only_its_tiers(
    text: str, boxed: str | None, stated: str | None, full: str | None
) -> None:
    assert extract_answer(text, "boxed") == boxed
    assert extract_answer(text, "stated") == stated
    assert extract_answer(text, "full") == full
    assert extract_answer(text) == full  # the forgiving reader is the function's default


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown answer extraction mode 'box'"):
        extract_answer("\\boxed{1}", "box")


def test_extraction_is_a_property_of_the_prompt_configuration() -> None:
    from strategies.prompts import PromptConfig, get_prompt_config
    from strategies.search.steps import build_candidate

    llama, smol = get_prompt_config("llama-math"), get_prompt_config("smollm2-arithmetic")
    assert llama.extraction == "boxed"  # parity with the published MATH-500 setup
    assert smol.extraction == "full"  # SmolLM2 rarely boxes
    assert PromptConfig().extraction == "boxed"
    with pytest.raises(ValueError, match="extraction mode"):
        PromptConfig(extraction="everything")
    for config, expected in ((llama, None), (smol, "7")):
        candidate = build_candidate(
            UNBOXED, (), "eos", 12, config.step_delimiter, config.extraction
        )
        assert candidate.answer == expected


def test_a_beam_ends_at_a_stated_answer_never_at_a_worked_line() -> None:
    from strategies.answers import states_final_answer

    assert states_final_answer("The final answer is 7.", "full")
    assert not states_final_answer("The final answer is 7.", "boxed")
    assert states_final_answer("So $\\boxed{7}$.", "boxed")
    assert not states_final_answer("3 + 4 = 7\n\n", "full")
