"""Drawing an :class:`convcalc.animation.model.Animation`: :mod:`.scene` lays every frame out
as boxes and captions (pure data), :mod:`.figure` paints scenes with matplotlib (GIF frames,
PNG/SVG stills), :mod:`.html` writes a self-contained page, :mod:`.terminal` plays it in the
terminal. :mod:`.files` writes the files."""
