"""Unit tests of mmids_loader: DeviceDataLoader serves exactly the minibatches of torch's
DataLoader, and model_device says where a model's minibatches must go."""

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

import mmids
import mmids_loader
from conftest import NumberedImages


@pytest.fixture(scope="module")
def mnist_test_set():
    """The first 2,000 MNIST test images (a torchvision MNIST object, ToTensor transform)."""
    test_set = copy.copy(mmids.load_image_dataset("MNIST", train=False))
    test_set.data, test_set.targets = test_set.data[:2000], test_set.targets[:2000]
    return test_set


def epochs_of(loader, epochs):
    return [[(X.clone(), y.clone()) for X, y in loader] for _ in range(epochs)]


def assert_same_batches(expected, actual):
    assert len(actual) == len(expected)
    for epoch_expected, epoch_actual in zip(expected, actual, strict=True):
        assert len(epoch_actual) == len(epoch_expected)
        for (X, y), (X_fast, y_fast) in zip(epoch_expected, epoch_actual, strict=True):
            assert X_fast.dtype == X.dtype and y_fast.dtype == y.dtype
            assert torch.equal(X_fast, X)  # bit for bit: ToTensor is uint8.float() / 255
            assert torch.equal(y_fast, y)


@pytest.mark.parametrize("batch_size", [32, 50, 7])  # 2,000 = 62 * 32 + 16 = 40 * 50
def test_same_batches_as_a_dataloader_with_a_seeded_generator(mnist_test_set, batch_size):
    loader = DataLoader(
        mnist_test_set,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(535),
    )
    fast = mmids.DeviceDataLoader(
        mnist_test_set,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(535),
    )
    assert len(fast) == len(loader)
    assert_same_batches(epochs_of(loader, 3), epochs_of(fast, 3))
    # ... and they leave their generators in the same state.
    assert torch.equal(fast.generator.get_state(), loader.generator.get_state())


def test_same_batches_and_global_rng_as_a_dataloader_seeded_globally(mnist_test_set):
    # The pages seed the global generator (torch.manual_seed) and pass no generator.
    torch.manual_seed(0)
    expected = epochs_of(DataLoader(mnist_test_set, batch_size=32, shuffle=True), 2)
    after_dataloader = torch.rand(3)
    torch.manual_seed(0)
    actual = epochs_of(mmids.DeviceDataLoader(mnist_test_set, batch_size=32, shuffle=True), 2)
    assert_same_batches(expected, actual)
    # Same random draws, so the model initialised next gets the same weights.
    assert torch.equal(torch.rand(3), after_dataloader)


def test_without_shuffle_the_batches_follow_the_data_set(mnist_test_set):
    torch.manual_seed(1)
    expected = epochs_of(DataLoader(mnist_test_set, batch_size=300), 1)
    torch.manual_seed(1)
    actual = epochs_of(mmids.DeviceDataLoader(mnist_test_set, batch_size=300), 1)
    assert_same_batches(expected, actual)
    assert torch.equal(torch.cat([y for _, y in actual[0]]), mnist_test_set.targets)


def served_indices(X):
    pixels = (X[:, 0, 0, :2] * 255).round().long()
    return pixels[:, 0] + 256 * pixels[:, 1]


def test_every_sample_once_per_epoch_in_a_new_order():
    n = 1000
    fast = mmids.DeviceDataLoader(
        NumberedImages(n), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    orders = []
    for _ in range(3):
        batches = list(fast)
        assert [len(y) for _, y in batches] == [32] * 31 + [8]
        order = torch.cat([served_indices(X) for X, _ in batches])
        assert torch.equal(torch.sort(order).values, torch.arange(n))  # each sample once
        assert torch.equal(torch.cat([y for _, y in batches]), order % 10)  # labels follow
        orders.append(order)
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])


def test_batches_live_on_the_requested_device(mnist_test_set):
    fast = mmids.DeviceDataLoader(mnist_test_set, batch_size=32, device="cpu")
    X, y = next(iter(fast))
    assert X.device.type == "cpu" and y.device.type == "cpu"
    assert X.shape == (32, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert fast.dataset is mnist_test_set and fast.batch_size == 32 and fast.shuffle is False


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_rejects_a_batch_size_that_is_not_a_positive_integer(mnist_test_set, batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        mmids.DeviceDataLoader(mnist_test_set, batch_size=batch_size)


def test_rejects_data_it_cannot_reproduce(mnist_test_set):
    with pytest.raises(TypeError, match="MNIST-style"):
        mmids.DeviceDataLoader(Subset(mnist_test_set, range(10)), batch_size=2)
    with pytest.raises(TypeError, match="generator"):
        mmids.DeviceDataLoader(mnist_test_set, generator=0)


def test_model_device_is_the_device_of_the_parameters_or_the_one_asked_for():
    assert mmids_loader.model_device(nn.Linear(2, 3), "cpu") == torch.device("cpu")
    assert mmids_loader.model_device(nn.Linear(2, 3, device="meta"), "meta") == torch.device("meta")
    assert mmids_loader.model_device(nn.ReLU(), "meta") == torch.device("meta")  # no weights
    with pytest.raises(ValueError, match="device is 'cpu' but model is on 'meta'"):
        mmids_loader.model_device(nn.Linear(2, 3, device="meta"), "cpu")
