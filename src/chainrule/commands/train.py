"""Train a spec's network on a CSV file or a bundled data set, with a progress bar, per-epoch
metrics, a validation split, and an atomic checkpoint after every epoch (resumable).

Examples:
  chainrule train iris --data iris --epochs 200 --checkpoint iris.npz
  chainrule train my-net.toml --data measurements.csv --target price --val 0.25
  chainrule train lenet-digits --data digits --epochs 30 --batch-size 32   (a layered spec: a CNN)
"""

from __future__ import annotations

HELP = "train a spec's network on real data (CSV or a bundled data set) with checkpoints"


def add_arguments(p) -> None:
    p.add_argument("spec", help="network spec: a .toml/.json path or a shipped spec's name (e.g. iris)")
    p.add_argument("--data", required=True, help="a CSV file with a header row, or a bundled data set (iris, digits)")
    p.add_argument("--target", help="target column (default: the last column)")
    p.add_argument("--epochs", type=int, default=100,
                   help="train until this many epochs in all; with --resume, the remaining ones (default 100)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--val", type=float, default=0.2, help="fraction held out for validation (default 0.2)")
    p.add_argument("--lr", type=float, help="override the spec's learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and the shuffling")
    p.add_argument("--no-standardize", action="store_true", help="use the raw feature values")
    p.add_argument("--checkpoint", help="write a checkpoint (.npz) here after every epoch")
    p.add_argument("--resume", help="continue from this checkpoint")
    p.add_argument("--plot", help="save the loss curve to this image (.png/.svg/.pdf)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")


def _load_data(args):
    import os

    from ..data import dataset_names, load_csv, load_dataset

    if not os.path.exists(args.data) and args.data in dataset_names():
        table = load_dataset(args.data)
        if args.target and args.target not in table.target_names:
            raise ValueError(f"--target {args.target!r}: the bundled data set {args.data!r} has target "
                             f"{', '.join(table.target_names)}")
        return table
    return load_csv(args.data, args.target)


# What a checkpoint records about its data and options, and what --resume compares: (meta key, option
# that sets it, how to show a value). A mismatch would silently train another problem.
RESUME_CHECKS = (
    ("features", "the CSV's feature columns", lambda v: ", ".join(map(str, v))),
    ("targets", "--target", lambda v: ", ".join(map(str, v))),
    ("classes", "the target column's classes", lambda v: "none (numbers)" if v is None else ", ".join(map(str, v))),
    ("rows", "the number of data rows", str),
    ("data_sha256", "the data's contents (SHA-256)", lambda v: str(v)[:12]),
    ("val", "--val", str),
    ("seed", "--seed", str),
    ("standardize", "--no-standardize", lambda v: "standardised" if v else "raw (--no-standardize)"),
)


def _check_resume(path, saved: dict, now: dict) -> None:
    from ..errors import SpecError

    for key, option, show in RESUME_CHECKS:
        if key in saved and saved[key] != now[key]:
            raise SpecError(f"--resume {path}: {option} differ(s) from the checkpoint's: checkpoint {show(saved[key])}, "
                            f"this run {show(now[key])}; resume with the same data and options, or start afresh")


def _epoch(path, saved: dict) -> int:
    from ..errors import SpecError

    epoch = saved.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise SpecError(f"--resume {path}: the checkpoint's epoch is {epoch!r}, not a count")
    return epoch


def _stats(path, saved: dict, n_features: int):
    import numpy as np

    from ..errors import SpecError

    try:
        mean, std = (np.asarray(saved[k], dtype=np.float64) for k in ("mean", "std"))
    except (TypeError, ValueError):
        raise SpecError(f"--resume {path}: the checkpoint's mean/std are not lists of numbers") from None
    if mean.shape != (n_features,) or std.shape != (n_features,) or not np.all(np.isfinite(mean)) \
            or not np.all(np.isfinite(std)):
        raise SpecError(f"--resume {path}: the checkpoint's mean/std do not hold {n_features} finite numbers each")
    return mean, std


