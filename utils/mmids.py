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
import urllib.parse
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "DeviceDataLoader",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "check_data",
    "data_dir",
    "get_device",
    "load_csv",
    "load_image_dataset",
    "ls_by_qr",
    "plot_image",
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


def training_loop(train_loader, model, loss_fn, optimizer, device, epochs=3, verbose=True):
    """Train for several epochs with :func:`train`, reporting each epoch.

    Parameters
    ----------
    train_loader, model, loss_fn, optimizer, device
        As in :func:`train`.
    epochs : int, default 3
        Number of passes over the training set, ``>= 1``.
    verbose : bool, default True
        If true, print one line per epoch: ``Epoch k/epochs: mean loss L``.

    Returns
    -------
    list of float, length ``epochs``
        Mean training loss of each epoch.

    Raises
    ------
    TypeError, ValueError
        If ``epochs`` is not a positive integer, ``train_loader`` is empty, or as in
        :func:`train` for ``model`` and ``device``.

    Notes
    -----
    MMiDS, Section 8.5 (three epochs of Adam on MNIST).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    history = []
    for epoch in range(1, epochs + 1):
        history.append(train(train_loader, model, loss_fn, optimizer, device))
        if verbose:
            print(f"Epoch {epoch}/{epochs}: mean loss {history[-1]:.4f}")
    return history


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


def plot_image(probs, true_label, img, class_names, ax=None):
    """Show an image, labelled with the predicted class, its probability and the truth.

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
        The axes drawn on. The label is blue if the prediction is right, red if not.

    Notes
    -----
    Adapted from the TensorFlow classification tutorial, as in MMiDS, Section 8.5.
    """
    import matplotlib.pyplot as plt

    probs = np.asarray(probs)
    ax = plt.gca() if ax is None else ax
    predicted = int(np.argmax(probs))
    ax.imshow(np.asarray(img).squeeze(), cmap="binary")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(
        f"{class_names[predicted]} {100 * probs[predicted]:.0f}% ({class_names[true_label]})",
        color="tab:blue" if predicted == true_label else "tab:red",
    )
    return ax


def plot_value_array(probs, true_label, ax=None):
    """Bar chart of predicted class probabilities; predicted bar red, true bar blue.

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
        The axes drawn on (y axis from 0 to 1).

    Notes
    -----
    Adapted from the TensorFlow classification tutorial, as in MMiDS, Section 8.5.
    """
    import matplotlib.pyplot as plt

    probs = np.asarray(probs)
    ax = plt.gca() if ax is None else ax
    bars = ax.bar(range(len(probs)), probs, color="#777777")
    ax.set_xticks(range(len(probs)))
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    bars[int(np.argmax(probs))].set_color("tab:red")
    bars[int(true_label)].set_color("tab:blue")
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
        The figure, about 1.3 inches per image.

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
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for ax, i in zip(axes.flat, indices, strict=True):
        img, label = dataset[int(i)]
        ax.imshow(np.asarray(img).squeeze(), cmap="binary")
        ax.set_title(class_names[label], fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig
