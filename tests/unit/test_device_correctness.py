"""The helpers are right on a GPU: same minibatches, no host sync per step, NumPy via the CPU.

What can be checked without a GPU runs on PyTorch's ``meta`` device, a device that holds
shapes but no values: there, reading a value (what makes the host wait for a GPU) raises,
and a tensor cannot reach NumPy without ``.cpu()``. The tests marked ``cuda`` run the same
checks on a real GPU and skip, with the reason, where there is none.
"""

import copy

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import mmids
from conftest import NumberedImages


@pytest.fixture(scope="module")
def mnist_test_set():
    """The first 2,000 MNIST test images (a torchvision MNIST object, ToTensor transform)."""
    test_set = copy.copy(mmids.load_image_dataset("MNIST", train=False))
    test_set.data, test_set.targets = test_set.data[:2000], test_set.targets[:2000]
    return test_set


def test_on_another_device_the_order_is_drawn_from_the_cpu_generator_as_dataloader_does():
    # A permutation drawn on the device's own generator would leave the CPU's untouched.
    data = NumberedImages(100)
    torch.manual_seed(0)
    loader = DataLoader(data, batch_size=32, shuffle=True)
    expected = [[len(y) for _, y in loader] for _ in range(2)]
    after_dataloader = torch.rand(3)
    torch.manual_seed(0)
    fast = mmids.DeviceDataLoader(data, batch_size=32, shuffle=True, device="meta")
    sizes = [[len(y) for X, y in fast] for _ in range(2)]
    assert sizes == expected
    assert torch.equal(torch.rand(3), after_dataloader)  # the same draws, in the same order
    X, y = next(iter(fast))
    assert X.device.type == "meta" and y.device.type == "meta"


def test_with_a_generator_on_another_device_the_generator_ends_as_dataloaders_does():
    data = NumberedImages(96)  # 96 = 3 * 32: the sampler's extra draw at the end, too
    loader = DataLoader(
        data, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(5)
    )
    fast = mmids.DeviceDataLoader(
        data, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(5), device="meta"
    )
    for _ in range(3):
        list(loader)
        list(fast)
    assert torch.equal(fast.generator.get_state(), loader.generator.get_state())


def small_classifier(device):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).to(device)


class CountingLoader:
    """Yields the minibatches of ``loader`` and counts them."""

    def __init__(self, loader):
        self.loader, self.served = loader, 0

    def __iter__(self):
        for batch in self.loader:
            self.served += 1
            yield batch


def test_train_reads_no_value_before_the_last_minibatch():
    # On the meta device any read of a value raises: it is the host sync of a GPU. train
    # must read one value only, the epoch's loss, after its last minibatch.
    model = small_classifier("meta")
    loader = CountingLoader(
        mmids.DeviceDataLoader(NumberedImages(96), batch_size=32, shuffle=True, device="meta")
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(RuntimeError, match="meta"):
        mmids.train(loader, model, nn.CrossEntropyLoss(), optimizer, "meta")
    assert loader.served == 3


def test_test_and_predict_softmax_read_no_value_before_the_last_minibatch():
    model = small_classifier("meta")
    for run in (
        lambda loader: mmids.test(loader, model, nn.CrossEntropyLoss(), "meta"),
        lambda loader: mmids.predict_softmax(loader, model, "meta"),
    ):
        loader = CountingLoader(
            mmids.DeviceDataLoader(NumberedImages(96), batch_size=32, device="meta")
        )
        with pytest.raises((RuntimeError, NotImplementedError), match="meta"):
            run(loader)
        assert loader.served == 3


def test_the_plot_helpers_take_tensors_that_numpy_cannot():
    # A tensor that requires grad refuses np.asarray, as a GPU tensor does; the helpers
    # detach and copy to the CPU first.
    probs = torch.full((10,), 0.1, requires_grad=True)
    image = torch.rand(1, 28, 28, requires_grad=True)
    with pytest.raises(RuntimeError):
        np.asarray(probs)
    fig = mmids.plot_prediction(probs, 3, image, mmids.MNIST_CLASSES)
    assert len(fig.axes) == 2
    plt.close(fig)


# ------------------------------------------------------------------------- on a GPU


@pytest.mark.cuda
@pytest.mark.parametrize("seeded", ["generator", "global"])
def test_on_cuda_the_minibatches_are_those_of_a_dataloader(mnist_test_set, seeded):
    def make(cls, **kwargs):
        if seeded == "generator":
            kwargs["generator"] = torch.Generator().manual_seed(535)
        else:
            torch.manual_seed(535)
        return cls(mnist_test_set, batch_size=32, shuffle=True, **kwargs)

    loader = make(DataLoader)
    expected = [[(X, y) for X, y in loader] for _ in range(2)]
    after_dataloader = torch.rand(3)
    fast = make(mmids.DeviceDataLoader, device="cuda")
    actual = [[(X, y) for X, y in fast] for _ in range(2)]
    if seeded == "global":  # the same draws from the global generator
        assert torch.equal(torch.rand(3), after_dataloader)
    else:
        assert torch.equal(fast.generator.get_state(), loader.generator.get_state())
    for epoch, epoch_fast in zip(expected, actual, strict=True):
        assert len(epoch) == len(epoch_fast)
        for (X, y), (X_fast, y_fast) in zip(epoch, epoch_fast, strict=True):
            assert X_fast.device.type == "cuda" and y_fast.device.type == "cuda"
            assert torch.equal(X_fast.cpu(), X) and torch.equal(y_fast.cpu(), y)


class SyncsAreErrors:
    """Yields ``loader``'s minibatches with CUDA's sync debug mode set to "error"."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        batches = iter(self.loader)  # the epoch's permutation is copied here, once
        torch.cuda.set_sync_debug_mode("error")
        try:
            yield from batches
        finally:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.cuda
def test_on_cuda_a_training_step_never_waits_for_the_gpu(mnist_test_set):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 32), nn.ReLU(), nn.Linear(32, 10))
    model = model.to("cuda")
    loader = mmids.DeviceDataLoader(mnist_test_set, batch_size=32, shuffle=True, device="cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = mmids.train(SyncsAreErrors(loader), model, nn.CrossEntropyLoss(), optimizer, "cuda")
    assert 0 < loss < 2.5


@pytest.mark.cuda
def test_on_cuda_evaluation_and_plots_give_what_the_cpu_gives(mnist_test_set):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    cpu_loader = mmids.DeviceDataLoader(mnist_test_set, batch_size=500)
    gpu_loader = mmids.DeviceDataLoader(mnist_test_set, batch_size=500, device="cuda")
    loss_fn = nn.CrossEntropyLoss()
    on_cpu = mmids.predict_softmax(cpu_loader, model, "cpu")
    accuracy_cpu, _ = mmids.test(cpu_loader, model, loss_fn, "cpu")
    model = model.to("cuda")
    on_gpu = mmids.predict_softmax(gpu_loader, model, "cuda")
    accuracy_gpu, _ = mmids.test(gpu_loader, model, loss_fn, "cuda")
    assert on_gpu.device.type == "cpu"
    assert torch.allclose(on_gpu, on_cpu, atol=1e-5)
    assert abs(accuracy_gpu - accuracy_cpu) <= 2 / len(mnist_test_set)
    probs, image = on_gpu[0].to("cuda"), mnist_test_set[0][0].to("cuda")
    fig = mmids.plot_prediction(probs, int(mnist_test_set.targets[0]), image, mmids.MNIST_CLASSES)
    plt.close(fig)
    cm = mmids.confusion_matrix(mnist_test_set.targets.cuda(), on_gpu.argmax(1).cuda(), 10)
    assert cm.sum() == len(mnist_test_set)
