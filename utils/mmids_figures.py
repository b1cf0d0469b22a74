"""Figures that every reader can read: colours, sizes and descriptions of the book's plots.

Plumbing of :mod:`mmids` (which re-exports the public names): the colours that tell right
from wrong for colour-blind readers as well, the text size and width that fit the page, the
colour of a count on a shaded cell, and the sentences that describe a figure of the run in
its caption, for readers who cannot see it (WCAG 2.1, success criterion 1.1.1).
"""

import numpy as np

# fmt: off
__all__ = [
    "RIGHT_COLOUR", "WRONG_COLOUR", "OTHER_COLOUR", "FONT_SIZE", "PAGE_WIDTH", "as_numpy",
    "text_colour_on", "plot_image", "plot_value_array", "plot_prediction", "check_history",
    "describe_history", "describe_prediction", "check_counts", "describe_confusion_matrix",
]
# fmt: on

# Figures are read by colour-blind readers too: right and wrong are told apart by text or
# hatching as well as by colour, in colours of the Okabe-Ito palette (blue, vermillion).
RIGHT_COLOUR = "#0072B2"
WRONG_COLOUR = "#D55E00"
OTHER_COLOUR = "#BBBBBB"
# Text of at least 10 points in figures at most PAGE_WIDTH inches wide (the page's width).
FONT_SIZE = 11
PAGE_WIDTH = 7.5


def as_numpy(x):
    """A NumPy copy of an array-like or a tensor on any device.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Any shape and dtype; a tensor may live on any device and require grad.

    Returns
    -------
    numpy.ndarray
        The same values (``x.detach().cpu().numpy()`` for a tensor).
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def text_colour_on(rgb):
    """``"black"`` or ``"white"``: whichever contrasts more with a background colour.

    Parameters
    ----------
    rgb : sequence of 3 floats in [0, 1]
        The background colour (sRGB).

    Returns
    -------
    str
        ``"black"`` when the background's relative luminance exceeds 0.179, else ``"white"``.

    Notes
    -----
    Relative luminance as WCAG 2.1 defines it; 0.179 is where the two contrast ratios meet.
    """
    rgb = np.asarray(rgb, dtype=float)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return "black" if float(linear @ [0.2126, 0.7152, 0.0722]) > 0.179 else "white"


def plot_image(probs, true_label, img, class_names, ax=None):
    """Show an image, labelled with the predicted class, its probability and the truth.

    After the TensorFlow classification tutorial, as in MMiDS, Section 8.5.

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
        The axes; the label is blue if the prediction is right, red if not.
    """
    import matplotlib.pyplot as plt

    probs = as_numpy(probs)
    ax = plt.gca() if ax is None else ax
    predicted = int(np.argmax(probs))
    right = predicted == int(true_label)
    ax.imshow(as_numpy(img).squeeze(), cmap="binary")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(
        f"{class_names[predicted]} {100 * probs[predicted]:.0f}% ({class_names[true_label]})\n"
        + ("right" if right else "wrong"),
        color=RIGHT_COLOUR if right else WRONG_COLOUR,
        fontweight="normal" if right else "bold",
        fontsize=FONT_SIZE,
    )
    return ax


def plot_value_array(probs, true_label, ax=None):
    """Bar chart of predicted class probabilities; predicted bar red, true bar blue.

    After the TensorFlow classification tutorial, as in MMiDS, Section 8.5.

    Parameters
    ----------
    probs, true_label, ax
        As in :func:`plot_image`.

    Returns
    -------
    matplotlib.axes.Axes
        The axes (y axis from 0 to 1).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    probs = as_numpy(probs)
    ax = plt.gca() if ax is None else ax
    bars = ax.bar(range(len(probs)), probs, color=OTHER_COLOUR, edgecolor="black", linewidth=0.5)
    ax.set_xticks(range(len(probs)))
    ax.tick_params(axis="x", labelsize=FONT_SIZE)
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    predicted = int(np.argmax(probs))
    bars[predicted].set_facecolor(WRONG_COLOUR)
    bars[predicted].set_hatch("//")
    bars[int(true_label)].set_facecolor(RIGHT_COLOUR)
    ax.legend(
        handles=[
            Patch(facecolor=RIGHT_COLOUR, edgecolor="black", label="true class"),
            Patch(facecolor="white", edgecolor="black", hatch="//", label="predicted"),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=2,
        fontsize=FONT_SIZE - 1,
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
        A 6 x 3 inch figure: :func:`plot_image` left, :func:`plot_value_array` right.
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
    plot_image(probs, true_label, img, class_names, ax=left)
    plot_value_array(probs, true_label, ax=right)
    return fig


def _trend(name, values, fmt):
    """'the NAME falls from A to B' (or rises, or stays at A), the numbers formatted by fmt."""
    first, last = fmt(values[0]), fmt(values[-1])
    if first == last:
        return f"the {name} stays at {first}"
    return f"the {name} {'falls' if values[-1] < values[0] else 'rises'} from {first} to {last}"


def check_history(history, purpose):
    """The epochs of a history that :func:`training_loop` returned, after checking it.

    Parameters
    ----------
    history : dict of str to list
        ``"epoch"``, ``"train_loss"``, and optionally ``"test_loss"``, ``"test_accuracy"``
        and ``"seconds"``, one entry per epoch.
    purpose : str
        What the caller does with it ("plot", "describe"), for the error message.

    Returns
    -------
    list
        ``history["epoch"]``, non-empty.

    Raises
    ------
    ValueError
        If ``history`` lacks ``"epoch"`` or ``"train_loss"``, has no epoch, or its lists
        differ in length.
    """
    missing = [key for key in ("epoch", "train_loss") if key not in history]
    if missing:
        raise ValueError(
            f"history lacks {', '.join(missing)}; pass the dict that training_loop returns."
        )
    epochs = list(history["epoch"])
    if not epochs:
        raise ValueError(f"history has no epoch to {purpose}.")
    keys = [k for k in ("train_loss", "test_loss", "test_accuracy", "seconds") if k in history]
    lengths = {key: len(history[key]) for key in keys}
    if any(n != len(epochs) for n in lengths.values()):
        raise ValueError(f"history has {len(epochs)} epochs but lists of lengths {lengths}.")
    return epochs


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
    n = len(check_history(history, "describe"))
    series = [("mean training loss", "train_loss", lambda v: f"{v:.2f}")]
    series += [("mean test loss", "test_loss", lambda v: f"{v:.2f}")]
    series += [("test accuracy", "test_accuracy", lambda v: f"{100 * v:.1f} %")]
    series = [item for item in series if item[1] in history]
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


def check_counts(cm, class_names):
    """A confusion matrix as a NumPy array, after checking it against its class names.

    Parameters
    ----------
    cm : array_like or torch.Tensor, shape (k, k), integer
        Counts, as :func:`mmids.confusion_matrix` returns them.
    class_names : sequence of str, length k
        Names of the classes.

    Returns
    -------
    numpy.ndarray, shape (k, k), integer

    Raises
    ------
    ValueError
        If ``cm`` is not a non-empty square array of non-negative integers, or
        ``class_names`` does not name its ``k`` classes.
    """
    cm = as_numpy(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"cm must be a square (k, k) array of counts, got shape {cm.shape}.")
    if not np.issubdtype(cm.dtype, np.integer) or cm.min() < 0:
        raise ValueError("cm must hold non-negative integer counts, as confusion_matrix returns.")
    if len(class_names) != cm.shape[0]:
        raise ValueError(
            f"class_names must name the {cm.shape[0]} classes of cm, got {len(class_names)}."
        )
    return cm


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
    cm = check_counts(cm, class_names)
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
