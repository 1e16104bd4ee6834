"""Spec loading: shipped specs, both file formats, and errors that name the file and the key."""

import json

import numpy as np
import pytest

from chainrule.errors import SpecError
from chainrule.spec import load_spec, parse_spec, shipped_specs

SEED = {
    "layers": [2, 3, 1], "activations": ["none", "none"], "bias": False, "loss": "half_sse", "lr": 1e-5,
    "init": {"weights": [0.5, 1.0]}, "data": {"x": [40, 80], "y": [60]},
}


def test_shipped_specs_include_the_required_ones():
    assert {"seed", "mazur", "relu", "softmax"} <= set(shipped_specs())


def test_seed_spec_values():
    spec = load_spec("seed")
    assert spec.layers == [2, 3, 1] and spec.lr == 1e-5 and spec.loss == "half_sse"
    np.testing.assert_array_equal(spec.weights[0], np.full((2, 3), 0.5))
    np.testing.assert_array_equal(spec.x, [[40, 80]])
    assert spec.single_sample


def test_toml_and_json_files_load_the_same(tmp_path):
    (tmp_path / "net.json").write_text(json.dumps(SEED))
    toml = tmp_path / "net.toml"
    toml.write_text(
        'layers = [2, 3, 1]\nactivations = ["none", "none"]\nbias = false\nloss = "half_sse"\nlr = 1e-5\n'
        "[init]\nweights = [0.5, 1.0]\n[data]\nx = [40, 80]\ny = [60]\n"
    )
    a, b = load_spec(str(tmp_path / "net.json")), load_spec(str(toml))
    np.testing.assert_array_equal(a.weights[1], b.weights[1])
    assert a.name == "net" and b.name == "net"


@pytest.mark.parametrize(
    "change, key, words",
    [
        ({"colour": 1}, "colour", "unknown key"),
        ({"layers": [2]}, "layers", "at least two"),
        ({"layers": [2, "x", 1]}, "layers[1]", "expected a number"),
        ({"activations": ["none"]}, "activations", "expected 2 entries"),
        ({"activations": ["none", "swish"]}, "activations[1]", "expected one of"),
        ({"loss": "l1"}, "loss", "expected one of"),
        ({"lr": -1}, "lr", "> 0"),
        ({"init": {"weights": [0.5, [[1, 2]]]}}, "init.weights[1]", "3x1 matrix"),
        ({"init": {"weights": [0.5, 1.0], "bias": 1}}, "init.bias", "unknown key"),
        ({"data": {"x": [40, 80, 1], "y": [60]}}, "data.x", "expected 2 inputs"),
        ({"data": {"x": [40, 80], "y": [60, 1]}}, "data.y", "target"),
        ({"data": {"x": [40, "a"], "y": [60]}}, "data.x[1]", "expected a number"),
        ({"layers": [2, 10**6, 1]}, "layers[1]", "neurons"),
        ({"steps": 10**9}, "steps", "1,000,000,000 steps is more than the 100,000"),
    ],
)
def test_errors_name_file_and_key(change, key, words):
    raw = {**SEED, **change}
    with pytest.raises(SpecError) as info:
        parse_spec(raw, "my.toml")
    message = str(info.value)
    assert message.startswith(f"my.toml: key '{key}'"), message
    assert words in message


def test_cross_entropy_labels_checked():
    raw = {**SEED, "layers": [2, 3], "activations": ["softmax"], "loss": "cross_entropy",
           "init": {"weights": [0.1]}, "data": {"x": [1, 2], "y": [3]}}
    with pytest.raises(SpecError, match=r"data.y\[0\]'.*out of range for 3 classes"):
        parse_spec(raw, "ce.toml")


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("layers = [2, 3\n")
    with pytest.raises(SpecError, match="bad.toml: not valid TOML"):
        load_spec(str(bad))


def test_oversized_file_refused_before_parsing(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("#" * 2_000_000)
    with pytest.raises(SpecError, match="bytes"):
        load_spec(str(big))


def test_a_dict_spec_without_a_name_is_called_spec():
    assert load_spec(dict(SEED)).name == "spec"
