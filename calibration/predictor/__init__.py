"""Stage 5: the difficulty predictor (probe features and plain-JSON models, no pickle)."""
