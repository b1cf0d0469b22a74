"""The chapter's data sets: where they live, what each file must hold, where it comes from.

Plumbing of ``mmids`` (which re-exports :func:`data_dir`, :func:`check_data` and
:class:`DataError`): a registry of the four data sets, a check of every file by size and
sha256, and downloads that never leave a partial file behind.
"""

import contextlib
import hashlib
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATASETS", "DataError", "DataSet", "check_data", "data_dir", "resolve_root"]


@dataclass(frozen=True)
class DataSet:
    """One data set of the chapter: its files in the data folder and where they come from.

    Attributes
    ----------
    folder : str
        Sub-folder of the data folder that holds the files (``""`` for the top).
    files : dict of str to (int, str)
        File name to (size in bytes, sha256) of the file as it lies in the data folder.
    mirrors : tuple of str
        Base URLs tried in order; a file's URL is the base URL, its name, and ``.gz``
        when ``gzipped``.
    gzipped : bool
        Whether the mirrors serve each file gzipped (it is stored un-gzipped).
    """

    folder: str
    files: dict
    mirrors: tuple
    gzipped: bool

    def paths(self):
        """Paths of the files relative to the data folder (``MNIST/raw/...``), in order."""
        return [f"{self.folder}/{name}" if self.folder else name for name in self.files]


_CSV_MIRRORS = (
    "https://raw.githubusercontent.com/MMiDS-textbook/MMiDS-textbook.github.io/main/utils/datasets/",
)

