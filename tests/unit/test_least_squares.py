"""Bad input to the helpers gets a TypeError or ValueError that names the argument."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mmids

# -------------------------------------------------------------------- least squares


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 8), extra=st.integers(0, 30), seed=st.integers(0, 2**32 - 1))
def test_ls_by_qr_matches_lstsq_on_random_tall_full_rank_problems(d, extra, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d + extra, d)) * rng.uniform(0.1, 10, size=d)  # uneven column scales
    b = rng.normal(size=d + extra)
    assume(np.linalg.cond(A) < 1e6)  # well posed, so both solvers agree to ~1e-10
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.allclose(mmids.ls_by_qr(A, b), expected, rtol=1e-7, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(d=st.integers(2, 6), extra=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_ls_by_qr_rejects_a_matrix_with_a_dependent_column(d, extra, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d + extra, d))
    j = int(rng.integers(d))
    A[:, j] = A[:, [k for k in range(d) if k != j]] @ rng.normal(size=d - 1)
    with pytest.raises(ValueError, match="A is rank-deficient"):
        mmids.ls_by_qr(A, rng.normal(size=d + extra))


@pytest.mark.parametrize(
    "A, b, error, message",
    [
        ([["a", "b"], ["c", "d"]], [1.0, 2.0], TypeError, "A must be a numeric array"),
        (np.eye(2), {"x": 1}, TypeError, "b must be a numeric array"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), ValueError, "A contains NaN"),
        (np.eye(2), np.array([1.0, np.inf]), ValueError, "b contains NaN or infinite"),
        (np.ones((3, 2)), np.ones((3, 1)), ValueError, r"b must have shape \(3,\)"),
    ],
    ids=["text A", "dict b", "NaN in A", "inf in b", "column b"],
)
def test_ls_by_qr_names_the_bad_argument(A, b, error, message):
    with pytest.raises(error, match=message):
        mmids.ls_by_qr(A, b)


# ------------------------------------------------------------------------- training


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
