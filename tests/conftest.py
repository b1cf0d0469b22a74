"""Shared settings of the test suite.

The unit tests draw figures without a screen, and the nbval run must cover every chapter
page listed in _toc.yml: collecting fewer notebooks is an error, not a silent pass.
The notebooks run without progress bars: nbval's kernels inherit this process's
environment, so MMIDS_PROGRESS=0 set here reaches them.
"""

import os
from pathlib import Path

import matplotlib
import pytest
import yaml

matplotlib.use("Agg")
# Kernels started by the tests (nbval, nbclient) show one line per epoch, no progress bar.
os.environ["MMIDS_PROGRESS"] = "0"

# Under pytest-xdist, share the cores between the workers' notebook kernels (they inherit
# this environment) instead of letting each PyTorch take them all.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"


def toc_files(entry):
    """The ``file`` entries of (part of) a table of contents, at any depth, in order."""
    if isinstance(entry, list):
        return [name for item in entry for name in toc_files(item)]
    if not isinstance(entry, dict):
        return []
    found = [entry["file"]] if "file" in entry else []
    for key in ("parts", "chapters", "sections"):
        found += toc_files(entry.get(key, []))
    return found


def chapter_pages():
    """Paths (without suffix) of the pages that _toc.yml lists below its root, in order.

    Parts, chapters and sections at any depth are all pages; a new page needs only its
    line in _toc.yml (and its reference notebook, made by `make notebooks`). Pages outside
    chapters/, such as the execution report, are not chapter pages: no reference notebook.
    """
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [
        ROOT / Path(name).with_suffix("")
        for name in toc_files(toc)
        if name != toc["root"] and name.startswith("chapters/")
    ]


def pytest_collection_modifyitems(session, config, items):
    asked = {(Path(config.invocation_params.dir) / arg).resolve() for arg in config.args}
    if CHAPTERS not in asked and ROOT not in asked:
        return  # a run of selected tests, not of the chapter notebooks
    collected = {item.path.resolve() for item in items if item.path.suffix == ".ipynb"}
    expected = {page.with_suffix(".ipynb") for page in chapter_pages()}
    missing = sorted(p.name for p in expected - collected)
    if missing:
        raise pytest.UsageError(
            f"nbval collected {len(collected)} of the {len(expected)} chapter notebooks; "
            f"missing: {', '.join(missing)}. Run `make notebooks` to create them."
        )


def pytest_runtest_setup(item):
    """Skip the tests marked ``cuda`` where PyTorch sees no CUDA GPU."""
    if item.get_closest_marker("cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
