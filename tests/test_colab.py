import json
import os
import shutil
import subprocess
import sys
import textwrap
import types

import nbformat
import pytest

from labkit.course import cli, colab
from labkit.paths import project_root


def test_every_notebook_has_the_badge_and_the_setup_cell_from_one_url():
    for path in cli.available_notebooks():
        nb = nbformat.read(path, as_version=4)
        intro = next(c for c in nb.cells if c.cell_type == "markdown")
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert colab.badge(path.name) in intro.source, f"{path.name}: badge out of date (python -m labkit.course.colab)"
        assert first_code.source == colab.setup_cell(), f"{path.name}: first cell out of date (python -m labkit.course.colab)"
        assert colab.REPO_URL in first_code.source


def test_readme_badge_points_at_the_same_repository():
    readme = (project_root(__file__) / "README.md").read_text()
    assert f"colab.research.google.com/github/{colab.REPO_URL.removeprefix('https://github.com/')}/" in readme


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("the cell ran a command outside Colab"))
    exec(colab.setup_cell(), {})
    assert os.getcwd() == str(tmp_path)


def _fake_colab(mount_ok: bool = True) -> types.ModuleType:
    google, colab_module, drive = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.drive"))

    def mount(point):
        if not mount_ok:
            raise ValueError("mount failed: user declined")
        os.makedirs(os.path.join(point, "MyDrive"), exist_ok=True)

    drive.mount = mount
    colab_module.drive, google.colab = drive, colab_module
    return {"google": google, "google.colab": colab_module, "google.colab.drive": drive}


def test_reports_stay_local_with_a_warning_when_drive_is_declined(monkeypatch, capsys, tmp_path):
    for name, module in _fake_colab(mount_ok=False).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delenv("LABKIT_REPORTS_DIR")
    assert colab.keep_reports_on_drive(mount_point=tmp_path / "drive") is None
    assert "LABKIT_REPORTS_DIR" not in os.environ
    assert "a disconnect loses them" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_on_colab_the_cell_clones_installs_and_keeps_reports_on_drive(tmp_path):
    """Run the real cell with google.colab faked and a local clone URL; pip installs into a folder
    of its own (PIP_TARGET), so this environment is left as it was."""
    source = tmp_path / "origin"
    source.mkdir()
    root = project_root(__file__)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "labkit", source / "labkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "notebooks", source / "notebooks", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "labs"]):
        subprocess.run(git + args, check=True)
    script = textwrap.dedent(f"""
        import json, os, sys, types
        google, colab_module, drive = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.drive"))
        drive.mount = lambda point: os.makedirs(os.path.join(point, "MyDrive"), exist_ok=True)
        colab_module.drive, google.colab = drive, colab_module
        sys.modules.update({{"google": google, "google.colab": colab_module, "google.colab.drive": drive}})
        from labkit.course import colab
        exec(colab.setup_cell(), {{}})
        print(json.dumps({{"cwd": os.getcwd(), "reports": os.environ.get("LABKIT_REPORTS_DIR")}}))
    """)
    home = tmp_path / "content"
    env = {**os.environ, "LABKIT_COLAB_HOME": str(home), "LABKIT_REPO_URL": str(source),
           "PIP_TARGET": str(tmp_path / "site"), "PIP_NO_DEPS": "1", "PIP_NO_BUILD_ISOLATION": "0",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "HOME": str(tmp_path)}
    env.pop("LABKIT_REPORTS_DIR", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["cwd"] == str(home / "labkit-labs" / "notebooks")
    assert (home / "labkit-labs" / "labkit" / "course" / "colab.py").is_file(), "the repository was cloned"
    assert (tmp_path / "site" / "labkit" / "course" / "colab.py").is_file(), "labkit was pip-installed from the clone"
    assert seen["reports"] == str(home / "drive" / "MyDrive" / "labkit-reports")
    assert (home / "drive" / "MyDrive" / "labkit-reports").is_dir()
