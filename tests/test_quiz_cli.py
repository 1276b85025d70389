"""convcalc quiz and convcalc grade from the command line: the issue's examples, byte-identical
sheets across processes, LaTeX that compiles, Markdown tables, the marks and feedback, and
bad input (exit 2, one message naming the line, nothing half-written)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MIDTERM = ROOT / "examples" / "quiz" / "midterm.json"


def _key(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _answers(key: dict, sheet: int = 0) -> list[tuple[str, str]]:
    """Every part's right answer, as a student would write it (JSON values)."""
    return [(p["id"], p["answer"]) for q in key["sheets"][sheet]["questions"] for p in q["parts"]]


def _write_csv(path: Path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["student", "question", "answer"])
        for student, question, answer in rows:
            if isinstance(answer, list):
                answer = (
                    "x".join(map(str, answer))
                    if not isinstance(answer[0], list)
                    else "; ".join(" ".join(map(str, row)) for row in answer)
                )
            writer.writerow([student, question, answer])


def test_issue_examples(cli, tmp_path):
    os.chdir(tmp_path)
    r = cli("quiz", "--topics", "shape,params,macs,rf", "--n", "10", "--seed", "7", "-o", "sheet.md", "--key", "key.md")
    assert r.code == 0, r.err
    sheet, key = Path("sheet.md").read_text(), Path("key.md").read_text()
    assert sheet.count("## Q") == 10 and "Worked solution" in key and "Worked solution" not in sheet
    assert "floor((" in key  # the shape --explain steps
    r = cli(
        "quiz",
        "--topics",
        "conv-numeric,pool-backprop,conv-backprop",
        "--n",
        "4",
        "--seed",
        "3",
        "--format",
        "latex",
        "-o",
        "hw3.tex",
        "--key",
        "hw3-key.tex",
    )
    assert r.code == 0, r.err
    assert Path("hw3.tex").read_text().startswith("% convcalc quiz")
    assert "pad(" in Path("hw3-key.tex").read_text() or "pad" in Path("hw3-key.tex").read_text()
    r = cli("quiz", "--from", str(MIDTERM), "-o", "mid.md", "--key", "mid.json")
    assert r.code == 0, r.err
    assert _key(Path("mid.json"))["source"] == str(MIDTERM)
    Path("roster.csv").write_text("student\nann\nbo\n")
    r = cli("quiz", "--n", "10", "--seed", "7", "--students", "roster.csv", "--json", "--key", "rkey.json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "convcalc/quiz/v1" and doc["kind"] == "sheet"
    assert [s["student"] for s in doc["sheets"]] == ["ann", "bo"]
    assert all("answer" not in p for s in doc["sheets"] for q in s["questions"] for p in q["parts"])
    assert _key(Path("rkey.json"))["kind"] == "key"


def test_same_seed_same_bytes_in_fresh_processes(tmp_path):
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-m", "convcalc", "quiz", "--n", "12", "--seed", "5", "-o", "s.tex", "--key", "k.json"],
            cwd=out,
            env=env,
            check=True,
            capture_output=True,
        )
        outputs.append(((out / "s.tex").read_bytes(), (out / "k.json").read_bytes()))
    assert outputs[0] == outputs[1]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (Debian: texlive-latex-base)")
def test_latex_sheet_and_key_compile(cli, tmp_path):
    os.chdir(tmp_path)
    for difficulty in ("1", "3"):
        r = cli(
            "quiz",
            "--n",
            "12",
            "--seed",
            "4",
            "--difficulty",
            difficulty,
            "-o",
            f"s{difficulty}.tex",
            "--key",
            f"k{difficulty}.tex",
        )
        assert r.code == 0, r.err
        for name in (f"s{difficulty}.tex", f"k{difficulty}.tex"):
            run = subprocess.run(
                ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name],
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert run.returncode == 0, run.stdout[-2000:]
            assert Path(name).with_suffix(".pdf").stat().st_size > 1000
    # TeX's special characters in a title and in students' names; one sheet per student
    template = json.loads(MIDTERM.read_text(encoding="utf-8"))
    template["title"] = "Quiz #2: 50% & more_stuff {x} ~ ^ \\ $5"
    Path("t.json").write_text(json.dumps(template), encoding="utf-8")
    Path("roster.csv").write_text("name\nJosé_O'Brien & co\n#5 {x}\n", encoding="utf-8")
    r = cli("quiz", "--from", "t.json", "--students", "roster.csv", "-o", "r.tex", "--key", "rk.tex")
    assert r.code == 0, r.err
    for name in ("r.tex", "rk.tex"):
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name],
                             capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stdout[-2000:]
        assert "José\\_O'Brien \\& co" in Path(name).read_text(encoding="utf-8")


