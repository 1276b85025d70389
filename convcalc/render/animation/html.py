"""A self-contained HTML page playing an animation: every frame drawn as an inline SVG
by a small script from the scenes (no network, no libraries), with play/pause, step
back/forward and a scrubbing slider. Once drawn, ``<body data-frames="N">`` says how many
frames the page rendered (the headless-browser test reads it)."""

from __future__ import annotations

import html
import json

from convcalc.animation.model import Animation
from convcalc.render.animation import scene as layout

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; color: #1b2a3a; margin: 1.5em; }}
h1 {{ font-size: 1.15em; margin: 0 0 0.2em; }}
p {{ margin: 0.2em 0; font-size: 0.9em; }}
#stage svg {{ display: none; max-width: 100%; height: auto; }}
#stage svg.current {{ display: block; }}
#controls {{ margin: 0.6em 0; display: flex; gap: 0.5em; align-items: center; }}
#controls input[type=range] {{ width: 20em; }}
</style>
</head>
<body data-frames="0">
<h1>{title}</h1>
<div id="controls">
<button id="back" title="previous step">&#9664;&#9664;</button>
<button id="play" title="play / pause">pause</button>
<button id="next" title="next step">&#9654;&#9654;</button>
<input id="scrub" type="range" min="1" max="{count}" value="1" aria-label="step">
<span id="where">1 / {count}</span>
</div>
<div id="stage"></div>
{notes}
<script id="scenes" type="application/json">{data}</script>
<script>
(function () {{
  "use strict";
  var data = JSON.parse(document.getElementById("scenes").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var stage = document.getElementById("stage");
  var dashes = {{solid: "", dashed: "0.12 0.08", dotted: "0.03 0.07"}};
  function el(name, attrs, parent) {{
    var node = document.createElementNS(NS, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    parent.appendChild(node);
    return node;
  }}
  function draw(scene, step) {{
    var m = 0.4;
    var svg = el("svg", {{"class": "frame", "data-step": step,
                          viewBox: [-m, -m, scene.w + 2 * m, scene.h + 2 * m].join(" "),
                          width: Math.round(40 * (scene.w + 2 * m)), height: Math.round(40 * (scene.h + 2 * m))}},
                 stage);
    var defs = el("defs", {{}}, svg);
    var hatch = el("pattern", {{id: "hatch" + step, width: 0.25, height: 0.25, patternUnits: "userSpaceOnUse",
                                patternTransform: "rotate(45)"}}, defs);
    el("line", {{x1: 0, y1: 0, x2: 0, y2: 0.25, stroke: "#3d6d99", "stroke-width": 0.04}}, hatch);
    scene.boxes.forEach(function (b) {{
      var attrs = {{x: b[0] + 0.04, y: b[1] + 0.04, width: 0.92, height: 0.92, fill: b[2], stroke: b[3],
                   "stroke-width": 0.03 * b[5]}};
      if (dashes[b[4]]) attrs["stroke-dasharray"] = dashes[b[4]];
      el("rect", attrs, svg);
      if (b[6]) {{ var h = Object.assign({{}}, attrs); h.fill = "url(#hatch" + step + ")"; el("rect", h, svg); }}
      if (b[7] !== null) el("text", {{x: b[0] + 0.5, y: b[1] + 0.62, "font-size": b[7].length > 3 ? 0.3 : 0.4,
                                     "text-anchor": "middle", fill: b[8]}}, svg).textContent = b[7];
      if (b[9] !== null) el("text", {{x: b[0] + 0.92, y: b[1] + 0.9, "font-size": 0.22, "text-anchor": "end",
                                     fill: b[8] === "#ffffff" ? "#ffd166" : "#1b2a3a"}}, svg).textContent = b[9];
    }});
    scene.captions.forEach(function (c) {{
      if (!c[2]) return;
      var anchor = {{left: "start", center: "middle", right: "end"}}[c[4]];
      el("text", {{x: c[0], y: c[1] + 0.15, "font-size": 0.42 * c[3], "text-anchor": anchor, fill: "#1b2a3a"}}, svg)
        .textContent = c[2];
    }});
    return svg;
  }}
  var frames = data.scenes.map(draw);
  document.body.setAttribute("data-frames", String(frames.length));
  var step = 0, timer = null;
  var scrub = document.getElementById("scrub"), where = document.getElementById("where");
  var play = document.getElementById("play");
  function show(n) {{
    step = (n + frames.length) % frames.length;
    frames.forEach(function (f, i) {{ f.setAttribute("class", i === step ? "frame current" : "frame"); }});
    scrub.value = String(step + 1);
    where.textContent = (step + 1) + " / " + frames.length;
  }}
  function start() {{
    timer = setInterval(function () {{ show(step + 1); }}, data.interval);
    play.textContent = "pause";
  }}
  function stop() {{ clearInterval(timer); timer = null; play.textContent = "play"; }}
  play.addEventListener("click", function () {{ if (timer) stop(); else start(); }});
  document.getElementById("back").addEventListener("click", function () {{ stop(); show(step - 1); }});
  document.getElementById("next").addEventListener("click", function () {{ stop(); show(step + 1); }});
  scrub.addEventListener("input", function () {{ stop(); show(Number(scrub.value) - 1); }});
  show(0);
  if (frames.length > 1) start(); else stop();
}})();
</script>
</body>
</html>
"""


def _scene_data(picture: layout.Scene) -> dict:
    return {
        "w": picture.width, "h": picture.height,
        "boxes": [[b.x, b.y, b.fill, b.edge, b.style, b.width, bool(b.hatch), b.text, b.text_colour, b.small]
                  for b in picture.boxes],
        "captions": [[c.x, c.y, c.text, c.size, c.align] for c in picture.captions],
    }


def page(anim: Animation, fps: float) -> str:
    """The whole page as text."""
    title = f"{anim.op} · {anim.settings}" + (f" · view {anim.view}" if anim.view != "window" else "")
    data = {"interval": round(1000 / fps), "scenes": [_scene_data(p) for p in layout.scenes(anim)]}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    notes = "\n".join(f"<p>{html.escape(line)}</p>" for line in (layout.legend(anim), *anim.notes))
    return _PAGE.format(title=html.escape(title), count=len(anim.frames), notes=notes, data=text)
