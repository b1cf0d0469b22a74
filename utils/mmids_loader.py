"""Minibatches of an image data set served from one tensor kept on the device.

Plumbing of ``mmids``, which re-exports :class:`DeviceDataLoader`: the pages use it
where the textbook uses ``torch.utils.data.DataLoader``, for speed; it yields the same
minibatches. :func:`model_device` is the guard of ``mmids``' training and evaluation
helpers: the device where a model's minibatches must go.
"""

__all__ = ["DeviceDataLoader", "model_device"]


class DeviceDataLoader:
    """Minibatches of MNIST or Fashion-MNIST served from one tensor on the device.

    A drop-in replacement for ``DataLoader(dataset, batch_size, shuffle, generator)``
    on the data sets of ``mmids.load_image_dataset``: it yields the same minibatches, in
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


def model_device(model, device):
    """The one device of ``model``'s parameters and buffers, where minibatches must go.

    The training and evaluation helpers of ``mmids`` call it before any work.

    Parameters
    ----------
    model : torch.nn.Module
        The model; its parameters and buffers must all be on one device.
    device : torch.device or str
        The device the caller means; it must agree with the model's (``"cuda"`` agrees
        with ``cuda:0``). A model without parameters or buffers runs on ``device``.

    Returns
    -------
    torch.device
        The model's device.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module`` or ``device`` not a str or device.
    ValueError
        If ``device`` is not a device name, the model is spread over several devices, or
        ``device`` is not the model's device.
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
