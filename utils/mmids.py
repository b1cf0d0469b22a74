"""The helpers of the chapter "Deep neural networks, automatic differentiation and
stochastic gradient descent" (MMiDS, S. Roch, Chapter 8), imported by the pages as ``mmids``.

They come in the order the chapter meets them. The plumbing lives apart and is re-exported
here: data checks and downloads (``mmids_data``), the device-resident loader and the device
guard (``mmids_loader``), the progress bar and the glued numbers (``mmids_progress``), and
the accessible figures: colours, sizes, captions, the prediction display (``mmids_figures``).
Importing ``mmids`` has no side effect: no seeding, no downloads, no warning filters.
"""

import os
import time

import numpy as np

import mmids_figures as _figures
from mmids_data import DataError, check_data, data_dir, resolve_root
from mmids_figures import (
    describe_confusion_matrix,
    describe_history,
    describe_prediction,
    plot_image,
    plot_prediction,
    plot_value_array,
)
from mmids_loader import DeviceDataLoader, model_device
from mmids_progress import EpochProgress, batch_count, glue, progress_enabled

# fmt: off
__all__ = [
    "get_device", "data_dir", "check_data", "DataError", "load_image_dataset", "load_csv",
    "DeviceDataLoader", "train", "training_loop", "test", "predict_softmax", "confusion_matrix",
    "ls_by_qr", "plot_samples", "plot_history", "plot_image", "plot_value_array",
    "plot_prediction", "plot_confusion_matrix", "plot_misclassified", "describe_history",
    "describe_prediction", "describe_confusion_matrix", "glue", "MNIST_CLASSES",
    "FASHION_MNIST_CLASSES",
]
# fmt: on

_DEVICES = ("cuda", "mps", "cpu")

# --------------------------------------------------------------------------- devices


def get_device():
    """Choose the device to compute on: CUDA, then Apple MPS, then the CPU (MMiDS, 8.5).

    Returns
    -------
    torch.device
        The first available of ``cuda``, ``mps``, ``cpu``; or the one that the
        environment variable ``MMIDS_DEVICE`` (``cpu``, ``cuda`` or ``mps``) forces.

    Raises
    ------
    ValueError
        If ``MMIDS_DEVICE`` names another device.
    RuntimeError
        If ``MMIDS_DEVICE`` names a device that this machine cannot use.
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


# ------------------------------------------------------------------------- data sets


def load_image_dataset(name, train=True, root=None):
    """MNIST or Fashion-MNIST through torchvision, as float tensors in ``[0, 1]``.

    MNIST: LeCun et al. (1998); Fashion-MNIST: Xiao, Rasul & Vollgraf (2017). MMiDS, 8.1, 8.5.

    Parameters
    ----------
    name : {"MNIST", "FashionMNIST"}
        Which data set.
    train : bool, default True
        The 60,000 training images, or else the 10,000 test images.
    root : str or os.PathLike, optional
        Data folder (files in ``<root>/<name>/raw/``); default :func:`data_dir`.

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
        If a file is missing or damaged and cannot be downloaded (:func:`check_data`).
    """
    from torchvision import datasets, transforms

    folder = _checked_folder(name, ("MNIST", "FashionMNIST"), root)
    cls = getattr(datasets, name)
    return cls(root=folder, train=train, download=False, transform=transforms.ToTensor())


def load_csv(name, root=None):
    """One of the chapter's two tables (MMiDS, 8.4), checked by size and sha256, then read.

    Parameters
    ----------
    name : {"SAHeart.csv", "advertising.csv"}
        South African heart disease data (ESL, Section 4.4.2; 462 rows, 9 columns, the
        class in ``chd``) or ISLR's Advertising data (200 rows: TV, radio, newspaper, sales).
    root : str or os.PathLike, optional
        Data folder; default :func:`data_dir`.

    Returns
    -------
    pandas.DataFrame
        The table as read by :func:`pandas.read_csv`.

    Raises
    ------
    ValueError
        If ``name`` is not one of the two tables.
    DataError
        If the file is missing or damaged and cannot be downloaded (:func:`check_data`).
    """
    import pandas as pd

    return pd.read_csv(_checked_folder(name, ("SAHeart.csv", "advertising.csv"), root) / name)


def _checked_folder(name, names, root):
    """The data folder, once the data set ``name`` (one of ``names``) is checked in it."""
    if name not in names:
        raise ValueError(f"name must be one of {names}, got {name!r}.")
    folder = resolve_root(root)
    check_data([name], root=folder)
    return folder


# ------------------------------------------------------------------------- training


def train(dataloader, model, loss_fn, optimizer, device):
    """One epoch of minibatch training; returns the mean training loss.

    ``dataloader`` yields ``(X, y)``: ``X`` float32 ``(B, ...)``, ``y`` int64 class
    labels ``(B,)`` or float targets ``(B, k)``; ``loss_fn(model(X), y)`` is a minibatch's
    mean loss. ``device`` is the model's (``"cuda"`` matches any CUDA device). The mean is
    over samples. Raises TypeError or ValueError if ``model`` is not a module, ``device``
    not its device, or the loader is empty. MMiDS, Section 8.5.
    """
    device = model_device(model, device)  # the model's device; an error if they differ
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
    """Train for several epochs with :func:`train`, reporting each epoch (MMiDS, 8.5).

    Parameters
    ----------
    train_loader, model, loss_fn, optimizer, device
        As in :func:`train`.
    epochs : int, default 3
        Number of passes over the training set, ``>= 1``.
    verbose : bool, default True
        Print one line per epoch, e.g. ``Epoch 2/3: train loss 0.2914, test accuracy
        92.0 %, 11.8 s``; if false, print nothing and show no progress bar.
    test_loader : DataLoader or DeviceDataLoader, optional
        Test set, as in :func:`test`, evaluated after every epoch (not timed).
    progress : bool, optional
        Show a progress bar (tqdm) with the running mean loss during each epoch.
        Default: on, unless the environment variable ``MMIDS_PROGRESS`` is ``0``.

    Returns
    -------
    dict of str to list
        One entry per epoch in each list: ``"epoch"``, ``"train_loss"`` (as :func:`train`
        returns), ``"seconds"`` (of training), and with ``test_loader`` ``"test_loss"``
        and ``"test_accuracy"`` (as :func:`test` returns, the accuracy in ``[0, 1]``).

    Raises
    ------
    TypeError, ValueError
        If ``epochs`` is not a positive integer, ``MMIDS_PROGRESS`` is not understood, or
        as in :func:`train`.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    show_bar = verbose and progress_enabled(progress)
    history = {"epoch": [], "train_loss": [], "seconds": []}
    if test_loader is not None:
        history.update(test_loss=[], test_accuracy=[])
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        if show_bar:
            bar = EpochProgress(batch_count(train_loader), f"Epoch {epoch}/{epochs}")
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


