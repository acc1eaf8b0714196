"""The sequential router's decision model: what each action is worth in each state, fitted on calibration pools."""
