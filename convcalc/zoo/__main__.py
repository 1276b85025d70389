"""``python -m convcalc.zoo``: rewrite convcalc/zoo/index.py from the registered networks."""

from pathlib import Path

from convcalc.zoo import index_text

target = Path(__file__).with_name("index.py")
target.write_text(index_text(), encoding="utf-8")
print(f"wrote {target}")
