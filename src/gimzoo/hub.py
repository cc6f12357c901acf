"""The pretrained zoo: ``checkpoints/manifest.json`` (name -> file, sha256, config, metrics) and ``load()``.

* :func:`publish` strips a Lightning checkpoint of a ``gimzoo fit`` run to the inference weights (encoder,
  decoder/generator, prior: no critic, no optimizer state), writes ``checkpoints/<name>.safetensors``
  atomically, evaluates the model with :func:`gimzoo.metrics.evaluate.evaluate` and records the sha256,
  the YAML that trained it, the parameter count, the pixel range and the metrics in the manifest.
  Nothing in the manifest is typed by hand. ``dtype="float16"`` (or ``"bfloat16"``) stores the weights at half
  the size; the model is then evaluated with the rounded weights, so the metrics are those of the file.
  :func:`load` puts them back in float32 parameters.
* :func:`load` rebuilds the model from the recorded YAML and loads the weights strictly, after checking the
  file's sha256 *before* parsing it. Files come from the repository's ``checkpoints/`` or, for an installed
  package, from a cache directory (``$GIMZOO_HUB_CACHE`` or ``~/.cache/gimzoo/checkpoints``) filled from
  ``$GIMZOO_HUB_URL`` (atomic write, hash checked before use). Weights are safetensors: nothing is unpickled.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import torch
import yaml

from .io import atomic_save_safetensors, atomic_write_text, sha256_of
from .registry import unknown

CHECKPOINT_DIR = Path(os.environ.get("GIMZOO_CHECKPOINTS") or Path(__file__).resolve().parents[2] / "checkpoints")
MANIFEST_NAME = "manifest.json"
#: parameters that are part of training only, never published
TRAINING_ONLY_PREFIXES = ("critic.",)


class ChecksumError(ValueError):
    """A weights file whose bytes do not match the sha256 recorded for it."""


def manifest_path(checkpoint_dir: Path | None = None) -> Path:
    return Path(checkpoint_dir or CHECKPOINT_DIR) / MANIFEST_NAME


def read_manifest(checkpoint_dir: Path | None = None) -> dict[str, dict]:
    path = manifest_path(checkpoint_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def list_pretrained(checkpoint_dir: Path | None = None) -> list[str]:
    """Names that :func:`load` accepts."""
    return sorted(read_manifest(checkpoint_dir))


# -- building a model from its YAML ------------------------------------------------------------------------

def _import(class_path: str) -> type:
    if not class_path.startswith("gimzoo."):
        raise ValueError(f"refusing to build {class_path!r}: only gimzoo classes are built from a manifest")
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def build_from_config(config: dict[str, Any]):
    """(model, datamodule) from a ``gimzoo fit`` config dict (the model's data shape from the datamodule)."""
    data_cfg, model_cfg = config["data"], config["model"]
    datamodule = _import(data_cfg["class_path"])(**(data_cfg.get("init_args") or {}))
    init_args = dict(model_cfg.get("init_args") or {})
    init_args["data_shape"] = list(datamodule.data_shape)
    return _import(model_cfg["class_path"])(**init_args), datamodule


def inference_parameter_count(model) -> int:
    """Learnable parameters of the published part of a model (no critics; batch-norm statistics are buffers)."""
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith(TRAINING_ONLY_PREFIXES))


def inference_state(model) -> dict[str, torch.Tensor]:
    """The model's state dict without training-only parts (critics)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
            if not k.startswith(TRAINING_ONLY_PREFIXES)}


# -- publish ----------------------------------------------------------------------------------------------

def read_lightning_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict of a Lightning checkpoint from ``gimzoo fit``, read with ``weights_only=True`` (no
    arbitrary unpickling even of one's own run files)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a Lightning checkpoint (no 'state_dict')")
    return ckpt["state_dict"]


def run_config_of(ckpt_path: Path) -> Path:
    """The ``config.yaml`` that ``gimzoo fit`` saved in the run's folder, next to its ``checkpoints/``."""
    path = Path(ckpt_path).resolve().parent.parent / "config.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no {path}; pass the config that trained {ckpt_path} (--config)")
    return path


