"""Helpers shared by the pages of the chapter "Deep neural networks, automatic
differentiation and stochastic gradient descent" (MMiDS, S. Roch, Chapter 8).

The pages import this module as ``mmids``. It hides plumbing (device choice, data
access, plotting boilerplate, the epoch loop) and leaves the ideas being taught on the
pages. Importing it has no side effect: no seeding, no downloads, no warning filters.
"""

import contextlib
import io
import os
from pathlib import Path

import numpy as np

__all__ = [
    "DeviceDataLoader",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
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

# The two tabular data sets of the chapter: their public homes and checksums.
_CSV_BASE_URL = (
    "https://raw.githubusercontent.com/MMiDS-textbook/MMiDS-textbook.github.io/main/utils/datasets/"
)
_CSV_FILES = {
    "SAHeart.csv": "f790dc5aaf2f3ea1342217ca0cf12a3c3524d2292e59bf51be264609282baeac",
    "advertising.csv": "bab086bd954764b86a19c14c8c17b31180d7257c5517d32a781e4066f5cf8a18",
}
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


def load_image_dataset(name, train=True, root=None):
    """MNIST or Fashion-MNIST through torchvision, as float tensors in ``[0, 1]``.

    Files already in the data folder are used as they are; missing ones are
    downloaded by torchvision, quietly.

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
    RuntimeError
        If the files are missing and cannot be downloaded (for example offline).

    Notes
    -----
    Fashion-MNIST: Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747. MNIST: LeCun et al.
    (1998). Loading follows MMiDS, Sections 8.1 and 8.5.
    """
    from torchvision import datasets, transforms

    if name not in _IMAGE_DATASETS:
        raise ValueError(f"name must be one of {_IMAGE_DATASETS}, got {name!r}.")
    folder = _root(root)
    cls = getattr(datasets, name)
    try:
        # torchvision prints download progress; keep pages free of that chatter.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return cls(root=folder, train=train, download=True, transform=transforms.ToTensor())
    except (RuntimeError, OSError) as err:
        reason = (str(err).splitlines() or [""])[0].rstrip(": ")
        raise RuntimeError(
            f"{name} is not in {folder / name / 'raw'} and could not be downloaded "
            f"({type(err).__name__}: {reason}). Connect to the internet, or set "
            "MMIDS_DATA_DIR to an absolute path of a "
            f"folder that holds {name}/raw/ as torchvision lays it out."
        ) from err


def load_csv(name, root=None):
    """One of the chapter's two tables, fetched once with pooch and checked by sha256.

    Parameters
    ----------
    name : {"SAHeart.csv", "advertising.csv"}
        ``SAHeart.csv``: South African heart disease data (ESL, Section 4.4.2), 462
        rows, columns ``sbp, tobacco, ldl, adiposity, typea, obesity, alcohol, age,
        chd``. ``advertising.csv``: ISLR's Advertising data, 200 rows, columns
        ``TV, radio, newspaper, sales``.
    root : str or os.PathLike, optional
        Data folder; default :func:`data_dir`. The file is cached there.

    Returns
    -------
    pandas.DataFrame
        The table as read by :func:`pandas.read_csv`.

    Raises
    ------
    ValueError
        If ``name`` is not one of the two tables, or a downloaded file fails its checksum
        (pooch then deletes it).
    RuntimeError
        If the file is missing or damaged (wrong checksum) in the data folder and no copy
        can be downloaded, for example offline.

    Notes
    -----
    The files are those of the MMiDS textbook's repository (``utils/datasets/``), used in
    MMiDS, Section 8.4; pooch (Uieda et al., 2020) downloads and verifies them.
    """
    import pandas as pd
    import pooch

    if name not in _CSV_FILES:
        raise ValueError(f"name must be one of {tuple(_CSV_FILES)}, got {name!r}.")
    folder = _root(root)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # no "Downloading ..." lines on the pages
    try:
        path = pooch.retrieve(
            url=_CSV_BASE_URL + name,
            known_hash="sha256:" + _CSV_FILES[name],
            fname=name,
            path=folder,
            progressbar=False,
        )
    except OSError as err:  # requests' errors derive from OSError
        raise RuntimeError(
            f"{name} is missing or damaged in {folder} and could not be downloaded from "
            f"{_CSV_BASE_URL + name} ({type(err).__name__}). Connect to the internet, or "
            "set MMIDS_DATA_DIR to an absolute path of a folder that holds it."
        ) from err
    finally:
        logger.setLevel(level)
    return pd.read_csv(path)


# -------------------------------------------------------------------- least squares


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
    ValueError
        If ``A`` is not 2-D, ``b`` is not 1-D of length ``n``, ``n < d``, or ``A`` is
        rank-deficient (a diagonal entry of ``R`` is negligible).

    Notes
    -----
    Computes ``A = Q R`` (``scipy.linalg.qr``, economic mode) and solves
    ``R x = Q^T b`` by back substitution (MMiDS, Section 2.3, least squares by QR).
    """
    import scipy.linalg

    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D array (n, d), got shape {A.shape}.")
    n, d = A.shape
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match A {A.shape}, got {b.shape}.")
    if n < d:
        raise ValueError(f"A needs at least as many rows as columns, got shape {A.shape}.")
    Q, R = scipy.linalg.qr(A, mode="economic")
    diag = np.abs(np.diag(R))
    if d and diag.min() <= np.finfo(float).eps * max(n, d) * diag.max():
        raise ValueError("A is rank-deficient: its columns are linearly dependent.")
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
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}.")
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
        Where each minibatch is moved before the forward pass.

    Returns
    -------
    float
        Mean training loss over the samples of the epoch (each minibatch's mean loss
        weighted by its size).

    Raises
    ------
    ValueError
        If ``dataloader`` yields no minibatch.

    Notes
    -----
    Forward pass, backpropagation, optimizer step, as in MMiDS, Section 8.5 and the
    PyTorch quickstart tutorial.
    """
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
    ValueError
        If ``epochs < 1`` or the loader is empty.

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
    ValueError
        If ``dataloader`` yields no sample.

    Notes
    -----
    The model is put in evaluation mode and gradients are off (MMiDS, Section 8.5).
    """
    import torch

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
    ValueError
        If ``dataloader`` yields no sample.

    Notes
    -----
    The softmax is the last step of multinomial logistic regression; it is part of
    ``nn.CrossEntropyLoss``, not of the model (MMiDS, Section 8.5).
    """
    import torch

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
        raise ValueError(
            f"a {nrows} x {ncols} grid needs 1 to {len(dataset)} images, got {count}."
        )
    indices = np.random.default_rng(seed).choice(len(dataset), size=count, replace=False)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for ax, i in zip(axes.flat, indices):
        img, label = dataset[int(i)]
        ax.imshow(np.asarray(img).squeeze(), cmap="binary")
        ax.set_title(class_names[label], fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig
