"""Comparing answers: ``is_equivalent`` for a pair, ``canonical_key`` for grouping.

Both start from ``clean_answer``'s form, then try the local number fast path, then
math-verify in a worker (with a deadline), and fall back to comparing cleaned strings
when math-verify cannot judge (no parse, a guard tripped, a deadline passed). Voting
never compares pairs (DESIGN.md s.2): ``canonical_key`` parses each distinct string once
and reduces it to a string key (numbers rounded as math-verify rounds them, expressions
fingerprinted by evaluating them at fixed points), so votes are dictionary lookups.
"""

from __future__ import annotations

import functools
import re

from strategies.answers import limits
from strategies.answers.evaluate import numeric_key
from strategies.answers.forms import numeral_base, time_of_day
from strategies.answers.normalise import clean_answer
from strategies.answers.numbers import simple_key, simple_verdict
from strategies.answers.pool import clear_worker_caches, worker_pool

# A word answer ("East", "Monday"); shorter runs of letters may be products (``xy``).
_WORD = re.compile(r"[A-Za-z]{3,}")


def within_guards(answer: str) -> bool:
    """Whether an answer is small and shallow enough to hand to math-verify."""
    if len(answer) > limits.MAX_ANSWER_CHARS:
        return False
    depth = deepest = 0
    index = 0
    while index < len(answer):
        char = answer[index]
        if char == "\\":
            index += 2
            continue
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
        index += 1
    return deepest <= limits.MAX_BRACKET_DEPTH


def is_equivalent(pred: str, gold: str) -> bool:
    """Whether ``pred`` means the same as ``gold``; returns within about 5 s whatever the input."""
    pred_clean, gold_clean = clean_answer(pred), clean_answer(gold)
    if not pred_clean or not gold_clean:
        return False
    if pred_clean == gold_clean:
        return True
    if time_of_day(pred_clean) or time_of_day(gold_clean):
        return False  # times of day are written one way once cleaned; "20:34" is no ratio
    if _WORD.fullmatch(pred_clean) and _WORD.fullmatch(gold_clean):
        return pred_clean.lower() == gold_clean.lower()  # "East" is "east", not e*a*s*t
    bases = numeral_base(pred_clean), numeral_base(gold_clean)
    if None not in bases and bases[0] != bases[1]:
        return False  # the same digits in two bases are two numbers
    simple = simple_verdict(pred_clean, gold_clean)
    if simple is not None:
        return simple
    if not (within_guards(pred_clean) and within_guards(gold_clean)):
        return False
    verdict = worker_pool().call(
        {"op": "equiv", "pred": pred_clean, "gold": gold_clean}, limits.MATH_VERIFY_TIMEOUT_S
    )
    return verdict is True


def grade(pred: str | None, gold: str | None) -> bool:
    """Whether a (possibly missing) answer matches a (possibly missing) reference."""
    if pred is None or gold is None:
        return False
    return is_equivalent(pred, gold)


@functools.lru_cache(maxsize=limits.CANONICAL_KEY_CACHE_SIZE)
def canonical_key(answer: str) -> str:
    """A key that equivalent answers usually share; computed once per distinct string.

    Known splits and merges, all rare in final answers: a pair ``(1,2)`` and a list ``1,2``
    get different keys (math-verify equates them); ``50\\%`` shares 50's key, not 0.5's
    (math-verify equates it with both); distinct exact numbers equal to 6 decimals share a key.
    """
    cleaned = clean_answer(answer)
    if time_of_day(cleaned):
        return "t:" + cleaned
    simple = simple_key(cleaned) or numeric_key(cleaned)
    if simple is not None:
        return simple
    fallback = "s:" + cleaned
    if not cleaned or not within_guards(cleaned):
        return fallback
    key = worker_pool().call({"op": "key", "answer": cleaned}, limits.MATH_VERIFY_TIMEOUT_S)
    return key if isinstance(key, str) else fallback


def clear_caches() -> None:
    """Forget cached keys and parses (benchmarks start cold; long runs bound memory)."""
    canonical_key.cache_clear()
    clear_worker_caches()
