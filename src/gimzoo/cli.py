"""The ``gimzoo`` command.

* ``gimzoo fit|validate|test --config zoo_configs/vae-mnist.yaml [--model.lr 1e-4] [--trainer.precision bf16-mixed]``:
  LightningCLI; any model, data or trainer argument can be overridden, ``--print_config`` prints the result.
* ``gimzoo list``: registered models, datasets and the configs in ``zoo_configs/``.

Default logging needs no account: wandb in offline mode (``WANDB_MODE=online`` and ``wandb login`` turn
it online; a CSV logger is used when wandb is not installed), PNG grids of samples and reconstructions
every epoch (``--grids.every_n_epochs``), and a progress bar. The data shape is linked from the
datamodule to the model (``data.data_shape -> model.data_shape``), so it is never typed twice.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from lightning.pytorch.cli import LightningCLI

from .callbacks import EpochTimer, SampleGrids
from .data import DATASETS, InMemoryDataModule
from .models import GenerativeInferenceModel
from .registry import get_model_entry, list_models


def _config_dir() -> Path:
    """``$GIMZOO_CONFIGS``, else the repository's zoo_configs/ (editable install), else ./zoo_configs."""
    if os.environ.get("GIMZOO_CONFIGS"):
        return Path(os.environ["GIMZOO_CONFIGS"])
    repo = Path(__file__).resolve().parents[2] / "zoo_configs"
    return repo if repo.is_dir() else Path("zoo_configs")


CONFIG_DIR = _config_dir()


def default_logger() -> dict:
    if importlib.util.find_spec("wandb") is not None:
        return {"class_path": "lightning.pytorch.loggers.WandbLogger",
                "init_args": {"project": "gimzoo", "save_dir": "runs"}}
    return {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "runs", "name": "gimzoo"}}


class GimzooCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(SampleGrids, "grids")
        parser.add_lightning_class_args(EpochTimer, "timer")
        parser.link_arguments("data.data_shape", "model.init_args.data_shape", apply_on="instantiate")


def list_configs(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def print_list() -> None:
    print("models:   " + ", ".join(f"{n} ({get_model_entry(n).cls.__name__})" for n in list_models()))
    print("datasets: " + ", ".join(sorted(DATASETS)))
    print(f"configs ({CONFIG_DIR}):")
    for c in list_configs():
        print(f"  {c}")


def _cli(args: list[str], **kwargs) -> GimzooCLI:
    os.environ.setdefault("WANDB_MODE", "offline")  # never reach the network unless the user asks
    os.environ.setdefault("WANDB_SILENT", "true")
    return GimzooCLI(GenerativeInferenceModel, InMemoryDataModule, subclass_mode_model=True, subclass_mode_data=True,
                     trainer_defaults={"logger": default_logger()}, args=args, **kwargs)


def build(config: str | os.PathLike, *overrides: str) -> GimzooCLI:
    """Instantiate model, datamodule and trainer from a config (plus CLI-style overrides) without running."""
    return _cli(["--config", str(config), *overrides], save_config_callback=None, run=False)


def run(args: list[str] | None = None) -> GimzooCLI | None:
    """Run the command line ``args`` (default: sys.argv); returns the LightningCLI object, if one ran."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv[:1] == ["list"]:
        print_list()
        return None
    return _cli(argv, save_config_kwargs={"overwrite": True})


def main() -> None:
    """Console entry point ``gimzoo``."""
    run()


if __name__ == "__main__":
    main()
