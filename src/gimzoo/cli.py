"""The ``gimzoo`` command.

* ``gimzoo fit|validate|test --config zoo_configs/vae-mnist.yaml [--model.lr 1e-4] [--trainer.precision bf16-mixed]``:
  LightningCLI; any model, data or trainer argument can be overridden, ``--print_config`` prints the result.
* ``gimzoo list``: registered models, datasets, configs in ``zoo_configs/`` and pretrained checkpoints.
* ``gimzoo eval NAME_OR_CKPT [--n 10000] [--split test] [--json out.json] [--profile]``: every metric of
  :func:`gimzoo.metrics.evaluate.evaluate` for a pretrained name or a run's ``.ckpt``, printed as a table.
* ``gimzoo publish RUN.ckpt --name NAME``: strip, evaluate and add a run to ``checkpoints/`` (see :mod:`gimzoo.hub`);
  ``gimzoo push NAME --repo owner/name``: upload it to the Hugging Face Hub with a generated model card
  (:mod:`gimzoo.modelcard`); ``gimzoo eval hf-hub:owner/name`` and ``gimzoo.load("hf-hub:owner/name")`` read it back;
  ``gimzoo table``: the Markdown table of published checkpoints and their metrics (the README's);
  ``gimzoo figure NAME ... --out F.png``: samples and reconstructions of published models in one picture.
* ``gimzoo extractor --data mnist``: train the LeNet feature extractor behind ``fid_lenet``;
  ``gimzoo floor --data mnist``: its real-data floor (10,000 training against 10,000 test images);
  ``gimzoo baseline --data mnist --components 16``: the same evaluation of a PCA fitted in closed form.

Default logging needs no account: wandb in offline mode (``WANDB_MODE=online`` and ``wandb login`` turn
it online; a CSV logger is used when wandb is not installed), PNG grids of samples and reconstructions
every epoch (``--grids.every_n_epochs``), a cheaper ``gimzoo eval`` on 1,000 validation images every 5 epochs
(``--evaluation.every_n_epochs``, logged as ``eval/<metric>``), and a progress bar. The data shape is linked from the
datamodule to the model (``data.data_shape -> model.data_shape``), so it is never typed twice.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

from .callbacks import AtomicCheckpointIO, EpochTimer, PeriodicEvaluation, SampleGrids
from .callbacks.grids import run_dir
from .data import DATASETS, InMemoryDataModule
from .models import GenerativeInferenceModel
from .registry import get_model_entry, list_models
from .trainer import DEFAULT_ROOT_DIR, Trainer


def _config_dir() -> Path:
    """``$GIMZOO_CONFIGS``, else the repository's zoo_configs/ (editable install), else ./zoo_configs."""
    if os.environ.get("GIMZOO_CONFIGS"):
        return Path(os.environ["GIMZOO_CONFIGS"])
    repo = Path(__file__).resolve().parents[2] / "zoo_configs"
    return repo if repo.is_dir() else Path("zoo_configs")


CONFIG_DIR = _config_dir()


def default_logger() -> dict:
    """wandb (offline unless the user turns it online) where installed, else a CSV logger; both save under runs/
    (or the run's ``--trainer.default_root_dir``)."""
    if importlib.util.find_spec("wandb") is not None:
        return {"class_path": "lightning.pytorch.loggers.WandbLogger",
                "init_args": {"project": "gimzoo", "save_dir": DEFAULT_ROOT_DIR}}
    return {"class_path": "lightning.pytorch.loggers.CSVLogger",
            "init_args": {"save_dir": DEFAULT_ROOT_DIR, "name": "gimzoo"}}


def processes(trainer_config: dict) -> int:
    """How many processes Lightning's ``strategy="auto"`` starts for these accelerator, devices and num_nodes flags
    (asked of a Trainer that is built and thrown away, so every way of naming devices counts as Lightning counts it)."""
    import logging

    flags = {k: trainer_config[k] for k in ("accelerator", "devices", "num_nodes") if k in trainer_config}
    quiet = logging.getLogger("lightning.pytorch")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # no second "GPU available: ..." report
    try:
        return L.Trainer(**flags, strategy="auto", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False).world_size
    finally:
        quiet.setLevel(level)


class SaveRunConfig(SaveConfigCallback):
    """Writes ``config.yaml`` into the run's own folder, next to its ``checkpoints/`` and ``grids/`` (Lightning's
    default, ``trainer.log_dir``, is the folder shared by every wandb run), so a checkpoint always has its recipe."""

    def save_config(self, trainer, pl_module, stage) -> None:
        folder = run_dir(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(folder / self.config_filename), skip_none=False, overwrite=self.overwrite,
                         multifile=self.multifile)


class GimzooCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(SampleGrids, "grids")
        parser.add_lightning_class_args(EpochTimer, "timer")
        parser.add_lightning_class_args(PeriodicEvaluation, "evaluation")

        parser.link_arguments("data.data_shape", "model.init_args.data_shape", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        """The default logger saves under the run root: ``runs/``, or the user's ``--trainer.default_root_dir``."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        root, loggers = config.trainer.default_root_dir, config.trainer.logger
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            args = getattr(logger, "init_args", None)
            if root and args is not None and getattr(args, "save_dir", None) == DEFAULT_ROOT_DIR:
                args.save_dir = str(root)

    def _instantiate_trainer(self, config, callbacks):
        if config.get("strategy", "auto") == "auto" and self.model.ddp_strategy != "ddp" and processes(config) > 1:
            # several processes: the model's own DDP strategy (two-player models leave a player's parameters out
            # of each backward); a --trainer.strategy the user gives is kept as it is
            config["strategy"] = self.model.ddp_strategy
        if config.get("plugins") is None:  # checkpoints are written atomically unless the user brings a plugin
            config["plugins"] = [AtomicCheckpointIO()]
        given = config.get("callbacks") or []
        given = given if isinstance(given, list) else [given]
        if (config.get("enable_checkpointing", True) is not False and not config.get("fast_dev_run")
                and not any(isinstance(c, ModelCheckpoint) for c in given)):
            # Lightning's default checkpointing plus checkpoints/last.ckpt to resume from (--ckpt_path); a
            # ModelCheckpoint of the user's (--trainer.callbacks+=ModelCheckpoint ...) replaces it
            callbacks = [*callbacks, ModelCheckpoint(save_last=True)]
        return super()._instantiate_trainer(config, callbacks)

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict:
        kwargs = super()._prepare_subcommand_kwargs(subcommand)
        if kwargs.get("ckpt_path") == "last":
            kwargs["ckpt_path"] = str(self.last_checkpoint(subcommand))
            print(f"resuming from {kwargs['ckpt_path']}", file=sys.stderr)
        return kwargs

    def last_checkpoint(self, subcommand: str) -> Path:
        """``--ckpt_path last``: the newest ``checkpoints/last.ckpt`` under the logger's save_dir (or the Trainer's
        default_root_dir) whose run trained this same model and data config (the run's config.yaml). Lightning
        alone looks only in the new run's folder, which every logger makes anew (a new wandb run id, a new CSV
        version), and then starts from scratch with a warning."""
        import yaml

        current = yaml.safe_load(self.parser.dump(self.config, skip_none=False))[subcommand]
        logger = self.trainer.logger
        root = Path(getattr(logger, "save_dir", None) or self.trainer.default_root_dir)
        found = [p for depth in ("", "*/", "*/*/") for p in root.glob(f"{depth}checkpoints/last.ckpt")]  # <name>/<version>
        runs = sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
        for ckpt in runs:
            config = ckpt.parent.parent / "config.yaml"
            if config.is_file():
                run = yaml.safe_load(config.read_text()) or {}
                if run.get("model") == current["model"] and run.get("data") == current["data"]:
                    return ckpt
        raise FileNotFoundError(f"--ckpt_path last: no run under {root}/ has a checkpoints/last.ckpt next to a "
                                f"config.yaml with this model and data ({len(runs)} last.ckpt found, none matching); "
                                "pass the checkpoint's path instead")


def list_configs(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def print_list() -> None:
    print("models:   " + ", ".join(f"{n} ({get_model_entry(n).cls.__name__})" for n in list_models()))
    print("datasets: " + ", ".join(sorted(DATASETS)))
    print(f"configs ({CONFIG_DIR}):")
    for c in list_configs():
        print(f"  {c}")
    from .hub import list_pretrained

    print("pretrained: " + (", ".join(list_pretrained()) or "(none)"))


def _cli(args: list[str], **kwargs) -> GimzooCLI:
    os.environ.setdefault("WANDB_MODE", "offline")  # never reach the network unless the user asks
    os.environ.setdefault("WANDB_SILENT", "true")
    return GimzooCLI(GenerativeInferenceModel, InMemoryDataModule, trainer_class=Trainer, subclass_mode_model=True,
                     subclass_mode_data=True, trainer_defaults={"logger": default_logger()}, args=args, **kwargs)


def build(config: str | os.PathLike, *overrides: str) -> GimzooCLI:
    """Instantiate model, datamodule and trainer from a config (plus CLI-style overrides) without running."""
    return _cli(["--config", str(config), *overrides], save_config_callback=None, run=False)


def load_for_eval(name_or_path: str, config: str | None = None):
    """(model, datamodule) of a pretrained name, or of a run's Lightning checkpoint and its config."""
    import yaml

    from . import hub

    if name_or_path in hub.list_pretrained() or name_or_path.startswith(hub.HF_PREFIX):
        return hub.load(name_or_path), hub.datamodule_of(name_or_path)
    path = Path(name_or_path)
    if path.suffix != ".ckpt" or not path.is_file():
        from .registry import unknown

        raise unknown("pretrained model or checkpoint file", name_or_path, hub.list_pretrained())
    config_path = Path(config) if config else hub.run_config_of(path)
    model, datamodule = hub.build_from_config(yaml.safe_load(config_path.read_text()))
    datamodule.download = False  # evaluation reads the data root; it never downloads
    model.load_state_dict(hub.read_lightning_checkpoint(path), strict=True)
    return model.eval(), datamodule


