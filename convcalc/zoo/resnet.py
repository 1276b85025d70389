"""Zoo family: resnet (filled in by its author)."""
