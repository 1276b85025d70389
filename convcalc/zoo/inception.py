"""Zoo family: inception (filled in by its author)."""
