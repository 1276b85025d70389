"""Zoo family: regnet (filled in by its author)."""
