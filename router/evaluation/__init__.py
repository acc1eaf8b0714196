"""`ttc evaluate`'s measurements: the router against every fixed strategy, the oracle limit, bootstrap intervals, and the printed summaries."""
