"""CSV loading, the bundled iris data, splits and batches."""

import numpy as np
import pytest

from chainrule.data import batches, load_csv, load_dataset, standardize, train_val_split
from chainrule.errors import SpecError


def _csv(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_iris_is_the_classic_table():
    t = load_dataset("iris")
    assert t.x.shape == (150, 4)
    assert t.classes == ["setosa", "versicolor", "virginica"]
    assert np.bincount(t.y).tolist() == [50, 50, 50]
    # Fisher's first flower: 5.1, 3.5, 1.4, 0.2, setosa
    np.testing.assert_array_equal(t.x[0], [5.1, 3.5, 1.4, 0.2])
    assert t.y[0] == 0


def test_named_classes_and_regression_targets(tmp_path):
    t = load_csv(_csv(tmp_path, "a,b,kind\n1,2,dog\n3,4,cat\n5,6,dog\n"))
    assert t.classes == ["cat", "dog"] and t.y.tolist() == [1, 0, 1]
    r = load_csv(_csv(tmp_path, "a,b,price\n1,2,3.5\n3,4,7\n", "r.csv"))
    assert r.classes is None and r.y.shape == (2, 1) and r.feature_names == ["a", "b"]
    picked = load_csv(_csv(tmp_path, "a,b,price\n1,2,3.5\n3,4,7\n", "p.csv"), target="a")
    assert picked.feature_names == ["b", "price"] and picked.y[:, 0].tolist() == [1, 3]


@pytest.mark.parametrize("text, words", [
    ("a,b,y\n1,2,3\n4,x,6\n", "line 3, column 'b': expected a number, got 'x'"),
    ("a,b,y\n1,2,3\n4,5\n", "line 3: expected 3 values"),
    ("a,a,y\n1,2,3\n", "column name 'a' appears twice"),
    ("a,b,y\n", "at least one data row"),
    ("a,b,y\n1,inf,3\n", "expected a finite number"),
])
def test_bad_cells_are_named_by_line_and_column(tmp_path, text, words):
    path = _csv(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_csv(path)
    assert str(info.value).startswith(path) and words in str(info.value)


def test_unknown_target_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="no column named 'z'"):
        load_csv(_csv(tmp_path, "a,y\n1,2\n"), target="z")
    with pytest.raises(SpecError, match="no such file"):
        load_csv(str(tmp_path / "none.csv"))


def test_split_is_disjoint_complete_and_stratified():
    x = np.arange(40, dtype=float).reshape(20, 2)
    y = np.repeat([0, 1], 10)
    (xt, yt), (xv, yv) = train_val_split(x, y, 0.3, seed=1, stratify=True)
    assert sorted(np.concatenate([xt[:, 0], xv[:, 0]]).tolist()) == x[:, 0].tolist()
    assert np.bincount(yv).tolist() == [3, 3]


def test_standardize_and_batches():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    z, mean, std = standardize(x)
    np.testing.assert_allclose(z, [[-1, 0], [1, 0]])  # constant column: std 0 is treated as 1
    idx = list(batches(7, 3, shuffle=False))
    assert [i.tolist() for i in idx] == [[0, 1, 2], [3, 4, 5], [6]]
    shuffled = np.concatenate(list(batches(7, 3, rng=np.random.default_rng(0))))
    assert sorted(shuffled.tolist()) == list(range(7))
