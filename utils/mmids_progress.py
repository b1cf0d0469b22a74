"""What a run shows besides its values: the progress bar of an epoch, the glued numbers.

Plumbing of ``mmids`` (which re-exports :func:`glue`): a reader who runs a page sees a bar
(tqdm) over the minibatches of each training epoch (``MMIDS_PROGRESS=0`` hides it), and
the book's prose shows the numbers a page glues.
"""

import os

__all__ = ["EpochProgress", "batch_count", "glue", "progress_enabled"]

_PROGRESS_EVERY = 50  # minibatches between two refreshes of the bar's running loss
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def progress_enabled(progress=None):
    """Whether to show progress bars: ``progress`` if given, else ``MMIDS_PROGRESS``.

    Parameters
    ----------
    progress : bool, optional
        The caller's choice; None defers to the environment.

    Returns
    -------
    bool
        ``bool(progress)``, or, when it is None, False if ``MMIDS_PROGRESS`` is one of
        ``0, false, no, off`` (any case) and True otherwise (also when unset).

    Raises
    ------
    ValueError
        If ``MMIDS_PROGRESS`` is set to anything else than ``0, 1, false, true, no, yes,
        off, on``.
    """
    if progress is not None:
        return bool(progress)
    setting = os.environ.get("MMIDS_PROGRESS", "").strip().lower()
    if setting and setting not in _ON + _OFF:
        raise ValueError(
            f"MMIDS_PROGRESS={setting!r} is not understood; set it to 0 to hide the "
            "progress bars or to 1 to show them."
        )
    return setting not in _OFF


def batch_count(loader):
    """``len(loader)``, or None for an iterable without a length (the bar then has no total).

    Parameters
    ----------
    loader : iterable
        A ``DataLoader``, a ``DeviceDataLoader``, or any iterable of minibatches.

    Returns
    -------
    int or None
    """
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


class EpochProgress:
    """A progress bar over the minibatches of one epoch, showing the running mean loss.

    Parameters
    ----------
    total : int or None
        Number of minibatches in the epoch (None: unknown).
    desc : str
        Text before the bar, e.g. ``"Epoch 1/3"``.
    every : int, default 50
        Minibatches between two refreshes of the running loss.

    Notes
    -----
    The minibatch losses (scalar tensors) are summed on their device; the sum is read (a
    host synchronisation) only every ``every`` minibatches, not once per minibatch. The
    bar is ``tqdm.auto.tqdm``: a widget in Jupyter and Colab, text elsewhere; it is
    removed when closed (``leave=False``).
    """

    def __init__(self, total, desc, every=_PROGRESS_EVERY):
        self.bar = _tqdm()(total=total, desc=desc, unit="batch", leave=False, disable=False)
        self.every = every
        self.loss_sum, self.count, self.steps = 0.0, 0, 0

    def observe(self, loss, n):
        """Count one minibatch of ``n`` samples whose mean loss is ``loss`` (a tensor)."""
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
        """Remove the bar."""
        self.bar.close()


def glue(name, value):
    """Hand a formatted number to the page's prose (myst-nb glue), where myst-nb exists.

    Wraps ``myst_nb.glue`` with ``display=False`` (MyST-NB, "Embedding outputs as
    variables").

    In the book a sentence shows it with ``{glue:text}`name```. Without myst-nb (in Colab)
    nothing happens: the page prints the same number in the cell above the sentence.

    Parameters
    ----------
    name : str
        Key of the value, an identifier unique in the book, e.g. ``"cnn_accuracy"``.
    value : str
        The number as it should read, already formatted, e.g. ``f"{100 * acc:.1f} %"``.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If ``name`` is not an identifier.
    TypeError
        If ``value`` is not a string (format it on the page, so text and print agree).
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
