"""Zoo family: efficient (filled in by its author)."""
