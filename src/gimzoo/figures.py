"""``gimzoo figure NAME [NAME ...] --out docs/zoo-mnist.png``: one picture of several published models.

One row per model: ``n`` samples of p(x) (seed 0) on the left, then ``n`` test images each followed by its
reconstruction, so models can be compared at a glance on the same images. For 2-D toy data a row is three
density images on the same axes: 2,500 samples, 2,500 test points, and their reconstructions.

``gimzoo figure NAME --clusters --out F.png``: for one model with a discrete code (InfoGAN, MPCC), one row per
cluster y: ``n`` samples of p(x | y) on the left, then the first ``n`` test images that ``cluster(x)`` sends to y,
so what the code draws and what it recognises can be compared.

``gimzoo figure NAME --confusion --out F.png``: the same model's clusters against the test labels, a row per
cluster in the order of the best one-to-one map to the classes, printed as a Markdown table too.
"""
from __future__ import annotations

import argparse

import torch
from torchvision.utils import make_grid, save_image

from .data.batches import pixels


@torch.no_grad()
def zoo_figure(names: list[str], out: str, n: int = 8, seed: int = 0, config: str | None = None) -> torch.Tensor:
    rows, kinds = [], set()
    for name in names:
        model, dm = _load(name, config, images=False)
        kinds.add(len(model.data_shape) == 1)
        if len(kinds) > 1:
            raise ValueError(f"one figure takes images or 2-D points, not both ({', '.join(names)})")
        if len(model.data_shape) == 1:
            rows.append(_points_row(model, dm, seed))
            continue
        x = pixels(dm.split("test")[0][:n])
        samples = model.sample(n, generator=torch.Generator().manual_seed(seed))
        pairs = torch.stack([x, model.reconstruct(x)], dim=1).flatten(0, 1)  # x_1, recon_1, x_2, recon_2, ...
        rows.append(torch.cat([samples, torch.ones(1, *x.shape[1:]), pairs]))
    return _save(torch.cat(rows), len(rows[0]) if kinds == {True} else 3 * n + 1, out)


@torch.no_grad()
def cluster_figure(name: str, out: str, n: int = 10, seed: int = 0, config: str | None = None) -> torch.Tensor:
    model, dm = _load(name, config, images=False)
    if model.n_clusters is None or len(model.data_shape) != 3:
        raise ValueError(f"--clusters draws image models with a discrete code (InfoGAN, MPCC); {name} is not one")
    x = dm.split("test")[0]
    assigned = _clusters(model, x)
    blank = torch.ones(1, *x.shape[1:])
    rows = []
    for y in range(model.n_clusters):
        samples = model.sample_cluster(torch.full((n,), y), generator=torch.Generator().manual_seed(seed))
        members = pixels(x[assigned == y][:n])
        rows.append(torch.cat([samples, blank, members, blank.expand(n - len(members), -1, -1, -1)]))
    return _save(torch.cat(rows), 2 * n + 1, out)


