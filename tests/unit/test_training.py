"""Unit tests of the training and evaluation helpers: get_device, train, training_loop,
test, predict_softmax, and the device guard they share (bad input gets a TypeError or
ValueError that names the argument)."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mmids
from conftest import blobs

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


# ------------------------------------------------------------------------- training


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
    assert set(history) == {"epoch", "train_loss", "seconds"}
    assert history["epoch"] == [1, 2, 3, 4]
    assert len(history["train_loss"]) == 4 and history["train_loss"][-1] < history["train_loss"][0]
    assert all(s > 0 for s in history["seconds"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for k, (line, loss, seconds) in enumerate(
        zip(lines, history["train_loss"], history["seconds"], strict=True), 1
    ):
        assert line == f"Epoch {k}/4: train loss {loss:.4f}, {seconds:.1f} s"


def test_training_loop_records_the_test_accuracy_and_loss_of_every_epoch(capsys):
    X, y = blobs(n=120)
    X_test, y_test = blobs(n=60, seed=1)
    torch.manual_seed(0)
    model, loss_fn = nn.Linear(2, 3), nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    test_loader = DataLoader(TensorDataset(X_test, y_test), batch_size=16)
    history = mmids.training_loop(
        loader, model, loss_fn, optimizer, "cpu", epochs=2, test_loader=test_loader
    )
    assert len(history["test_accuracy"]) == len(history["test_loss"]) == 2
    # The last entries are those of the trained model.
    assert (history["test_accuracy"][-1], history["test_loss"][-1]) == mmids.test(
        test_loader, model, loss_fn, "cpu"
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, loss, accuracy in zip(
        lines, history["train_loss"], history["test_accuracy"], strict=True
    ):
        assert f"train loss {loss:.4f}, test accuracy {100 * accuracy:.1f} %, " in line


def test_training_loop_is_silent_when_not_verbose(capsys):
    X, y = blobs()
    model = nn.Linear(2, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    mmids.training_loop(
        loader, model, nn.CrossEntropyLoss(), optimizer, "cpu", verbose=False, progress=True
    )
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("epochs", [0, -1, 2.0])
def test_training_loop_rejects_anything_but_a_positive_integer_number_of_epochs(epochs):
    model = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="epochs"):
        mmids.training_loop([], model, nn.CrossEntropyLoss(), None, "cpu", epochs=epochs)


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


# ------------------------------------------------------------- bad input, every helper


def loader(n=8):
    X = torch.randn(n, 2, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(X, torch.arange(n) % 3), batch_size=4)


def run_all(model, device, data=None):
    """Call each training and evaluation helper; yields a thunk per helper."""
    data = loader() if data is None else data
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.0)
    return {
        "train": lambda: mmids.train(data, model, loss_fn, optimizer, device),
        "training_loop": lambda: mmids.training_loop(
            data, model, loss_fn, optimizer, device, epochs=1, verbose=False
        ),
        "test": lambda: mmids.test(data, model, loss_fn, device),
        "predict_softmax": lambda: mmids.predict_softmax(data, model, device),
    }


HELPERS = ["train", "training_loop", "test", "predict_softmax"]


@pytest.mark.parametrize("helper", HELPERS)
def test_training_and_evaluation_reject_an_empty_loader(helper):
    empty = DataLoader(TensorDataset(torch.empty(0, 2), torch.empty(0, dtype=torch.long)))
    with pytest.raises(ValueError, match="dataloader yielded no (minibatch|sample)"):
        run_all(nn.Linear(2, 3), "cpu", data=empty)[helper]()


class TwoDevices(nn.Module):
    """A model with one layer on the CPU and one on the meta device."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(2, 3)
        self.second = nn.Linear(3, 3, device="meta")


@pytest.mark.parametrize("helper", HELPERS)
def test_a_model_on_several_devices_is_an_error(helper):
    with pytest.raises(ValueError, match=r"model has parameters on several devices \(cpu, meta\)"):
        run_all(TwoDevices(), "cpu")[helper]()


@pytest.mark.parametrize("helper", HELPERS)
def test_a_device_other_than_the_models_is_an_error_before_any_work(helper):
    model = nn.Linear(2, 3, device="meta")
    with pytest.raises(ValueError, match="device is 'cpu' but model is on 'meta'.*model.to"):
        run_all(model, "cpu")[helper]()


@pytest.mark.parametrize("helper", HELPERS)
@pytest.mark.parametrize(
    "model, device, error, message",
    [
        (lambda x: x, "cpu", TypeError, "model must be a torch.nn.Module, got function"),
        (nn.Linear(2, 3), 3.5, TypeError, "device must be a torch.device or a str, got float"),
        (nn.Linear(2, 3), "gpu0", ValueError, "device 'gpu0' is not a device name"),
    ],
    ids=["function as model", "float as device", "unknown device name"],
)
def test_a_model_or_device_that_is_not_one_is_an_error(helper, model, device, error, message):
    with pytest.raises(error, match=message):
        run_all(model, device)[helper]()


class Recorder(nn.Module):
    """Records the device of every input; its weight lives on ``device``.

    The output is made on the CPU, so the test can run with a ``meta`` model, which
    computes nothing.
    """

    def __init__(self, device):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3, device=device))
        self.seen = set()

    def forward(self, X):
        self.seen.add(X.device)
        return torch.zeros(len(X), 3, requires_grad=True)


@pytest.mark.parametrize("helper", ["train", "predict_softmax"])
def test_batches_are_moved_to_the_models_device(helper):
    model = Recorder("meta")
    data = loader()
    if helper == "train":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        mmids.train(data, model, lambda pred, y: pred.sum(), optimizer, "meta")
    else:
        assert mmids.predict_softmax(data, model, "meta").shape == (8, 3)
    assert model.seen == {torch.device("meta")}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_cpu_batches_go_to_the_model_and_cuda_means_its_device():
    torch.manual_seed(0)
    model = nn.Linear(2, 3).to("cuda")
    thunks = run_all(model, "cuda")  # "cuda" agrees with the model's cuda:0
    thunks["train"]()
    accuracy, loss = thunks["test"]()
    probs = thunks["predict_softmax"]()
    assert 0 <= accuracy <= 1 and loss > 0 and probs.device.type == "cpu"
    with pytest.raises(ValueError, match="device is 'cpu' but model is on 'cuda:0'"):
        run_all(model, "cpu")["test"]()
