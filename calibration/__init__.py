"""The offline half of ttc-router: sampling runs, difficulty, strategy evaluation, tables."""
