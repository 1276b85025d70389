"""Whole networks: a tree of modules over the shared layer types, walked layer by layer."""
