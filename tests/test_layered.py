"""Layered specs (a CNN block by block): validation naming the block and key, the sizes of each block,
and ``chainrule train`` on the bundled digits."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.layered import LayeredNetwork, load_layered_spec, parse_layered


def base(**changes):
    raw = {"name": "t", "input": [1, 8, 8], "loss": "cross_entropy", "optimizer": "sgd", "lr": 0.1,
           "layers": [{"kind": "conv2d", "out_channels": 4, "kernel_size": 3, "activation": "relu"},
                      {"kind": "maxpool2d", "kernel_size": 2}, {"kind": "flatten"}, {"kind": "linear", "out": 10}]}
    raw.update(changes)
    return raw


def test_shipped_lenet_digits_sizes():
    spec = load_layered_spec("lenet-digits")
    # hand algebra: 1·8·8 → conv 16 (pad 1) 16·8·8 → pool 16·4·4 → conv 32 32·4·4 → pool 32·2·2 → flatten → 10
    assert spec.layers == [64, 1024, 256, 512, 128, 128, 10]
    model = LayeredNetwork(spec)
    assert model(cr.zeros(5, 64)).shape == (5, 10)
    assert sum(p.numel() for p in model.parameters()) == (16 * 9 + 16) + (32 * 16 * 9 + 32) + (128 * 10 + 10)


def test_a_fully_connected_spec_is_not_layered():
    assert load_layered_spec("iris") is None


@pytest.mark.parametrize("change,message", [
    ({"layers": [{"kind": "conv3d"}]}, "layers[0]: key 'kind': expected one of conv2d"),
    ({"layers": [{"kind": "conv2d", "kernel_size": 3}]}, "layers[0] (conv2d): key 'out_channels' is required"),
    ({"layers": [{"kind": "linear", "out": 3}]}, "layers[0] (linear): needs flat samples, but they have shape (1, 8, 8)"),
    ({"layers": [{"kind": "conv2d", "out_channels": 2, "kernel_size": 9}]}, "layers[0] (conv2d): for samples of shape (1, 8, 8)"),
    ({"layers": [{"kind": "maxpool2d", "kernel_size": 2, "size": 3}]}, "layers[0] (maxpool2d): unknown key(s) size"),
    ({"layers": [{"kind": "flatten", "activation": "swish"}]}, "layers[0]: key 'activation': expected one of"),
    ({"input": [8, 8]}, "key 'input': expected the shape of one sample"),
    ({"loss": "hinge"}, "key 'loss': expected one of cross_entropy, mse"),
    ({"widths": 3}, "unknown key(s) widths"),
])
def test_errors_name_the_block_and_key(change, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        parse_layered(base(**change), "net.toml")


def test_train_cnn_on_digits_from_the_command_line(tmp_path, capsys):
    ckpt = tmp_path / "cnn.npz"
    assert main(["train", "lenet-digits", "--data", "digits", "--epochs", "2", "--batch-size", "64", "--quiet",
                 "--checkpoint", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "lenet-digits on digits (bundled data set): 1438 training / 359 validation rows" in out
    assert ckpt.exists()
    # resuming continues from the checkpoint (parameters and optimizer state)
    assert main(["train", "lenet-digits", "--data", "digits", "--epochs", "3", "--batch-size", "64", "--quiet",
                 "--resume", str(ckpt)]) == 0
    assert "resumed from" in capsys.readouterr().out


def test_batchnorm_and_dropout_blocks_train_and_eval():
    spec = parse_layered(base(layers=[
        {"kind": "conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
        {"kind": "batchnorm", "activation": "relu"}, {"kind": "dropout", "p": 0.2}, {"kind": "avgpool2d", "kernel_size": 2},
        {"kind": "flatten"}, {"kind": "linear", "out": 4}]), "bn.toml")
    model = LayeredNetwork(spec)
    assert spec.layers == [64, 192, 192, 192, 48, 48, 4]
    x = cr.tensor(np.random.default_rng(0).standard_normal((6, 64)))
    model.train()
    model(x)
    assert int(model.body[1].num_batches_tracked.item()) == 1
    model.eval()
    a, b = model(x), model(x)
    np.testing.assert_array_equal(a.array, b.array)  # eval: running statistics, no dropout
