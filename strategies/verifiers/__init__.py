"""Verifier adapters: process reward models, an LLM judge and an arithmetic checker.

Build one by name with ``build_verifier`` (``strategies.verifiers.registry``); each
adapter module imports torch and transformers only when an adapter is constructed or run.
The simulator's PRM lives with the simulator backend.
"""

from strategies.verifiers.registry import build_verifier, verifier_names

__all__ = ["build_verifier", "verifier_names"]
