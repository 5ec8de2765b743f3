"""docs/questions.md covers the course questions: every question ID that ../shared/COURSE_QUESTIONS.md maps to
a lab has a row, under the lab the mapping names; every answer cell's question ID (the "(003 Q20)" that ends
the question in a cell's ``metadata.labkit.question``) has a row that says it is answered in that notebook;
and the counts in the doc's introduction match its rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "questions.md"
NOTEBOOKS = ROOT / "notebooks"
COURSE_QUESTIONS = ROOT.parent / "shared" / "COURSE_QUESTIONS.md"
needs_shared = pytest.mark.skipif(not COURSE_QUESTIONS.exists(),
                                  reason=f"{COURSE_QUESTIONS} is absent (the course's shared materials, beside the repo)")

DASH = "[–-]"  # the file writes ranges with an en dash, answer cells with a hyphen
BOLD_ID = re.compile(r"^- \*\*(\d{3} [^*]+?)\*\*", re.M)  # "- **003 Q12a** (0.5) — ..."; the mapping's are "01 ..."
MAPPING_LINE = re.compile(r"^- \*\*(\d{2}) [^*]+\*\* — (.+)$", re.M)
UNANSWERED = "not answered"  # a where cell starting so says no cell answers the question


def expand_ids(reference: str) -> list[str]:
    """Return the single question IDs a reference names, each with its course and part: ``"001 P1 Q3, P2 Q1;
    003 Q8"`` -> ``["001 P1 Q3", "001 P2 Q1", "003 Q8"]``, ``"002 Part 2 §2.2, §2.3, Q3"`` -> the three in Part
    2, ``"Q1–Q4"``, ``"Q12a–d"``, ``"Instr 1–5"`` and ``"Q2 & Q3"`` expanded, a trailing `` Q`` of ``"§1.b Q"``
    dropped. Groups split by ``;`` start with a three-digit course number."""
    ids = []
    for group in reference.split(";"):
        group = group.strip().rstrip(".")
        course = re.match(r"\d{3}\b", group)
        if not course:
            raise ValueError(f"a group of question IDs must start with its course number: {group!r}")
        context = ""  # "Part 2" (002) or "P3" (001): carries on to the items after it
        for item in group[course.end():].split(","):
            item = item.strip()
            if not item:
                continue
            part = re.match(r"(Part \d+|P\d+)\b\s*", item)
            if part:
                context, item = part.group(1), item[part.end():]
            item = re.sub(r"\s+Q$", "", item)  # "§1.b Q" is the question of §1.b
            if context.startswith("P") and not context.startswith("Part") and not item.startswith("Q"):
                prefix = ""  # "001 Discussion" after "P3 Q2&Q3"
            else:
                prefix = f"{context} " if context else ""
            ids += [f"{course.group()} {prefix}{single}" for single in _expand_item(item)]
    return ids


def _expand_item(item: str) -> list[str]:
    if m := re.fullmatch(rf"Q(\d+)([a-z])\s*{DASH}\s*(?:Q\d+)?([a-z])", item):  # Q12a–d
        return [f"Q{m[1]}{chr(c)}" for c in range(ord(m[2]), ord(m[3]) + 1)]
    if m := re.fullmatch(rf"(Q|Instr )(\d+)\s*{DASH}\s*(?:Q)?(\d+)", item):  # Q1–Q4, Q14-Q16, Instr 1–5
        return [f"{m[1]}{n}" for n in range(int(m[2]), int(m[3]) + 1)]
    if m := re.fullmatch(r"Q(\d+)\s*&\s*Q(\d+)", item):  # Q2 & Q3, Q2&Q3
        return [f"Q{m[1]}", f"Q{m[2]}"]
    return [item]


def course_ids(course_text: str) -> dict[str, set[str]]:
    """Return each question ID of COURSE_QUESTIONS.md, as written there, with the single IDs it covers."""
    return {qid: set(expand_ids(qid)) for qid in BOLD_ID.findall(course_text)}


def mapped_ids(course_text: str) -> dict[str, set[str]]:
    """Return each question ID that the file's "Mapping to the five labs" gives a lab, with the labs ("01"..).
    Remarks in parentheses are not IDs, except "(Language alt. optional)"; a "related ...:" group is only
    related, not mapped. Raises ValueError for a mapped ID that matches no question of the file."""
    mapping = course_text[course_text.index("## Mapping to the five labs"):]
    questions = course_ids(course_text)
    result: dict[str, set[str]] = {}
    for lab, text in MAPPING_LINE.findall(mapping):
        text = re.sub(r"\s*\(([^()]*)\)",
                      lambda m: ", (Language alternative)" if m[1].startswith("Language alt") else "", text)
        groups = [g for g in text.split(";") if re.match(r"\s*\d{3}\b", g)]
        for single in expand_ids(";".join(groups)):
            owners = [qid for qid, singles in questions.items() if single in singles]
            if not owners:
                raise ValueError(f"lab {lab}'s mapping names {single!r}, which is no question of the file")
            for qid in owners:
                result.setdefault(qid, set()).add(lab)
    return result


def doc_rows(doc_text: str) -> dict[str, dict[str, str]]:
    """Return the rows of the doc's tables by question ID: lab, where, how."""
    rows = {}
    for line in doc_text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == 4 and re.match(r"\d{3} ", cells[0]):
            rows[cells[0].strip("*`")] = dict(zip(("lab", "where", "how"), cells[1:]))
    return rows


