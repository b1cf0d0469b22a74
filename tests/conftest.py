"""Shared settings of the test suite, for its three layers (unit, book, build).

The unit tests draw figures without a screen. The notebook kernels (nbval, nbclient)
inherit this process's environment: MMIDS_PROGRESS=0 set here hides their progress bars,
and under pytest-xdist each gets its share of the cores. nbval's cell timeout is the
book's (``execute.timeout`` of _config.yml), unless given on the command line. A run of
the whole suite must collect every chapter notebook listed in _toc.yml: fewer is an error,
not a silent pass.
"""

import os
import sys
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # the book's facts: scripts/book.py

import book  # noqa: E402

matplotlib.use("Agg")
# Kernels started by the tests (nbval, nbclient) show one line per epoch, no progress bar.
os.environ["MMIDS_PROGRESS"] = "0"

# Under pytest-xdist, share the cores between the workers' notebook kernels (they inherit
# this environment) instead of letting each PyTorch take them all.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    _, threads = book.jobs_and_threads(workers, jobs=workers)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads or os.cpu_count() or 1))

CHAPTERS = ROOT / "chapters"
chapter_pages = book.chapter_pages


def pytest_configure(config):
    given = any(arg.startswith("--nbval-cell-timeout") for arg in config.invocation_params.args)
    if not given and hasattr(config.option, "nbval_cell_timeout"):
        config.option.nbval_cell_timeout = book.cell_timeout()


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


def blobs(n=90, seed=0):
    """Three well-separated clusters in the plane, labelled 0, 1, 2 (unit tests' data)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    return centres[labels] + torch.randn(n, 2, generator=g), labels


def pytest_runtest_setup(item):
    """Skip the tests marked ``cuda`` where PyTorch sees no CUDA GPU."""
    if item.get_closest_marker("cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")


class NumberedImages:
    """MNIST-like stand-in whose image i carries i in its first two pixels (loader tests)."""

    def __init__(self, n):
        import torch
        from torchvision.transforms import ToTensor

        self.data = torch.zeros(n, 4, 4, dtype=torch.uint8)
        self.data[:, 0, 0] = torch.arange(n) % 256
        self.data[:, 0, 1] = torch.arange(n) // 256
        self.targets = torch.arange(n) % 10
        self.transform = ToTensor()
        self.target_transform = None

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.transform(self.data[i].numpy()), int(self.targets[i])
