"""Final answers of math solutions: extraction, equivalence, canonical keys and votes.

The public surface is below; the modules behind it each do one job:

- ``extract``: the final answer of a solution, in tiers (box, stated phrase, last
  expression) chosen by the prompt configuration;
- ``normalise``: one cleaned form of an answer (units, percent words, currency, decimal
  commas, thousands separators, mixed numbers, scientific notation, ...);
- ``numbers``: plain numbers and fractions read without math-verify;
- ``keys``: ``is_equivalent``, ``grade`` and ``canonical_key``;
- ``worker`` / ``pool``: math-verify in worker processes with a deadline per call (it
  is the grader, DESIGN.md s.3, and it can run for ever on some inputs);
- ``votes``: majority and weighted votes by canonical key (the one voting implementation;
  ``strategies.search.selection`` runs the same kernel over many draws);
- ``limits``: every time and size bound.
"""

from __future__ import annotations

from strategies.answers.extract import (
    EXTRACTION_MODES,
    ExtractionMode,
    check_extraction_mode,
    extract_answer,
    states_final_answer,
)
from strategies.answers.keys import canonical_key, clear_caches, grade, is_equivalent
from strategies.answers.normalise import normalize_answer_string
from strategies.answers.votes import majority_vote, weighted_vote

__all__ = [
    "EXTRACTION_MODES",
    "ExtractionMode",
    "canonical_key",
    "check_extraction_mode",
    "clear_caches",
    "extract_answer",
    "grade",
    "is_equivalent",
    "majority_vote",
    "normalize_answer_string",
    "states_final_answer",
    "weighted_vote",
]
