"""Zoo family: squeezenet (filled in by its author)."""
