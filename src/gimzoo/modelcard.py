"""``gimzoo push NAME --repo owner/name``: a published model as a Hugging Face Hub repo, with a generated model card.

The repo holds the safetensors weights, ``config.yaml`` (the recipe that trained them), ``gimzoo.json`` (the
manifest entry: file, sha256, config, metrics and their protocol) and ``README.md``, the model card made here from
the manifest entry, the model's registration and its module docstring (paper, equation, official code), with a
sample figure (``samples.png``). Nothing in the card is typed by hand: every number comes from the manifest, which
``gimzoo publish`` wrote from ``gimzoo eval``.
"""
from __future__ import annotations

import inspect
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import yaml

from . import hub


def registered_names(entry: dict) -> list[str]:
    """The registered model names whose class and defining defaults the entry's config has (``ali`` for a BiGAN
    config with a Gaussian encoder and a normal prior, ...)."""
    from .registry import _MODELS

    model = yaml.safe_load(entry["config"])["model"]
    args = model.get("init_args") or {}
    cls = hub._zoo_classes("model")[model["class_path"]]
    return sorted(e.name for e in _MODELS.values()
                  if e.cls is cls and all(args.get(k, v) == v for k, v in e.defaults.items()))


def registration_of(entry: dict) -> str:
    """The most specific registered name of a published entry: of the names its config matches, the one with the
    most defining defaults (``beta-vae``, not ``vae``, for a VAE config with beta = 4)."""
    from .registry import get_model_entry

    return max(registered_names(entry), key=lambda n: len(get_model_entry(n).defaults))


@torch.no_grad()
def sample_figure(model, out: Path, n: int = 64, seed: int = 0) -> None:
    """n samples of p(x) (seed 0) as a grid, or as a density image for 2-D data."""
    from torchvision.utils import make_grid, save_image

    from .callbacks.grids import scatter_image

    samples = model.sample(n if len(model.data_shape) > 1 else 2500, generator=torch.Generator().manual_seed(seed))
    image = scatter_image(samples) if len(model.data_shape) == 1 else make_grid(samples, nrow=8, pad_value=1.0)
    save_image(image, out)


def format_metric(v) -> str:
    return "n/a" if v is None else (f"{v:.5g}" if isinstance(v, float) else str(v))


def model_card(name: str, entry: dict, repo_id: str, model) -> str:
    """The README.md of a pushed repo (Hugging Face's YAML header, then Markdown)."""
    names = registered_names(entry)
    cls = type(model)
    paper = inspect.getdoc(sys.modules[cls.__module__]) or ""
    evaluation = entry.get("evaluation") or {}
    metrics, protocol = evaluation.get("metrics") or {}, evaluation.get("protocol") or {}
    header = {"library_name": "gimzoo", "license": "mit", "tags": ["gimzoo", "generative-inference", *names],
              "datasets": [entry["dataset"]]}
    lines = ["---", yaml.safe_dump(header, sort_keys=False).strip(), "---", "",
             f"# {name}", "",
             f"`{', '.join(names) or cls.__name__}` (`{entry['model']}`) trained on `{entry['dataset']}` with "
             f"gimzoo, a PyTorch Lightning zoo of generative-inference models: each pairs p(x, z) = "
             "p(z) p(x|z) with q(x, z) = q(x) q(z|x) and is one way of matching the two joints.", "",
             "![samples of p(x), seed 0](samples.png)", "",
             "## Use", "", "```python", "import gimzoo", "",
             f'model = gimzoo.load("{hub.HF_PREFIX}{repo_id}")  # sha256-checked safetensors, nothing unpickled',
             "x = model.sample(16)          # samples of p(x), pixels in [0, 1]",
             "z = model.encode(x)           # codes of q(z|x)", "x_hat = model.reconstruct(x)", "```", "",
             f"Evaluate it: `gimzoo eval {hub.HF_PREFIX}{repo_id}`.", "",
             "## Paper, equation and official code", "", "```text", paper, "```", "",
             "## Recipe", "",
             f"Trained by `gimzoo fit --config config.yaml` (in the gimzoo repository: `gimzoo fit --config "
             f"zoo_configs/{name}.yaml`); published from `{entry.get('published_from')}`.", "",
             "```yaml", entry["config"].rstrip(), "```", "",
             "## Metrics", "",
             f"Printed by `gimzoo eval` when the model was published (`gimzoo publish`); the weights evaluated are "
             f"those of this file.", "", "| metric | value |", "|---|---|"]
    lines += [f"| `{k}` | {format_metric(v)} |" for k, v in metrics.items()]
    lines += ["", "Protocol:", ""]
    for k, v in protocol.items():
        v = ", ".join(f"{a} {b}" for a, b in v.items()) if isinstance(v, dict) else v
        lines.append(f"- {k}: {v}")
    lines += ["", "## Weights", "",
              f"- {entry['parameters']:,} parameters of the inference networks (no critic, no optimizer state)",
              f"- `{entry['file']}`, {entry['bytes']:,} bytes, sha256 `{entry['sha256']}`",
              f"- pixel range inside the model: {entry.get('pixel_range')}; the API takes and returns [0, 1]", ""]
    return "\n".join(lines)


def push(name: str, repo_id: str, checkpoint_dir: Path | None = None, private: bool | None = None,
         api=None) -> dict:
    """Upload the published model ``name`` to the Hub repo ``repo_id`` (weights, config.yaml, gimzoo.json, README.md,
    samples.png) and record the repo in the manifest entry, so that ``load(name)`` can download from it. Returns the
    entry as pushed."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    entry = hub.entry_of(name, checkpoint_dir)
    weights = Path(checkpoint_dir) / entry["file"] if checkpoint_dir else hub._fetch(entry)
    model = hub._weights(entry, weights, "cpu")  # the sha256 is checked and the config built before anything leaves
    pushed = {k: v for k, v in entry.items() if k != "hub"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copyfile(weights, folder / entry["file"])
        (folder / "config.yaml").write_text(entry["config"])
        (folder / hub.HUB_ENTRY_FILE).write_text(json.dumps(pushed, indent=1, sort_keys=True) + "\n")
        sample_figure(model, folder / "samples.png")
        (folder / "README.md").write_text(model_card(name, entry, repo_id, model))
        api.create_repo(repo_id, exist_ok=True, private=private)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=f"gimzoo push {name}")
    if not name.startswith(hub.HF_PREFIX):
        hub.record(name, entry | {"hub": {"repo_id": repo_id, "revision": None}}, checkpoint_dir)
    return pushed
