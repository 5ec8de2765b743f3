"""Every relative link and image in the README, docs/ and benchmarks/README.md points at a file that exists,
and every #anchor at a heading of that file. Web links (http, https, mailto) are not checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# the target of an inline link or image: ...](target) or ...](target "title") or ...](<target>)
INLINE_TARGET = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_TARGET = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
WEB = ("http://", "https://", "mailto:")


def doc_files(root: Path = ROOT) -> list[Path]:
    """Return the Markdown files whose links are checked: README.md, docs/**/*.md, benchmarks/README.md."""
    files = [root / "README.md", root / "benchmarks" / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return [path for path in files if path.exists()]


def without_code(text: str) -> str:
    """Return ``text`` with fenced blocks and inline code spans blanked (a link inside code is not a link)."""
    text = FENCE.sub("", text)
    return CODE_SPAN.sub("", text)


def link_targets(text: str) -> list[str]:
    """Return the target of every inline link, image and reference definition, in order."""
    prose = without_code(text)
    targets = INLINE_TARGET.findall(prose) + REFERENCE_TARGET.findall(prose)
    return [target.strip("<>") for target in targets if target.strip("<>")]


def slug(heading: str) -> str:
    """Return GitHub's anchor for a heading: lower case, code and emphasis marks and punctuation dropped,
    spaces as hyphens (``"`sweep_scale.py` (Ray)"`` -> ``"sweep_scalepy-ray"``)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Return every heading anchor of a Markdown file, repeated headings numbered as GitHub does (-1, -2)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(path: Path) -> list[str]:
    """Return a line per relative link of ``path`` whose file or heading anchor does not exist."""
    problems = []
    for target in link_targets(path.read_text(encoding="utf-8")):
        if target.startswith(WEB):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            problems.append(f"{path}: ({target}) -> {destination} does not exist")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{path}: ({target}) -> no heading '#{anchor}' in {destination.name}")
    return problems


def test_every_relative_link_and_image_in_the_docs_resolves():
    files = doc_files()
    assert ROOT / "README.md" in files and any(p.parent.name == "labs" for p in files), files
    problems = [problem for path in files for problem in broken_links(path)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_a_missing_file_a_missing_anchor_and_a_missing_image_are_reported(tmp_path):
    (tmp_path / "guide.md").write_text("# Set up\n\n## Set up\n\nText.\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](guide.md#set-up) [ok too](guide.md#set-up-1) [web](https://example.org/none.md)\n"
                    "[gone](missing.md) [no heading](guide.md#install) ![lost](img/none.png)\n"
                    "```\n[in code](nowhere.md)\n```\n`[inline code](nowhere.md)`\n")
    problems = broken_links(page)
    assert len(problems) == 3, problems
    assert "missing.md" in problems[0] and "#install" in problems[1] and "none.png" in problems[2]


def test_anchors_follow_github_headings():
    assert slug("`gemm_speed.py` (Lab 5): the GEMM rewrite against the layers it replaces") == \
        "gemm_speedpy-lab-5-the-gemm-rewrite-against-the-layers-it-replaces"
    assert slug("Last measured (2026-11-23, 2-core AMD EPYC VM, torch 2.14.1)") == \
        "last-measured-2026-11-23-2-core-amd-epyc-vm-torch-2141"
    assert slug("Does Ray pay off here, and what does a grid cost?") == \
        "does-ray-pay-off-here-and-what-does-a-grid-cost"
