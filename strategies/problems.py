"""Problems: the record every layer passes around, and its loaders.

(The loaders are filled in by the foundation issue; the record is fixed here because
every other module depends on it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One math problem. ``answer`` is None when the reference is unknown (solve only)."""

    id: str
    text: str
    answer: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
