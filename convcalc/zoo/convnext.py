"""Zoo family: convnext (filled in by its author)."""
