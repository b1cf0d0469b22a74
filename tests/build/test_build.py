"""`make build` on a small book whose pages fail: it must exit non-zero, name the pages,
show the tracebacks, and leave no _build/html that could pass for a complete site."""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

RAISING_PAGE = """\
---
jupytext: {text_representation: {extension: .md, format_name: myst}}
kernelspec: {name: python3, display_name: Python 3, language: python}
---
# A page with a failing cell

```{code-cell} ipython3
ratio = 1 / 0
```
"""

SLOW_PAGE = """\
---
jupytext: {text_representation: {extension: .md, format_name: myst}}
kernelspec: {name: python3, display_name: Python 3, language: python}
mystnb: {execution_timeout: 3}
---
# A page with a cell that runs past its timeout

```{code-cell} ipython3
import time
time.sleep(60)
```
"""


def test_make_build_fails_on_a_cell_error_or_timeout_and_publishes_nothing(tmp_path):
    for name in (
        "Makefile",
        "_config.yml",
        "intro.md",
        "references.bib",
        "requirements.txt",
        "pyproject.toml",
        "package.json",
        "package-lock.json",
        "images/favicon.svg",
        "scripts/execute_pages.py",
        "scripts/book.py",
        *[p.relative_to(ROOT).as_posix() for p in ROOT.glob("utils/*.py")],
        "_ext/accessible_cells.py",
        "_templates/search-button-field.html",
        "_templates/theme-switcher.html",
        "_assets/accessibility.css",
    ):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    # The site's MathJax and axe-core (make mathjax, make axe: from npm) play no part here:
    # up-to-date stand-ins.
    for asset in ("mathjax/tex-chtml.js", "axe/axe.min.js"):
        stand_in = tmp_path / "_build" / "static" / asset
        stand_in.parent.mkdir(parents=True)
        stand_in.write_text("// stand-in\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n"
        "  - file: chapters/raising_page\n  - file: chapters/slow_page\n"
    )
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "raising_page.md").write_text(RAISING_PAGE)
    (tmp_path / "chapters" / "slow_page.md").write_text(SLOW_PAGE)
    stale = tmp_path / "_build" / "html" / "index.html"  # a previous, good build
    stale.parent.mkdir(parents=True)
    stale.write_text("<html>old book</html>")

    venv = Path(sys.executable).parent.parent  # reuse this environment, installed
    result = subprocess.run(
        # -o: never (re)install; this environment is the one under test.
        ["make", "build", f"VENV={venv}", "-o", f"{venv}/.installed"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "raising_page.md" in log and "ZeroDivisionError" in log
    assert "slow_page.md" in log and "CellTimeoutError" in log
    assert "BUILD FAILED" in log
    assert not (tmp_path / "_build" / "html").exists()
    assert not (tmp_path / "_build" / ".staging").exists()
    assert (tmp_path / "_build" / "reports" / "chapters" / "raising_page.err.log").is_file()


def exported_by_make(name, value):
    """What make exports as the environment variable ``name`` when it is set to ``value``."""
    result = subprocess.run(
        ["make", "--no-print-directory", "--eval", f"show: ; @echo $${name}", "show"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", name: value},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_make_passes_a_relative_mmids_data_dir_to_the_pages_as_an_absolute_path():
    # Pages execute in chapters/, so a relative folder must be resolved before they start.
    exported = exported_by_make("MMIDS_DATA_DIR", "some/relative/folder")
    assert exported == str(ROOT / "some" / "relative" / "folder")


def test_make_runs_the_pages_without_progress_bars():
    # The book and the reference notebooks must hold one line per epoch, not a bar.
    assert exported_by_make("MMIDS_PROGRESS", "1") == "0"