#: the dtypes weights can be published in
WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def publish(ckpt_path: str | os.PathLike, name: str, config_path: str | os.PathLike | None = None,
            checkpoint_dir: Path | None = None, n: int = 10_000, evaluate_model: bool = True,
            dtype: str = "float32") -> dict:
    """Publish a run's checkpoint as ``name`` with its floating-point weights in ``dtype``; returns the manifest
    entry."""
    from .metrics.evaluate import evaluate

    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"weights are published in one of {', '.join(WEIGHT_DTYPES)}, got {dtype!r}")
    ckpt_path, out_dir = Path(ckpt_path), Path(checkpoint_dir or CHECKPOINT_DIR)
    config_path = Path(config_path) if config_path else run_config_of(ckpt_path)
    config_text = config_path.read_text()
    config = yaml.safe_load(config_text)
    model, datamodule = build_from_config(config)
    model.load_state_dict(read_lightning_checkpoint(ckpt_path), strict=True)
    state = {k: v.to(WEIGHT_DTYPES[dtype]) if v.is_floating_point() else v for k, v in inference_state(model).items()}
    model.load_state_dict(state, strict=False)  # the rounded weights, as load() will give them, are evaluated
    metrics = evaluate(model, datamodule, n=n) if evaluate_model else None

    target = out_dir / f"{name}.safetensors"
    atomic_save_safetensors(state, target, metadata={"name": name})
    entry = {
        "file": target.name, "sha256": sha256_of(target), "bytes": target.stat().st_size,
        "model": config["model"]["class_path"], "dataset": datamodule.name,
        "parameters": inference_parameter_count(model),
        "pixel_range": list(model.pixel_range) if model.pixel_range else None,
        "config": config_text, "published_from": ckpt_path.name,
        "evaluation": metrics,
    }
    manifest = read_manifest(out_dir)
    manifest[name] = entry
    atomic_write_text(manifest_path(out_dir), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return entry


# -- load -------------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    base = os.environ.get("GIMZOO_HUB_CACHE")
    return Path(base) if base else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gimzoo" / "checkpoints"


def _fetch(entry: dict) -> Path:
    """The local weights file of an entry: the checkpoint directory, else the cache, else a download into the
    cache from ``$GIMZOO_HUB_URL`` (atomic; the hash is checked before the file is moved into place)."""
    for folder in (CHECKPOINT_DIR, cache_dir()):
        if (folder / entry["file"]).exists():
            return folder / entry["file"]
    base = os.environ.get("GIMZOO_HUB_URL")
    if not base:
        raise FileNotFoundError(f"{entry['file']} is in neither {CHECKPOINT_DIR} nor {cache_dir()}; set GIMZOO_HUB_URL "
                                "to a location that serves it to download it")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{entry['file']}.", delete=False) as tmp:
        with urllib.request.urlopen(f"{base.rstrip('/')}/{entry['file']}") as r:
            shutil.copyfileobj(r, tmp)
    if sha256_of(Path(tmp.name)) != entry["sha256"]:
        os.unlink(tmp.name)
        raise ChecksumError(f"downloaded {entry['file']} does not match its sha256 {entry['sha256']}; not kept")
    os.replace(tmp.name, folder / entry["file"])
    return folder / entry["file"]


def load(name: str, device: str | torch.device = "cpu", checkpoint_dir: Path | None = None):
    """A pretrained zoo model by name, in eval mode on ``device``: ``gimzoo.load("wae-mnist")``."""
    from safetensors.torch import load_file

    manifest = read_manifest(checkpoint_dir)
    if name not in manifest:
        raise unknown("pretrained model", name, list(manifest))
    entry = manifest[name]
    path = Path(checkpoint_dir) / entry["file"] if checkpoint_dir else _fetch(entry)
    if path.suffix != ".safetensors":
        raise ValueError(f"refusing to load {path.name}: only .safetensors files are loaded (nothing is unpickled)")
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        raise ChecksumError(f"{path} has sha256 {digest}, but the manifest records {entry['sha256']}: refusing to "
                            "parse it (re-download or re-publish it)")
    model, _ = build_from_config(yaml.safe_load(entry["config"]))
    expected = set(inference_state(model))
    state = load_file(path)
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"{path.name} does not fit {entry['model']}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.load_state_dict(state, strict=False)  # strict over the inference weights, checked just above
    return model.to(device).eval()


def datamodule_of(name: str, checkpoint_dir: Path | None = None):
    """The datamodule a pretrained model was trained on (from its recorded YAML)."""
    manifest = read_manifest(checkpoint_dir)
    if name not in manifest:
        raise unknown("pretrained model", name, list(manifest))
    datamodule = build_from_config(yaml.safe_load(manifest[name]["config"]))[1]
    datamodule.download = False  # evaluation reads the data root; it never downloads (a clear error instead)
    return datamodule


#: the manifest metrics the README's table shows, in this order
TABLE_COLUMNS = ("fid_lenet", "kid_lenet", "recon_mse", "linear_probe_accuracy", "knn1_accuracy", "mmd_qz_pz",
                 "cluster_hungarian_accuracy", "iwae_nll", "modes_captured", "high_quality_fraction")


def results_table(checkpoint_dir: Path | None = None) -> str:
    """The Markdown table of every published checkpoint with its manifest metrics and the command that trains it
    (``gimzoo table`` prints it; the README's table is this output, checked by a test)."""
    fmt = lambda v: "–" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    head = "| name | params | " + " | ".join(TABLE_COLUMNS) + " | reproduce |"
    lines = [head, "|" + "---|" * (len(TABLE_COLUMNS) + 3)]
    for name, entry in sorted(read_manifest(checkpoint_dir).items()):
        metrics = (entry.get("evaluation") or {}).get("metrics", {})
        cells = " | ".join(fmt(metrics.get(k)) for k in TABLE_COLUMNS)
        lines.append(f"| `{name}` | {entry['parameters']:,} | {cells} | `gimzoo fit --config zoo_configs/{name}.yaml` |")
    return "\n".join(lines)
