"""Unit tests of the helpers in utils/mmids.py."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mmids

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------ devices


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.delenv("MMIDS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    return monkeypatch


def test_get_device_prefers_cuda_then_mps_then_cpu(no_accelerator):
    assert mmids.get_device() == torch.device("cpu")
    no_accelerator.setattr(torch.backends.mps, "is_available", lambda: True)
    assert mmids.get_device() == torch.device("mps")
    no_accelerator.setattr(torch.cuda, "is_available", lambda: True)
    assert mmids.get_device() == torch.device("cuda")


def test_get_device_obeys_mmids_device(no_accelerator):
    no_accelerator.setattr(torch.cuda, "is_available", lambda: True)
    no_accelerator.setenv("MMIDS_DEVICE", "cpu")
    assert mmids.get_device() == torch.device("cpu")


def test_get_device_rejects_an_unknown_or_unusable_device(no_accelerator):
    no_accelerator.setenv("MMIDS_DEVICE", "tpu")
    with pytest.raises(ValueError, match="MMIDS_DEVICE"):
        mmids.get_device()
    no_accelerator.setenv("MMIDS_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="cannot use it"):
        mmids.get_device()


# --------------------------------------------------------------------------- data


def test_data_dir_is_the_repository_data_folder_by_default(monkeypatch):
    monkeypatch.delenv("MMIDS_DATA_DIR", raising=False)
    assert mmids.data_dir() == ROOT / "data"


def test_data_dir_resolves_a_relative_mmids_data_dir_against_the_working_directory(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MMIDS_DATA_DIR", "some/folder")
    assert mmids.data_dir() == tmp_path.resolve() / "some" / "folder"


def test_load_csv_reads_the_checked_tables():
    saheart = mmids.load_csv("SAHeart.csv")
    advertising = mmids.load_csv("advertising.csv")
    assert saheart.shape == (462, 9) and set(saheart["chd"]) == {0, 1}
    assert list(advertising.columns) == ["TV", "radio", "newspaper", "sales"]
    assert len(advertising) == 200


def test_load_csv_rejects_an_unknown_table(tmp_path):
    with pytest.raises(ValueError, match="SAHeart.csv"):
        mmids.load_csv("iris.csv", root=tmp_path)


@pytest.mark.parametrize("content", [None, b"not,the,right,file\n"], ids=["missing", "damaged"])
def test_load_csv_without_a_good_copy_or_a_network_raises_a_clear_error(
    monkeypatch, tmp_path, content
):
    # A closed port on loopback stands for a machine without network access.
    monkeypatch.setattr(mmids, "_CSV_BASE_URL", "http://127.0.0.1:9/")
    if content is not None:
        (tmp_path / "SAHeart.csv").write_bytes(content)
    with pytest.raises(RuntimeError, match="MMIDS_DATA_DIR"):
        mmids.load_csv("SAHeart.csv", root=tmp_path)
    leftovers = {p.name for p in tmp_path.iterdir()} - {"SAHeart.csv"}
    assert not leftovers, f"partial download left behind: {leftovers}"


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_load_image_dataset_gives_float_images_in_the_unit_interval(name):
    test_set = mmids.load_image_dataset(name, train=False)
    assert len(test_set) == 10_000
    img, label = test_set[0]
    assert img.shape == (1, 28, 28) and img.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    assert isinstance(label, int) and 0 <= label <= 9


def test_load_image_dataset_rejects_an_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="MNIST"):
        mmids.load_image_dataset("CIFAR10", root=tmp_path)


def test_load_image_dataset_offline_and_missing_raises_a_clear_error(monkeypatch, tmp_path):
    from torchvision import datasets

    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(RuntimeError, match="MMIDS_DATA_DIR") as excinfo:
        mmids.load_image_dataset("MNIST", train=False, root=tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in str(excinfo.value)


def test_class_names_follow_the_data_sets_documentation():
    assert len(mmids.FASHION_MNIST_CLASSES) == 10
    assert mmids.FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert mmids.FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert mmids.MNIST_CLASSES == tuple("0123456789")


# -------------------------------------------------------------------- least squares


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(3, 30),
    d=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_ls_by_qr_matches_lstsq_on_random_full_rank_problems(n, d, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))  # n >= 3 >= d: full column rank almost surely
    b = rng.normal(size=n)
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.allclose(mmids.ls_by_qr(A, b), expected, atol=1e-8)


def test_ls_by_qr_recovers_an_exact_solution():
    A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    x = np.array([2.0, -3.0])
    assert np.allclose(mmids.ls_by_qr(A, A @ x), x)


@pytest.mark.parametrize(
    "A, b, message",
    [
        (np.ones(3), np.ones(3), "2-D"),
        (np.ones((3, 2)), np.ones(4), "shape"),
        (np.ones((1, 2)), np.ones(1), "at least as many rows"),
        (np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), np.ones(3), "rank-deficient"),
    ],
    ids=["1-D A", "mismatched b", "wide A", "dependent columns"],
)
def test_ls_by_qr_rejects_bad_input(A, b, message):
    with pytest.raises(ValueError, match=message):
        mmids.ls_by_qr(A, b)


# ------------------------------------------------------------------------- training


def blobs(n=90, seed=0):
    """Three well-separated clusters in the plane, labelled 0, 1, 2."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    return centres[labels] + torch.randn(n, 2, generator=g), labels


def test_train_returns_the_sample_weighted_mean_loss_of_the_epoch():
    X, y = blobs(n=70)  # minibatches of 32, 32 and 6 samples
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the weights stay put
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    mean_loss = mmids.train(loader, model, loss_fn, optimizer, "cpu")
    with torch.no_grad():
        assert mean_loss == pytest.approx(loss_fn(model(X), y).item(), rel=1e-6)


