"""MkDocs hooks: the pages generated from the code at build time (``make docs``), so they cannot drift from it.

- ``models/<name>.md`` for every registered model: its registration, its module docstring (paper, equations,
  official code), its API, its configs, and its published checkpoints (recipe, metrics with protocol, samples).
- ``models/index.md``: the table of models.
- ``cli.md``: the ``--help`` of every ``gimzoo`` command.
- ``benchmark.md``: the equal-terms benchmark, from ``results/<suite>.md`` and its figure.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

import yaml
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]


def on_files(files, config):
    from gimzoo.registry import list_models

    def add(uri: str, content: str | bytes) -> None:
        files.append(File.generated(config, uri, content=content))

    published = _published()
    for name in list_models():
        page, images = model_page(name, published)
        add(f"models/{name}.md", page)
        for uri, png in images.items():
            add(uri, png)
    add("models/index.md", models_index(published))
    add("cli.md", cli_page())
    page, images = benchmark_page()
    add("benchmark.md", page)
    for uri, png in images.items():
        add(uri, png)
    return files


# -- models ----------------------------------------------------------------------------------------------------
def _published() -> dict[str, tuple[str, dict]]:
    """published name -> (its registered model name, manifest entry)."""
    from gimzoo.hub import read_manifest
    from gimzoo.modelcard import registration_of

    return {pub: (registration_of(entry), entry) for pub, entry in sorted(read_manifest().items())}


def _module_doc(cls) -> str:
    import inspect

    return inspect.getdoc(sys.modules[cls.__module__]) or ""


def docstring_markdown(doc: str) -> str:
    """A module docstring as Markdown: prose paragraphs wrap, indented blocks (the equations) stay aligned in a
    text block, and reST literals and roles become code spans."""
    import re

    out = []
    for block in doc.strip().split("\n\n"):
        lines = block.splitlines()
        if all(l.startswith("    ") or not l.strip() for l in lines):
            out.append("```text\n" + "\n".join(l[4:] for l in lines) + "\n```")
            continue
        text = re.sub(r":(?:func|class|meth|mod|attr):`~?([^`]+)`", r"`\1`", " ".join(l.strip() for l in lines))
        out.append(text.replace("``", "`"))
    return "\n\n".join(out)


HEADLINE = ("fid_lenet", "linear_probe_accuracy", "knn1_accuracy", "mmd_qz_pz", "cluster_hungarian_accuracy",
            "iwae_nll", "modes_captured", "high_quality_fraction")


def model_page(name: str, published: dict) -> tuple[str, dict[str, bytes]]:
    import torch

    from gimzoo import hub
    from gimzoo.modelcard import format_metric, sample_figure
    from gimzoo.models.base import FAMILIES
    from gimzoo.registry import get_model_entry, list_models

    entry = get_model_entry(name)
    cls = entry.cls
    siblings = [n for n in list_models() if get_model_entry(n).cls is cls and n != name]
    defaults = ", ".join(f"`{k}={v!r}`" for k, v in entry.defaults.items())
    lines = [f"# `{name}`", "",
             f"**Paper** {entry.paper}. **Family** {FAMILIES.get(cls.family, cls.family)}. **Class** "
             f"[`{cls.__module__.rsplit('.', 1)[0]}.{cls.__name__}`](#api). **Registration** "
             + (f"`{name}` = `{cls.__name__}` with {defaults}" if defaults else f"`{name}` = `{cls.__name__}` as it is")
             + (f"; the same class is also registered as {', '.join(f'[`{s}`]({s}.md)' for s in siblings)}." if siblings
                else "."), "",
             "```python", "import gimzoo", "", f'model = gimzoo.create("{name}")   # then any init argument below',
             "```", "", "## The model", "", docstring_markdown(_module_doc(cls)), ""]
    configs = sorted((ROOT / "zoo_configs").glob(f"{name}-*.yaml"))
    configs = [c for c in configs if c.stem[len(name) + 1:] in DATASET_SUFFIXES]
    lines += ["## Configs", "", "Train one with `make train MODEL=" + name + " DATA=<dataset>` or "
              "`gimzoo fit --config zoo_configs/<config>.yaml`.", ""]
    for path in configs:
        text = path.read_text()
        header = " ".join(l.lstrip("# ").strip() for l in text.splitlines() if l.startswith("#")).strip()
        trained = path.stem in published
        lines += [f"??? {'success' if trained else 'note'} \"`zoo_configs/{path.name}`"
                  f"{' (published)' if trained else ' (not trained here)' if not _trained_elsewhere(path.stem) else ''}\"",
                  "", f"    {header}" if header else "", "", "    ```yaml",
                  *[f"    {l}" for l in text.splitlines() if not l.startswith("#")], "    ```", ""]
    mine = {pub: e for pub, (reg, e) in published.items() if reg == name}
    images: dict[str, bytes] = {}
    lines += ["## Published checkpoints", ""]
    if not mine:
        lines += ["None yet: see [the results](../results.md) for the runs made with this model.", ""]
    for pub, e in mine.items():
        evaluation = e.get("evaluation") or {}
        metrics, protocol = evaluation.get("metrics") or {}, evaluation.get("protocol") or {}
        lines += [f"### `{pub}`", "",
                  f"`gimzoo.load(\"{pub}\")`: {e['parameters']:,} parameters, trained on {e['dataset']}, "
                  f"sha256 `{e['sha256'][:16]}…`. Reproduce: `gimzoo fit --config zoo_configs/{pub}.yaml`; "
                  f"evaluate: `gimzoo eval {pub}`.", ""]
        shown = [k for k in HEADLINE if metrics.get(k) is not None]
        rest = [k for k in sorted(metrics) if k not in shown and metrics[k] is not None]
        lines += ["| metric | value |", "|---|---|", *[f"| **{k}** | {format_metric(metrics[k])} |" for k in shown], "",
                  f"??? note \"Every metric of `gimzoo eval {pub}` ({len(shown) + len(rest)})\"", "",
                  "    | metric | value |", "    |---|---|",
                  *[f"    | {k} | {format_metric(metrics[k])} |" for k in (*shown, *rest)], ""]
        lines += ["The protocol ([explained here](../evaluation.md)):", "",
                  *[f"- **{k}**: {v if not isinstance(v, dict) else ', '.join(f'{a} {b}' for a, b in v.items())}"
                    for k, v in protocol.items()], ""]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "s.png"
            with torch.no_grad():
                sample_figure(hub.load(pub), out)
            images[f"models/img/{pub}.png"] = out.read_bytes()
        lines += [f"![64 samples of {pub}](img/{pub}.png){{ width=\"320\" }}", "",
                  f"*Samples of p(x) from `{pub}`, seed 0 (`gimzoo figure {pub} --out F.png` draws samples and "
                  "reconstructions).*", "",
                  f"??? note \"The recipe it was trained with (the run's config.yaml)\"", "", "    ```yaml",
                  *[f"    {l}" for l in e["config"].splitlines()], "    ```", ""]
    lines += ["## API", "", f"::: gimzoo.models.{cls.__name__}", "    options:", "      show_root_heading: false",
              "      members: false", "      show_bases: true", ""]
    return "\n".join(lines), images


DATASET_SUFFIXES = ("mnist", "fashion-mnist", "cifar10", "celeba64", "ring8", "grid25")


def _trained_elsewhere(stem: str) -> bool:
    """Configs of MNIST, Fashion-MNIST and the toy data were run here (docs/results.md); CIFAR-10 and CelebA were not."""
    return not stem.endswith(("cifar10", "celeba64"))


def models_index(published: dict) -> str:
    from gimzoo.registry import get_model_entry, list_models

    lines = ["# Models", "",
             "Every registered model, its family (the equation it matches the joints by, see the [home page](../index.md)), "
             "its paper, and its published checkpoints. Each name links to the model's page: the equations, "
             "the configs, the checkpoints with their metrics and protocol, and the API.", "",
             "| model | family | paper | published |", "|---|---|---|---|"]
    for name in list_models():
        cls = get_model_entry(name).cls
        pubs = ", ".join(f"`{p}`" for p, (reg, _) in published.items() if reg == name) or "–"
        lines.append(f"| [`{name}`]({name}.md) | {cls.family} | {get_model_entry(name).paper} | {pubs} |")
    from gimzoo.hub import results_table

    lines += ["", "## Every published checkpoint", "",
              "`gimzoo table --checkpoints`: the metrics of `gimzoo eval` for each checkpoint in "
              "`checkpoints/manifest.json`, and the command that trains it. The real-data floor of `fid_lenet` is "
              "1.77 on MNIST and 0.23 on Fashion-MNIST (`gimzoo floor`); PCA with 16 components (`gimzoo baseline`) "
              "is the linear reference ([evaluation protocol](../evaluation.md)).", "", results_table()]
    return "\n".join(lines) + "\n"


# -- the command line --------------------------------------------------------------------------------------------
def cli_page() -> str:
    from gimzoo.cli import COMMANDS

    lines = ["# Command-line reference", "",
             "`gimzoo fit | validate | test` are LightningCLI commands: `--config FILE` and any `--model.*`, "
             "`--data.*`, `--trainer.*` override ([training](training.md)); `gimzoo fit --help` lists every one. "
             "`gimzoo list` prints the models, datasets, configs and published checkpoints. The other commands:", ""]
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "110"
    try:
        for name, fn in sorted(COMMANDS.items()):
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                fn(["--help"])
            lines += [f"## `gimzoo {name}`", "", "```text", out.getvalue().rstrip(), "```", ""]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(lines)


# -- the benchmark ----------------------------------------------------------------------------------------------
def benchmark_page() -> tuple[str, dict[str, bytes]]:
    intro = (ROOT / "docs" / "benchmark-intro.md").read_text()
    lines, images = [intro.rstrip(), ""], {}
    for suite in ("mnist-equal", "fashion-mnist-equal"):
        md, png = ROOT / "results" / f"{suite}.md", ROOT / "results" / f"{suite}.png"
        if not md.is_file():
            lines += [f"## {suite}", "", f"Not run yet: `gimzoo benchmark {suite}`.", ""]
            continue
        body = md.read_text().replace(f"# {suite}", f"## {suite}", 1)
        if png.is_file():
            images[f"img/{suite}.png"] = png.read_bytes()
            body = body.replace(f"]({suite}.png)", f"](img/{suite}.png)")
        lines += [body, ""]
    lines.append((ROOT / "docs" / "benchmark-reading.md").read_text())
    return "\n".join(lines), images
