"""The online half of ttc-router: routing in rounds, budget policies, solve / evaluate /
serve, and the ``ttc`` command line."""
