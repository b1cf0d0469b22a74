"""Execute chapter pages on the CPU and write their reference notebooks.

Usage: python scripts/make_reference_notebooks.py chapters/02_autodiff.md [...]

For each MyST page ``chapters/NN_topic.md`` this writes the paired, executed
``chapters/NN_topic.ipynb`` that nbval compares against (``make notebooks`` runs it on
every page). The kernel runs in ``chapters/`` with ``MMIDS_DEVICE=cpu``, so the references
hold CPU results, and with ``MMIDS_PROGRESS=0`` (no progress bars); cell ids are stable and no timings are recorded, so regenerating an
unchanged page gives an unchanged file (up to the training cells' outputs).
A page whose execution fails leaves its previous reference untouched.
"""

import os
import sys
from pathlib import Path

import jupytext
from nbclient import NotebookClient

CELL_TIMEOUT = 1200  # seconds; a CNN epoch on a 2-core CPU takes well under a minute


def make_reference(page):
    page = Path(page)
    if page.suffix != ".md" or not page.is_file():
        raise SystemExit(f"{page}: expected an existing MyST page (.md)")
    nb = jupytext.read(page)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"  # stable ids: regenerating an unchanged page changes nothing
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(page.parent)}},
    )
    client.execute(env={**os.environ, "MMIDS_DEVICE": "cpu", "MMIDS_PROGRESS": "0"})
    target = page.with_suffix(".ipynb")
    partial = target.with_name(target.name + ".partial")
    partial.write_text(jupytext.writes(nb, fmt="ipynb"), encoding="utf-8")
    partial.replace(target)
    print(f"{target}: written")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        make_reference(path)
