"""``gimzoo figure NAME [NAME ...] --out docs/zoo-mnist.png``: one picture of several published models.

One row per model: ``n`` samples of p(x) (seed 0) on the left, then ``n`` test images each followed by its
reconstruction, so models can be compared at a glance on the same images.
"""
from __future__ import annotations

import argparse

import torch
from torchvision.utils import make_grid, save_image


@torch.no_grad()
def zoo_figure(names: list[str], out: str, n: int = 8, seed: int = 0) -> torch.Tensor:
    from . import hub

    rows = []
    for name in names:
        model, dm = hub.load(name), hub.datamodule_of(name)
        x = dm.split("test")[0][:n]
        samples = model.sample(n, generator=torch.Generator().manual_seed(seed))
        pairs = torch.stack([x, model.reconstruct(x)], dim=1).flatten(0, 1)  # x_1, recon_1, x_2, recon_2, ...
        rows.append(torch.cat([samples, torch.ones(1, *x.shape[1:]), pairs]))
    grid = make_grid(torch.cat(rows), nrow=3 * n + 1, pad_value=1.0)
    save_image(grid, out)
    return grid


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="gimzoo figure", description="Samples and reconstructions of published models.")
    p.add_argument("names", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=8)
    a = p.parse_args(argv)
    zoo_figure(a.names, a.out, a.n)
    print(f"wrote {a.out}: rows {', '.join(a.names)}; each row: {a.n} samples | {a.n} test images and reconstructions")
