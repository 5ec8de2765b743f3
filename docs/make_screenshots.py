"""Take the README's screenshots in a real browser: JupyterLab with live widgets, and a PDF report page.

Needs Chromium and Playwright's Python package (the browser itself comes from the system), pdftoppm
(poppler-utils), and an executed Lab 1 or Lab 2 under ``--reports``:

    sudo apt-get install chromium poppler-utils && pip install playwright
    python docs/make_screenshots.py --reports /tmp/reports       # writes docs/*.png

What it does: starts ``jupyter lab`` on a scratch folder holding a one-cell notebook that shows the results
explorer of ``<reports>/<lab>/results.csv``; opens it in Chromium, runs it, checks that the widgets
rendered (dropdowns and a figure), picks another x column and checks that the figure changed, and takes
``docs/results_explorer.png``. Then it opens Lab 1's notebook and takes ``docs/colab_first_cell.png``
(offline, the badge image is served from a local copy of its SVG). Last, ``docs/report_page.png`` is a
page of ``<reports>/<lab>/<lab>.pdf`` rendered by pdftoppm.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BADGE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20"><rect width="117" height="20" rx="3" '
             'fill="#555"/><rect x="20" width="97" height="20" rx="3" fill="#f9ab00"/><text x="24" y="14" '
             'font-family="Verdana" font-size="11" fill="#fff">Open in Colab</text><circle cx="10" cy="10" r="6" '
             'fill="none" stroke="#f9ab00" stroke-width="3"/></svg>')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _explorer_notebook(folder: Path, results_csv: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("### Explore the runs yourself"),
                nbformat.v4.new_code_cell(
                    "from labkit import explore, results\n"
                    f"explorer = explore.ResultsExplorer(results.read_results({str(results_csv)!r}), x='macs', "
                    "y='test_acc', colour='sweep', filter_column='sweep')\nexplorer.show()")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "explorer.ipynb"
    nbformat.write(nb, path)
    return path


def _start_lab(folder: Path, port: int, token: str) -> subprocess.Popen:
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
                            "--ServerApp.ip=127.0.0.1", "--allow-root"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return lab
        except OSError:
            time.sleep(0.5)
    lab.kill()
    raise RuntimeError("jupyter lab did not start within 90 s")


def _figure_bytes(page) -> bytes:
    return page.locator(".jp-OutputArea-output img").last.screenshot()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, required=True, help="a reports folder with an executed lab")
    parser.add_argument("--lab", default="01_mlp_sweeps")
    parser.add_argument("--page", type=int, default=3, help="the PDF page to show")
    parser.add_argument("--browser", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results_csv = args.reports / args.lab / "results.csv"
    port, token = _free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        _explorer_notebook(folder, results_csv)
        shutil.copy(ROOT / "notebooks" / "01_mlp_sweeps.ipynb", folder / "01_mlp_sweeps.ipynb")
        lab = _start_lab(folder, port, token)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.browser, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.route("https://colab.research.google.com/assets/colab-badge.svg",
                           lambda route: route.fulfill(body=BADGE_SVG, content_type="image/svg+xml"))
                page.goto(f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}")
                page.wait_for_selector(".jp-Notebook", timeout=120_000)
                page.wait_for_timeout(3000)
                accept = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel": take the notebook's own
                if accept.count():
                    accept.first.click()
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
                page.locator(".jp-CodeCell").first.click()
                page.keyboard.press("Shift+Enter")
                page.wait_for_selector(".widget-dropdown select", timeout=120_000)
                page.wait_for_selector(".jp-OutputArea-output img", timeout=120_000)
                dropdowns = page.locator(".widget-dropdown select")
                checks = {"dropdowns": dropdowns.count()}
                before = _figure_bytes(page)
                dropdowns.first.select_option("train_time_s")
                page.wait_for_timeout(3000)
                checks["figure changed with x"] = _figure_bytes(page) != before
                page.wait_for_timeout(1000)
                area = page.locator(".jp-CodeCell").first.locator(".jp-Cell-outputArea").bounding_box()  # never "stable"
                page.screenshot(path=str(DOCS / "results_explorer.png"), clip=area)
                page.goto(f"http://127.0.0.1:{port}/lab/tree/01_mlp_sweeps.ipynb?token={token}")
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
                page.wait_for_timeout(3000)
                if accept.count():
                    accept.first.click()
                cells = page.locator(".jp-Cell:visible")  # the tab of Lab 1, not the explorer's hidden one
                box = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
                page.screenshot(path=str(DOCS / "colab_first_cell.png"),
                                clip={"x": box[0]["x"], "y": box[0]["y"], "width": box[0]["width"],
                                      "height": box[1]["y"] + box[1]["height"] - box[0]["y"]})
                browser.close()
        finally:
            lab.terminate()
    pdf = args.reports / args.lab / f"{args.lab}.pdf"
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", str(args.page), "-l", str(args.page), "-singlefile",
                    str(pdf), str(DOCS / "report_page")], check=True)
    print(json.dumps(checks))
    ok = checks["dropdowns"] >= 5 and checks["figure changed with x"]
    print("widgets rendered and followed the dropdown" if ok else "WIDGET CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
