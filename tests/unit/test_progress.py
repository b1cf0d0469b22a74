"""Unit tests of mmids_progress: the progress bar of training_loop (it changes no number,
reads the running loss on the host only every 50 minibatches, obeys MMIDS_PROGRESS) and
glue, which hands numbers to the book's prose."""

import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mmids
import mmids_progress
from conftest import blobs


def seeded_run(progress, steps=60, epochs=2):
    """Train a small classifier from a fixed seed; return its history and weights."""
    X, y = blobs(n=2 * steps)
    torch.manual_seed(3)
    model = nn.Linear(2, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(X, y), batch_size=2, shuffle=True)  # `steps` minibatches
    history = mmids.training_loop(
        loader, model, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=epochs, progress=progress
    )
    return history, [p.detach().clone() for p in model.parameters()]


def test_the_progress_bar_changes_neither_the_losses_nor_the_weights():
    with_bar, weights_with_bar = seeded_run(progress=True)
    without_bar, weights_without_bar = seeded_run(progress=False)
    assert with_bar["train_loss"] == without_bar["train_loss"]
    for a, b in zip(weights_with_bar, weights_without_bar, strict=True):
        assert torch.equal(a, b)


def test_the_progress_bar_shows_the_running_loss_and_leaves_only_the_epoch_lines(capsys):
    history, _ = seeded_run(progress=True)
    captured = capsys.readouterr()
    assert "Epoch 1/2" in captured.err and "Epoch 2/2" in captured.err  # the bars (stderr)
    assert "/60 [" in captured.err and "loss=" in captured.err  # 60 minibatches, 2 refreshes
    assert captured.out.splitlines() == [
        f"Epoch {k}/2: train loss {loss:.4f}, {s:.1f} s"
        for k, loss, s in zip((1, 2), history["train_loss"], history["seconds"], strict=True)
    ]


class RecordingBar:
    """Stands for tqdm: records what the training loop asks of its bar."""

    made = []

    def __init__(self, **kwargs):
        self.kwargs, self.updates, self.postfixes, self.closed = kwargs, 0, [], False
        RecordingBar.made.append(self)

    def update(self, n):
        self.updates += n

    def set_postfix(self, **values):
        self.postfixes.append(values)

    def close(self):
        self.closed = True


def test_the_bar_reads_the_running_loss_only_every_50_minibatches(monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(mmids_progress, "_tqdm", lambda: RecordingBar)
    seeded_run(progress=True, steps=120, epochs=1)
    (bar,) = RecordingBar.made
    assert bar.kwargs["total"] == 120 and bar.kwargs["leave"] is False
    assert bar.updates == 120 and bar.closed
    assert len(bar.postfixes) == 2  # after minibatches 50 and 100: two host reads, not 120
    assert all(float(p["loss"]) > 0 for p in bar.postfixes)


def test_the_running_loss_of_the_bar_is_the_sample_weighted_mean_so_far(monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(mmids_progress, "_tqdm", lambda: RecordingBar)
    progress = mmids_progress.EpochProgress(total=4, desc="Epoch 1/1", every=2)
    for loss, n in [(1.0, 2), (4.0, 1), (0.5, 4), (0.5, 4)]:
        progress.observe(torch.tensor(loss), n)
    assert RecordingBar.made[0].postfixes == [{"loss": "2.0000"}, {"loss": "0.9091"}]  # 6/3, 10/11


@pytest.mark.parametrize("setting, shown", [("0", False), ("off", False), ("1", True), ("", True)])
def test_mmids_progress_turns_the_bars_off_or_on(monkeypatch, capsys, setting, shown):
    monkeypatch.setenv("MMIDS_PROGRESS", setting)
    seeded_run(progress=None, steps=5, epochs=1)
    assert ("Epoch 1/1" in capsys.readouterr().err) is shown


def test_mmids_progress_rejects_a_setting_it_does_not_understand(monkeypatch):
    monkeypatch.setenv("MMIDS_PROGRESS", "maybe")
    with pytest.raises(ValueError, match="MMIDS_PROGRESS"):
        seeded_run(progress=None, steps=5, epochs=1)


def test_the_suite_runs_training_without_a_bar_so_its_notebook_kernels_show_none(capsys):
    # The notebook kernels of nbval and of the standalone test inherit this process's
    # environment (conftest.py sets MMIDS_PROGRESS=0): a training loop left to its default
    # must show no bar here, or the notebooks' outputs would hold one.
    seeded_run(progress=None, steps=5, epochs=1)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "progress, setting, expected",
    [(None, "", True), (None, "OFF", False), (None, " yes ", True), (False, "1", False)],
)
def test_progress_enabled_prefers_the_argument_then_reads_the_environment(
    monkeypatch, progress, setting, expected
):
    monkeypatch.setenv("MMIDS_PROGRESS", setting)
    assert mmids_progress.progress_enabled(progress) is expected


def test_batch_count_is_the_length_of_a_loader_or_none():
    assert mmids_progress.batch_count([1, 2, 3]) == 3
    assert mmids_progress.batch_count(iter([1, 2, 3])) is None


def test_glue_does_nothing_without_myst_nb(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as in Colab: import fails
    assert mmids.glue("cnn_accuracy", "98.7 %") is None
    assert capsys.readouterr() == ("", "")


def test_glue_wants_an_identifier_and_a_formatted_string():
    with pytest.raises(TypeError, match="formatted string"):
        mmids.glue("cnn_accuracy", 0.987)
    with pytest.raises(ValueError, match="identifier"):
        mmids.glue("cnn accuracy", "98.7 %")
