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


def chapter_pages():
    """Paths (without suffix) of the chapter pages, in the order of _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [ROOT / entry["file"] for entry in toc["chapters"]]


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