def test_markdown_renders_as_tables(cli, tmp_path):
    os.chdir(tmp_path)
    from markdown_it import MarkdownIt

    r = cli("quiz", "--topics", "conv-backprop,network", "--seed", "2", "--format", "markdown")
    assert r.code == 0
    html = MarkdownIt("commonmark").enable("table").render(r.out)
    # conv-backprop: I, K, δJ and the parts; network: the parts
    assert html.count("<table>") == 5
    assert "<th>δJ</th>" in html and "<td>Q2l</td>" in html
    # every table of every topic's sheet and key (one question per topic) is a table to CommonMark
    for key in (False, True):
        r = cli("quiz", "--seed", "5", "--format", "markdown")
        assert r.code == 0, r.err
        text = r.out
        if key:
            Path("k.md").unlink(missing_ok=True)
            r = cli("quiz", "--seed", "5", "-o", "s.md", "--key", "k.md")
            assert r.code == 0, r.err
            text = Path("k.md").read_text(encoding="utf-8")
        html = MarkdownIt("commonmark").enable("table").render(text)
        rules = sum(1 for line in text.splitlines() if line.startswith("|---"))
        assert rules >= 12 and html.count("<table>") == rules
        assert "|" not in re.sub(r"<code>.*?</code>|<pre>.*?</pre>", "", html, flags=re.S)  # no stray pipes


def test_grade_marks_feedback_and_summary(cli, tmp_path):
    os.chdir(tmp_path)
    data = {
        "questions": [
            {"topic": "shape", "layer": {"in": "3x32x32", "k": 5, "stride": 2, "out": 2}},
            {"topic": "params", "layer": {"in": "3x32x32", "k": 5, "stride": 2, "out": 2}},
            {"topic": "pool-backprop", "input": [[1, 3], [3, 2]], "k": 2, "stride": 2, "upstream": [[5]]},
        ]
    }
    Path("t.json").write_text(json.dumps(data))
    assert cli("quiz", "--from", "t.json", "-o", "s.md", "--key", "k.json").code == 0
    _write_csv(
        Path("a.csv"),
        [
            ("ann", "Q1", "2x14x14"),
            ("ann", "q2", "152"),
            ("ann", "3", "0 5; 0 0"),
            ("bo", "Q1", "2x15x15"),
            ("bo", "Q2", "150"),
            ("bo", "Q3", "0 5; 5 0"),
        ],
    )
    r = cli("grade", "--key", "k.json", "a.csv", "--format", "text")
    assert r.code == 0, r.err
    assert "ann: 3/3 (100%)" in r.out
    assert (
        "Q1: 2x15x15 — you used ceil; PyTorch floors: floor((32 + 2·0 − 5)/2) + 1 = floor(27/2 = 13.5) + 1 "
        "= 13 + 1 = 14 — the answer is 2x14x14"
    ) in r.out
    assert "Q2: 150 — you left out the bias" in r.out
    assert "Q3: 0 5; 5 0 — you sent the gradient to every tied maximum" in r.out
    assert "bo: 1.08/3 (36%)" in r.out  # 1/3 + 0 + 3/4
    gradebook = list(csv.reader(cli("grade", "--key", "k.json", "a.csv", "--format", "csv").out.splitlines()))
    assert gradebook[0][:7] == ["student", "score", "out_of", "percent", "Q1", "Q2", "Q3"]
    assert gradebook[2][:7] == ["bo", "1.08", "3", "36", "0.33", "0", "0.75"]
    md = cli("grade", "--key", "k.json", "a.csv", "--format", "markdown").out
    assert "| part | topic | answered | right | mean | mistakes seen |" in md
    doc = cli("grade", "--key", "k.json", "a.csv", "--json").json()
    assert doc["schema"] == "convcalc/grade/v1"
    assert doc["students"][1]["marks"][0]["mistakes"] == ["ceil-not-floor"]


