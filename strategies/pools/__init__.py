"""Recorded sample pools: many whole solutions per problem, with verifier scores, read
from files people already have, so strategies can be replayed instead of regenerated.

``records`` holds the typed records, ``formats`` the readers of each file layout
(the project's calibration shards, a generic JSONL, search-and-learn's datasets),
``loading`` joins files into one ``SamplePool``, and ``replay`` serves a pool as a
Generator and a Verifier (``--backend replay --pool FILE``).
"""
