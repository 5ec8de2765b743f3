"""The layout's rules, read from the import statements (docs/architecture.md): the core never imports a lab or
the course tools; a lab imports the core and earlier labs only; no module imports another's ``_private`` names;
no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import labkit

PACKAGE = Path(labkit.__file__).resolve().parent
# Each lab may import the core and the labs listed here (earlier labs whose work it builds on).
LAB_MAY_IMPORT = {"mlp": set(), "cnn": set(), "inference": set(), "pruning": {"cnn"}, "gemm": {"cnn", "pruning"}}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: Path = PACKAGE) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import of a labkit module in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names if alias.name.split(".")[0] == "labkit"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "labkit":
            names = [alias.name for alias in node.names]
            submodules = [f"{node.module}.{n}" for n in names if (package.parent / f"{node.module}.{n}".replace(
                ".", "/")).with_suffix(".py").is_file() or (package.parent / f"{node.module}.{n}".replace(".", "/")).is_dir()]
            found.append((node.lineno, node.module, [n for n in names if f"{node.module}.{n}" not in submodules]))
            found += [(node.lineno, sub, []) for sub in submodules]
    return found


def layer(module: str) -> tuple[str, str | None]:
    """("core", None), ("lab", <lab>) or ("course", None) of a labkit module name."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "labs":
        return ("lab", parts[2] if len(parts) > 2 else None)
    if len(parts) > 1 and parts[1] == "course":
        return ("course", None)
    return ("core", None)


def violations(package: Path = PACKAGE) -> list[str]:
    """Every broken rule as 'file:line: what', and every import cycle."""
    found, graph = [], {}
    for path in sorted(package.rglob("*.py")):
        me = module_name(path, package)
        where = path.relative_to(package.parent)
        kind, lab = layer(me)
        for line, target, names in imports(path, package):
            graph.setdefault(me, set()).add(target)
            their_kind, their_lab = layer(target)
            if kind == "core" and their_kind != "core":
                found.append(f"{where}:{line}: the core imports {target} (the core never imports a lab or the course tools)")
            if kind == "lab" and their_kind == "course":
                found.append(f"{where}:{line}: lab {lab} imports the course tool {target}")
            if kind == "lab" and their_kind == "lab" and their_lab not in (lab, None) \
                    and their_lab not in LAB_MAY_IMPORT.get(lab, set()):
                found.append(f"{where}:{line}: lab {lab} imports lab {their_lab} ({target}); it may import the core "
                             f"and {sorted(LAB_MAY_IMPORT.get(lab, set())) or 'no other lab'}")
            private = [n for n in names if n.startswith("_")]
            if private and target != me:
                found.append(f"{where}:{line}: imports {', '.join(private)} from {target}: another module's private "
                             "names (make them public or move them)")
    found += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by depth-first search (each reported once, from its smallest module)."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                start = cycle.index(min(cycle[:-1]))
                found.append(cycle[start:-1] + cycle[:start + 1])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_labkit_keeps_the_layout_rules():
    assert violations() == [], "\n".join(violations())


@pytest.mark.parametrize("planted, line, expected", [
    ("labkit/timing.py", "from labkit.labs.cnn import plan", "the core imports labkit.labs.cnn.plan"),
    ("labkit/labs/mlp/sweeps.py", "from labkit.labs.cnn.sweeps import BASELINE", "lab mlp imports lab cnn"),
    ("labkit/labs/cnn/sweeps.py", "from labkit.course import cli", "lab cnn imports the course tool labkit.course.cli"),
    ("labkit/plots.py", "from labkit.sysinfo import _first", "imports _first from labkit.sysinfo"),
    ("labkit/timing.py", "from labkit import plots", "import cycle: labkit.plots -> labkit.timing -> labkit.plots"),
])
def test_a_planted_violation_is_named_with_its_file_and_line(tmp_path, planted, line, expected):
    copy = tmp_path / "labkit"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    victim = tmp_path / planted
    lines = victim.read_text().splitlines() + [line]
    victim.write_text("\n".join(lines) + "\n")
    found = violations(copy)
    matching = [v for v in found if expected in v]
    assert matching, f"planting {line!r} in {planted} should be reported; got {found}"
    if not expected.startswith("import cycle"):
        assert matching[0].startswith(f"{planted}:{len(lines)}: "), matching[0]


def test_import_labkit_then_a_submodule_works():
    """In a fresh interpreter, as a notebook starts: ``import labkit``, then its submodules by attribute."""
    script = ("import labkit; assert labkit.data.IMAGE_SIZE == 28; assert labkit.labs.cnn.plan.PlannedSweep\n"
              "try:\n    labkit.nonsense\nexcept AttributeError as error:\n    print(error)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no attribute or submodule 'nonsense'" in done.stdout, done.stdout
