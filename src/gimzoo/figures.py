"""``gimzoo figure NAME [NAME ...] --out docs/zoo-mnist.png``: one picture of several published models.

One row per model: ``n`` samples of p(x) (seed 0) on the left, then ``n`` test images each followed by its
reconstruction, so models can be compared at a glance on the same images. For 2-D toy data a row is three
density images on the same axes: 2,500 samples, 2,500 test points, and their reconstructions.
"""
from __future__ import annotations

import argparse

import torch
from torchvision.utils import make_grid, save_image


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
        x = dm.split("test")[0][:n]
        samples = model.sample(n, generator=torch.Generator().manual_seed(seed))
        pairs = torch.stack([x, model.reconstruct(x)], dim=1).flatten(0, 1)  # x_1, recon_1, x_2, recon_2, ...
        rows.append(torch.cat([samples, torch.ones(1, *x.shape[1:]), pairs]))
    grid = make_grid(torch.cat(rows), nrow=len(rows[0]) if kinds == {True} else 3 * n + 1, pad_value=1.0)
    save_image(grid, out)
    return grid


def _points_row(model, dm, seed: int, n: int = 2500) -> torch.Tensor:
    """samples | test points | their reconstructions, as (3, 3, 256, 256) density images on one extent."""
    from .callbacks.grids import scatter_image

    x = dm.split("test")[0][:n]
    samples = model.sample(n, generator=torch.Generator().manual_seed(seed))
    extent = float(x.abs().max()) * 1.25
    return torch.stack([scatter_image(p, extent=extent).expand(3, -1, -1) for p in (samples, x, model.reconstruct(x))])


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="gimzoo figure", description="Samples and reconstructions of published models.")
    p.add_argument("names", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=8)
    a = p.parse_args(argv)
    zoo_figure(a.names, a.out, a.n)
    print(f"wrote {a.out}: rows {', '.join(a.names)}; each row: samples of p(x), then test data and their "
          f"reconstructions ({a.n} images each, or 2,500 points for 2-D data)")
