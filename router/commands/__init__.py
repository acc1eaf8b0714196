"""`ttc solve` and `ttc evaluate` on the command line: shared options, the answers file, domain checks, logging."""