def test_grade_jsonl_and_roster_keys(cli, tmp_path):
    os.chdir(tmp_path)
    Path("roster.csv").write_text("ann\nbo\n")
    assert (
        cli(
            "quiz",
            "--topics",
            "network,relu-backprop",
            "--seed",
            "9",
            "--students",
            "roster.csv",
            "-o",
            "s.md",
            "--key",
            "k.json",
        ).code
        == 0
    )
    key = _key(Path("k.json"))
    lines = [json.dumps({"student": "bo", "question": pid, "answer": answer}) for pid, answer in _answers(key, 1)]
    Path("a.jsonl").write_text("\n".join(lines) + "\n")
    doc = cli("grade", "--key", "k.json", "a.jsonl", "--json").json()
    ann, bo = doc["students"]
    assert ann["student"] == "ann" and ann["score"] == 0 and all(m["answer"] is None for m in ann["marks"])
    assert bo["score"] == bo["out_of"]


# --- bad input -----------------------------------------------------------------------------------------


@pytest.fixture
def graded(cli, tmp_path):
    os.chdir(tmp_path)
    assert cli("quiz", "--topics", "shape,batchnorm", "--seed", "1", "-o", "s.md", "--key", "k.json").code == 0
    return tmp_path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "student,question,answer\nann,Q1,2x3x3\nann,Q2a\n", "a.csv line 3: expected 3 columns"),
        (
            "a.jsonl",
            '{"student": "ann", "question": "Q1", "answer": "1x2x2"}\n{"student": "ann", "question": "Q2a"\n',
            "a.jsonl line 2: not a JSON object",
        ),
        (
            "a.jsonl",
            '{"student": "ann", "question": "Q1", "answer": 1, "score": 3}\n',
            "a.jsonl line 1: unknown key 'score'",
        ),
        ("a.csv", "ann,Q1,1x2x2\nann,Q9,3\n", "a.csv line 2: unknown question 'Q9' (the key has Q1–Q2b)"),
        ("a.csv", "ann,Q2,3\n", "a.csv line 1: Q2 has parts Q2a–Q2b: answer each part"),
        (
            "a.csv",
            "ann,Q1,1x2x2\nann,q1,1x2x2\n",
            "a.csv line 2: a second answer from ann for Q1 (the first is on line 1)",
        ),
        ("a.csv", "", "a.csv: no answers"),
    ],
)
def test_malformed_answer_files(cli, graded, name, content, message):
    Path(name).write_text(content)
    r = cli("grade", "--key", "k.json", name)
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and message in r.err, r.err


def test_bad_keys(cli, graded):
    Path("a.csv").write_text("ann,Q1,1x2x2\n")
    key = _key(Path("k.json"))
    key["sheets"][0]["questions"][0]["parts"][0]["answer"] = [1, 2, 2]
    Path("edited.json").write_text(json.dumps(key))
    r = cli("grade", "--key", "edited.json", "a.csv")
    assert r.code == 2 and "was the key edited?" in r.err
    assert cli("quiz", "--topics", "shape", "--json", "-o", "sheet.json", "--key", "k2.json").code == 0
    r = cli("grade", "--key", "sheet.json", "a.csv")
    assert r.code == 2 and "the students' sheet, not the answer key" in r.err
    r = cli("grade", "--key", "s.md", "a.csv")
    assert r.code == 2 and "--key s.md is not JSON: grading needs the JSON key" in r.err
    Path("broken.json").write_text('{"schema": "convcalc/quiz/v1",\n "kind": }')
    r = cli("grade", "--key", "broken.json", "a.csv")
    assert r.code == 2 and "malformed JSON at line 2" in r.err
    r = cli("grade", "a.csv")
    assert r.code == 2 and "--key is required" in r.err