def test(dataloader, model, loss_fn, device):
    """Accuracy and mean loss of a classifier on a data set.

    Evaluation mode, no gradients (MMiDS, Section 8.5).

    Parameters
    ----------
    dataloader, model, device
        As in :func:`train`; ``y`` holds int64 class labels, the model returns logits
        of shape ``(B, k)``.
    loss_fn : callable
        ``loss_fn(logits, y)``: mean loss of a minibatch, e.g. cross-entropy.

    Returns
    -------
    accuracy : float
        Fraction of samples whose largest logit is the true class, in ``[0, 1]``.
    mean_loss : float
        Loss averaged over samples (not over minibatches).

    Raises
    ------
    TypeError, ValueError
        If ``dataloader`` yields no sample, or as in :func:`train`.
    """
    import torch

    device = model_device(model, device)
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

    The model ends with logits: ``nn.CrossEntropyLoss`` applies the softmax (MMiDS, 8.5).

    Parameters
    ----------
    dataloader, model, device
        As in :func:`test`; ``y`` is ignored. ``shuffle=False`` keeps the data's order.

    Returns
    -------
    torch.Tensor, shape (N, k), on the CPU
        Row ``i`` is the softmax of the logits of sample ``i`` (same dtype as the logits).

    Raises
    ------
    TypeError, ValueError
        If the loader is empty, or as in :func:`test`.
    """
    import torch

    device = model_device(model, device)
    model.eval()
    chunks = []
    with torch.no_grad():
        for X, _ in dataloader:
            chunks.append(torch.softmax(model(X.to(device)), dim=1))
    if not chunks:
        raise ValueError("dataloader yielded no sample; check the data set is not empty.")
    return torch.cat(chunks, dim=0).cpu()  # one copy from the device, not one per minibatch


def _labels(x, name):
    x = _figures.as_numpy(x)
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

    Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, Section 9.2.5;
    one ``numpy.bincount`` over the index pairs ``k * i + j``.

    Parameters
    ----------
    true_labels, predicted_labels : array_like or torch.Tensor, shape (N,), integer
        True and predicted class of each sample (e.g. ``probs.argmax(1)``), in ``0 .. k-1``;
        tensors may live on any device.
    num_classes : int, optional
        ``k``. Default: one more than the largest label seen.

    Returns
    -------
    numpy.ndarray, shape (k, k), int64
        Entry ``[i, j]`` counts the samples of true class ``i`` predicted as ``j`` (rows:
        true classes, as in scikit-learn); the trace counts the correct predictions.

    Raises
    ------
    ValueError
        If the labels are not 1-D integer arrays of the same length, a label is negative
        or not below ``num_classes``, or ``num_classes`` is not a positive integer.
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

    ``A = Q R`` (``scipy.linalg.qr``, economic mode), then ``R x = Q^T b`` by back
    substitution (MMiDS, Section 2.3).

    Parameters
    ----------
    A, b : array_like, float, shapes (n, d) and (n,)
        Design matrix with full column rank (``n >= d``) and response vector.

    Returns
    -------
    numpy.ndarray, shape (d,), float64
        The minimiser of ``||A x - b||_2``.

    Raises
    ------
    TypeError
        If ``A`` or ``b`` is not numeric.
    ValueError
        If ``A`` is not 2-D, ``b`` not of shape ``(n,)``, ``n < d``, an entry is not
        finite, or ``A`` is rank-deficient (as ``numpy.linalg.matrix_rank`` decides).
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


# ------------------------------------------------------------------------- plotting


def plot_samples(dataset, class_names, nrows=3, ncols=6, seed=0):
    """Grid of randomly drawn images from a data set, each titled with its class.

    Replaces the sample sprites that the textbook hot-links with images of the data set.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Item ``i`` is ``(image, label)``: an image of shape ``(1, H, W)`` or ``(H, W)``
        and an integer label.
    class_names : sequence of str
        Name of each label.
    nrows, ncols : int, default 3 and 6
        Shape of the grid, at most ``len(dataset)`` images.
    seed : int, default 0
        Seed of the draw (without replacement): the grid is reproducible.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the grid is empty or larger than the data set.
    """
    import matplotlib.pyplot as plt

    count = nrows * ncols
    if nrows < 1 or ncols < 1 or count > len(dataset):
        raise ValueError(f"a {nrows} x {ncols} grid needs 1 to {len(dataset)} images, got {count}.")
    indices = np.random.default_rng(seed).choice(len(dataset), size=count, replace=False)
    cell = min(1.3, _figures.PAGE_WIDTH / ncols)  # inches per image
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, (cell + 0.3) * nrows), squeeze=False
    )
    for ax, i in zip(axes.flat, indices, strict=True):
        img, label = dataset[int(i)]
        ax.imshow(_figures.as_numpy(img).squeeze(), cmap="binary")
        ax.set_title(class_names[label], fontsize=_figures.FONT_SIZE - 1)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm, class_names, ax=None):
    """Draw a confusion matrix as a grid of counts, true classes down, predictions across.

    The display of scikit-learn's ``ConfusionMatrixDisplay``, with matplotlib only.

    Parameters
    ----------
    cm : array_like, shape (k, k), non-negative integers
        Counts, as :func:`confusion_matrix` returns them.
    class_names : sequence of str, length k
        Tick labels.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure of about 0.6 inch per class.

    Returns
    -------
    matplotlib.axes.Axes
        Cells shaded by count on a log scale (rare confusions show next to the large
        diagonal), each with its count written in it.

    Raises
    ------
    ValueError
        If ``cm`` is not a square array of non-negative integers, or ``class_names`` does
        not name each row.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    cm = _figures.check_counts(cm, class_names)
    k = cm.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 + 0.6 * k, 1.2 + 0.6 * k))
    top = max(int(cm.max()), 1)
    # Log shading: zero cells stay white, single errors are already visible.
    cmap, norm = plt.get_cmap("cividis"), LogNorm(vmin=1, vmax=max(top, 2))
    ax.imshow(np.ma.masked_equal(cm, 0), cmap=cmap, norm=norm)
    for i in range(k):
        for j in range(k):
            rgb = cmap(norm(cm[i, j]))[:3] if cm[i, j] else (1.0, 1.0, 1.0)
            colour = _figures.text_colour_on(rgb)
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=_figures.FONT_SIZE - 1,
                color=colour,
            )
    slanted = max(len(str(name)) for name in class_names) > 2  # long names would overlap
    ax.set_xticks(
        range(k),
        labels=list(class_names),
        rotation=45 if slanted else 0,
        ha="right" if slanted else "center",
    )
    ax.set_yticks(range(k), labels=list(class_names))
    ax.tick_params(labelsize=_figures.FONT_SIZE)
    ax.set_xlabel("predicted class", fontsize=_figures.FONT_SIZE)
    ax.set_ylabel("true class", fontsize=_figures.FONT_SIZE)
    return ax


