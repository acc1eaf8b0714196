"""Bounds on the time and size of every answer parse, in one place.

They are module attributes read at call time (``limits.NAME``), so a test can lower a
deadline with ``monkeypatch.setattr(limits, ...)`` and every module sees it.
"""

from __future__ import annotations

# Seconds one math-verify call may run in a worker before the worker is killed. Below the
# 5 s promised to callers, leaving room for the kill and the string fallback.
MATH_VERIFY_TIMEOUT_S = 4.0
# Seconds a fresh worker may take to import math-verify (slow on a loaded machine).
WORKER_STARTUP_TIMEOUT_S = 120.0
# Answers longer than this, or nested deeper, skip math-verify (string comparison only):
# no real final answer is that long, and ANTLR's time grows steeply with nesting.
MAX_ANSWER_CHARS = 500
MAX_BRACKET_DEPTH = 8
# Answers longer than this are compared as stripped strings, without any rewriting: the
# rewrites are regular expressions, and a cap on their input bounds their time whatever
# the pattern.
MAX_NORMALISE_CHARS = 2_000
# Extraction reads at most the last this many characters of a solution (a 2048-token
# solution is about 8,000): the final answer is at the end, and every scan is bounded.
MAX_EXTRACT_CHARS = 20_000
# Expressions whose numbers would exceed this many decimal digits are not evaluated.
MAX_NUMBER_DIGITS = 5_000
# Decimal places numbers are rounded to in keys: math-verify's own float rounding.
KEY_DECIMAL_PLACES = 6
# Significant digits of the fingerprint of an expression with free symbols.
FINGERPRINT_DIGITS = 12
CANONICAL_KEY_CACHE_SIZE = 65_536
WORKER_PARSE_CACHE_SIZE = 4_096