def test_roster_key_refuses_unknown_students(cli, tmp_path):
    os.chdir(tmp_path)
    Path("roster.csv").write_text("ann\n")
    assert cli("quiz", "--topics", "shape", "--students", "roster.csv", "-o", "s.md", "--key", "k.json").code == 0
    Path("a.csv").write_text("cy,Q1,1x1x1\n")
    r = cli("grade", "--key", "k.json", "a.csv")
    assert r.code == 2 and "a.csv line 1: 'cy' is not on the key's roster" in r.err


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"questions": [{"topic": "shape", "layer": {"in": "3x32x32", "op": "conv2", "k": 3}}]},
            "question 1: unknown op 'conv2'",
        ),
        (
            {"questions": [{"topic": "rf", "chain": "3x32x32 | conv 8 k3 | maxpoo k2"}]},
            "question 1: at token 3 'maxpoo k2'",
        ),
        (
            {"questions": [{"topic": "shape", "layer": {"in": "3x{H}x{H}", "k": 9}, "vars": {"H": [4, 5]}}]},
            "none of 200 draws of its vars gives a valid question",
        ),
        (
            {"questions": [{"topic": "shape", "layer": {"in": "3x{H}x{H}", "k": 3}}]},
            'the placeholder {H} has no entry in "vars"',
        ),
        ({"questions": [{"topic": "shapes"}]}, "unknown topic 'shapes' — did you mean shape?"),
        (
            {"questions": [{"topic": "conv-numeric", "input": [[1] * 11] * 10, "kernel": [[1, 2], [3, 4]]}]},
            "question 1: input is 10x11 (110 entries): a hand calculation takes at most 100",
        ),
        ({"questions": [{"topic": "shape", "kernel": 3}]}, "unknown key 'kernel' for topic shape"),
        ({"questions": []}, 'a template is an object with a non-empty "questions" list'),
    ],
)
def test_bad_templates_write_nothing(cli, tmp_path, template, message):
    os.chdir(tmp_path)
    Path("t.json").write_text(json.dumps(template))
    r = cli("quiz", "--from", "t.json", "-o", "s.md", "--key", "k.json")
    assert r.code == 2 and message in r.err, r.err
    assert r.err.count("\n") == 1
    assert not Path("s.md").exists() and not Path("k.json").exists()


def test_sheet_and_key_written_together_or_not_at_all(cli, tmp_path):
    os.chdir(tmp_path)
    Path("key-dir").mkdir()
    r = cli("quiz", "--topics", "shape", "-o", "s.md", "--key", "key-dir")
    assert r.code == 2 and "is a directory" in r.err and "key-dir/key.json" in r.err and not Path("s.md").exists()
    r = cli("quiz", "--topics", "shape", "-o", "same.md", "--key", "same.md")
    assert r.code == 2 and "name the same file" in r.err and not Path("same.md").exists()
    r = cli("quiz", "--topics", "shape", "-o", "missing/s.md", "--key", "k.md")
    assert r.code == 2 and "does not exist" in r.err and not Path("k.md").exists()
    assert not list(tmp_path.rglob(".convcalc-*"))  # no temporary file left behind


def test_bad_roster_and_options(cli, tmp_path):
    os.chdir(tmp_path)
    Path("roster.csv").write_text("name\nann\nbo\nann\n")
    r = cli("quiz", "--students", "roster.csv")
    assert r.code == 2 and "roster.csv line 4: the student 'ann' is listed twice (first on line 2)" in r.err
    Path("class.csv").write_text("name\n" + "".join(f"s{i}\n" for i in range(101)))
    r = cli("quiz", "--students", "class.csv", "--n", "100")
    assert r.code == 2 and "101 students × 100 questions is 10100 questions" in r.err and r.out == ""
    for args, message in (
        (("--n", "0"), "--n must be between 1 and 100"),
        (("--difficulty", "4"), "difficulty must be 1, 2 or 3"),
        (("--seed", "-1"), "--seed takes a whole number"),
        (("--format", "pdf"), "--format 'pdf'"),
        (("--topics", ","), "--topics is empty"),
    ):
        r = cli("quiz", *args)
        assert r.code == 2 and message in r.err, (args, r.err)
