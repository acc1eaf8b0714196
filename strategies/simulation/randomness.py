"""Hash-derived randomness: every draw is a pure function of what it is about.

Python's ``hash()`` is salted per process and ``random.Random`` state depends on call
order, so neither can make outputs independent of batch composition. A keyed BLAKE2b
digest of (seed, problem, prefix, sample index, ...) can, and it is fast: one digest
gives eight uniforms, enough for one simulated step.
"""

from __future__ import annotations

import hashlib
import struct
from statistics import NormalDist

_UNPACK_EIGHT = struct.Struct("<8I").unpack
_SCALE = 1.0 / 4294967296.0
_STANDARD_NORMAL = NormalDist()


def new_stream(*parts: object) -> hashlib.blake2b:
    """A hash state keyed by ``parts``; ``update`` it with more context, then draw.

    Parts are joined with a separator that does not occur in their ``str`` forms in
    practice (unit separator), so ("a", "bc") and ("ab", "c") differ.
    """
    stream = hashlib.blake2b(digest_size=32, person=b"ttc-simulator")
    stream.update("\x1f".join(str(part) for part in parts).encode())
    stream.update(b"\x1e")
    return stream


def uniforms(stream: hashlib.blake2b) -> tuple[float, ...]:
    """Eight uniforms in the open interval (0, 1) from the stream's current state."""
    return tuple((word + 0.5) * _SCALE for word in _UNPACK_EIGHT(stream.digest()))


def standard_normal(uniform: float) -> float:
    """A standard normal draw from one uniform in (0, 1) (inverse CDF)."""
    return _STANDARD_NORMAL.inv_cdf(uniform)


def pick(cumulative: tuple[float, ...], uniform: float) -> int:
    """Index drawn from a cumulative distribution ending at 1.0."""
    for index, bound in enumerate(cumulative):
        if uniform < bound:
            return index
    return len(cumulative) - 1
