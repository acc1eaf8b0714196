"""Search strategies: majority vote, best-of-N, beam search, DVTS."""
