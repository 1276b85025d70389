"""Renderers: they turn engine results (plain data) into rich panels, plain text, JSON,
CSV and Markdown. Rendering never computes; the engine never prints."""
