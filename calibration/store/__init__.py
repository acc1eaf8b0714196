"""What a calibration keeps on disk: the shards, the artifact, their records, and the report `ttc evaluate` writes."""
