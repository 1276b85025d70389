"""Zoo family: densenet (filled in by its author)."""
