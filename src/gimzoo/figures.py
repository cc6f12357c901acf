"""``gimzoo figure NAME [NAME ...] --out docs/zoo-mnist.png``: one picture of several published models.

One row per model: ``n`` samples of p(x) (seed 0) on the left, then ``n`` test images each followed by its
reconstruction, so models can be compared at a glance on the same images. For 2-D toy data a row is three
density images on the same axes: 2,500 samples, 2,500 test points, and their reconstructions.

``gimzoo figure NAME --clusters --out F.png``: for one model with a discrete code (InfoGAN, MPCC), one row per
cluster y: ``n`` samples of p(x | y) on the left, then the first ``n`` test images that ``cluster(x)`` sends to y,
so what the code draws and what it recognises can be compared.
"""
from __future__ import annotations

import argparse

import torch
from torchvision.utils import make_grid, save_image

from .data.batches import pixels


@torch.no_grad()
def zoo_figure(names: list[str], out: str, n: int = 8, seed: int = 0) -> torch.Tensor:
    from . import hub

    rows, kinds = [], set()
    for name in names:
        model, dm = hub.load(name), hub.datamodule_of(name)
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
    grid = make_grid(torch.cat(rows), nrow=len(rows[0]) if kinds == {True} else 3 * n + 1, pad_value=1.0)
    save_image(grid, out)
    return grid


@torch.no_grad()
def cluster_figure(name: str, out: str, n: int = 10, seed: int = 0) -> torch.Tensor:
    from . import hub

    model, dm = hub.load(name), hub.datamodule_of(name)
    if model.n_clusters is None or len(model.data_shape) != 3:
        raise ValueError(f"--clusters draws image models with a discrete code (InfoGAN, MPCC); {name} is not one")
    x = dm.split("test")[0]
    assigned = torch.cat([model.cluster(pixels(chunk)) for chunk in x.split(1000)])
    blank = torch.ones(1, *x.shape[1:])
    rows = []
    for y in range(model.n_clusters):
        samples = model.sample_cluster(torch.full((n,), y), generator=torch.Generator().manual_seed(seed))
        members = pixels(x[assigned == y][:n])
        rows.append(torch.cat([samples, blank, members, blank.expand(n - len(members), -1, -1, -1)]))
    grid = make_grid(torch.cat(rows), nrow=2 * n + 1, pad_value=1.0)
    save_image(grid, out)
    return grid


def _points_row(model, dm, seed: int, n: int = 2500) -> torch.Tensor:
    """samples | test points | their reconstructions, as (3, 3, 256, 256) density images on one extent."""
    from .callbacks.grids import scatter_image

    x = pixels(dm.split("test")[0][:n])
    samples = model.sample(n, generator=torch.Generator().manual_seed(seed))
    extent = float(x.abs().max()) * 1.25
    return torch.stack([scatter_image(p, extent=extent).expand(3, -1, -1) for p in (samples, x, model.reconstruct(x))])


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="gimzoo figure", description="Samples and reconstructions of published models.")
    p.add_argument("names", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--clusters", action="store_true",
                   help="one model with a discrete code: a row per cluster, samples of p(x|y) then test images in it")
    a = p.parse_args(argv)
    if a.clusters:
        if len(a.names) != 1:
            p.error("--clusters draws one model")
        cluster_figure(a.names[0], a.out, a.n)
        print(f"wrote {a.out}: a row per cluster of {a.names[0]}: {a.n} samples of p(x | y), then the first {a.n} "
              "test images that cluster(x) sends to y")
        return
    zoo_figure(a.names, a.out, a.n)
    print(f"wrote {a.out}: rows {', '.join(a.names)}; each row: samples of p(x), then test data and their "
          f"reconstructions ({a.n} images each, or 2,500 points for 2-D data)")
