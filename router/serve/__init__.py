"""`ttc serve`: the router behind an OpenAI-compatible HTTP endpoint.

One chat request is one problem (its last user message); the answer is a normal chat
completion whose content is the chosen solution, plus a ``ttc`` object with the answer,
strategy, budget N, predicted difficulty and the cost ledger. Requests that arrive
within a short window are solved as one batch per budget policy, so each round's
generator and verifier calls are shared by everyone in the batch.

Modules, one job each:

- ``protocol``: the request and response bodies (pydantic), and the checks that turn a
  request into a problem and a budget policy, or into a 400 that names the field;
- ``batcher``: the micro-batcher that collects requests and calls ``Router.solve``;
- ``metrics``: the Prometheus counters and histograms behind ``/metrics``;
- ``app``: the FastAPI application (routes, limits, error bodies);
- ``command``: the ``ttc serve`` command line.
"""
