"""Bottom layer of ttc-router: problems, answers, engines, verifiers and search.

Nothing here imports from ``calibration`` or ``router``.
"""

__version__ = "0.1.0"