@torch.no_grad()
def confusion_figure(name: str, out: str, config: str | None = None) -> torch.Tensor:
    """The confusion matrix of ``cluster(x)`` on the whole test split, a row per cluster in the order of the best
    one-to-one map to the classes (matched samples on the diagonal), with the four clustering scores in the title.
    Prints it as a Markdown table and returns the (clusters, classes) counts in that order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import clustering_scores, matched_confusion

    model, dm = _load(name, config)
    if model.n_clusters is None:
        raise ValueError(f"--confusion draws models with a discrete code (InfoGAN, MPCC); {name} has none")
    x, y = dm.split("test")
    pred = _clusters(model, x)
    k, c = model.n_clusters, int(y.max()) + 1
    table, order = matched_confusion(pred, y)
    table = table[:, :c]  # the columns past the classes are the match's padding
    s = clustering_scores(pred, y)
    fig, ax = plt.subplots(figsize=(0.55 * c + 2.2, 0.5 * len(table) + 1.6))
    ax.imshow(table.numpy(), cmap="Blues")
    for i, row in enumerate(table.tolist()):
        for j, count in enumerate(row):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if count > table.max() / 2 else "black")
    ax.set_xticks(range(c), [str(j) for j in range(c)])
    ax.set_yticks(range(len(table)), [f"{int(o)}" if o < k else "-" for o in order])
    ax.set_xlabel("class (test label)")
    ax.set_ylabel("cluster, matched to the class of its column")
    ax.set_title(f"{name}: {len(y)} test images\nHungarian {s.hungarian_accuracy:.3f}, majority "
                 f"{s.majority_accuracy:.3f}, NMI {s.nmi:.3f}, ARI {s.ari:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print("| cluster | " + " | ".join(str(j) for j in range(c)) + " |\n|" + "---|" * (c + 1))
    for o, row in zip(order.tolist(), table.tolist()):
        print(f"| {o if o < k else '-'} | " + " | ".join(str(v) for v in row) + " |")
    print(f"Hungarian {s.hungarian_accuracy:.4f}, majority {s.majority_accuracy:.4f}, NMI {s.nmi:.4f}, "
          f"ARI {s.ari:.4f}; {s.n_clusters_used} of {k} clusters used")
    return table


def _clusters(model, x: torch.Tensor) -> torch.Tensor:
    """``model.cluster`` of every image of ``x``, a thousand at a time, on the CPU."""
    return torch.cat([model.cluster(pixels(chunk)) for chunk in x.split(1000)]).cpu()


def _points_row(model, dm, seed: int, n: int = 2500) -> torch.Tensor:
    """samples | test points | their reconstructions, as (3, 3, 256, 256) density images on one extent."""
    from .callbacks.grids import scatter_image

    x = pixels(dm.split("test")[0][:n])
    samples = model.sample(n, generator=torch.Generator().manual_seed(seed))
    extent = float(x.abs().max()) * 1.25
    return torch.stack([scatter_image(p, extent=extent).expand(3, -1, -1) for p in (samples, x, model.reconstruct(x))])


@torch.no_grad()
def interpolation_figure(name: str, out: str, n: int = 8, steps: int = 9, seed: int = 0,
                         config: str | None = None) -> torch.Tensor:
    """``n`` pairs of test images, each pair two rows, linear then spherical: x_a, the decoded path, x_b."""
    from .latent import interpolate

    model, dm = _load(name, config)
    x = dm.split("test")[0]
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[: 2 * n]
    a, b = pixels(x[pick[:n]]).float(), pixels(x[pick[n:]]).float()
    paths = torch.stack([interpolate(model, a, b, steps, m) for m in ("linear", "slerp")], 1)  # (n, 2, steps, ...)
    ends = (a[:, None, None].expand(-1, 2, -1, -1, -1, -1), b[:, None, None].expand(-1, 2, -1, -1, -1, -1))
    return _save(torch.cat([ends[0], paths, ends[1]], 2).flatten(0, 2), steps + 2, out)


@torch.no_grad()
def traversal_figure(name: str, out: str, dims: int = 10, steps: int = 9, index: int = 0,
                     config: str | None = None) -> torch.Tensor:
    """One row per latent dimension, the ``dims`` dimensions the encoder uses most (largest code variance on the
    test images), traversed over the prior's range around the code of test image ``index``. For InfoGAN: the
    categorical code (a column per category, a row per noise draw), then each continuous code from -2 to 2 (a row
    per category), the three panels one above the other."""
    from .latent import active_dimensions, traverse, traverse_codes
    from .nets.priors import InfoGANPrior

    model, dm = _load(name, config)
    if isinstance(model.prior, InfoGANPrior):
        k = model.prior.n_categories
        panels = list(traverse_codes(model, rows=k, steps=k).values())  # each (k, k, ...)
        blank = torch.ones(1, k, *model.data_shape)
        rows = [panels[0]] + [part for panel in panels[1:] for part in (blank, panel)]
        return _save(torch.cat(rows).flatten(0, 1), k, out)
    x = dm.split("test")[0]
    order = active_dimensions(model, pixels(x[:2000]).float())[:dims]
    grid = traverse(model, pixels(x[index:index + 1]).float(), order, steps)
    return _save(grid.flatten(0, 1), steps, out)


@torch.no_grad()
def codes_figure(name: str, out: str, method: str = "pca", n: int = 5000, config: str | None = None) -> None:
    """The codes of ``n`` test images in 2-D (PCA, t-SNE or UMAP), coloured by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .latent import code_map

    model, dm = _load(name, config)
    x, y = dm.split("test")
    x, y = x[:n], y[:n]
    points = code_map(model, pixels(x).float(), method)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    for label in sorted(set(y.tolist())):
        mine = (y == label).numpy()
        ax.scatter(points[mine, 0], points[mine, 1], s=3, alpha=0.7, rasterized=True,
                   color="grey" if label < 0 else plt.get_cmap("tab10")(label % 10),
                   label="no label" if label < 0 else str(label))
    ax.legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="label")
    ax.set_title(f"{name}: codes of {len(x)} test images, {method.upper() if method == 'pca' else method}")
    ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


