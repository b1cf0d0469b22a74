"""Execute chapter pages on the CPU and write their launch notebooks.

Usage: python scripts/make_reference_notebooks.py chapters/02_autodiff.md [...]

For each MyST page ``chapters/NN_topic.md`` this writes ``chapters/NN_topic.ipynb``, the
notebook that the Colab and Binder buttons open and that nbval compares against (``make
notebooks`` runs it on every page): the page's code cells with the outputs of this run, and
its markdown cells converted to plain Jupyter Markdown (``launch_notebooks.py``). The kernel
runs in ``chapters/`` with ``MMIDS_DEVICE=cpu``, so the references hold CPU results, and
with ``MMIDS_PROGRESS=0`` (no progress bars); cell ids are stable and no timings are
recorded, so regenerating an unchanged page gives an unchanged file (up to the training
cells' outputs).
A page whose execution or conversion fails leaves its previous notebook untouched.
Pages run ``MMIDS_BUILD_JOBS`` at a time (default: the number of CPU cores), each kernel
with cores / jobs PyTorch threads; a cell may run ``execute.timeout`` seconds of
``_config.yml``, as in the build.
"""

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jupytext
from nbclient import NotebookClient

import book
from launch_notebooks import Book, launch_notebook, write_notebook


def make_reference(page, threads=None):
    page = Path(page)
    if page.suffix != ".md" or not page.is_file():
        raise SystemExit(f"{page}: expected an existing MyST page (.md)")
    converter = Book()  # fails early on a page that cannot be converted (labels, bibliography)
    nb = jupytext.read(page)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"  # stable ids: regenerating an unchanged page changes nothing
    client = NotebookClient(
        nb,
        timeout=book.cell_timeout(),
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(page.parent)}},
    )
    env = {**os.environ, "MMIDS_DEVICE": "cpu", "MMIDS_PROGRESS": "0"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    client.execute(env=env)
    target = page.with_suffix(".ipynb")
    write_notebook(launch_notebook(page, nb, converter), target)
    print(f"{target}: written")


def _try(page, threads):
    try:
        make_reference(page, threads)
    except Exception as err:  # report every page, then fail
        print(f"{page}: FAILED: {type(err).__name__}: {str(err)[:2000]}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    pages = sys.argv[1:]
    jobs, threads = book.jobs_and_threads(len(pages))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        outcomes = pool.map(_try, pages, [threads] * len(pages))
        failures = [page for page, ok in zip(pages, outcomes, strict=True) if not ok]
    if failures:
        raise SystemExit(f"execution failed (references kept): {' '.join(failures)}")
