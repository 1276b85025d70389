"""Every ``docs/arithmetic.md §N`` cited in the code, the tests and the benchmarks names a
section that exists in that page, so a citation always leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "arithmetic.md"
CITATION = "docs/arithmetic.md §"
# "§4", "§7.1", and ranges such as "§5.1–5.2" (both ends are checked)
SECTION = re.compile(r"§(\d+(?:\.\d+)?)(?:–(\d+(?:\.\d+)?))?")


def sections() -> set[str]:
    """The numbers of the page's headings: '## 3. Pooling' gives 3, '### 3.2 ...' gives 3.2."""
    found = set()
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#{2,3} (\d+(?:\.\d+)?)\.? ", line)
        if match:
            found.add(match.group(1))
    return found


def citations() -> list[tuple[str, str]]:
    """(where, section) for every section cited after ``docs/arithmetic.md`` on a line."""
    cited = []
    for folder in ("convcalc", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                at = line.find(CITATION)
                if at < 0:
                    continue
                where = f"{path.relative_to(ROOT)}:{number}"
                for first, last in SECTION.findall(line[at + len(CITATION) - 1:]):
                    cited.append((where, first))
                    if last:
                        cited.append((where, last))
    return cited


def test_the_page_has_numbered_sections_one_to_seven():
    have = sections()
    assert {str(n) for n in range(1, 8)} <= have


def test_every_citation_names_an_existing_section():
    have = sections()
    cited = citations()
    assert len(cited) >= 26  # the citations of convcalc, tests and benchmarks when this test was written
    missing = [f"{where}: §{number}" for where, number in cited if number not in have]
    assert not missing, "citations of sections docs/arithmetic.md does not have:\n" + "\n".join(missing)
