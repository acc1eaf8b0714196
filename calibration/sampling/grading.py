"""Grading answers against a problem's reference, once per distinct answer string.

Equivalence checks go through math-verify (strategies.answers), which is slow next to a
dictionary lookup; a pool of K samples usually holds only a few distinct answers, so the
grade of each distinct string is computed once per problem.
"""

from __future__ import annotations

from strategies.answers import grade as grade_answer


class Grader:
    """Grades answers to one problem, caching by answer string."""

    def __init__(self, gold: str) -> None:
        self.gold = gold
        self._grades: dict[str, bool] = {}

    def __call__(self, answer: str | None) -> bool:
        if answer is None:
            return False
        grade = self._grades.get(answer)
        if grade is None:
            grade = bool(grade_answer(answer, self.gold))
            self._grades[answer] = grade
        return grade
