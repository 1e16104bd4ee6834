"""Dataset, TensorDataset and DataLoader against torch.utils.data, and the bundled digits."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr
from chainrule.data import DataLoader, Dataset, TensorDataset, default_collate, load_dataset, load_digits

X = np.arange(23 * 3, dtype=np.float32).reshape(23, 3)
Y = np.arange(23) % 4


def as_np(batch):
    if isinstance(batch, (list, tuple)):
        return [as_np(b) for b in batch]
    if isinstance(batch, dict):
        return {k: as_np(v) for k, v in batch.items()}
    if isinstance(batch, cr.Tensor):
        return ("tensor", batch.dtype.name, batch.array.tolist())
    if isinstance(batch, torch.Tensor):
        return ("tensor", str(batch.dtype).replace("torch.", ""), batch.numpy().tolist())
    return batch


@pytest.mark.parametrize("batch_size", [1, 4, 5, 23, 30])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_batches_equal_torch(batch_size, drop_last):
    ours = DataLoader(TensorDataset(cr.tensor(X), cr.tensor(Y)), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y)),
                                         batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [as_np(b) for b in ours] == [as_np(b) for b in theirs]


class Samples(Dataset):
    """Samples of every kind default_collate merges: tuples of arrays, numbers, strings and dicts."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 7

    def __getitem__(self, i):
        t = (cr.tensor if self.lib is cr else torch.tensor)(np.full(2, i, dtype=np.float32))
        return {"x": t, "n": i, "f": i / 2, "name": f"s{i}", "pair": (np.ones(3) * i, i % 2 == 0)}


def test_default_collate_matches_torch():
    ours = list(DataLoader(Samples(cr), batch_size=3))
    theirs = list(torch.utils.data.DataLoader(Samples(torch), batch_size=3))
    assert [as_np(b) for b in ours] == [as_np(b) for b in theirs]


def test_shuffle_is_a_fresh_permutation_each_epoch_and_seeded():
    loader = DataLoader(TensorDataset(cr.tensor(Y)), batch_size=5, shuffle=True, generator=3)
    first = np.concatenate([b[0].array for b in loader])
    second = np.concatenate([b[0].array for b in loader])
    assert sorted(first) == sorted(Y) and sorted(second) == sorted(Y)
    assert not np.array_equal(first, second)
    again = DataLoader(TensorDataset(cr.tensor(Y)), batch_size=5, shuffle=True, generator=3)
    assert np.array_equal(np.concatenate([b[0].array for b in again]), first)
    cr.manual_seed(11)
    a = [b[0].array.tolist() for b in DataLoader(TensorDataset(cr.tensor(Y)), batch_size=5, shuffle=True)]
    cr.manual_seed(11)
    b = [b[0].array.tolist() for b in DataLoader(TensorDataset(cr.tensor(Y)), batch_size=5, shuffle=True)]
    assert a == b  # no generator: cr.manual_seed decides


def test_custom_collate_and_batch_size_none():
    loader = DataLoader(TensorDataset(cr.tensor(X)), batch_size=10, collate_fn=lambda samples: len(samples))
    assert list(loader) == [10, 10, 3]
    single = list(DataLoader(TensorDataset(cr.tensor(X)), batch_size=None))
    assert len(single) == 23 and single[4][0].array.tolist() == X[4].tolist()


def test_errors_as_torch():
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(cr.tensor(X), cr.tensor(Y[:5]))
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(TensorDataset(cr.tensor(X)), batch_size=0)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([(1, 2), (3,)])


def test_digits_bundled():
    table = load_dataset("digits")
    assert table.x.shape == (1797, 64) and table.is_classification
    assert table.x.min() == 0 and table.x.max() == 16
    counts = np.bincount(table.y)
    # class sizes of the UCI test set as published with the data: 178 zeros, 182 ones, ...
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32 and labels.dtype == np.int64
    # the first image is a 0 (scikit-learn's digits.images[0]: its first row is 0 0 5 13 9 1 0 0)
    assert labels[0] == 0 and (images[0, 0, 0] * 16).tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert "digits" in cr.data.dataset_names() and "iris" in cr.data.dataset_names()
