"""The training loop against PyTorch with the same batches, the non-finite stop, and the CLI."""

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.cli import main
from chainrule.train import TrainingDiverged, fit


def _data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(37, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.int64) + (x[:, 0] > 1)
    return x, y


def _model():
    return nn.Sequential(nn.Linear(3, 5, dtype=np.float64), nn.Tanh(), nn.Linear(5, 3, dtype=np.float64))


def test_fit_follows_pytorch_epoch_by_epoch():
    torch = pytest.importorskip("torch")
    x, y = _data()
    model = _model()
    twin = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    twin.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.3, momentum=0.9), x, y,
                  epochs=4, batch_size=8, classification=True, seed=11)
    opt = torch.optim.SGD(twin.parameters(), lr=0.3, momentum=0.9)
    expected = []
    for epoch in range(4):  # fit shuffles each epoch with default_rng([seed, epoch])
        order, total = np.random.default_rng([11, epoch]).permutation(len(x)), 0.0
        for start in range(0, len(x), 8):
            idx = order[start:start + 8]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(twin(torch.tensor(x[idx])), torch.tensor(y[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        expected.append(total / len(x))
    np.testing.assert_allclose(history["loss"], expected, rtol=1e-10)
    with torch.no_grad():
        acc = (twin(torch.tensor(x)).argmax(1).numpy() == y).mean()
    assert history["accuracy"][-1] == pytest.approx(acc)


def test_non_finite_loss_stops_with_a_clear_message():
    x, y = _data()
    model = nn.Sequential(nn.Linear(3, 1, dtype=np.float64))
    with pytest.raises(TrainingDiverged, match=r"epoch \d+, batch \d+: the loss became (nan|inf).*learning rate \(1000000\.0\)"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1e6), x * 100, y[:, None].astype(float) * 100,
            epochs=20, batch_size=37)


def test_cli_trains_iris_and_resumes(tmp_path, capsys):
    ckpt = tmp_path / "iris.npz"
    assert main(["train", "iris", "--data", "iris", "--epochs", "3", "--quiet", "--checkpoint", str(ckpt)]) == 0
    assert ckpt.exists()
    # --epochs is the total: the same command after an interruption finishes the run, no more
    assert main(["train", "iris", "--data", "iris", "--epochs", "5", "--quiet", "--resume", str(ckpt),
                 "--checkpoint", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "after epoch 3" in out and "val_accuracy" in out
    assert f"checkpoint: {ckpt} (epoch 5)" in out
    assert main(["train", "iris", "--data", "iris", "--epochs", "5", "--quiet", "--resume", str(ckpt)]) == 0
    assert "nothing to train" in capsys.readouterr().out


def test_cli_names_class_labels_given_to_a_regression_loss(tmp_path, capsys):
    spec = tmp_path / "reg.toml"
    spec.write_text('layers = [2, 1]\nloss = "mse"\n[init]\nweights = [0.5]\n')
    data = tmp_path / "cls.csv"
    data.write_text("a,b,kind\n1,2,cat\n3,4,dog\n5,6,cat\n")
    assert main(["train", str(spec), "--data", str(data), "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "column 'kind' holds class labels (cat, dog)" in err and "loss mse needs numbers" in err


def test_resumed_training_equals_uninterrupted(tmp_path):
    from chainrule.io import load_checkpoint, save_checkpoint

    x, y = _data()
    straight = _model()
    start = straight.state_dict()
    fit(straight, nn.CrossEntropyLoss(), optim.Adam(straight.parameters(), lr=0.05), x, y, epochs=5, batch_size=8, classification=True)

    first = _model()
    first.load_state_dict(start)
    opt = optim.Adam(first.parameters(), lr=0.05)
    fit(first, nn.CrossEntropyLoss(), opt, x, y, epochs=3, batch_size=8, classification=True)
    save_checkpoint(tmp_path / "c.npz", first, opt, {"epoch": 3})
    second = _model()
    opt2 = optim.Adam(second.parameters(), lr=0.05)
    meta = load_checkpoint(tmp_path / "c.npz", model=second, optimizer=opt2)["meta"]
    fit(second, nn.CrossEntropyLoss(), opt2, x, y, epochs=2, batch_size=8, start_epoch=meta["epoch"],
        classification=True)
    for name, value in straight.state_dict().items():
        np.testing.assert_allclose(second.state_dict()[name], value, rtol=1e-12)


def test_cli_diverging_run_exits_2_with_one_line(tmp_path, capsys):
    spec = tmp_path / "lin.toml"
    spec.write_text('layers = [2, 1]\nloss = "mse"\nlr = 10.0\n[init]\nweights = [0.5]\n')
    data = tmp_path / "lin.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{2 * i},{3 * i}\n" for i in range(1, 30)))
    code = main(["train", str(spec), "--data", str(data), "--epochs", "50", "--quiet", "--no-standardize"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "the loss became" in err[0]


def test_cli_feature_count_mismatch(tmp_path, capsys):
    data = tmp_path / "two.csv"
    data.write_text("a,b,label\n1,2,x\n3,4,y\n")
    assert main(["train", "iris", "--data", str(data), "--epochs", "1", "--quiet"]) == 2
    assert "expects 4 inputs" in capsys.readouterr().err
