"""The online half of ttc-router: probe, budget policy, solve, and the ``ttc`` command line."""