def answer_cells(notebooks_dir: Path) -> list[tuple[str, str, str]]:
    """Return (notebook file name, single question ID, question) for each ID of every answer cell."""
    found = []
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {})
            question = meta.get("labkit", {}).get("question", "")
            if "answer" not in meta.get("tags", []) or not question:
                continue
            reference = re.search(r"\((\d{3} [^()]*)\)\s*$", question)
            for single in expand_ids(reference[1]) if reference else []:
                found.append((path.name, single, question))
    return found


def mapping_problems(course_path: Path, doc_path: Path) -> list[str]:
    """Return a line per mapped question ID that has no row in the doc, or a row under another lab."""
    rows = doc_rows(doc_path.read_text(encoding="utf-8"))
    problems = []
    for qid, labs in mapped_ids(course_path.read_text(encoding="utf-8")).items():
        if qid not in rows:
            problems.append(f"{qid} (lab {', '.join(sorted(labs))}) has no row in {doc_path.name}")
        elif not all(lab in rows[qid]["lab"] for lab in labs):
            problems.append(f"{qid}: the mapping gives lab {', '.join(sorted(labs))}, the row says {rows[qid]['lab']}")
    return problems


def answer_problems(notebooks_dir: Path, doc_path: Path) -> list[str]:
    """Return a line per answer-cell question ID whose row is missing, says it is not answered, or does not
    name the notebook that holds the cell."""
    rows = doc_rows(doc_path.read_text(encoding="utf-8"))
    singles = {single: qid for qid in rows for single in expand_ids(qid)}
    problems = []
    for notebook, single, question in answer_cells(notebooks_dir):
        row = rows.get(singles.get(single, ""))
        if row is None:
            problems.append(f"{single} (answer cell of {notebook}: {question!r}) has no row in {doc_path.name}")
        elif row["where"].startswith(UNANSWERED) or notebook not in row["where"]:
            problems.append(f"{single}: {notebook} has an answer cell for it, the row says {row['where']!r}")
    return problems


def count_problems(doc_path: Path) -> list[str]:
    """Return a line when the introduction's counts differ from the rows."""
    text = doc_path.read_text(encoding="utf-8")
    rows = doc_rows(text).values()
    unanswered = [r for r in rows if r["where"].startswith(UNANSWERED)]
    actual = {"mapped": len(rows), "answered": sum(not r["where"].startswith(UNANSWERED) and "**partly:**" not in r["how"]
                                                 for r in rows),
              "partly": sum("**partly:**" in r["how"] for r in rows),
              "not yet": sum(r["where"].startswith("not answered yet") for r in unanswered)}
    actual["not"] = len(unanswered)
    m = re.search(r"Counts \((\d+) question IDs mapped to a lab\): (\d+) answered, (\d+) partly, (\d+) not \((\d+) not yet",
                  " ".join(text.split()))
    if not m:
        return ["no 'Counts (N question IDs mapped to a lab): ...' line in the introduction"]
    stated = dict(zip(("mapped", "answered", "partly", "not", "not yet"), map(int, m.groups())))
    return [f"the introduction says {n} {what}, the rows {actual[what]}" for what, n in stated.items() if actual[what] != n]


