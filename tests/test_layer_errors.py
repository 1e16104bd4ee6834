"""Bad input to the layer ops: a clear error naming the op, what was wrong and the shapes, where
PyTorch also refuses (its messages checked side by side where they are the model for ours)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr
from chainrule import nn
from chainrule.errors import DTypeError, ShapeError

F = cr.nn.functional


def both_refuse(fn_ours, fn_torch, error, match):
    with pytest.raises(Exception):  # noqa: B017  (PyTorch's error class varies: RuntimeError, ValueError)
        fn_torch()
    with pytest.raises(error, match=match):
        fn_ours()


def test_conv2d_channel_mismatch_names_both_shapes():
    x, w = np.zeros((1, 3, 5, 5), np.float32), np.zeros((4, 2, 3, 3), np.float32)
    both_refuse(lambda: F.conv2d(cr.tensor(x), cr.tensor(w)),
                lambda: torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w)),
                ShapeError, r"conv2d: weight of size \[4, 2, 3, 3\] with groups=1 expects input to have 2 channels, "
                            r"but got input of size \[1, 3, 5, 5\] with 3 channels")


def test_conv2d_kernel_larger_than_input():
    x, w = np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 1, 3, 3), np.float32)
    both_refuse(lambda: F.conv2d(cr.tensor(x), cr.tensor(w)),
                lambda: torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w)),
                ShapeError, r"conv2d: input \(1, 1, 2, 2\) .* is smaller than the kernel")


def test_conv2d_dtype_mismatch():
    with pytest.raises(DTypeError, match="conv2d: input dtype float64 does not match weight dtype float32"):
        nn.Conv2d(1, 2, 3)(cr.tensor(np.zeros((1, 1, 4, 4))))


def test_conv_module_arguments():
    with pytest.raises(ValueError, match="in_channels \\(3\\) must be divisible by groups \\(2\\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ShapeError, match="conv2d: expected a 3-D \\(unbatched\\) or 4-D \\(batched\\) input"):
        nn.Conv2d(1, 1, 1)(cr.zeros(4, 4))


def test_pool_padding_more_than_half_the_kernel():
    x = np.zeros((1, 1, 6, 6), np.float32)
    both_refuse(lambda: F.max_pool2d(cr.tensor(x), 2, padding=2),
                lambda: torch.nn.functional.max_pool2d(torch.tensor(x), 2, padding=2),
                ShapeError, "max_pool2d: pad should be at most half of effective kernel size, but got pad=2 and kernel_size=2")


def test_pool_window_larger_than_input():
    x = np.zeros((1, 1, 2, 2), np.float32)
    both_refuse(lambda: F.avg_pool2d(cr.tensor(x), 3),
                lambda: torch.nn.functional.avg_pool2d(torch.tensor(x), 3),
                ShapeError, r"avg_pool2d: the input \(1, 1, 2, 2\) is too small for kernel_size=\(3, 3\)")


def test_embedding_index_out_of_range():
    w = np.zeros((4, 2), np.float32)
    both_refuse(lambda: F.embedding(np.array([1, 4]), cr.tensor(w)),
                lambda: torch.nn.functional.embedding(torch.tensor([1, 4]), torch.tensor(w)),
                IndexError, r"embedding: index 4 is out of range for 4 embeddings \(valid indices are 0..3\)")


def test_nll_and_cross_entropy_targets():
    x = np.zeros((3, 4), np.float32)
    both_refuse(lambda: F.nll_loss(cr.tensor(x), np.array([0, 4, 1])),
                lambda: torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor([0, 4, 1])),
                ShapeError, r"nll_loss: target 4 at flat index 1 is out of bounds for 4 classes")
    both_refuse(lambda: F.cross_entropy(cr.tensor(x), np.array([0, 1, 2]), weight=cr.tensor(np.ones(3, np.float32))),
                lambda: torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor([0, 1, 2]), torch.ones(3)),
                ShapeError, r"cross_entropy: weight should have shape \(4,\) \(one per class\), got \(3,\)")
    both_refuse(lambda: F.cross_entropy(cr.tensor(np.zeros((2, 4, 3), np.float32)), np.array([0, 1])),
                lambda: torch.nn.functional.cross_entropy(torch.zeros(2, 4, 3), torch.tensor([0, 1])),
                ShapeError, r"got logits \(2, 4, 3\) and labels \(2,\)")


def test_layer_norm_shape():
    x = np.zeros((2, 3), np.float32)
    both_refuse(lambda: F.layer_norm(cr.tensor(x), (4,)),
                lambda: torch.nn.functional.layer_norm(torch.tensor(x), (4,)),
                ShapeError, r"layer_norm: given normalized_shape=\[4\], expected input with shape \[\*, 4\], but got input of size \[2, 3\]")


def test_recurrent_input_size():
    both_refuse(lambda: nn.LSTM(3, 4)(cr.zeros(5, 2, 6)), lambda: torch.nn.LSTM(3, 4)(torch.zeros(5, 2, 6)),
                ShapeError, "LSTM: input.size\\(-1\\) must be equal to input_size. Expected 3, got 6")


def test_data_loader_refuses_workers():
    with pytest.raises(ValueError, match="num_workers must be 0"):
        cr.data.DataLoader(cr.data.TensorDataset(cr.zeros(3)), num_workers=2)
