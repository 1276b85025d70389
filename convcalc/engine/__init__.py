"""Exact arithmetic shared by every layer type: dimensions, per-axis rules, results."""
