"""``Dataset``, ``TensorDataset`` and ``DataLoader`` with ``torch.utils.data``'s semantics.

A ``DataLoader`` yields mini-batches: with ``shuffle`` a fresh permutation every epoch, drawn from
``generator`` (a NumPy Generator or an int seed) or else from the generator that ``cr.manual_seed``
seeds; ``drop_last`` drops a short final batch; samples are merged by ``collate_fn``
(``default_collate``: tensors and arrays stacked along a new first axis, numbers into a tensor,
tuples, lists and dicts collated field by field). Everything runs in the calling process
(``num_workers`` must be 0).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..functional import stack
from ..random import generator as global_generator
from ..tensor import Tensor


class Dataset:
    """A map-style data set: ``len(ds)`` samples, ``ds[i]`` the i-th one. Subclasses define both."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are the i-th rows of each tensor: ``ds[i] == (t1[i], t2[i], ...)``."""

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        if not tensors:
            raise ValueError("TensorDataset: at least one tensor is needed")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if any(s != sizes[0] for s in sizes) or sizes[0] is None:
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes} must all be equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


def default_collate(batch):
    """Merge a list of samples into a batch, as ``torch.utils.data.default_collate`` does."""
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(list(batch), 0)
    if isinstance(first, np.ndarray):
        return Tensor(np.stack(batch))
    if isinstance(first, np.generic):
        return Tensor(np.array(batch))
    if isinstance(first, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor(np.array(batch, dtype=np.float64))  # Python floats give float64, as PyTorch
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(group)) for group in zip(*batch)]  # a list for tuples too, as PyTorch
    raise TypeError(f"default_collate: batch must contain tensors, NumPy arrays, numbers, dicts or lists; found {type(first)}")


def _rng(generator):
    if generator is None:
        return None
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(f"DataLoader: generator must be a numpy.random.Generator or an int seed, got {type(generator).__name__}")


class DataLoader:
    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None, generator=None):
        if num_workers:
            raise ValueError("DataLoader: num_workers must be 0 (chainrule loads in the calling process)")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool)
                                       or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
        self.dataset, self.shuffle, self.drop_last = dataset, bool(shuffle), bool(drop_last)
        self.batch_size = None if batch_sampler is not None else batch_size
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn
        self.generator = _rng(generator)

    def _indices(self):
        if self.sampler is not None:
            return list(self.sampler)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return (self.generator or global_generator()).permutation(n)

    def _batches(self):
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        order = self._indices()
        if self.batch_size is None:
            yield from order
            return
        n, b = len(order), self.batch_size
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            yield order[start:start + b]

    def __iter__(self):
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for idx in self._batches():
            if self.batch_size is None and self.batch_sampler is None:
                sample = self.dataset[int(idx)]
                yield self.collate_fn(sample) if self.collate_fn else sample
            elif fast:  # one fancy index per tensor: the same batch as stacking the samples
                yield list(t[np.asarray(idx, dtype=np.int64)] for t in self.dataset.tensors)
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
