"""The pretrained zoo: a manifest (name -> file, sha256, config, metrics), ``load()``, ``publish()`` and ``push()``.

* :func:`publish` strips a Lightning checkpoint of a ``gimzoo fit`` run to the inference weights (encoder,
  decoder/generator, prior: no critic, no optimizer state), writes ``checkpoints/<name>.safetensors``
  atomically, evaluates the model with :func:`gimzoo.metrics.evaluate.evaluate` and records the sha256,
  the YAML that trained it, the parameter count, the pixel range and the metrics in the manifest, under a file lock
  (two publishes at once keep both entries). Nothing in the manifest is typed by hand. ``dtype="float16"`` (or
  ``"bfloat16"``) stores the weights at half the size; the model is then evaluated with the rounded weights, so the
  metrics are those of the file. :func:`load` puts them back in float32 parameters.
* The manifest is ``checkpoints/manifest.json``; the package ships the same file (``gimzoo/manifest.json``, a link
  to it in a checkout, a copy in a wheel), so an installed gimzoo knows the zoo too.
* :func:`load` rebuilds the model from the recorded YAML and loads the weights strictly, after checking the
  file's sha256 *before* parsing it. Weights are found, in this order: the checkout's ``checkpoints/``; the cache
  (``$GIMZOO_HUB_CACHE``, default ``~/.cache/gimzoo/checkpoints``); a download from the Hugging Face Hub repo
  recorded for the entry (``huggingface_hub.hf_hub_download``, which honours ``HF_HUB_OFFLINE`` and ``HF_HOME``); a
  download from the ``$GIMZOO_HUB_URL`` mirror into the cache (atomic, hash checked before the file is kept).
  ``load("hf-hub:owner/name")`` loads any repo that :func:`push` wrote. Weights are safetensors: nothing is
  unpickled.
* Configs are untrusted input once they come from a manifest, a hub repo or a shared folder:
  :func:`build_from_config` builds only registered zoo models and gimzoo datamodules, with plain-valued init
  arguments checked against the class's signature before anything is called.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
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

_CHECKOUT = Path(__file__).resolve().parents[2]
#: published weights: ``$GIMZOO_CHECKPOINTS``, else the checkout's ``checkpoints/``, else ``./checkpoints`` (an
#: installed package publishes where it runs, and loads through the packaged manifest and the cache)
CHECKPOINT_DIR = Path(os.environ.get("GIMZOO_CHECKPOINTS") or (
    _CHECKOUT / "checkpoints" if (_CHECKOUT / "pyproject.toml").is_file() else Path("checkpoints")))
MANIFEST_NAME = "manifest.json"
#: the manifest the package ships (a link to checkpoints/manifest.json in a checkout, a copy in a wheel)
PACKAGED_MANIFEST = Path(__file__).with_name(MANIFEST_NAME)
#: ``load("hf-hub:owner/name")``: a repo written by :func:`push`
HF_PREFIX = "hf-hub:"
#: the manifest entry inside a pushed repo
HUB_ENTRY_FILE = "gimzoo.json"
#: parameters that are part of training only, never published
TRAINING_ONLY_PREFIXES = ("critic.",)


class ChecksumError(ValueError):
    """A weights file whose bytes do not match the sha256 recorded for it."""


def manifest_path(checkpoint_dir: Path | None = None) -> Path:
    """``checkpoint_dir``'s manifest; by default the checkout's ``checkpoints/manifest.json``, else the packaged one."""
    if checkpoint_dir is not None:
        return Path(checkpoint_dir) / MANIFEST_NAME
    local = CHECKPOINT_DIR / MANIFEST_NAME
    return local if local.exists() or not PACKAGED_MANIFEST.exists() else PACKAGED_MANIFEST


@contextlib.contextmanager
def manifest_lock(path: Path):
    """An exclusive lock on the manifest at ``path`` for a read-modify-write (the lock file lives in the temporary
    folder, keyed by the manifest's path, so nothing is left next to the weights)."""
    from filelock import FileLock

    key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
    with FileLock(Path(tempfile.gettempdir()) / f"gimzoo-manifest-{key}.lock"):
        yield


def read_manifest(checkpoint_dir: Path | None = None) -> dict[str, dict]:
    path = manifest_path(checkpoint_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def list_pretrained(checkpoint_dir: Path | None = None) -> list[str]:
    """Names that :func:`load` accepts."""
    return sorted(read_manifest(checkpoint_dir))


# -- building a model from its YAML ------------------------------------------------------------------------

class UnsafeConfigError(ValueError):
    """A config that names a class outside the zoo, or arguments a zoo class does not take; nothing was called."""


def _zoo_classes(kind: str) -> dict[str, type]:
    """The classes a config may build, by every class path that names them: registered models, or datamodules."""
    if kind == "model":
        from .registry import _MODELS

        classes = {entry.cls for entry in _MODELS.values()}
        package = "gimzoo.models"
    else:
        from .data import DATASETS

        classes, package = set(DATASETS.values()), "gimzoo.data"
    return {path: cls for cls in classes for path in (f"{package}.{cls.__name__}", f"{cls.__module__}.{cls.__qualname__}")}


def _plain(value) -> bool:
    """None, a bool, number or string, or a list of them (nested lists too): what an init argument may be."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    return isinstance(value, (list, tuple)) and all(_plain(v) for v in value)


def _checked(section: dict, kind: str) -> tuple[type, dict[str, Any]]:
    """(class, init arguments) of a config section, refused with :class:`UnsafeConfigError` unless the class is a zoo
    class and every argument is a plain value that its ``__init__`` names."""
    if not isinstance(section, dict) or not isinstance(section.get("class_path"), str):
        raise UnsafeConfigError(f"the config's {kind} must be a mapping with a class_path, got {section!r}")
    known = _zoo_classes(kind)
    cls = known.get(section["class_path"])
    if cls is None:
        raise UnsafeConfigError(f"refusing to build {section['class_path']!r}: a config builds only gimzoo's "
                                f"{kind}s ({', '.join(sorted(p for p in known if p.count('.') == 2))})")
    args = section.get("init_args") or {}
    if not isinstance(args, dict):
        raise UnsafeConfigError(f"{section['class_path']}: init_args must be a mapping, got {type(args).__name__}")
    params = inspect.signature(cls.__init__).parameters
    unknown_args = sorted(set(args) - set(params) - {"self"})
    if unknown_args:
        raise UnsafeConfigError(f"{section['class_path']} takes no argument(s) {unknown_args}")
    bad = sorted(k for k, v in args.items() if not _plain(v))
    if bad:
        raise UnsafeConfigError(f"{section['class_path']}: argument(s) {bad} must be plain values (numbers, strings, "
                                "lists), not objects to build")
    return cls, dict(args)


def build_from_config(config: dict[str, Any]):
    """(model, datamodule) from a ``gimzoo fit`` config dict (the model's data shape from the datamodule). Only zoo
    classes are built, with checked arguments (:class:`UnsafeConfigError` otherwise, before anything is called)."""
    if not isinstance(config, dict) or "model" not in config or "data" not in config:
        raise UnsafeConfigError("a config needs a model and a data section")
    data_cls, data_args = _checked(config["data"], "datamodule")
    model_cls, model_args = _checked(config["model"], "model")
    datamodule = data_cls(**data_args)
    model_args["data_shape"] = list(datamodule.data_shape)
    return model_cls(**model_args), datamodule


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
    record(name, entry, out_dir)
    return entry


def record(name: str, entry: dict, checkpoint_dir: Path | None = None) -> None:
    """Write ``entry`` as ``name`` into the manifest: read, change and replace under the manifest's lock, so that
    concurrent publishes keep every entry."""
    path = Path(checkpoint_dir or CHECKPOINT_DIR) / MANIFEST_NAME
    with manifest_lock(path):
        manifest = json.loads(path.read_text()) if path.exists() else {}
        manifest[name] = entry
        atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


# -- load -------------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    base = os.environ.get("GIMZOO_HUB_CACHE")
    return Path(base) if base else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gimzoo" / "checkpoints"


def _download(url: str, entry: dict) -> Path:
    """``url`` into the cache, atomically: the sha256 is checked before the file is moved into place."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{entry['file']}.", delete=False) as tmp:
        try:
            with urllib.request.urlopen(url) as r:
                shutil.copyfileobj(r, tmp)
        except BaseException:
            os.unlink(tmp.name)
            raise
    if sha256_of(Path(tmp.name)) != entry["sha256"]:
        os.unlink(tmp.name)
        raise ChecksumError(f"downloaded {entry['file']} does not match its sha256 {entry['sha256']}; not kept")
    os.replace(tmp.name, folder / entry["file"])
    return folder / entry["file"]


def _hf_download(repo_id: str, filename: str, revision: str | None = None) -> Path:
    """A file of a Hugging Face Hub repo through huggingface_hub's cache (``HF_HOME``; ``HF_HUB_OFFLINE=1`` reads
    only the cache)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise ImportError("loading from the Hugging Face Hub needs huggingface_hub: pip install huggingface_hub") from e
    from . import __version__

    return Path(hf_hub_download(repo_id, filename, revision=revision, library_name="gimzoo",
                                library_version=__version__))


def _fetch(entry: dict) -> Path:
    """The local weights file of an entry: the checkout's ``checkpoints/``, else the cache, else a download from the
    Hugging Face Hub repo recorded for it, else from ``$GIMZOO_HUB_URL``; the caller checks the sha256."""
    for folder in (CHECKPOINT_DIR, cache_dir()):
        if (folder / entry["file"]).exists():
            return folder / entry["file"]
    tried, errors = [str(CHECKPOINT_DIR), str(cache_dir())], []
    hub = entry.get("hub") or {}
    if hub.get("repo_id"):
        tried.append(f"{HF_PREFIX}{hub['repo_id']}")
        try:
            return _hf_download(hub["repo_id"], entry["file"], hub.get("revision"))
        except Exception as e:  # offline without a cached copy, a missing repo or file: try the mirror next
            errors.append(f"{HF_PREFIX}{hub['repo_id']}: {type(e).__name__}: {e}")
    base = os.environ.get("GIMZOO_HUB_URL")
    if base:
        return _download(f"{base.rstrip('/')}/{entry['file']}", entry)
    raise FileNotFoundError(f"{entry['file']} was found in none of {', '.join(tried)}"
                            + (f" ({'; '.join(errors)})" if errors else "")
                            + "; set GIMZOO_HUB_URL to a location that serves it to download it")


def _weights(entry: dict, path: Path, device) -> torch.nn.Module:
    """The model of a manifest entry with the weights file at ``path``: sha256 checked before the file is parsed, the
    architecture from the entry's config (zoo classes only), the inference weights loaded strictly."""
    from safetensors.torch import load_file

    if path.suffix != ".safetensors" or not str(entry.get("file", "")).endswith(".safetensors"):
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


#: the fields a manifest entry from a hub repo must have, and their types
ENTRY_FIELDS = {"file": str, "sha256": str, "config": str, "model": str}


def hub_entry(name: str) -> dict:
    """The manifest entry (``gimzoo.json``) of a repo written by :func:`push`; ``name`` is ``hf-hub:owner/name`` or
    ``hf-hub:owner/name@revision``. It is JSON, checked field by field; its config is built only through
    :func:`build_from_config`."""
    repo_id, _, revision = name[len(HF_PREFIX):].partition("@")
    path = _hf_download(repo_id, HUB_ENTRY_FILE, revision or None)
    try:
        entry = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{name}: {HUB_ENTRY_FILE} is not a JSON manifest entry ({e})") from None
    bad = [k for k, t in ENTRY_FIELDS.items() if not isinstance(entry.get(k) if isinstance(entry, dict) else None, t)]
    if bad or len(entry["sha256"]) != 64 or Path(entry["file"]).name != entry["file"]:
        raise ValueError(f"{name}: {HUB_ENTRY_FILE} is not a gimzoo manifest entry (bad or missing {bad or ['file']})")
    entry["hub"] = {"repo_id": repo_id, "revision": revision or None}
    return entry


def entry_of(name: str, checkpoint_dir: Path | None = None) -> dict:
    """The manifest entry of a pretrained name, or of ``hf-hub:owner/name``."""
    if name.startswith(HF_PREFIX):
        return hub_entry(name)
    manifest = read_manifest(checkpoint_dir)
    if name not in manifest:
        raise unknown("pretrained model", name, list(manifest))
    return manifest[name]


def load(name: str, device: str | torch.device = "cpu", checkpoint_dir: Path | None = None):
    """A pretrained zoo model in eval mode on ``device``: ``gimzoo.load("wae-mnist")``, or any repo that ``gimzoo
    push`` wrote, ``gimzoo.load("hf-hub:owner/name")``."""
    entry = entry_of(name, checkpoint_dir)
    if name.startswith(HF_PREFIX):
        path = _hf_download(entry["hub"]["repo_id"], entry["file"], entry["hub"]["revision"])
    else:
        path = Path(checkpoint_dir) / entry["file"] if checkpoint_dir else _fetch(entry)
    return _weights(entry, path, device)


def datamodule_of(name: str, checkpoint_dir: Path | None = None):
    """The datamodule a pretrained model was trained on (from its recorded YAML)."""
    datamodule = build_from_config(yaml.safe_load(entry_of(name, checkpoint_dir)["config"]))[1]
    datamodule.download = False  # evaluation reads the data root; it never downloads (a clear error instead)
    return datamodule


#: the manifest metrics the README's table shows, in this order
TABLE_COLUMNS = ("fid_lenet", "kid_lenet", "recon_mse", "linear_probe_accuracy", "knn1_accuracy", "mmd_qz_pz",
                 "cluster_hungarian_accuracy", "iwae_nll", "modes_captured", "high_quality_fraction")


#: the headline metrics of the README's model table, from each model's MNIST checkpoint
MODEL_TABLE_COLUMNS = ("fid_lenet", "linear_probe_accuracy", "mmd_qz_pz")


def model_table(checkpoint_dir: Path | None = None, link: str | None = None) -> str:
    """The README's model table: a row per registered model with its family, paper, published checkpoints and the
    headline metrics of its ``<model>-mnist`` checkpoint (``gimzoo table`` prints it; a test checks the README).
    ``link``: a pattern like ``"{}.md"`` that links each model's name to its page."""
    from .modelcard import registration_of
    from .registry import get_model_entry, list_models

    fmt = lambda v: "–" if v is None else f"{v:.3g}"  # noqa: E731
    manifest = read_manifest(checkpoint_dir)
    published: dict[str, list[str]] = {}
    for pub, entry in sorted(manifest.items()):
        published.setdefault(registration_of(entry), []).append(pub)
    lines = ["| model | family | paper | published | " + " | ".join(MODEL_TABLE_COLUMNS) + " |",
             "|" + "---|" * (4 + len(MODEL_TABLE_COLUMNS))]
    for name in list_models():
        entry = get_model_entry(name)
        mnist = (manifest.get(f"{name}-mnist") or {}).get("evaluation") or {}
        cells = " | ".join(fmt((mnist.get("metrics") or {}).get(k)) for k in MODEL_TABLE_COLUMNS)
        pubs = ", ".join(f"`{p}`" for p in published.get(name, [])) or "–"
        shown = f"[`{name}`]({link.format(name)})" if link else f"`{name}`"
        lines.append(f"| {shown} | {entry.cls.family} | {entry.paper} | {pubs} | {cells} |")
    return "\n".join(lines)


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