#: Every data set of the chapter, by name: the one table of sizes and sha256 hashes.
#: The image files are the un-gzipped files torchvision leaves in ``<name>/raw/`` after a
#: download from the mirrors it lists (``datasets.MNIST.mirrors``, ...); the two tables
#: come from the MMiDS textbook's repository.
DATASETS = {
    "MNIST": DataSet(
        folder="MNIST/raw",
        files={
            "train-images-idx3-ubyte": (
                47040016,
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            "train-labels-idx1-ubyte": (
                60008,
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            "t10k-images-idx3-ubyte": (
                7840016,
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            "t10k-labels-idx1-ubyte": (
                10008,
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        gzipped=True,
    ),
    "FashionMNIST": DataSet(
        folder="FashionMNIST/raw",
        files={
            "train-images-idx3-ubyte": (
                47040016,
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            "train-labels-idx1-ubyte": (
                60008,
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            "t10k-images-idx3-ubyte": (
                7840016,
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            "t10k-labels-idx1-ubyte": (
                10008,
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        gzipped=True,
    ),
    "SAHeart.csv": DataSet(
        folder="",
        files={
            "SAHeart.csv": (
                21415,
                "f790dc5aaf2f3ea1342217ca0cf12a3c3524d2292e59bf51be264609282baeac",
            )
        },
        mirrors=_CSV_MIRRORS,
        gzipped=False,
    ),
    "advertising.csv": DataSet(
        folder="",
        files={
            "advertising.csv": (
                4012,
                "bab086bd954764b86a19c14c8c17b31180d7257c5517d32a781e4066f5cf8a18",
            )
        },
        mirrors=_CSV_MIRRORS,
        gzipped=False,
    ),
}
#: Seconds a download may wait for the server (to connect, or for the next bytes).
_DOWNLOAD_TIMEOUT = 30


def data_dir():
    """The folder that holds every data set of the chapter.

    ``$MMIDS_DATA_DIR`` when set (a relative value is taken relative to the current
    working directory); else the ``data/`` folder of the repository when this module is
    imported from a checkout; else ``./data``.

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


def resolve_root(root):
    """The data folder a helper was given, as an absolute path.

    Parameters
    ----------
    root : str, os.PathLike or None
        A folder (``~`` expanded, relative to the working directory), or None.

    Returns
    -------
    pathlib.Path
        ``root`` resolved, or :func:`data_dir` when ``root`` is None.
    """
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


def _urls(dataset, name):
    """The URLs from which the file ``name`` of ``dataset`` can be downloaded, in order."""
    return [mirror + name + (".gz" if dataset.gzipped else "") for mirror in dataset.mirrors]


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


def _fetch(path, dataset, unreachable):
    """Download the file ``path`` of ``dataset``; return None, or why each mirror failed.

    Each mirror is tried with pooch into a temporary folder next to ``path``; the file is
    un-gzipped (``pooch.Decompress``), checked by size and sha256, and only then moved to
    ``path`` (an atomic rename). The temporary folder, and any folder made for the file,
    are removed whatever happens, so a failed or interrupted download leaves nothing
    behind. Hosts in ``unreachable`` are skipped; a host that cannot be reached is added.
    """
    try:  # only to download: a page whose data are in place needs no pooch
        import pooch
    except ImportError:
        return ["nowhere: downloads need the package pooch (pip install pooch)"]
    new_dirs = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    reasons = []
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # no "Downloading ..." lines on the pages
    try:
        return _fetch_into(path, dataset, unreachable, reasons)
    except OSError as err:  # cannot write in the data folder
        reasons.append(f"cannot write in {path.parent}: {_why(err)}")
        return reasons
    finally:  # also on an interrupt: remove the folders made for nothing, deepest first
        logger.setLevel(level)
        for d in new_dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


def _fetch_into(path, dataset, unreachable, reasons):
    """The work of :func:`_fetch`, in a temporary folder removed on any exit."""
    import pooch
    import requests

    size, sha256 = dataset.files[path.name]
    remote = path.name + (".gz" if dataset.gzipped else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=path.parent) as tmp:
        for i, mirror in enumerate(dataset.mirrors):
            url = mirror + remote
            host = urllib.parse.urlsplit(url).netloc
            if host in unreachable:
                reasons.append(f"{url}: not tried, the host did not answer for a file above")
                continue
            # pooch checks no hash here: the sha256 is that of the un-gzipped file.
            source = pooch.create(path=Path(tmp) / str(i), base_url=mirror, registry={remote: None})
            try:
                got = Path(
                    source.fetch(
                        remote,
                        processor=pooch.Decompress(method="gzip", name=path.name)
                        if dataset.gzipped
                        else None,
                        downloader=pooch.HTTPDownloader(
                            progressbar=False, timeout=_DOWNLOAD_TIMEOUT
                        ),
                    )
                )
                problem = _damage(got, size, sha256)
                if problem:
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

    A missing or damaged file is downloaded again when ``download`` is true, from the
    mirrors of :data:`DATASETS`, into a temporary folder; it is un-gzipped, checked, and
    only then renamed into place, so no partial file is ever left where a later run would
    trust it. Each download waits at most 30 s for the server; a host that does not answer
    is not tried again in the same call.

    Parameters
    ----------
    names : sequence of str, optional
        Data sets to check, keys of :data:`DATASETS`: ``"MNIST"``, ``"FashionMNIST"``,
        ``"SAHeart.csv"``, ``"advertising.csv"``; default all of them (10 files).
    root : str or os.PathLike, optional
        Data folder; default :func:`data_dir` (``$MMIDS_DATA_DIR`` or ``data/``).
    download : bool, default True
        Try to download missing or damaged files. A damaged file is replaced only by a
        downloaded copy that passes the check; otherwise it is left as it is.
    verbose : bool, default False
        Print one line per file; the pages stay quiet.

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
    The sizes and hashes are those of the files torchvision leaves after downloading
    MNIST (LeCun et al., 1998) and Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017), and of
    the CSV files used in MMiDS, Section 8.4. Downloads use pooch (Uieda et al., 2020).
    """
    names = tuple(DATASETS) if names is None else tuple(names)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"names must be among {tuple(DATASETS)}, got {unknown}.")
    folder = resolve_root(root)
    checked, failures, unreachable = [], [], set()
    for dataset in (DATASETS[n] for n in names):
        for rel in dataset.paths():
            path = folder / rel
            checked.append(path)
            problem, why = _damage(path, *dataset.files[path.name]), None
            if verbose:
                print(f"{rel}: {problem or 'ok'}", end="", flush=True)
            if problem and download:
                if verbose:
                    print("; downloading ...", end="", flush=True)
                why = _fetch(path, dataset, unreachable)
                if verbose:
                    print(" failed" if why else " done, verified", end="")
                problem = problem if why else None
            if verbose:
                print(flush=True)
            if problem:
                failures.append((path, dataset, problem, why))
    if failures:
        raise DataError(_data_error_message(folder, failures)) from None
    return checked


def _data_error_message(folder, failures):
    env = os.environ.get("MMIDS_DATA_DIR", "").strip()
    lines = [
        f"{len(failures)} data file(s) missing or damaged in the data folder {folder}",
        f"(MMIDS_DATA_DIR={env}):" if env else "(MMIDS_DATA_DIR is not set):",
    ]
    for path, dataset, problem, why in failures:
        lines.append(f"  {path}: {problem}")
        if why is None:
            urls = ", ".join(_urls(dataset, path.name))
            lines.append(f"    comes from {urls}" + (" (gzipped)" if dataset.gzipped else ""))
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