@torch.no_grad()
def neighbours_figure(name: str, out: str, n: int = 8, k: int = 5, seed: int = 0,
                      config: str | None = None) -> torch.Tensor:
    """A row per sample of p(x): the sample, then its ``k`` nearest training images (pixel space)."""
    from .latent import nearest_training

    model, dm = _load(name, config)
    samples, neighbours, distances = nearest_training(model, dm.split("train")[0], n, k, seed)
    rows = torch.cat([samples[:, None], torch.ones_like(samples)[:, None], neighbours], 1)
    print(f"nearest training distances (pixel L2), per sample: "
          + "; ".join(", ".join(f"{d:.2f}" for d in row) for row in distances.tolist()))
    return _save(rows.flatten(0, 1), k + 2, out)


def _load(name: str, config: str | None = None, images: bool = True):
    """(model, datamodule) of a published name, ``hf-hub:owner/name``, or a run's ``.ckpt`` (trained by ``config``;
    default: the run's config.yaml); with ``images``, only a model of images."""
    from .cli import load_for_eval

    model, dm = load_for_eval(name, config)
    if images and len(model.data_shape) != 3:
        raise ValueError(f"the latent figures draw image models; {name} has data of shape {model.data_shape}")
    return model, dm


def _save(images: torch.Tensor, nrow: int, out: str) -> torch.Tensor:
    grid = make_grid(images.float(), nrow=nrow, pad_value=1.0)
    save_image(grid, out)
    return grid


LATENT = {"interpolate": (interpolation_figure, "pairs of test images, two rows each (linear, then spherical): x_a, "
                          "the decoded path between their codes, x_b"),
          "traverse": (traversal_figure, "a row per latent dimension (most used first), varied over the prior's "
                       "range around one test image's code; InfoGAN: its categorical, then continuous codes"),
          "codes": (codes_figure, "the codes of test images in 2-D, coloured by label"),
          "neighbours": (neighbours_figure, "a row per sample of p(x): the sample, then its nearest training images")}


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="gimzoo figure", description="Samples and reconstructions of published models, "
                                "or one model's latent space (--interpolate, --traverse, --codes, --neighbours).")
    p.add_argument("names", nargs="+", help="published names (gimzoo list), hf-hub:owner/name, or a run's .ckpt")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, help="images per row, pairs, samples or codes (each figure has its default)")
    p.add_argument("--config", help="the config that trained a .ckpt (default: the run's config.yaml); one model")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--clusters", action="store_true",
                      help="one model with a discrete code: a row per cluster, samples of p(x|y) then test images in it")
    kind.add_argument("--confusion", action="store_true",
                      help="one model with a discrete code: its clusters against the test labels, matched one to one")
    for flag, (_, what) in LATENT.items():
        kind.add_argument(f"--{flag}", action="store_true", help=what)
    p.add_argument("--method", default="pca", choices=["pca", "tsne", "umap"], help="--codes: the 2-D map")
    a = p.parse_args(argv)
    if a.config and len(a.names) != 1:
        p.error("--config goes with one .ckpt; each run's own config.yaml is found next to its checkpoints/")
    sized = {} if a.n is None else {"n": a.n}
    sized["config"] = a.config
    chosen = [flag for flag in LATENT if getattr(a, flag)]
    if a.clusters or a.confusion or chosen:
        if len(a.names) != 1:
            p.error(f"--{'clusters' if a.clusters else 'confusion' if a.confusion else chosen[0]} draws one model")
        if a.confusion:
            confusion_figure(a.names[0], a.out, a.config)
            print(f"wrote {a.out}: the confusion matrix of {a.names[0]}'s clusters on the test split")
            return
        if a.clusters:
            cluster_figure(a.names[0], a.out, **sized)
            print(f"wrote {a.out}: a row per cluster of {a.names[0]}: samples of p(x | y), then the first test images "
                  "that cluster(x) sends to y")
            return
        fn, what = LATENT[chosen[0]]
        extra = {"method": a.method} if chosen[0] == "codes" else {}
        if chosen[0] == "traverse" and a.n is not None:
            sized = {"dims": a.n, "config": a.config}
        fn(a.names[0], a.out, **sized, **extra)
        print(f"wrote {a.out}: {a.names[0]}, {what}")
        return
    zoo_figure(a.names, a.out, **sized)
    print(f"wrote {a.out}: rows {', '.join(a.names)}; each row: samples of p(x), then test data and their "
          f"reconstructions ({a.n or 8} images each, or 2,500 points for 2-D data)")
