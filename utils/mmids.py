"""Helpers shared by the pages of the chapter "Deep neural networks, automatic
differentiation and stochastic gradient descent" (MMiDS, S. Roch, Chapter 8).

The pages import this module as ``mmids``. It hides plumbing (device choice, data
access, plotting boilerplate, the epoch loop) and leaves the ideas being taught on the
pages. Importing it has no side effect: no seeding, no downloads, no warning filters.
"""

import contextlib
import gzip
import hashlib
import os
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "DeviceDataLoader",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "check_data",
    "confusion_matrix",
    "data_dir",
    "describe_confusion_matrix",
    "describe_history",
    "describe_prediction",
    "get_device",
    "glue",
    "load_csv",
    "load_image_dataset",
    "ls_by_qr",
    "plot_confusion_matrix",
    "plot_history",
    "plot_image",
    "plot_misclassified",
    "plot_prediction",
    "plot_samples",
    "plot_value_array",
    "predict_softmax",
    "test",
    "train",
    "training_loop",
]

#: Class names of Fashion-MNIST, indexed by label (Xiao, Rasul & Vollgraf, 2017).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Class names of MNIST: the digit itself.
MNIST_CLASSES = tuple(str(d) for d in range(10))

# Every data file of the chapter, as it lies in the data folder: size in bytes and sha256.
# The image files are the un-gzipped files torchvision leaves in <name>/raw/ after a
# download; they come from the mirrors torchvision lists (datasets.MNIST.mirrors, ...).
# The two tables come from the MMiDS textbook's repository (_CSV_BASE_URL).
_DATA_FILES = {
    "MNIST/raw/train-images-idx3-ubyte": (
        47040016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "MNIST/raw/train-labels-idx1-ubyte": (
        60008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "MNIST/raw/t10k-images-idx3-ubyte": (
        7840016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "MNIST/raw/t10k-labels-idx1-ubyte": (
        10008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    "FashionMNIST/raw/train-images-idx3-ubyte": (
        47040016,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "FashionMNIST/raw/train-labels-idx1-ubyte": (
        60008,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "FashionMNIST/raw/t10k-images-idx3-ubyte": (
        7840016,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "FashionMNIST/raw/t10k-labels-idx1-ubyte": (
        10008,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    "SAHeart.csv": (21415, "f790dc5aaf2f3ea1342217ca0cf12a3c3524d2292e59bf51be264609282baeac"),
    "advertising.csv": (4012, "bab086bd954764b86a19c14c8c17b31180d7257c5517d32a781e4066f5cf8a18"),
}
_CSV_BASE_URL = (
    "https://raw.githubusercontent.com/MMiDS-textbook/MMiDS-textbook.github.io/main/utils/datasets/"
)
_CSV_FILES = ("SAHeart.csv", "advertising.csv")
#: Seconds a download may wait for the server (to connect, or for the next bytes).
_DOWNLOAD_TIMEOUT = 30
_IMAGE_DATASETS = ("MNIST", "FashionMNIST")
_DEVICES = ("cuda", "mps", "cpu")


# --------------------------------------------------------------------------- devices


def get_device():
    """Choose the device to compute on: CUDA, then Apple MPS, then the CPU.

    The environment variable ``MMIDS_DEVICE`` (``"cpu"``, ``"cuda"`` or ``"mps"``)
    forces a choice; the reference notebooks are generated with ``MMIDS_DEVICE=cpu``.

    Returns
    -------
    torch.device
        The first available of ``cuda``, ``mps``, ``cpu``, or the forced one.

    Raises
    ------
    ValueError
        If ``MMIDS_DEVICE`` names something other than ``cpu``, ``cuda`` or ``mps``.
    RuntimeError
        If ``MMIDS_DEVICE`` names a device that this machine cannot use.

    Notes
    -----
    Follows the device check of the chapter's MNIST section (MMiDS, Section 8.5).
    """
    import torch

    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    forced = os.environ.get("MMIDS_DEVICE", "").strip().lower()
    if forced:
        if forced not in _DEVICES:
            raise ValueError(
                f"MMIDS_DEVICE={forced!r} is not a device this book knows; "
                f"use one of {', '.join(_DEVICES)} or unset it."
            )
        if not available[forced]:
            raise RuntimeError(
                f"MMIDS_DEVICE={forced!r} was requested but torch cannot use it on this "
                "machine; unset MMIDS_DEVICE to pick the best available device."
            )
        return torch.device(forced)
    return torch.device(next(name for name in _DEVICES if available[name]))


# ------------------------------------------------------------------------------ data


def data_dir():
    """The folder that holds every data set of the chapter.

    Resolution order: ``$MMIDS_DATA_DIR`` when set (a relative value is taken
    relative to the current working directory; the Makefile passes an absolute
    path, since pages execute with ``chapters/`` as working directory); else the
    ``data/`` folder of the repository when this module is imported from a checkout;
    else ``./data``.

    Returns
    -------
    pathlib.Path
        Absolute path of the folder. It is not created here.

    Notes
    -----
    The textbook expects its files in the working directory; the book keeps them in one
    folder instead, so that pages, tests and CI read the same copies.
    """
    env = os.environ.get("MMIDS_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    repo = Path(__file__).resolve().parent.parent
    if (repo / "_config.yml").is_file() and (repo / "data").is_dir():
        return repo / "data"
    return Path("data").resolve()


def _root(root):
    return data_dir() if root is None else Path(root).expanduser().resolve()


class DataError(RuntimeError):
    """A data file of the chapter is missing or damaged and no good copy could be fetched.

    Raised by :func:`check_data` and by the loaders that call it; the message names each
    file, the folder, ``MMIDS_DATA_DIR`` and where the file comes from.
    """


# Files whose sha256 matched, keyed by path: (size, mtime, ctime, inode) when checked.
# Any write or utime changes ctime, so a file changed since is hashed again.
_VERIFIED = {}


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _damage(path, size, sha256):
    """None if ``path`` holds the expected file, else what is wrong with it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if _VERIFIED.get(path) == key:
        return None
    if not path.is_file():
        return "missing (not a regular file)"
    if st.st_size != size:
        what = "truncated" if st.st_size < size else "too long"
        return f"damaged ({what}: {st.st_size} bytes, expected {size})"
    if _sha256(path) != sha256:
        return f"damaged (sha256 differs from the expected {sha256[:16]}...)"
    _VERIFIED[path] = key
    return None


def _sources(relpath):
    """``(url, gzipped)`` pairs from which a data file can be downloaded, in order."""
    if "/" not in relpath:
        return [(_CSV_BASE_URL + relpath, False)]
    from torchvision import datasets

    cls = getattr(datasets, relpath.split("/")[0])
    return [(mirror + Path(relpath).name + ".gz", True) for mirror in cls.mirrors]


def _why(err):
    """A one-line reason for a failed download."""
    import requests

    if isinstance(err, requests.Timeout):
        return f"no answer within {_DOWNLOAD_TIMEOUT} s"
    if isinstance(err, requests.ConnectionError):
        return "cannot connect (offline?)"
    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code}"
    text = (str(err).splitlines() or [""])[0]
    return f"{type(err).__name__}: {text[:120]}"


def _fetch(path, size, sha256, sources, unreachable):
    """Download one data file into ``path``; return None, or why each source failed.

    Each source is downloaded with pooch into a temporary folder next to ``path``,
    un-gzipped if needed, checked by size and sha256, and only then moved to ``path``
    (an atomic rename). The temporary folder is removed whatever happens, so a failed or
    interrupted download leaves nothing behind. Hosts in ``unreachable`` are skipped;
    a host that cannot be reached is added to it.
    """
    new_dirs = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    reasons = []
    try:
        return _fetch_into(path, size, sha256, sources, unreachable, reasons)
    except OSError as err:  # cannot write in the data folder
        reasons.append(f"cannot write in {path.parent}: {_why(err)}")
        return reasons
    finally:  # also on an interrupt: remove the folders made for nothing, deepest first
        for d in new_dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


def _fetch_into(path, size, sha256, sources, unreachable, reasons):
    """The work of :func:`_fetch`, in a temporary folder removed on any exit."""
    import pooch
    import requests

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=path.parent) as tmp:
        for i, (url, gzipped) in enumerate(sources):
            host = urllib.parse.urlsplit(url).netloc
            if host in unreachable:
                reasons.append(f"{url}: not tried, the host did not answer for a file above")
                continue
            try:
                got = Path(
                    pooch.retrieve(
                        url,
                        known_hash=None,
                        fname=f"{i}-{Path(url).name}",
                        path=tmp,
                        downloader=pooch.HTTPDownloader(
                            progressbar=False, timeout=_DOWNLOAD_TIMEOUT
                        ),
                    )
                )
                if gzipped:
                    with gzip.open(got) as src, open(Path(tmp) / path.name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    got.unlink()
                    got = Path(tmp) / path.name
                problem = _damage(got, size, sha256)
                if problem:
                    got.unlink()
                    raise ValueError(f"the downloaded file is {problem}")
                os.replace(got, path)  # atomic: path is either the old file or the new one
                return None
            except (requests.ConnectionError, requests.Timeout) as err:
                unreachable.add(host)
                reasons.append(f"{url}: {_why(err)}")
            except (OSError, EOFError, ValueError) as err:  # HTTP errors, bad gzip
                reasons.append(f"{url}: {_why(err)}")
    return reasons


def check_data(names=None, root=None, download=True, verbose=False):
    """Check the chapter's data files by size and sha256; download what is missing.

    Each file must be in the data folder with the size and sha256 recorded in this
    module (the un-gzipped files torchvision leaves after a download, and the two CSV
    files of the MMiDS textbook's repository). A missing or damaged file is downloaded
    again when ``download`` is true: with pooch into a temporary folder, un-gzipped,
    checked, then renamed into place, so no partial file is ever left where a later run
    would trust it. Each download waits at most ``_DOWNLOAD_TIMEOUT`` seconds (30) for the
    server; a host that does not answer is not tried again in the same call.

    Parameters
    ----------
    names : sequence of str, optional
        Data sets to check, among ``"MNIST"``, ``"FashionMNIST"``, ``"SAHeart.csv"``,
        ``"advertising.csv"``; default all of them (4 + 4 + 1 + 1 files).
    root : str or os.PathLike, optional
        Data folder; default :func:`data_dir` (``$MMIDS_DATA_DIR`` or ``data/``).
    download : bool, default True
        Try to download missing or damaged files. A damaged file is replaced only by a
        downloaded copy that passes the check; otherwise it is left as it is.
    verbose : bool, default False
        Print one line per file (``make data`` uses this); the pages stay quiet.

    Returns
    -------
    list of pathlib.Path
        Absolute paths of the checked files, all present and intact.

    Raises
    ------
    ValueError
        If ``names`` holds an unknown data set.
    DataError
        If any file is missing or damaged and could not be downloaded. The message names
        each such file, the folder, the value of ``MMIDS_DATA_DIR`` and the URLs the file
        comes from, with the reason each download failed. ``DataError`` is a
        ``RuntimeError``.

    Notes
    -----
    The sizes and hashes (``_DATA_FILES``, the one table of them) are those of the files
    torchvision leaves after downloading MNIST (LeCun et al., 1998) and Fashion-MNIST
    (Xiao, Rasul & Vollgraf, 2017) from the mirrors it lists (``datasets.MNIST.mirrors``,
    ``datasets.FashionMNIST.mirrors``), and of the CSV files used in MMiDS, Section 8.4.
    Downloads use pooch (Uieda et al., 2020) and requests' timeouts.
    """
    import pooch

    known = (*_IMAGE_DATASETS, *_CSV_FILES)
    names = known if names is None else tuple(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"names must be among {known}, got {unknown}.")
    folder = _root(root)
    files = [rel for rel in _DATA_FILES if rel.split("/")[0] in names]
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # no "Downloading ..." lines on the pages
    failures, unreachable = [], set()
    try:
        for rel in files:
            size, sha256 = _DATA_FILES[rel]
            path = folder / rel
            problem, why = _damage(path, size, sha256), None
            if verbose:
                print(f"{rel}: {problem or 'ok'}", end="", flush=True)
            if problem and download:
                if verbose:
                    print("; downloading ...", end="", flush=True)
                why = _fetch(path, size, sha256, _sources(rel), unreachable)
                if verbose:
                    print(" failed" if why else " done, verified", end="")
                problem = problem if why else None
            if verbose:
                print(flush=True)
            if problem:
                failures.append((path, problem, why))
    finally:
        logger.setLevel(level)
    if failures:
        raise DataError(_data_error_message(folder, failures)) from None
    return [folder / rel for rel in files]


def _data_error_message(folder, failures):
    env = os.environ.get("MMIDS_DATA_DIR", "").strip()
    lines = [
        f"{len(failures)} data file(s) missing or damaged in the data folder {folder}",
        f"(MMIDS_DATA_DIR={env}):" if env else "(MMIDS_DATA_DIR is not set):",
    ]
    for path, problem, why in failures:
        lines.append(f"  {path}: {problem}")
        rel = path.relative_to(folder).as_posix()
        if why is None:
            urls = ", ".join(url for url, _ in _sources(rel))
            lines.append(f"    comes from {urls}" + (" (gzipped)" if "/" in rel else ""))
        else:
            lines.extend(f"    from {reason}" for reason in why)
    lines.append(
        "To fix it: connect to the internet and run `make data` (or rerun this cell), or set "
        "MMIDS_DATA_DIR to the absolute path of a folder that holds intact copies "
        "(MNIST/raw/ and FashionMNIST/raw/ as torchvision lays them out, SAHeart.csv, "
        "advertising.csv). A damaged file that cannot be replaced can be deleted and "
        "downloaded again."
    )
    return "\n".join(lines)


def load_image_dataset(name, train=True, root=None):
    """MNIST or Fashion-MNIST through torchvision, as float tensors in ``[0, 1]``.

    The data set's four files are first checked by size and sha256, and missing or
    damaged ones downloaded, by :func:`check_data`; torchvision then reads them.

    Parameters
    ----------
    name : {"MNIST", "FashionMNIST"}
        Which data set.
    train : bool, default True
        The 60,000 training images if true, else the 10,000 test images.
    root : str or os.PathLike, optional
        Data folder; default :func:`data_dir`. The files live in
        ``<root>/<name>/raw/`` as torchvision lays them out.

    Returns
    -------
    torchvision.datasets.MNIST or torchvision.datasets.FashionMNIST
        Item ``i`` is ``(image, label)``: a float32 tensor of shape ``(1, 28, 28)``
        with values in ``[0, 1]`` (``transforms.ToTensor``) and an ``int`` in ``0..9``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the two data sets.
    DataError
        If a file is missing or damaged and cannot be downloaded (for example offline);
        see :func:`check_data`.

    Notes
    -----
    Fashion-MNIST: Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747. MNIST: LeCun et al.
    (1998). Loading follows MMiDS, Sections 8.1 and 8.5.
    """
    from torchvision import datasets, transforms

    if name not in _IMAGE_DATASETS:
        raise ValueError(f"name must be one of {_IMAGE_DATASETS}, got {name!r}.")
    folder = _root(root)
    check_data([name], root=folder)
    cls = getattr(datasets, name)
    return cls(root=folder, train=train, download=False, transform=transforms.ToTensor())


def load_csv(name, root=None):
    """One of the chapter's two tables, checked by size and sha256 before it is read.

    Parameters
    ----------
    name : {"SAHeart.csv", "advertising.csv"}
        ``SAHeart.csv``: South African heart disease data (ESL, Section 4.4.2), 462
        rows, columns ``sbp, tobacco, ldl, adiposity, typea, obesity, alcohol, age,
        chd``. ``advertising.csv``: ISLR's Advertising data, 200 rows, columns
        ``TV, radio, newspaper, sales``.
    root : str or os.PathLike, optional
        Data folder; default :func:`data_dir`. A missing file is downloaded there.

    Returns
    -------
    pandas.DataFrame
        The table as read by :func:`pandas.read_csv`.

    Raises
    ------
    ValueError
        If ``name`` is not one of the two tables.
    DataError
        If the file is missing or damaged in the data folder and no good copy can be
        downloaded, for example offline; see :func:`check_data`.

    Notes
    -----
    The files are those of the MMiDS textbook's repository (``utils/datasets/``), used in
    MMiDS, Section 8.4; :func:`check_data` downloads them with pooch and verifies them.
    """
    import pandas as pd

    if name not in _CSV_FILES:
        raise ValueError(f"name must be one of {_CSV_FILES}, got {name!r}.")
    folder = _root(root)
    check_data([name], root=folder)
    return pd.read_csv(folder / name)


# -------------------------------------------------------------------- least squares


def _float_array(x, name):
    """``x`` as a finite float64 array; TypeError or ValueError naming ``name``."""
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}.") from None
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite entries.")
    return x


def ls_by_qr(A, b):
    """Least-squares solution of ``A x ~ b`` through a thin QR decomposition.

    Parameters
    ----------
    A : numpy.ndarray, shape (n, d), float
        Design matrix with full column rank, ``n >= d``.
    b : numpy.ndarray, shape (n,), float
        Response vector.

    Returns
    -------
    numpy.ndarray, shape (d,), float64
        The minimiser of ``||A x - b||_2``.

    Raises
    ------
    TypeError
        If ``A`` or ``b`` is not numeric.
    ValueError
        If ``A`` is not 2-D, ``b`` is not 1-D of length ``n``, ``n < d``, an entry is
        NaN or infinite, or ``A`` is rank-deficient: its smallest singular value (those
        of ``R``) is at most ``max(n, d) * eps`` times its largest, the criterion of
        ``numpy.linalg.matrix_rank``.

    Notes
    -----
    Computes ``A = Q R`` (``scipy.linalg.qr``, economic mode) and solves
    ``R x = Q^T b`` by back substitution (MMiDS, Section 2.3, least squares by QR).
    """
    import scipy.linalg

    A, b = _float_array(A, "A"), _float_array(b, "b")
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D array (n, d), got shape {A.shape}.")
    n, d = A.shape
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match A {A.shape}, got {b.shape}.")
    if n < d:
        raise ValueError(f"A needs at least as many rows as columns, got shape {A.shape}.")
    Q, R = scipy.linalg.qr(A, mode="economic")
    sigma = scipy.linalg.svdvals(R)  # the singular values of A, from the small R
    if d and sigma.min() <= np.finfo(float).eps * max(n, d) * sigma.max():
        raise ValueError(
            "A is rank-deficient: its columns are linearly dependent (to machine precision)."
        )
    return scipy.linalg.solve_triangular(R, Q.T @ b)


# ------------------------------------------------------------------- fast loading


class DeviceDataLoader:
    """Minibatches of MNIST or Fashion-MNIST served from one tensor on the device.

    A drop-in replacement for ``DataLoader(dataset, batch_size, shuffle, generator)``
    on the data sets of :func:`load_image_dataset`: it yields the same minibatches, in
    the same order, with the same random draws. The images are converted once, as
    ``transforms.ToTensor`` would convert each of them (uint8 to float32, divided by
    255), and kept on ``device``; each epoch then only permutes indices and slices.
    ``DataLoader`` instead converts and collates every image on every epoch, which
    costs more than a training step of the chapter's small models.

    Parameters
    ----------
    dataset : torchvision.datasets.MNIST or torchvision.datasets.FashionMNIST
        As returned by :func:`load_image_dataset`: ``dataset.data`` a uint8 tensor of
        shape ``(N, H, W)``, ``dataset.targets`` int64 of shape ``(N,)``, transform
        ``transforms.ToTensor()`` and no target transform.
    batch_size : int, default 1
        Samples per minibatch, ``>= 1``; the last minibatch of an epoch may be smaller.
    shuffle : bool, default False
        If true, a new random order at every epoch (every sample once per epoch).
    generator : torch.Generator, optional
        CPU generator for the random draws; default PyTorch's global generator, as
        ``DataLoader`` does.
    device : torch.device or str, default "cpu"
        Where the data set and the minibatches live.

    Attributes
    ----------
    dataset, batch_size, shuffle, generator
        As given.
    device : torch.device
        As given.

    Yields
    ------
    X : torch.Tensor, float32, shape (B, 1, H, W), values in [0, 1], on ``device``
    y : torch.Tensor, int64, shape (B,), on ``device``

    Raises
    ------
    ValueError
        If ``batch_size`` is not a positive integer.
    TypeError
        If ``dataset`` is not an MNIST-style data set with a ``ToTensor`` transform,
        or ``generator`` is not a ``torch.Generator``.

    Notes
    -----
    Each ``iter()`` draws, like ``DataLoader``, one int64 from the generator (the seed
    ``DataLoader`` would give its workers), then, when shuffling, the permutation
    ``torch.randperm(N)`` that ``RandomSampler`` draws (from a generator seeded by one
    more draw of the global generator when ``generator`` is None), and at the end of
    the epoch the unused permutation that ``RandomSampler`` draws when it is read
    past its last index. Hence the same
    stream of random numbers and the same minibatches as ``DataLoader`` (PyTorch 2.x,
    ``num_workers=0``). Minibatch SGD as in MMiDS, Section 8.4.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, generator=None, device="cpu"):
        import torch
        from torchvision import transforms

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator or None, got {type(generator).__name__}."
            )
        data = getattr(dataset, "data", None)
        targets = getattr(dataset, "targets", None)
        if not (
            isinstance(data, torch.Tensor)
            and data.dtype == torch.uint8
            and data.dim() == 3
            and isinstance(targets, torch.Tensor)
            and targets.shape == data.shape[:1]
        ):
            raise TypeError(
                "dataset must be MNIST-style: .data a uint8 tensor (N, H, W) and .targets "
                "a tensor (N,). Use mmids.load_image_dataset, or a torch DataLoader for "
                "other data sets."
            )
        if not isinstance(getattr(dataset, "transform", None), transforms.ToTensor) or (
            getattr(dataset, "target_transform", None) is not None
        ):
            raise TypeError(
                "dataset must have transform=ToTensor() and no target_transform: "
                "DeviceDataLoader reproduces ToTensor only. Use a torch DataLoader for "
                "other transforms."
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.generator = generator
        self.device = torch.device(device)
        # What ToTensor computes for each image, done once: float32, / 255, channel first.
        self._X = data.unsqueeze(1).to(torch.float32).div(255).to(self.device)
        self._y = targets.to(torch.int64).to(self.device)

    def __len__(self):
        return -(-len(self._y) // self.batch_size)

    def __iter__(self):
        import torch

        # DataLoader draws a base seed for its workers at every iter(), even with none.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        n = len(self._y)
        order = None
        if self.shuffle:
            generator = self.generator
            if generator is None:  # as RandomSampler does without a generator
                seed = int(torch.empty((), dtype=torch.int64).random_().item())
                generator = torch.Generator().manual_seed(seed)
            order = torch.randperm(n, generator=generator).to(self.device)
        return self._batches(order)

    def _batches(self, order):
        n = len(self._y)
        for start in range(0, n, self.batch_size):
            if order is None:
                batch = slice(start, start + self.batch_size)
            else:
                if start + self.batch_size > n:
                    self._sampler_exhausted()
                batch = order[start : start + self.batch_size]
            yield self._X[batch], self._y[batch]
        if order is not None and n % self.batch_size == 0:
            self._sampler_exhausted()

    def _sampler_exhausted(self):
        # When DataLoader's batch sampler reads past the last index, RandomSampler
        # draws one more (unused) permutation from the generator it was given.
        import torch

        if self.generator is not None:
            torch.randperm(len(self._y), generator=self.generator)


# ------------------------------------------------------------------------- training


def _model_device(model, device):
    """The one device of ``model``'s parameters and buffers, where batches must go.

    ``device`` must agree with it (``"cuda"`` agrees with ``cuda:0``); a model without
    parameters runs on ``device``. Raises TypeError or ValueError naming the argument.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a torch.device or a str, got {type(device).__name__}.")
    try:
        wanted = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device {device!r} is not a device name such as 'cpu' or 'cuda'."
        ) from None
    held = {t.device for t in [*model.parameters(), *model.buffers()]}
    if len(held) > 1:
        raise ValueError(
            f"model has parameters on several devices ({', '.join(sorted(map(str, held)))}); "
            "move it to one with model.to(device)."
        )
    if not held:
        return wanted
    (actual,) = held
    if wanted.type != actual.type or wanted.index not in (None, actual.index):
        raise ValueError(
            f"device is {str(wanted)!r} but model is on {str(actual)!r}; "
            "call model.to(device) first, or pass the model's device."
        )
    return actual


def train(dataloader, model, loss_fn, optimizer, device):
    """Run one epoch of minibatch training.

    Parameters
    ----------
    dataloader : torch.utils.data.DataLoader
        Yields ``(X, y)`` minibatches; ``X`` float32 of shape ``(B, ...)``, ``y`` of
        shape ``(B,)`` (class labels, int64) or ``(B, k)`` (regression targets).
    model : torch.nn.Module
        Maps ``X`` to predictions (logits for classification). Already on ``device``.
    loss_fn : callable
        ``loss_fn(pred, y)`` returns the mean loss of the minibatch (a scalar tensor).
    optimizer : torch.optim.Optimizer
        Optimizer over ``model.parameters()``.
    device : torch.device or str
        The device of ``model`` (``"cuda"`` matches any CUDA device); each minibatch is
        moved there before the forward pass.

    Returns
    -------
    float
        Mean training loss over the samples of the epoch (each minibatch's mean loss
        weighted by its size).

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module`` or ``device`` not a str or device.
    ValueError
        If ``dataloader`` yields no minibatch, ``model`` has parameters on several
        devices, or ``device`` is not a device name or not the device of ``model``.

    Notes
    -----
    Forward pass, backpropagation, optimizer step, as in MMiDS, Section 8.5 and the
    PyTorch quickstart tutorial.
    """
    device = _model_device(model, device)  # the model's device; an error if they differ
    model.train()
    total, count = 0.0, 0
    for X, y in dataloader:
        X, y = X.to(device), y.to(device)
        loss = loss_fn(model(X), y)  # forward pass
        optimizer.zero_grad()
        loss.backward()  # backpropagation
        optimizer.step()  # descent step
        total = total + loss.detach() * len(y)  # stays a tensor: no waiting on a GPU
        count += len(y)
    if count == 0:
        raise ValueError("dataloader yielded no minibatch; check the data set is not empty.")
    return float(total) / count


def training_loop(
    train_loader,
    model,
    loss_fn,
    optimizer,
    device,
    epochs=3,
    verbose=True,
    test_loader=None,
    progress=None,
):
    """Train for several epochs with :func:`train`, reporting and recording each epoch.

    Parameters
    ----------
    train_loader, model, loss_fn, optimizer, device
        As in :func:`train`.
    epochs : int, default 3
        Number of passes over the training set, ``>= 1``.
    verbose : bool, default True
        If true, print one line per epoch, for example
        ``Epoch 2/3: train loss 0.2914, test accuracy 92.0 %, 11.8 s``
        (the test accuracy only when ``test_loader`` is given). If false, print nothing
        and show no progress bar.
    test_loader : torch.utils.data.DataLoader or DeviceDataLoader, optional
        Test set, as in :func:`test`. When given, the model is evaluated on it after
        every epoch (the evaluation is not counted in the epoch's seconds).
    progress : bool, optional
        Show a progress bar over the minibatches of each epoch (``tqdm.auto``: a widget
        in Jupyter and Colab, text elsewhere), with the running mean loss of the epoch
        refreshed every 50 minibatches. The bar is removed when its epoch ends, leaving
        the epoch's line. Default: on, unless the environment variable
        ``MMIDS_PROGRESS`` is ``0`` (the Makefile and the tests set it, so the built
        book and the notebooks show no bar).

    Returns
    -------
    dict of str to list
        The history, one entry per epoch in each list (a ``pandas.DataFrame`` displays it
        as a table):

        - ``"epoch"``: int, ``1 .. epochs``;
        - ``"train_loss"``: float, mean training loss of the epoch, as returned by
          :func:`train`;
        - ``"seconds"``: float, wall-clock seconds of the epoch's training;
        - ``"test_loss"`` and ``"test_accuracy"`` (only with ``test_loader``): float,
          as returned by :func:`test`; the accuracy is a fraction in ``[0, 1]``.

    Raises
    ------
    TypeError, ValueError
        If ``epochs`` is not a positive integer, ``train_loader`` is empty, or as in
        :func:`train` for ``model`` and ``device``. ValueError also if
        ``MMIDS_PROGRESS`` is not one of ``0, 1, false, true, no, yes, off, on``.

    Notes
    -----
    MMiDS, Section 8.5 (three epochs of Adam on MNIST). The bar sees each minibatch's
    loss through a thin wrapper of ``loss_fn``, so :func:`train` and its arithmetic are
    the same with or without it; the losses stay on the device between two refreshes,
    so the bar adds one host synchronisation per 50 minibatches, not one per minibatch.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    show_bar = verbose and _progress_enabled(progress)
    history = {"epoch": [], "train_loss": [], "seconds": []}
    if test_loader is not None:
        history.update(test_loss=[], test_accuracy=[])
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        if show_bar:
            bar = _EpochProgress(_length(train_loader), f"Epoch {epoch}/{epochs}")
            try:
                train_loss = train(train_loader, model, bar.observing(loss_fn), optimizer, device)
            finally:
                bar.close()
        else:
            train_loss = train(train_loader, model, loss_fn, optimizer, device)
        seconds = time.perf_counter() - start
        history["epoch"].append(epoch)
        history["train_loss"].append(train_loss)
        history["seconds"].append(seconds)
        line = f"Epoch {epoch}/{epochs}: train loss {train_loss:.4f}"
        if test_loader is not None:
            accuracy, test_loss = test(test_loader, model, loss_fn, device)
            history["test_loss"].append(test_loss)
            history["test_accuracy"].append(accuracy)
            line += f", test accuracy {100 * accuracy:.1f} %"
        if verbose:
            print(f"{line}, {seconds:.1f} s")
    return history


_PROGRESS_EVERY = 50  # minibatches between two refreshes of the bar's running loss
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def _progress_enabled(progress):
    """``progress`` if given, else what ``MMIDS_PROGRESS`` says (default: on)."""
    if progress is not None:
        return bool(progress)
    setting = os.environ.get("MMIDS_PROGRESS", "").strip().lower()
    if setting and setting not in _ON + _OFF:
        raise ValueError(
            f"MMIDS_PROGRESS={setting!r} is not understood; set it to 0 to hide the "
            "progress bars or to 1 to show them."
        )
    return setting not in _OFF


def _length(loader):
    try:
        return len(loader)
    except TypeError:  # an iterable without a length: the bar counts without a total
        return None


def _tqdm():
    """``tqdm.auto.tqdm``, imported without its warning when ipywidgets is missing."""
    import warnings

    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        # In Jupyter without ipywidgets, tqdm.auto warns and uses its text bar instead.
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


class _EpochProgress:
    """A progress bar over the minibatches of one epoch, showing the running mean loss.

    The minibatch losses are summed on the device; the sum is read (a host
    synchronisation) only every ``every`` minibatches, to refresh the bar's text.
    """

    def __init__(self, total, desc, every=_PROGRESS_EVERY):
        self.bar = _tqdm()(total=total, desc=desc, unit="batch", leave=False, disable=False)
        self.every = every
        self.loss_sum, self.count, self.steps = 0.0, 0, 0

    def observe(self, loss, n):
        self.loss_sum = self.loss_sum + loss.detach() * n
        self.count += n
        self.steps += 1
        self.bar.update(1)
        if self.steps % self.every == 0:
            self.bar.set_postfix(loss=f"{float(self.loss_sum) / self.count:.4f}")

    def observing(self, loss_fn):
        """``loss_fn``, reporting each minibatch's loss to the bar."""

        def loss_and_progress(pred, y):
            loss = loss_fn(pred, y)
            self.observe(loss, len(y))
            return loss

        return loss_and_progress

    def close(self):
        self.bar.close()


def test(dataloader, model, loss_fn, device):
    """Accuracy and mean loss of a classifier on a data set.

    Parameters
    ----------
    dataloader : torch.utils.data.DataLoader
        Yields ``(X, y)`` with ``y`` int64 class labels of shape ``(B,)``.
    model : torch.nn.Module
        Returns logits of shape ``(B, k)``. Already on ``device``.
    loss_fn : callable
        ``loss_fn(logits, y)``: mean loss of a minibatch, e.g. cross-entropy.
    device : torch.device or str
        Where each minibatch is moved.

    Returns
    -------
    accuracy : float
        Fraction of samples whose largest logit is the true class, in ``[0, 1]``.
    mean_loss : float
        Loss averaged over samples (not over minibatches).

    Raises
    ------
    TypeError, ValueError
        If ``dataloader`` yields no sample, or as in :func:`train` for ``model`` and
        ``device``.

    Notes
    -----
    The model is put in evaluation mode and gradients are off (MMiDS, Section 8.5).
    """
    import torch

    device = _model_device(model, device)
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            logits = model(X)
            loss_sum = loss_sum + loss_fn(logits, y) * len(y)
            correct = correct + (logits.argmax(dim=1) == y).sum()
            count += len(y)
    if count == 0:
        raise ValueError("dataloader yielded no sample; check the data set is not empty.")
    return float(correct) / count, float(loss_sum) / count


def predict_softmax(dataloader, model, device):
    """Class probabilities of a classifier for every sample of a loader.

    Parameters
    ----------
    dataloader : torch.utils.data.DataLoader
        Yields ``(X, y)``; ``y`` is ignored. Use ``shuffle=False`` to keep the data
        set's order.
    model : torch.nn.Module
        Returns logits of shape ``(B, k)``.
    device : torch.device or str
        Where each minibatch is moved.

    Returns
    -------
    torch.Tensor, shape (N, k), on the CPU
        Row ``i`` is the softmax of the logits of sample ``i``; rows sum to 1. Same
        dtype as the logits (float32 for the book's models).

    Raises
    ------
    TypeError, ValueError
        If ``dataloader`` yields no sample, or as in :func:`train` for ``model`` and
        ``device``.

    Notes
    -----
    The softmax is the last step of multinomial logistic regression; it is part of
    ``nn.CrossEntropyLoss``, not of the model (MMiDS, Section 8.5).
    """
    import torch

    device = _model_device(model, device)
    model.eval()
    chunks = []
    with torch.no_grad():
        for X, _ in dataloader:
            chunks.append(torch.softmax(model(X.to(device)), dim=1).cpu())
    if not chunks:
        raise ValueError("dataloader yielded no sample; check the data set is not empty.")
    return torch.cat(chunks, dim=0)


# ------------------------------------------------------------------------- plotting

# Figures are read by colour-blind readers too: right and wrong are told apart by text or
# hatching as well as by colour, in colours of the Okabe-Ito palette (blue, vermillion).
_RIGHT_COLOUR = "#0072B2"
_WRONG_COLOUR = "#D55E00"
_OTHER_COLOUR = "#BBBBBB"
# Text of at least 10 points in figures at most _PAGE_WIDTH inches wide: the book's page is
# about 680 pixels wide, a figure is drawn at 100 dpi, so text keeps about its size on screen.
_FONT_SIZE = 11
_PAGE_WIDTH = 7.5


def plot_image(probs, true_label, img, class_names, ax=None):
    """Show an image, labelled with the predicted class, its probability, the truth and a verdict.

    Parameters
    ----------
    probs : array_like, shape (k,)
        Predicted class probabilities.
    true_label : int
        True class, in ``0..k-1``.
    img : array_like, shape (28, 28) or (1, 28, 28)
        Grey-level image.
    class_names : sequence of str, length k
        Names of the classes.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on. The label reads ``"predicted p% (true)"`` and, on a second
        line, ``"right"`` or ``"wrong"``, so the verdict does not rest on colour alone; it
        is also blue (right) or vermillion and bold (wrong), colours of the Okabe-Ito
        palette that readers with a colour-vision deficiency tell apart.

    Notes
    -----
    Adapted from the TensorFlow classification tutorial, as in MMiDS, Section 8.5. The
    palette: Okabe & Ito, *Color Universal Design* (2002).
    """
    import matplotlib.pyplot as plt

    probs = np.asarray(probs)
    ax = plt.gca() if ax is None else ax
    predicted = int(np.argmax(probs))
    right = predicted == int(true_label)
    ax.imshow(np.asarray(img).squeeze(), cmap="binary")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(
        f"{class_names[predicted]} {100 * probs[predicted]:.0f}% ({class_names[true_label]})\n"
        + ("right" if right else "wrong"),
        color=_RIGHT_COLOUR if right else _WRONG_COLOUR,
        fontweight="normal" if right else "bold",
        fontsize=_FONT_SIZE,
    )
    return ax


def plot_value_array(probs, true_label, ax=None):
    """Bar chart of predicted class probabilities, marking the true and the predicted class.

    Parameters
    ----------
    probs : array_like, shape (k,)
        Predicted class probabilities.
    true_label : int
        True class, in ``0..k-1``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (y axis from 0 to 1). The bar of the true class is blue; the
        bar of the predicted class is hatched (``//``), and vermillion when the prediction
        is wrong; the other bars are grey. A legend names the two marks, so that hatching,
        not colour alone, tells the predicted class.

    Notes
    -----
    Adapted from the TensorFlow classification tutorial, as in MMiDS, Section 8.5. The
    palette: Okabe & Ito, *Color Universal Design* (2002).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    probs = np.asarray(probs)
    ax = plt.gca() if ax is None else ax
    bars = ax.bar(range(len(probs)), probs, color=_OTHER_COLOUR, edgecolor="black", linewidth=0.5)
    ax.set_xticks(range(len(probs)))
    ax.tick_params(axis="x", labelsize=_FONT_SIZE)
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    predicted = int(np.argmax(probs))
    bars[predicted].set_facecolor(_WRONG_COLOUR)
    bars[predicted].set_hatch("//")
    bars[int(true_label)].set_facecolor(_RIGHT_COLOUR)
    ax.legend(
        handles=[
            Patch(facecolor=_RIGHT_COLOUR, edgecolor="black", label="true class"),
            Patch(facecolor="white", edgecolor="black", hatch="//", label="predicted"),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=2,
        fontsize=_FONT_SIZE - 1,
        frameon=False,
    )
    return ax


def plot_prediction(probs, true_label, img, class_names):
    """Image with its label next to the bar chart of its predicted probabilities.

    Parameters
    ----------
    probs, true_label, img, class_names
        As in :func:`plot_image`.

    Returns
    -------
    matplotlib.figure.Figure
        A figure of size 6 x 3 inches with the two panels.

    Notes
    -----
    The two-panel figure of MMiDS, Section 8.5 (after the TensorFlow classification
    tutorial).
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
    plot_image(probs, true_label, img, class_names, ax=left)
    plot_value_array(probs, true_label, ax=right)
    return fig


def plot_samples(dataset, class_names, nrows=3, ncols=6, seed=0):
    """Grid of randomly drawn images from a data set, each titled with its class.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Item ``i`` is ``(image, label)`` with an image of shape ``(1, H, W)`` or
        ``(H, W)`` and an integer label.
    class_names : sequence of str
        Name of each label.
    nrows, ncols : int, default 3 and 6
        Shape of the grid; ``nrows * ncols`` must not exceed ``len(dataset)``.
    seed : int, default 0
        Seed of the draw (without replacement), so the grid is reproducible.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: 1.3 inches per image, at most 7.5 inches wide (the width of the book's
        page at 100 dpi, so that the titles stay legible), grey levels from white to black.

    Raises
    ------
    ValueError
        If the grid is empty or larger than the data set.

    Notes
    -----
    Replaces the sample sprites that the textbook hot-links (Fashion-MNIST's README,
    Wikimedia's MNIST examples) with images drawn from the data set itself.
    """
    import matplotlib.pyplot as plt

    count = nrows * ncols
    if nrows < 1 or ncols < 1 or count > len(dataset):
        raise ValueError(f"a {nrows} x {ncols} grid needs 1 to {len(dataset)} images, got {count}.")
    indices = np.random.default_rng(seed).choice(len(dataset), size=count, replace=False)
    cell = min(1.3, _PAGE_WIDTH / ncols)  # inches per image
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, (cell + 0.3) * nrows), squeeze=False
    )
    for ax, i in zip(axes.flat, indices, strict=True):
        img, label = dataset[int(i)]
        ax.imshow(np.asarray(img).squeeze(), cmap="binary")
        ax.set_title(class_names[label], fontsize=_FONT_SIZE - 1)
        ax.axis("off")
    fig.tight_layout()
    return fig


# ------------------------------------------------------ errors and learning curves


def _as_numpy(x):
    """A NumPy copy of an array-like or a tensor (on any device)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _labels(x, name):
    x = _as_numpy(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class label per sample), got shape {x.shape}.")
    if x.size and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(
            f"{name} must hold integer class labels, got dtype {x.dtype}; for probabilities "
            "or logits take the argmax over the classes first."
        )
    if x.size and x.min() < 0:
        raise ValueError(f"{name} holds a negative label ({x.min()}); labels are 0 .. k-1.")
    return x.astype(np.int64)


def confusion_matrix(true_labels, predicted_labels, num_classes=None):
    """Count, for each pair of classes, the samples of one class predicted as the other.

    Parameters
    ----------
    true_labels : array_like or torch.Tensor, shape (N,), integer
        True class of each sample, in ``0 .. k-1``.
    predicted_labels : array_like or torch.Tensor, shape (N,), integer
        Predicted class of each sample (for example ``probs.argmax(1)``), in ``0 .. k-1``.
        Tensors may live on any device.
    num_classes : int, optional
        ``k``. Default: one more than the largest label seen.

    Returns
    -------
    numpy.ndarray, shape (k, k), int64
        Entry ``[i, j]`` is the number of samples of true class ``i`` predicted as
        class ``j``: rows are true classes, columns predictions (the convention of
        scikit-learn). The entries sum to ``N`` and the trace counts the correct
        predictions.

    Raises
    ------
    ValueError
        If the labels are not 1-D integer arrays of the same length, a label is negative
        or not below ``num_classes``, or ``num_classes`` is not a positive integer.

    Notes
    -----
    The confusion matrix of a classifier (e.g. Hastie, Tibshirani & Friedman, *The
    Elements of Statistical Learning*, Section 9.2.5); computed with one
    ``numpy.bincount`` over the index pairs ``k * i + j``.
    """
    true = _labels(true_labels, "true_labels")
    predicted = _labels(predicted_labels, "predicted_labels")
    if true.shape != predicted.shape:
        raise ValueError(
            f"true_labels and predicted_labels must have the same length, got "
            f"{len(true)} and {len(predicted)}."
        )
    largest = int(max(true.max(initial=-1), predicted.max(initial=-1)))
    if num_classes is None:
        num_classes = largest + 1
        if num_classes == 0:
            raise ValueError("no labels given: pass num_classes to get an all-zero matrix.")
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
    if largest >= num_classes:
        raise ValueError(
            f"label {largest} is out of range for num_classes={num_classes} (labels are "
            f"0 .. {num_classes - 1})."
        )
    k = int(num_classes)
    return np.bincount(k * true + predicted, minlength=k * k).reshape(k, k)


def plot_confusion_matrix(cm, class_names, ax=None):
    """Draw a confusion matrix as a grid of counts, true classes down, predictions across.

    Parameters
    ----------
    cm : array_like, shape (k, k), non-negative integers
        Counts, as returned by :func:`confusion_matrix` (rows: true class; columns:
        predicted class).
    class_names : sequence of str, length k
        Name of each class, used for the tick labels.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure of about 0.6 inch per class.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, holding one image (cells shaded by count with the colour-blind-friendly
        ``cividis`` map, on a logarithmic scale so that the rare confusions show next to
        the large diagonal; empty cells white) and the count of each cell written in it,
        black or white, whichever contrasts more with the cell.

    Raises
    ------
    ValueError
        If ``cm`` is not a square 2-D array of non-negative integers, or ``class_names``
        does not have one name per row.

    Notes
    -----
    The display of scikit-learn's ``ConfusionMatrixDisplay``, drawn with matplotlib
    only. The book uses it for the test predictions of MMiDS, Section 8.5. ``cividis``:
    Nuñez, Anderton & Renslow, *PLoS ONE* 13 (2018), e0199239.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    cm = _as_numpy(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"cm must be a square (k, k) array of counts, got shape {cm.shape}.")
    if not np.issubdtype(cm.dtype, np.integer) or cm.min() < 0:
        raise ValueError("cm must hold non-negative integer counts, as confusion_matrix returns.")
    k = cm.shape[0]
    if len(class_names) != k:
        raise ValueError(f"class_names must name the {k} classes of cm, got {len(class_names)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 + 0.6 * k, 1.2 + 0.6 * k))
    top = max(int(cm.max()), 1)
    # Log shading: zero cells stay white, single errors are already visible.
    cmap, norm = plt.get_cmap("cividis"), LogNorm(vmin=1, vmax=max(top, 2))
    ax.imshow(np.ma.masked_equal(cm, 0), cmap=cmap, norm=norm)
    for i in range(k):
        for j in range(k):
            rgb = np.asarray(cmap(norm(cm[i, j]))[:3] if cm[i, j] else (1.0, 1.0, 1.0))
            # WCAG relative luminance; above 0.179 black text contrasts more than white.
            linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
            light = float(linear @ [0.2126, 0.7152, 0.0722]) > 0.179
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=_FONT_SIZE - 1,
                color="black" if light else "white",
            )
    slanted = max(len(str(name)) for name in class_names) > 2  # long names would overlap
    ax.set_xticks(
        range(k),
        labels=list(class_names),
        rotation=45 if slanted else 0,
        ha="right" if slanted else "center",
    )
    ax.set_yticks(range(k), labels=list(class_names))
    ax.tick_params(labelsize=_FONT_SIZE)
    ax.set_xlabel("predicted class", fontsize=_FONT_SIZE)
    ax.set_ylabel("true class", fontsize=_FONT_SIZE)
    return ax


def plot_misclassified(images, true_labels, predicted_labels, class_names, nrows=3, ncols=6):
    """Grid of the first misclassified images, each titled with its prediction and truth.

    Parameters
    ----------
    images : array_like or torch.Tensor, shape (N, H, W) or (N, 1, H, W)
        Grey-level images, any numeric dtype (for example a data set's raw ``uint8``
        ``data``, or float tensors in ``[0, 1]``).
    true_labels, predicted_labels : array_like or torch.Tensor, shape (N,), integer
        True and predicted class of each image, as for :func:`confusion_matrix`.
    class_names : sequence of str
        Name of each class.
    nrows, ncols : int, default 3 and 6
        Shape of the grid; it shows the first ``nrows * ncols`` misclassified images,
        in the order of the data set (fewer if there are fewer).

    Returns
    -------
    matplotlib.figure.Figure
        The figure: 1.4 inches per image, at most 7.5 inches wide. Each title reads
        ``predicted`` on the first line and ``(true)`` on the second, in black: every image
        shown is a mistake, and the text says which. Unused cells are blank; if no image
        is misclassified, the figure says so in its title.

    Raises
    ------
    ValueError
        If the arrays do not have one image and one label per sample, a label has no
        name, or the grid is empty.

    Notes
    -----
    The errors of a classifier are easiest understood by looking at them; this extends
    the single-image views of MMiDS, Section 8.5 (after the TensorFlow classification
    tutorial) to a grid of every kind of mistake.
    """
    import matplotlib.pyplot as plt

    images = _as_numpy(images)
    true = _labels(true_labels, "true_labels")
    predicted = _labels(predicted_labels, "predicted_labels")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, 1, H, W), got {images.shape}.")
    if not len(images) == len(true) == len(predicted):
        raise ValueError(
            f"need one label and one prediction per image, got {len(images)} images, "
            f"{len(true)} true labels and {len(predicted)} predictions."
        )
    if nrows < 1 or ncols < 1:
        raise ValueError(
            f"the grid must have at least one row and one column, got {nrows} x {ncols}."
        )
    largest = int(max(true.max(initial=0), predicted.max(initial=0)))
    if largest >= len(class_names):
        raise ValueError(f"label {largest} has no name among the {len(class_names)} class names.")
    wrong = np.flatnonzero(true != predicted)[: nrows * ncols]
    cell = min(1.4, _PAGE_WIDTH / ncols)  # inches per image
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, (cell + 0.45) * nrows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong, strict=False):  # the grid may have spare cells
        ax.imshow(images[i], cmap="binary")
        ax.set_title(
            f"{class_names[predicted[i]]}\n({class_names[true[i]]})", fontsize=_FONT_SIZE - 1
        )
    if len(wrong) == 0:
        fig.suptitle("No misclassified image")
    fig.tight_layout()
    return fig


def plot_history(history):
    """Curves of the training loss, and of the test loss and accuracy when recorded.

    Parameters
    ----------
    history : dict of str to list
        As returned by :func:`training_loop`: ``"epoch"`` and ``"train_loss"``, and
        optionally ``"test_loss"`` and ``"test_accuracy"`` (fractions in ``[0, 1]``), one
        entry per epoch.

    Returns
    -------
    matplotlib.figure.Figure
        One panel (mean loss per epoch: training, solid with circles, and test, dashed
        with squares, when recorded) or, with a test accuracy, two panels side by side
        (7.5 inches), the second showing the test accuracy in percent. Line style and
        marker, not only colour, tell the curves apart.

    Raises
    ------
    ValueError
        If ``history`` lacks ``"epoch"`` or ``"train_loss"``, has no epoch, or its lists
        differ in length.

    Notes
    -----
    Learning curves as in Goodfellow, Bengio & Courville, *Deep Learning* (2016),
    Section 7.8; the values are those printed by :func:`training_loop` (MMiDS, Section 8.5).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    missing = [key for key in ("epoch", "train_loss") if key not in history]
    if missing:
        raise ValueError(
            f"history lacks {', '.join(missing)}; pass the dict that training_loop returns."
        )
    epochs = list(history["epoch"])
    if not epochs:
        raise ValueError("history has no epoch to plot.")
    keys = [
        key for key in ("train_loss", "test_loss", "test_accuracy", "seconds") if key in history
    ]
    lengths = {key: len(history[key]) for key in keys}
    if any(n != len(epochs) for n in lengths.values()):
        raise ValueError(f"history has {len(epochs)} epochs but lists of lengths {lengths}.")
    with_accuracy = "test_accuracy" in history
    fig, axes = plt.subplots(
        1,
        2 if with_accuracy else 1,
        figsize=(_PAGE_WIDTH if with_accuracy else 4, 3),
        squeeze=False,
    )
    loss_ax = axes[0, 0]
    loss_ax.plot(epochs, history["train_loss"], "o-", color=_RIGHT_COLOUR, label="training")
    if "test_loss" in history:
        loss_ax.plot(epochs, history["test_loss"], "s--", color=_WRONG_COLOUR, label="test")
    loss_ax.set_ylabel("mean loss", fontsize=_FONT_SIZE)
    loss_ax.legend(fontsize=_FONT_SIZE)
    if with_accuracy:
        acc_ax = axes[0, 1]
        acc_ax.plot(epochs, 100 * np.asarray(history["test_accuracy"]), "s--", color=_WRONG_COLOUR)
        acc_ax.set_ylabel("test accuracy (%)", fontsize=_FONT_SIZE)
    for ax in axes.flat:
        ax.set_xlabel("epoch", fontsize=_FONT_SIZE)
        ax.tick_params(labelsize=_FONT_SIZE - 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------- descriptions of figures, for readers who cannot see them


def _trend(name, values, fmt):
    """'the NAME falls from A to B' (or rises, or stays at A), the numbers formatted by fmt."""
    first, last = fmt(values[0]), fmt(values[-1])
    if first == last:
        return f"the {name} stays at {first}"
    return f"the {name} {'falls' if values[-1] < values[0] else 'rises'} from {first} to {last}"


def describe_history(history):
    """One sentence that says what the learning curves of :func:`plot_history` show.

    For a figure's caption or text alternative: a reader who cannot see the curves reads
    their first and last values instead.

    Parameters
    ----------
    history : dict of str to list
        As returned by :func:`training_loop` (see :func:`plot_history`).

    Returns
    -------
    str
        For example ``"Over 3 epochs, the mean training loss falls from 0.41 to 0.28,
        the mean test loss falls from 0.31 to 0.29 and the test accuracy rises from
        91.2 % to 92.4 %."``: losses with two decimals, accuracies in percent with one,
        each with "falls", "rises" or "stays at" as the printed numbers say.

    Raises
    ------
    ValueError
        As :func:`plot_history`, for a history it cannot draw.
    """
    missing = [key for key in ("epoch", "train_loss") if key not in history]
    if missing:
        raise ValueError(
            f"history lacks {', '.join(missing)}; pass the dict that training_loop returns."
        )
    n = len(history["epoch"])
    if not n:
        raise ValueError("history has no epoch to describe.")
    series = [("mean training loss", "train_loss", lambda v: f"{v:.2f}")]
    series += [("mean test loss", "test_loss", lambda v: f"{v:.2f}")]
    series += [("test accuracy", "test_accuracy", lambda v: f"{100 * v:.1f} %")]
    series = [item for item in series if item[1] in history]
    lengths = {key: len(history[key]) for _, key, _ in series}
    if any(length != n for length in lengths.values()):
        raise ValueError(f"history has {n} epochs but lists of lengths {lengths}.")
    if n == 1:
        parts = [f"the {name} is {fmt(history[key][0])}" for name, key, fmt in series]
        start = "After 1 epoch, "
    else:
        parts = [_trend(name, history[key], fmt) for name, key, fmt in series]
        start = f"Over {n} epochs, "
    body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return start + body + "."


def describe_prediction(probs, true_label, class_names):
    """One sentence that says what :func:`plot_prediction` shows: the verdict and the odds.

    Parameters
    ----------
    probs : array_like, shape (k,)
        Predicted class probabilities.
    true_label : int
        True class, in ``0..k-1``.
    class_names : sequence of str, length k
        Names of the classes.

    Returns
    -------
    str
        For example ``"The model gives class 7 the largest probability, 99.8 %; the
        true class is 7, so the prediction is right."``, or, when it is wrong,
        ``"... 61.0 %; the true class is 4, which gets 12.0 %, so the prediction is
        wrong."``.

    Raises
    ------
    ValueError
        If ``probs`` is not a 1-D array with one probability per class name, or
        ``true_label`` is not one of its classes.
    """
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 1 or len(probs) != len(class_names):
        raise ValueError(
            f"probs must hold one probability per class ({len(class_names)}), got shape "
            f"{probs.shape}."
        )
    true_label = int(true_label)
    if not 0 <= true_label < len(probs):
        raise ValueError(f"true_label must be in 0..{len(probs) - 1}, got {true_label}.")
    predicted = int(np.argmax(probs))
    sentence = (
        f"The model gives class {class_names[predicted]} the largest probability, "
        f"{100 * probs[predicted]:.1f} %; the true class is {class_names[true_label]}"
    )
    if predicted == true_label:
        return sentence + ", so the prediction is right."
    return sentence + f", which gets {100 * probs[true_label]:.1f} %, so the prediction is wrong."


def describe_confusion_matrix(cm, class_names):
    """One sentence that says what :func:`plot_confusion_matrix` shows: the right
    predictions on the diagonal and the most frequent confusion.

    Parameters
    ----------
    cm : array_like, shape (k, k), non-negative integers
        Counts, as returned by :func:`confusion_matrix` (rows: true class).
    class_names : sequence of str, length k
        Name of each class.

    Returns
    -------
    str
        For example ``"9,241 of the 10,000 images (92.4 %) lie on the diagonal, their
        class predicted right; the largest count off it is 46 images of class 5 taken
        for class 3."``, or ``"... no image is misclassified."``.

    Raises
    ------
    ValueError
        As :func:`plot_confusion_matrix`, or if ``cm`` counts no image.
    """
    cm = _as_numpy(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"cm must be a square (k, k) array of counts, got shape {cm.shape}.")
    if not np.issubdtype(cm.dtype, np.integer) or cm.min() < 0:
        raise ValueError("cm must hold non-negative integer counts, as confusion_matrix returns.")
    k = cm.shape[0]
    if len(class_names) != k:
        raise ValueError(f"class_names must name the {k} classes of cm, got {len(class_names)}.")
    total, right = int(cm.sum()), int(np.trace(cm))
    if total == 0:
        raise ValueError("cm counts no image: there is nothing to describe.")
    sentence = (
        f"{right:,} of the {total:,} images ({100 * right / total:.1f} %) lie on the "
        "diagonal, their class predicted right"
    )
    errors = cm.copy()
    np.fill_diagonal(errors, 0)
    if not errors.any():
        return sentence + "; no image is misclassified."
    true_class, predicted_class = np.unravel_index(int(errors.argmax()), errors.shape)
    count = int(errors[true_class, predicted_class])
    return sentence + (
        f"; the largest count off it is {count:,} image{'s' if count > 1 else ''} of class "
        f"{class_names[true_class]} taken for class {class_names[predicted_class]}."
    )


# ---------------------------------------------------------------------------- pages


def glue(name, value):
    """Hand a formatted number to the page's prose (myst-nb glue), where myst-nb exists.

    In the book, a sentence shows it with ``{glue:text}`name```. Where myst-nb is not
    installed (for example in Colab) nothing happens; the page prints the same number
    in the cell above the sentence, so the reader still sees it.

    Parameters
    ----------
    name : str
        Key of the value, a Python identifier such as ``"cnn_accuracy"``; unique in the
        book.
    value : str
        The number as it should read, already formatted, e.g. ``f"{100 * acc:.1f} %"``.

    Returns
    -------
    None
        Under myst-nb, a hidden output (``display=False``) carries the value.

    Raises
    ------
    ValueError
        If ``name`` is not an identifier.
    TypeError
        If ``value`` is not a string: format it on the page, so that the text shows the
        same digits as the printed line.

    Notes
    -----
    Wraps ``myst_nb.glue`` (MyST-NB documentation, "Embedding outputs as variables").
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier such as 'cnn_accuracy', got {name!r}.")
    if not isinstance(value, str):
        raise TypeError(
            f"glue a formatted string, e.g. f'{{100 * accuracy:.1f}} %', not a "
            f"{type(value).__name__}."
        )
    try:
        from myst_nb import glue as myst_nb_glue
    except ImportError:
        return
    myst_nb_glue(name, value, display=False)