def _digest(x, y) -> str:
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _bad_target(table, row: int, message: str):
    from ..errors import SpecError

    raise SpecError(f"{table.source}: data row {row + 1}, column {table.target_names[0]!r}: {message}")


def run(args) -> int:
    import os

    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table as RichTable

    from ..data import standardize, train_val_split
    from ..errors import SpecError
    from ..escape import terminal_text
    from ..network import SpecNetwork, make_optimizer
    from ..spec import check_targets, load_spec
    from ..train import History, fit

    console = Console(highlight=False, soft_wrap=True)
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0 <= args.val < 1:
        raise ValueError(f"--val must be a fraction in [0, 1), got {args.val}")
    if not 0 <= args.seed < 2**32:
        raise ValueError(f"--seed must be a whole number from 0 to {2**32 - 1}, got {args.seed}")
    if args.resume and not os.path.isfile(args.resume):
        raise FileNotFoundError(f"--resume {args.resume}: no such checkpoint file")
    for option, path in (("--checkpoint", args.checkpoint), ("--plot", args.plot)):
        # refuse before training, not after it: the outputs are written at the end of an epoch / the run
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder and not os.path.isdir(folder):
            raise FileNotFoundError(f"{option} {path}: the folder '{folder}' does not exist")
        if path and os.path.isdir(path):
            raise IsADirectoryError(f"{option} {path}: is a folder; give a file name")
    from ..layered import LayeredNetwork, load_layered_spec

    layered = load_layered_spec(args.spec)  # a CNN described block by block, or None
    spec = layered or load_spec(args.spec, require_data=False)
    if args.lr is not None:
        if args.lr <= 0:
            raise ValueError(f"--lr must be > 0, got {args.lr}")
        spec.lr = args.lr
    table = _load_data(args)
    classification = spec.loss in ("cross_entropy", "bce")
    if table.x.shape[1] != spec.layers[0]:
        raise SpecError(
            f"{table.source}: {table.x.shape[1]} feature column(s) ({', '.join(table.feature_names)}) but the spec "
            f"{spec.source} expects {spec.layers[0]} inputs (layers[0])"
        )
    y = table.y
    if spec.loss == "cross_entropy":
        if not table.is_classification:
            raise SpecError(f"{table.source}: loss cross_entropy needs a class-label target column, "
                            f"but {table.target_names[0]!r} holds numbers; pass --target or change the loss")
        if len(table.classes) > spec.layers[-1]:
            raise SpecError(f"{table.source}: {len(table.classes)} classes but the spec has {spec.layers[-1]} outputs")
    elif table.is_classification and (spec.loss != "bce" or len(table.classes) > 2):
        kind = "two classes" if spec.loss == "bce" else "numbers"
        raise SpecError(
            f"{table.source}: column {table.target_names[0]!r} holds class labels ({', '.join(table.classes[:5])}"
            f"{', ...' if len(table.classes) > 5 else ''}), but the spec's loss {spec.loss} needs {kind}; "
            f"use loss = \"cross_entropy\" with {len(table.classes)} outputs, or pass --target with a numeric column"
        )
    elif spec.loss == "bce":
        y = (table.y if table.y.ndim == 2 else table.y[:, None]).astype(np.float64)
        check_targets("bce", y, spec.layers[-1], lambda row, msg: _bad_target(table, row, msg))
    elif y.ndim != 2 or y.shape[1] != spec.layers[-1]:
        raise SpecError(f"{table.source}: {1 if y.ndim == 1 else y.shape[1]} target column(s) but the spec has "
                        f"{spec.layers[-1]} outputs")
    (x_tr, y_tr), (x_val, y_val) = train_val_split(
        table.x, y, args.val, seed=args.seed, stratify=spec.loss == "cross_entropy")
    if len(x_tr) == 0:
        raise ValueError(f"--val {args.val}: holding out that fraction of the {len(table.x)} rows of "
                         f"{table.source} leaves no training rows")
    run_meta = {"data": table.source, "features": table.feature_names, "targets": table.target_names,
                "classes": table.classes, "rows": len(table.x), "data_sha256": _digest(table.x, y),
                "val": args.val, "seed": args.seed, "standardize": not args.no_standardize}
    model = LayeredNetwork(spec) if layered else SpecNetwork(spec)
    optimizer = make_optimizer(spec, model.parameters())
    history, start, saved = History(), 0, {}
    if args.resume:
        from ..io import load_checkpoint

        saved = load_checkpoint(args.resume, model=model, optimizer=optimizer)["meta"] or {}
        if not isinstance(saved, dict):
            raise SpecError(f"--resume {args.resume}: the checkpoint's meta is not a table")
        _check_resume(args.resume, saved, run_meta)
        start = _epoch(args.resume, saved)
        for key, values in (saved.get("history") or {}).items():
            history.metrics[key] = list(values)
        console.print(f"resumed from {args.resume} after epoch {start}", markup=False)
        # options that may change between runs are applied here, each one said out loud
        checkpoint_lr = optimizer.param_groups[0]["lr"]
        if args.lr is not None and args.lr != checkpoint_lr:
            for group in optimizer.param_groups:
                group["lr"] = args.lr
            console.print(f"learning rate {args.lr:g} (--lr; the checkpoint's was {checkpoint_lr:g})", markup=False)
        if saved.get("batch_size") not in (None, args.batch_size):
            console.print(f"batch size {args.batch_size} (--batch-size; the checkpoint's was {saved['batch_size']})",
                          markup=False)
    mean = std = None
    if not args.no_standardize:
        if saved.get("mean") is not None and saved.get("std") is not None:  # the statistics training used
            mean, std = _stats(args.resume, saved, table.x.shape[1])
        x_tr, mean, std = standardize(x_tr, mean, std)
        x_val, _, _ = standardize(x_val, mean, std)
    remaining = args.epochs - start
    if remaining < 1:
        console.print(f"{args.resume} is already at epoch {start}, not below --epochs {args.epochs}; nothing to train",
                      markup=False)
        return 0

    def save(epoch, hist):
        if not args.checkpoint:
            return
        from ..io import save_checkpoint

        meta = {"epoch": epoch + 1, "history": hist.metrics, "spec": spec.source, **run_meta,
                "batch_size": args.batch_size,
                "mean": None if mean is None else mean.tolist(), "std": None if std is None else std.tolist()}
        save_checkpoint(args.checkpoint, model, optimizer, meta)

    columns = [TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[metrics]}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=args.quiet, transient=False) as progress:
        task = progress.add_task("train", total=remaining, metrics="")

        def on_epoch(epoch, metrics):
            shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items())
            progress.update(task, advance=1, metrics=shown)

        fit(model, model.loss_from_output, optimizer, x_tr, y_tr, epochs=remaining, batch_size=args.batch_size,
            validation=(x_val, y_val), classification=classification, seed=args.seed, start_epoch=start,
            history=history, on_epoch=on_epoch, checkpoint=save)

    summary = RichTable(title=f"{terminal_text(spec.name)} on {terminal_text(table.source)}: {len(x_tr)} training / {len(x_val)} validation rows",
                        title_justify="left")
    summary.add_column("epoch", justify="right")
    keys = list(history.metrics)
    for key in keys:
        summary.add_column(key, justify="right")
    total = history.epochs
    shown = sorted({0, *range(max(total // 10, 1) - 1, total, max(total // 10, 1)), total - 1})
    for e in shown:
        summary.add_row(str(e + 1), *(f"{history[k][e]:.5g}" for k in keys))
    console.print(summary)
    if args.checkpoint:
        console.print(f"checkpoint: {args.checkpoint} (epoch {total})", markup=False)
    if args.plot:
        from ..viz import plot_loss

        plot_loss(history.metrics).save(args.plot)
        console.print(f"loss curve: {args.plot}", markup=False)
    return 0