def format_table(metrics: dict) -> str:
    width = max(len(k) for k in metrics)
    fmt = lambda v: "n/a" if v is None else (f"{v:.5g}" if isinstance(v, float) else str(v))  # noqa: E731
    return "\n".join(f"{k:<{width}}  {fmt(v)}" for k, v in metrics.items())


def eval_main(argv: list[str]) -> dict:
    from .metrics.evaluate import evaluate

    p = argparse.ArgumentParser(prog="gimzoo eval", description="Evaluate a pretrained model or a run's checkpoint.")
    p.add_argument("name_or_path", help="a name from `gimzoo list` (pretrained) or a .ckpt of a `gimzoo fit` run")
    p.add_argument("--config", help="the config that trained the .ckpt (default: the run's config.yaml)")
    p.add_argument("--n", type=int, default=10_000, help="evaluation images and samples (default 10000)")
    p.add_argument("--split", default="test", choices=["test", "val", "train"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iwae_k", type=int, default=100, help="importance samples of the IWAE bound")
    p.add_argument("--no_probe", action="store_true", help="skip the linear probe (the slowest representation metric)")
    p.add_argument("--inception_weights", help="a local InceptionV3 weights file (torch-fidelity's) for fid_inception "
                   "(default $GIMZOO_INCEPTION_WEIGHTS)")
    p.add_argument("--profile", action="store_true", help="also print the seconds of each part of the evaluation")
    p.add_argument("--json", help="also write the result to this JSON file")
    a = p.parse_args(argv)
    model, datamodule = load_for_eval(a.name_or_path, a.config)
    result = {"name": a.name_or_path} | evaluate(model, datamodule, n=a.n, split=a.split, seed=a.seed,
                                                   iwae_k=a.iwae_k, probe=not a.no_probe,
                                                   inception_weights=a.inception_weights)
    return report(result, a.json, profile=a.profile)


def report(result: dict, json_path: str | None = None, profile: bool = False) -> dict:
    """Print an evaluation (the table, its protocol, its time, with ``profile`` the seconds of each part) and write it
    to ``json_path`` if given."""
    print(format_table(result["metrics"]))
    print(f"# protocol: {json.dumps(result['protocol'])}")
    if str(result["protocol"].get("inception", "")).startswith("n/a"):
        print(f"# no Inception metrics: {result['protocol']['inception'][5:]}")
    if profile:
        parts = sorted(result["profile"].items(), key=lambda kv: -kv[1])
        print("# profile (seconds): " + ", ".join(f"{k} {v:.1f}" for k, v in parts)
              + f"; other {result['seconds'] - sum(result['profile'].values()):.1f}")
    print(f"# {result['seconds']} s")
    if json_path:  # written whole or not at all: an interrupted evaluation leaves no half file
        tmp = Path(json_path).with_name(f".{Path(json_path).name}.tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, json_path)
    return result


def baseline_main(argv: list[str]) -> dict:
    from .data import get_datamodule, pixels
    from .metrics.evaluate import evaluate
    from .models.pca import PCA

    p = argparse.ArgumentParser(prog="gimzoo baseline", description="Fit PCA on the training split and evaluate it "
                                "with the protocol of `gimzoo eval` (the linear baseline of the results table).")
    p.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--components", type=int, default=16)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the result to this JSON file")
    a = p.parse_args(argv)
    datamodule = get_datamodule(a.data, download=False)
    model = PCA.fit(pixels(datamodule.split("train")[0]), a.components)
    result = {"name": f"pca{a.components}-{a.data}"} | evaluate(model, datamodule, n=a.n, seed=a.seed)
    return report(result, a.json)


def publish_main(argv: list[str]) -> dict:
    from .hub import publish

    p = argparse.ArgumentParser(prog="gimzoo publish", description="Add a run's checkpoint to checkpoints/.")
    p.add_argument("ckpt", help="a .ckpt written by `gimzoo fit`")
    p.add_argument("--name", required=True, help="the pretrained name, e.g. wae-mnist")
    p.add_argument("--config", help="the config that trained it (default: the run's config.yaml)")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="the weights' dtype in the file (float16: half the size; the metrics are of those weights)")
    a = p.parse_args(argv)
    entry = publish(a.ckpt, a.name, a.config, n=a.n, dtype=a.dtype)
    print(f"published {a.name}: {entry['file']} sha256 {entry['sha256']} ({entry['parameters']} parameters)")
    print(format_table(entry["evaluation"]["metrics"]))
    return entry


def push_main(argv: list[str]) -> dict:
    from .modelcard import push

    p = argparse.ArgumentParser(prog="gimzoo push", description="Upload a published model to the Hugging Face Hub "
                                "(weights, config.yaml, gimzoo.json and a generated model card).")
    p.add_argument("name", help="a published name (gimzoo list)")
    p.add_argument("--repo", required=True, help="the Hub repo, owner/name (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    a = p.parse_args(argv)
    entry = push(a.name, a.repo, private=a.private or None)
    print(f"pushed {a.name} to {a.repo}: {entry['file']} sha256 {entry['sha256']}; load it with "
          f"gimzoo.load(\"hf-hub:{a.repo}\")")
    return entry


def export_main(argv: list[str]) -> None:
    from .data import get_datamodule
    from .data.folder import export_images

    p = argparse.ArgumentParser(prog="gimzoo export", description="Write a dataset's images as PNG files in class "
                                "subfolders (<out>/<label>/<split>-<index>.png), a folder for gimzoo.data.ImageFolder.")
    p.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist", "cifar10"])
    p.add_argument("--split", default="train", choices=["train", "val", "test"])
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    n = export_images(get_datamodule(a.data, download=False), a.split, a.out)
    print(f"wrote {n} PNG files of {a.data} ({a.split}) to {a.out}/<label>/")


def extractor_main(argv: list[str]) -> dict:
    from .metrics.quality import train_lenet

    p = argparse.ArgumentParser(prog="gimzoo extractor", description="Train the LeNet behind fid_lenet.")
    p.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    entry = train_lenet(a.data, epochs=a.epochs, seed=a.seed)
    print(json.dumps(entry, indent=1))
    return entry


def floor_main(argv: list[str]) -> dict:
    from .data import get_datamodule
    from .metrics.evaluate import real_data_floor

    p = argparse.ArgumentParser(prog="gimzoo floor", description="fid_lenet of real training vs test images.")
    p.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--n", type=int, default=10_000)
    a = p.parse_args(argv)
    result = real_data_floor(get_datamodule(a.data, download=False), a.n)
    print(format_table(result["metrics"]))
    print(f"# protocol: {json.dumps(result['protocol'])}")
    return result


def table_main(argv: list[str]) -> str:
    from .hub import model_table, results_table

    p = argparse.ArgumentParser(prog="gimzoo table", description="The README's model table (a row per model, the "
                                "headline metrics of its MNIST checkpoint), or every published checkpoint's metrics.")
    p.add_argument("--checkpoints", action="store_true", help="a row per published checkpoint, every table metric")
    a = p.parse_args(argv)
    table = results_table() if a.checkpoints else model_table()
    print(table)
    return table


def figure_main(argv: list[str]) -> None:
    from .figures import main

    main(argv)


def curves_main(argv: list[str]) -> None:
    from .curves import main

    main(argv)


def benchmark_main(argv: list[str]) -> None:
    from .benchmark import main

    main(argv)


COMMANDS = {"eval": eval_main, "benchmark": benchmark_main, "curves": curves_main, "baseline": baseline_main,
            "floor": floor_main, "table": table_main, "figure": figure_main, "publish": publish_main,
            "push": push_main, "export": export_main, "extractor": extractor_main}


def run(args: list[str] | None = None) -> GimzooCLI | None:
    """Run the command line ``args`` (default: sys.argv); returns the LightningCLI object, if one ran."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv[:1] == ["list"]:
        print_list()
        return None
    if argv[:1] and argv[0] in COMMANDS:
        COMMANDS[argv[0]](argv[1:])
        return None
    return _cli(None if args is None else argv, save_config_callback=SaveRunConfig, save_config_kwargs={"overwrite": True, "save_to_log_dir": False})


def main() -> None:
    """Console entry point ``gimzoo``."""
    run()


if __name__ == "__main__":
    main()
