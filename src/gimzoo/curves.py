"""``gimzoo curves RUN_DIR``: the training curves of a run, read from whichever logger wrote them.

A run folder is the one ``gimzoo fit`` prints and keeps ``checkpoints/`` and ``config.yaml`` in. The curves are read
from, in this order of search:

- Lightning's ``CSVLogger``: ``metrics.csv`` in the run folder;
- ``TensorBoardLogger``: ``events.out.tfevents.*`` files in it (needs the ``tensorboard`` package);
- ``MLFlowLogger`` with a file store (``file:./mlruns``): the folder ``<run>/metrics/`` of the MLflow run, one
  file per metric of ``timestamp value step`` lines;
- ``WandbLogger`` (gimzoo's default, offline unless you turn it online): the run's ``.wandb`` log, found from the
  run id (the folder's name) under ``<save_dir>/wandb/``; its history records are read with wandb's own protobuf
  definitions, nothing else of the file is executed.

:func:`read_curves` returns ``{metric: [(step, value), ...]}``; :func:`plot_curves` draws one panel per quantity,
the training and validation curves of the same term in the same panel.
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import math
import struct
from collections import defaultdict
from pathlib import Path

Curves = dict[str, list[tuple[int, float]]]


def read_curves(run_dir: str | Path) -> tuple[Curves, str]:
    """({metric: [(step, value), ...]}, the logger they came from) for a run folder; FileNotFoundError says what was
    looked for when none is there."""
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder {run}")
    readers = (("csv", _csv), ("tensorboard", _tensorboard), ("mlflow", _mlflow), ("wandb", _wandb))
    for name, reader in readers:
        curves = reader(run)
        if curves:
            return {k: sorted(v) for k, v in sorted(curves.items())}, name
    raise FileNotFoundError(
        f"no training logs found for {run}: looked for metrics.csv (CSVLogger), events.out.tfevents.* (TensorBoard), "
        "metrics/ of an MLflow file store, and the run's .wandb log under <save_dir>/wandb/ (WandbLogger)")


def _number(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _csv(run: Path) -> Curves:
    curves: Curves = defaultdict(list)
    for path in sorted(run.glob("metrics.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                step = _number(row.get("step"))
                for key, value in row.items():
                    v = _number(value)
                    if key not in ("step", "epoch") and v is not None and step is not None:
                        curves[key].append((int(step), v))
    return curves


def _tensorboard(run: Path) -> Curves:
    files = sorted(run.glob("events.out.tfevents.*"))
    if not files:
        return {}
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as e:
        raise ImportError(f"{run} holds TensorBoard logs; reading them needs `pip install tensorboard`") from e
    curves: Curves = defaultdict(list)
    for path in files:
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            curves[tag] += [(e.step, e.value) for e in acc.Scalars(tag) if math.isfinite(e.value)]
    return curves


def _mlflow(run: Path) -> Curves:
    """MLflow's file store: <run>/metrics/<key> (keys with '/' are subfolders), lines ``timestamp value step``."""
    curves: Curves = defaultdict(list)
    for metrics in [run / "metrics", *sorted(run.glob("*/*/metrics"))]:
        if not metrics.is_dir():
            continue
        for path in sorted(p for p in metrics.rglob("*") if p.is_file()):
            key = path.relative_to(metrics).as_posix()
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3 and _number(parts[1]) is not None:
                    curves[key].append((int(parts[2]), float(parts[1])))
        if curves:
            break
    return curves


def _wandb(run: Path) -> Curves:
    logs = sorted(run.glob("*.wandb")) or sorted(
        p for root in (run, *run.parents[:3]) for p in (root / "wandb").glob(f"*-{run.name}/*.wandb"))
    curves: Curves = defaultdict(list)
    for path in logs[-1:]:  # the newest log of this run id (a resumed run id writes a new one)
        for record in wandb_records(path):
            if record.WhichOneof("record_type") != "history":
                continue
            # nested keys are the fields of logged media (an image's width, height, ...), not curves
            items = {i.key or i.nested_key[0]: json.loads(i.value_json) for i in record.history.item
                     if i.key or len(i.nested_key) == 1}
            step = items.get("trainer/global_step", items.get("_step"))
            if step is None:
                continue
            for key, value in items.items():
                v = _number(value) if not isinstance(value, (dict, list)) else None
                if v is not None and not key.startswith("_") and key not in ("trainer/global_step", "epoch"):
                    curves[key].append((int(step), v))
    return curves


def wandb_records(path: str | Path):
    """The protobuf records of a ``.wandb`` log: a 7-byte header (``:W&B``, 0xBEE1, version), then 32 KiB blocks of
    chunks (header: CRC32, length, type FULL / FIRST / MIDDLE / LAST) that never cross a block."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    ident, magic, _ = struct.unpack("<4sHB", data[:7])
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path} is not a wandb log (header {data[:7]!r})")
    block, pos, parts = 32768, 7, []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the block's tail is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0:  # zeros: the end of what was written
            break
        parts.append(chunk)
        if kind in (1, 4):  # FULL, or LAST of FIRST/MIDDLE...
            record = pb.Record()
            record.ParseFromString(b"".join(parts))
            parts = []
            yield record


def panels(curves: Curves, keys: list[str] | None = None) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """quantity -> {metric: curve}: ``train/nll`` and ``val/nll`` share the panel ``nll``; ``keys`` are shell
    patterns (``train/*``, ``*loss``) that keep only the metrics matching one of them."""
    out: dict[str, dict] = defaultdict(dict)
    for key, curve in curves.items():
        if keys and not any(fnmatch.fnmatchcase(key, k) for k in keys):
            continue
        stage, _, quantity = key.partition("/")
        out[quantity if stage in ("train", "val", "test") and quantity else key][key] = curve
    return dict(out)


def plot_curves(curves: Curves, out: str | Path, title: str = "", keys: list[str] | None = None,
                cols: int = 3) -> int:
    """Draw the curves, a panel per quantity, into ``out``; returns the number of panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = panels(curves, keys)
    if not groups:
        raise ValueError(f"no curve matches {keys}; the run logged: {', '.join(sorted(curves))}")
    rows = math.ceil(len(groups) / cols)
    fig, axes = plt.subplots(rows, min(cols, len(groups)), figsize=(4.2 * min(cols, len(groups)), 3.0 * rows),
                             squeeze=False)
    for ax, (quantity, metrics) in zip(axes.flat, sorted(groups.items())):
        for key, curve in sorted(metrics.items()):
            steps, values = zip(*curve)
            ax.plot(steps, values, marker="o" if len(curve) < 30 else None, ms=3, lw=1.2, label=key)
        ax.set_title(quantity, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return len(groups)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="gimzoo curves", description="Plot the training curves of a run from its logs "
                                "(CSV, TensorBoard, MLflow file store or wandb).")
    p.add_argument("run_dir", help="the run folder (it holds checkpoints/ and config.yaml)")
    p.add_argument("--out", help="the PNG to write (default <run_dir>/curves.png)")
    p.add_argument("--keys", nargs="+", help="only metrics matching these shell patterns, e.g. 'train/*' '*loss'")
    a = p.parse_args(argv)
    curves, source = read_curves(a.run_dir)
    out = Path(a.out) if a.out else Path(a.run_dir) / "curves.png"
    n = plot_curves(curves, out, title=f"{a.run_dir} ({source} logs)", keys=a.keys)
    print(f"wrote {out}: {n} panels from the {source} logs of {a.run_dir} ({len(curves)} metrics)")
