"""2-D Gaussian mixtures of the PacGAN protocol (Lin et al. 2018): ring of 8 and grid of 25."""
from __future__ import annotations

import math
from typing import ClassVar

import torch

from .base import InMemoryDataModule


class GaussianMixture2D(InMemoryDataModule):
    """Points x = mu_y + sigma * eps with y uniform over ``means()``; labels are the component y."""

    data_shape = (2,)
    is_image = False
    sigma: ClassVar[float]

    def __init__(self, n_train: int = 100_000, n_test: int = 10_000, batch_size: int = 100,
                 eval_batch_size: int = 2500, val_size: int = 2500, seed: int = 0):
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, val_size=val_size, seed=seed)
        self.n_train, self.n_test = n_train, n_test

    @classmethod
    def means(cls) -> torch.Tensor:
        raise NotImplementedError

    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 2 + (0 if train else 1))
        n, means = (self.n_train if train else self.n_test), self.means()
        y = torch.randint(len(means), (n,), generator=g)
        return means[y] + self.sigma * torch.randn(n, 2, generator=g), y


class Ring8(GaussianMixture2D):
    """8 Gaussians, sigma = 0.01, means evenly spaced on the unit circle."""

    name = "ring8"
    sigma = 0.01

    @classmethod
    def means(cls) -> torch.Tensor:
        angles = torch.arange(8) * (2 * math.pi / 8)
        return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


class Grid25(GaussianMixture2D):
    """25 Gaussians, sigma = 0.05, means on the grid {-4, -2, 0, 2, 4}^2."""

    name = "grid25"
    sigma = 0.05

    @classmethod
    def means(cls) -> torch.Tensor:
        ticks = torch.arange(-4.0, 5.0, 2.0)
        return torch.cartesian_prod(ticks, ticks)
