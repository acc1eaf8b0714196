"""Stages 2 and 4: difficulty bins, per-run evaluations of every strategy, and the strategy table with its held-out routing figures."""