def test_expand_ids_reads_every_form_the_references_use():
    assert expand_ids("001 P1 Q3, P2 Q1; 003 Q8") == ["001 P1 Q3", "001 P2 Q1", "003 Q8"]
    assert expand_ids("002 Part 2 §2.2, §2.3, Q3") == ["002 Part 2 §2.2", "002 Part 2 §2.3", "002 Part 2 Q3"]
    assert expand_ids("003 Q14-Q16") == ["003 Q14", "003 Q15", "003 Q16"]
    assert expand_ids("003 Q12a–d, Instr 1–3") == ["003 Q12a", "003 Q12b", "003 Q12c", "003 Q12d",
                                                   "003 Instr 1", "003 Instr 2", "003 Instr 3"]
    assert expand_ids("001 P3 Q2&Q3, Discussion") == ["001 P3 Q2", "001 P3 Q3", "001 Discussion"]
    assert expand_ids("002 Part 1 §1.b Q") == ["002 Part 1 §1.b"]
    assert expand_ids("000 1.9, 1.9.1") == ["000 1.9", "000 1.9.1"]


@needs_shared
def test_every_question_the_mapping_gives_a_lab_has_a_row_under_that_lab():
    mapped = mapped_ids(COURSE_QUESTIONS.read_text(encoding="utf-8"))
    assert len(mapped) >= 80 and "003 Q22" in mapped and "000 (Language alternative)" in mapped, sorted(mapped)
    problems = mapping_problems(COURSE_QUESTIONS, DOC)
    assert not problems, "\n".join(problems)


def test_every_answer_cell_is_answered_in_its_notebook_in_the_doc():
    found = answer_cells(NOTEBOOKS)
    assert {notebook for notebook, _, _ in found} == {path.name for path in NOTEBOOKS.glob("*.ipynb")}, found
    problems = answer_problems(NOTEBOOKS, DOC)
    assert not problems, "\n".join(problems)


def test_the_introduction_counts_match_the_rows():
    problems = count_problems(DOC)
    assert not problems, "\n".join(problems)


def without_row(doc_path: Path, qid: str, tmp_path: Path) -> Path:
    """Write a copy of the doc without the row of ``qid``."""
    lines = doc_path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"| {qid} |")]
    assert len(kept) == len(lines) - 1, qid
    copy = tmp_path / "questions.md"
    copy.write_text("".join(kept), encoding="utf-8")
    return copy


@needs_shared
def test_a_doc_without_a_mapped_question_fails(tmp_path):
    broken = without_row(DOC, "002 Part 4 §4.3", tmp_path)  # mapped to Lab 3, no answer cell
    assert mapping_problems(COURSE_QUESTIONS, broken) == ["002 Part 4 §4.3 (lab 03) has no row in questions.md"]


def test_a_doc_without_an_answer_cells_question_fails(tmp_path):
    broken = without_row(DOC, "003 Q20", tmp_path)
    problems = answer_problems(NOTEBOOKS, broken)
    assert len(problems) == 1 and problems[0].startswith("003 Q20 (answer cell of 05_gemm_rewrite.ipynb"), problems


def test_a_row_that_denies_an_answer_cell_fails(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| 000 1.1 |"))
    denied = "| 000 1.1 | 01 | not answered yet: (wrong on purpose) | - |"
    (tmp_path / "questions.md").write_text(text.replace(row, denied), encoding="utf-8")
    problems = answer_problems(NOTEBOOKS, tmp_path / "questions.md")
    assert problems == [f"000 1.1: 01_mlp_sweeps.ipynb has an answer cell for it, the row says "
                        f"'not answered yet: (wrong on purpose)'"]


def test_a_mapping_under_another_lab_or_a_made_up_id_fails(tmp_path):
    course = tmp_path / "COURSE_QUESTIONS.md"
    course.write_text("## 003 — a course\n\n- **003 Q1** — a.\n- **003 Q2** — b.\n- **003 Instr 1–3** — c.\n\n"
                      "## Mapping to the five labs\n\n- **02 CNN sweeps** — 003 Instr 1–3, Q1 (a remark, Q9).\n"
                      "- **04 pruning** — 003 Q2; related: 003 Q7.\n", encoding="utf-8")
    doc = tmp_path / "questions.md"
    doc.write_text("| question | lab | where | how |\n| --- | --- | --- | --- |\n| 003 Q1 | 02 | x | y |\n"
                   "| 003 Q2 | 05 | x | y |\n", encoding="utf-8")
    assert mapping_problems(course, doc) == ["003 Instr 1–3 (lab 02) has no row in questions.md",
                                             "003 Q2: the mapping gives lab 04, the row says 05"]
    course.write_text(course.read_text(encoding="utf-8").replace("003 Q2;", "003 Q3;"), encoding="utf-8")
    with pytest.raises(ValueError, match="'003 Q3', which is no question"):
        mapping_problems(course, doc)
