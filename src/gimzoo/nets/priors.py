"""Priors p(z): standard normal, uniform, and a learnable Gaussian mixture p(z) = sum_y p(z|y) p(y).

Every prior has ``sample(n) -> (n, latent_dim)`` and ``log_prob(z) -> (B,)``. Samples follow the
prior's device (a non-persistent buffer), so no ``.cuda()`` is needed anywhere.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2 * math.pi)


class Prior(nn.Module):
    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class StandardNormalPrior(Prior):
    """p(z) = N(0, I)."""

    def sample(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator, device=self._anchor.device)

    def log_prob(self, z):
        return -0.5 * (z.pow(2) + LOG_2PI).sum(1)


class UniformPrior(Prior):
    """p(z) = U([low, high]^d)."""

    def __init__(self, latent_dim: int, low: float = -1.0, high: float = 1.0):
        super().__init__(latent_dim)
        self.low, self.high = low, high

    def sample(self, n, generator=None):
        u = torch.rand(n, self.latent_dim, generator=generator, device=self._anchor.device)
        return self.low + (self.high - self.low) * u

    def log_prob(self, z):
        inside = ((z >= self.low) & (z <= self.high)).all(1)
        logp = torch.full_like(z[:, 0], -self.latent_dim * math.log(self.high - self.low))
        return torch.where(inside, logp, torch.full_like(logp, -math.inf))


def check_components(y: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """y as the (n,) integer indices of a discrete code with k values, or a ValueError saying what was expected."""
    if y.shape != (n,) or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"expected {n} integer component indices of shape ({n},), got {y.dtype} of shape {tuple(y.shape)}")
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"expected component indices in [0, {k}), got values in [{int(y.min())}, {int(y.max())}]")
    return y


class GaussianMixturePrior(Prior):
    """p(z) = sum_y p(y) N(z; mu_y, diag s_y^2), p(y) = 1/K, s_y = exp(l_y / 2) + sigma0 (MPCC).

    Means and log-scales ``l`` are parameters (learnt when ``learnable``); ``sigma0`` keeps every
    component from collapsing. ``posterior(z)`` is p(y|z), (B, K).
    """

    def __init__(self, latent_dim: int, n_components: int = 10, sigma0: float = 0.0, init_scale: float = 1.0,
                 learnable: bool = True, seed: int = 0):
        super().__init__(latent_dim)
        g = torch.Generator().manual_seed(seed)
        self.n_components, self.sigma0 = n_components, sigma0
        self.means = nn.Parameter(init_scale * torch.randn(n_components, latent_dim, generator=g),
                                  requires_grad=learnable)
        self.log_var = nn.Parameter(torch.zeros(n_components, latent_dim), requires_grad=learnable)

    @property
    def scales(self) -> torch.Tensor:
        return torch.exp(0.5 * self.log_var) + self.sigma0

    def sample(self, n, generator=None, y: torch.Tensor | None = None):
        """z = mu_y + s_y * eps, differentiable in the prior's parameters (reparameterised); y (n,): the
        components to draw from (default: drawn from p(y))."""
        y = self.sample_components(n, generator) if y is None else check_components(y, n, self.n_components)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=self.means.device)
        return self.means[y] + self.scales[y] * eps

    def sample_components(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randint(self.n_components, (n,), generator=generator, device=self.means.device)

    def component_log_prob(self, z: torch.Tensor, fixed: bool = False) -> torch.Tensor:
        """log p(z|y) for every y: (B, K); ``fixed``: the mixture's parameters as constants (gradients reach z only)."""
        means, s = (self.means.detach(), self.scales.detach()) if fixed else (self.means, self.scales)  # (K, D)
        diff = (z[:, None, :] - means[None]) / s[None]
        return -0.5 * (diff.pow(2) + LOG_2PI).sum(2) - torch.log(s).sum(1)[None]

    def log_prob(self, z):
        return torch.logsumexp(self.component_log_prob(z), dim=1) - math.log(self.n_components)

    def posterior(self, z: torch.Tensor) -> torch.Tensor:
        """p(y|z) = p(z|y) p(y) / p(z), (B, K); uniform p(y) cancels."""
        return torch.softmax(self.component_log_prob(z), dim=1)

    @torch.no_grad()
    def split(self, k: int, into: int, codes: torch.Tensor, iterations: int = 10) -> None:
        """Re-seed component ``into`` with half of component ``k``: 2-means on ``codes`` (N, D), the codes that k
        holds, started from the two sides of their first principal direction; mu_k and mu_into become the two
        centroids and ``into`` takes k's scales."""
        if k == into or len(codes) < 2:
            raise ValueError(f"splitting component {k} into {into} needs two components and at least 2 codes, "
                             f"got {len(codes)}")
        centred = codes - codes.mean(0)
        side = centred @ torch.linalg.svd(centred, full_matrices=False).Vh[0] > 0
        for _ in range(iterations):
            if side.all() or not side.any():  # every code alike: nothing to split
                raise ValueError(f"the {len(codes)} codes of component {k} are all alike: they cannot be split")
            centroids = torch.stack([codes[~side].mean(0), codes[side].mean(0)])
            side = torch.cdist(codes, centroids).argmin(1) == 1
        self.means[k], self.means[into] = centroids
        self.log_var[into] = self.log_var[k]


class InfoGANPrior(Prior):
    """InfoGAN's latent z = (noise, c, u): noise ~ U(-s, s)^noise_dim with s = ``noise_scale`` (1 in the paper),
    a one-hot categorical code c of ``n_categories`` (uniform), continuous codes u ~ U(-1, 1)^n_continuous.
    ``sample_codes`` also returns the categories; ``split(z)`` -> (noise, c one-hot, u). No density: it is not
    needed to train InfoGAN."""

    def __init__(self, noise_dim: int = 62, n_categories: int = 10, n_continuous: int = 2, noise_scale: float = 1.0):
        super().__init__(noise_dim + n_categories + n_continuous)
        if noise_scale <= 0:
            raise ValueError(f"noise_scale must be positive, got {noise_scale}")
        self.noise_dim, self.n_categories, self.n_continuous = noise_dim, n_categories, n_continuous
        self.noise_scale = noise_scale

    def sample_codes(self, n: int, generator: torch.Generator | None = None,
                     c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z (n, latent_dim), categories (n,)); c (n,): the categories to use (default: drawn uniformly)."""
        dev = self._anchor.device
        c = (torch.randint(self.n_categories, (n,), generator=generator, device=dev) if c is None
             else check_components(c, n, self.n_categories).to(dev))
        noise, u = (2 * torch.rand(n, k, generator=generator, device=dev) - 1 for k in (self.noise_dim, self.n_continuous))
        noise = self.noise_scale * noise
        return torch.cat([noise, F.one_hot(c, self.n_categories).to(noise.dtype), u], dim=1), c

    def sample(self, n, generator=None, y: torch.Tensor | None = None):
        """z with the categorical code at y (n,) if given, else drawn."""
        return self.sample_codes(n, generator, y)[0]

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return z.split([self.noise_dim, self.n_categories, self.n_continuous], dim=1)

    def log_prob(self, z):
        raise NotImplementedError("InfoGAN's prior mixes a discrete and continuous codes; gimzoo gives it no density")


PRIORS = {"normal": StandardNormalPrior, "uniform": UniformPrior, "mixture": GaussianMixturePrior}


def make_prior(kind: str, latent_dim: int) -> Prior:
    if kind not in PRIORS:
        raise ValueError(f"unknown prior {kind!r}; known: {', '.join(PRIORS)}")
    return PRIORS[kind](latent_dim)
