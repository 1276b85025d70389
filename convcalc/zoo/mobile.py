"""Zoo family: mobile (filled in by its author)."""