def plot_misclassified(images, true_labels, predicted_labels, class_names, nrows=3, ncols=6):
    """Grid of the first misclassified images, each titled with its prediction and truth.

    Extends the single-image views of MMiDS, Section 8.5 to a grid of mistakes.

    Parameters
    ----------
    images : array_like or torch.Tensor, shape (N, H, W) or (N, 1, H, W)
        Grey-level images, any numeric dtype.
    true_labels, predicted_labels : array_like or torch.Tensor, shape (N,), integer
        As for :func:`confusion_matrix`.
    class_names : sequence of str
        Name of each class.
    nrows, ncols : int, default 3 and 6
        Shape of the grid: the first ``nrows * ncols`` errors, in the data set's order.

    Returns
    -------
    matplotlib.figure.Figure
        Titles read the prediction over ``(true class)``; with no error, so does the
        figure's title.

    Raises
    ------
    ValueError
        If there is not one image and one label per sample, a label has no name, or the
        grid is empty.
    """
    import matplotlib.pyplot as plt

    images = _figures.as_numpy(images)
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
    cell = min(1.4, _figures.PAGE_WIDTH / ncols)  # inches per image
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, (cell + 0.45) * nrows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong, strict=False):  # the grid may have spare cells
        ax.imshow(images[i], cmap="binary")
        ax.set_title(
            f"{class_names[predicted[i]]}\n({class_names[true[i]]})",
            fontsize=_figures.FONT_SIZE - 1,
        )
    if len(wrong) == 0:
        fig.suptitle("No misclassified image")
    fig.tight_layout()
    return fig


