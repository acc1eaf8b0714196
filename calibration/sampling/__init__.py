"""Stages 1 and 3, everything that runs the model: problem sources, engines, the strategy plan, the sample pools and the tree searches."""
