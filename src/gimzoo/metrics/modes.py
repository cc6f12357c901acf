"""Mode coverage on 2-D Gaussian mixtures, the PacGAN protocol (Lin et al. 2018, after Srivastava et al. 2017).

Each sample is assigned to its nearest mixture mean; it is *high quality* if it lies within 3 sigma of
that mean; a mode is *captured* if at least one high-quality sample lands on it. The reverse KL of the
modes' histogram of high-quality samples against the uniform distribution over modes,
KL(h || U) = sum_k h_k log(K h_k), is 0 when every mode gets the same share. The emptiest mode's share of all
the samples (high quality and on that mode), ``min_mode_fraction``, is 1/K of the high-quality fraction when every
mode gets the same share; it tells a mode that is captured by a sample or two (nearly lost) from a filled one,
which the count of captured modes cannot.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ModeCoverage:
    modes_captured: int
    n_modes: int
    high_quality_fraction: float
    reverse_kl: float
    n_samples: int
    min_mode_fraction: float


def mode_coverage(samples: torch.Tensor, means: torch.Tensor, sigma: float) -> ModeCoverage:
    """samples (N, 2), means (K, 2): see the module docstring."""
    if samples.dim() != 2 or means.dim() != 2 or samples.shape[1] != means.shape[1]:
        raise ValueError(f"expected samples (N, d) and means (K, d), got {tuple(samples.shape)} and {tuple(means.shape)}")
    d = torch.cdist(samples.double(), means.double())  # (N, K)
    dist, nearest = d.min(dim=1)
    good = dist <= 3 * sigma
    counts = torch.bincount(nearest[good], minlength=len(means)).double()
    n_good = int(good.sum())
    if n_good:
        h = counts / n_good
        nz = h > 0
        rkl = float((h[nz] * torch.log(h[nz] * len(means))).sum())
    else:
        rkl = math.inf
    return ModeCoverage(int((counts > 0).sum()), len(means), n_good / len(samples), rkl, len(samples),
                        float(counts.min()) / len(samples))