def test_training_loop_decreases_the_loss_and_reports_each_epoch(capsys):
    X, y = blobs()
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    history = mmids.training_loop(loader, model, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=4)
    assert len(history) == 4 and history[-1] < history[0]
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"Epoch {k}/4" for k in range(1, 5)]


def test_training_loop_is_silent_when_not_verbose(capsys):
    X, y = blobs()
    model = nn.Linear(2, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    mmids.training_loop(loader, model, nn.CrossEntropyLoss(), optimizer, "cpu", verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("epochs", [0, -1, 2.0])
def test_training_loop_rejects_anything_but_a_positive_integer_number_of_epochs(epochs):
    model = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="epochs"):
        mmids.training_loop([], model, nn.CrossEntropyLoss(), None, "cpu", epochs=epochs)


def test_train_test_and_predict_reject_an_empty_loader():
    model = nn.Linear(2, 3)
    empty = DataLoader(TensorDataset(torch.empty(0, 2), torch.empty(0, dtype=torch.long)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="no minibatch"):
        mmids.train(empty, model, nn.CrossEntropyLoss(), optimizer, "cpu")
    with pytest.raises(ValueError, match="no sample"):
        mmids.test(empty, model, nn.CrossEntropyLoss(), "cpu")
    with pytest.raises(ValueError, match="no sample"):
        mmids.predict_softmax(empty, model, "cpu")


def identity_classifier():
    """A linear model whose logits are its inputs: it predicts the largest coordinate."""
    model = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3))
    return model


def test_test_returns_accuracy_and_per_sample_mean_loss():
    X = torch.eye(3).repeat(3, 1) * 5  # 9 samples; the model predicts i for row e_i
    y = torch.tensor([0, 1, 2, 0, 1, 2, 1, 1, 1])  # rows 6 and 8 are misclassified
    model, loss_fn = identity_classifier(), nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=4)  # batches of 4, 4 and 1
    accuracy, mean_loss = mmids.test(loader, model, loss_fn, "cpu")
    assert accuracy == pytest.approx(7 / 9)
    with torch.no_grad():
        assert mean_loss == pytest.approx(loss_fn(model(X), y).item(), rel=1e-6)


def test_predict_softmax_gives_probabilities_in_the_data_sets_order():
    X = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    model = identity_classifier()
    loader = DataLoader(TensorDataset(X, torch.zeros(10, dtype=torch.long)), batch_size=3)
    probs = mmids.predict_softmax(loader, model, "cpu")
    assert probs.shape == (10, 3) and probs.device.type == "cpu"
    assert torch.allclose(probs.sum(dim=1), torch.ones(10))
    assert torch.allclose(probs, torch.softmax(X, dim=1))


# ------------------------------------------------------------------------- plotting


def test_plot_image_labels_a_right_prediction_in_blue_and_a_wrong_one_in_red():
    probs = np.array([0.1, 0.7, 0.2])
    names = ("cat", "dog", "owl")
    fig, (left, right) = plt.subplots(1, 2)
    mmids.plot_image(probs, 1, np.zeros((28, 28)), names, ax=left)
    mmids.plot_image(probs, 2, np.zeros((1, 28, 28)), names, ax=right)
    assert left.get_xlabel() == "dog 70% (dog)"
    assert right.get_xlabel() == "dog 70% (owl)"
    assert left.xaxis.label.get_color() != right.xaxis.label.get_color()
    plt.close(fig)


def test_plot_value_array_colours_the_predicted_and_the_true_class():
    from matplotlib.colors import to_rgba

    fig, ax = plt.subplots()
    mmids.plot_value_array(np.array([0.1, 0.7, 0.2]), 2, ax=ax)
    colours = [p.get_facecolor() for p in ax.patches]
    assert colours[1] == to_rgba("tab:red") and colours[2] == to_rgba("tab:blue")
    assert colours[0] == to_rgba("#777777")
    assert [p.get_height() for p in ax.patches] == [0.1, 0.7, 0.2]
    assert ax.get_ylim() == (0, 1)
    plt.close(fig)


def test_plot_prediction_draws_the_image_and_the_bars_side_by_side():
    fig = mmids.plot_prediction(np.array([0.6, 0.4]), 0, np.ones((28, 28)), ("a", "b"))
    image_ax, bars_ax = fig.axes
    assert len(image_ax.images) == 1 and len(bars_ax.patches) == 2
    plt.close(fig)


def test_plot_samples_titles_each_image_with_its_class_and_is_reproducible():
    images = torch.rand(20, 1, 28, 28)
    labels = torch.arange(20) % 4
    dataset = TensorDataset(images, labels)
    names = ("a", "b", "c", "d")
    first = mmids.plot_samples(dataset, names, nrows=2, ncols=3, seed=7)
    second = mmids.plot_samples(dataset, names, nrows=2, ncols=3, seed=7)
    assert len(first.axes) == 6
    for ax_1, ax_2 in zip(first.axes, second.axes, strict=True):
        shown = ax_1.images[0].get_array()
        index = next(i for i in range(20) if np.array_equal(images[i, 0].numpy(), shown))
        assert ax_1.get_title() == names[labels[index]]
        assert np.array_equal(shown, ax_2.images[0].get_array())
    plt.close("all")


def test_plot_samples_rejects_a_grid_larger_than_the_data_set():
    dataset = TensorDataset(torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="grid"):
        mmids.plot_samples(dataset, ("a",), nrows=2, ncols=3)