def plot_history(history):
    """Curves of the training loss, and of the test loss and accuracy when recorded.

    Learning curves (Goodfellow, Bengio & Courville, *Deep Learning*, Section 7.8).

    Parameters
    ----------
    history : dict of str to list
        As :func:`training_loop` returns it: ``"epoch"``, ``"train_loss"``, and
        optionally ``"test_loss"`` and ``"test_accuracy"`` (in ``[0, 1]``).

    Returns
    -------
    matplotlib.figure.Figure
        The mean losses per epoch; a second panel shows a test accuracy, in percent.

    Raises
    ------
    ValueError
        If ``history`` lacks ``"epoch"`` or ``"train_loss"``, has no epoch, or its lists
        differ in length.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = _figures.check_history(history, "plot")
    with_accuracy = "test_accuracy" in history
    fig, axes = plt.subplots(
        1,
        2 if with_accuracy else 1,
        figsize=(_figures.PAGE_WIDTH if with_accuracy else 4, 3),
        squeeze=False,
    )
    loss_ax = axes[0, 0]
    loss_ax.plot(epochs, history["train_loss"], "o-", color=_figures.RIGHT_COLOUR, label="training")
    if "test_loss" in history:
        loss_ax.plot(epochs, history["test_loss"], "s--", color=_figures.WRONG_COLOUR, label="test")
    loss_ax.set_ylabel("mean loss", fontsize=_figures.FONT_SIZE)
    loss_ax.legend(fontsize=_figures.FONT_SIZE)
    if with_accuracy:
        acc_ax = axes[0, 1]
        acc_ax.plot(
            epochs, 100 * np.asarray(history["test_accuracy"]), "s--", color=_figures.WRONG_COLOUR
        )
        acc_ax.set_ylabel("test accuracy (%)", fontsize=_figures.FONT_SIZE)
    for ax in axes.flat:
        ax.set_xlabel("epoch", fontsize=_figures.FONT_SIZE)
        ax.tick_params(labelsize=_figures.FONT_SIZE - 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------- class names


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
