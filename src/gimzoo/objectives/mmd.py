"""Maximum mean discrepancy between two samples, the latent penalty of InfoVAE and WAE (eq. (2)).

    MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y),   x, x' ~ P,  y, y' ~ Q.

The kernel is a sum over scales s of k_s(a, b) = f(||a - b||^2 / C_s) with C_s = 2 d sigma^2 s
(d the dimension, sigma^2 the prior's variance), as in Tolstikhin et al.'s WAE code:
inverse multiquadratic ``imq``: C_s / (C_s + ||a - b||^2); Gaussian ``rbf``: exp(-||a - b||^2 / C_s).
The unbiased estimate (a U-statistic) leaves out the i = j terms of the within-sample sums; the
biased one (a V-statistic) keeps them and is >= 0.
"""
from __future__ import annotations

import torch

WAE_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def imq_kernel(d2: torch.Tensor, c: float) -> torch.Tensor:
    """k(a, b) = C / (C + ||a - b||^2)."""
    return c / (c + d2)


def rbf_kernel(d2: torch.Tensor, c: float) -> torch.Tensor:
    """k(a, b) = exp(-||a - b||^2 / C)."""
    return torch.exp(-d2 / c)


KERNELS = {"imq": imq_kernel, "rbf": rbf_kernel}


def _kernel_sum(a: torch.Tensor, b: torch.Tensor, kernel: str, cs: list[float], chunk: int) -> torch.Tensor:
    """sum_ij sum_s k_s(a_i, b_j) in float64, in row chunks: a (chunk, m) block of distances stays in the CPU's cache
    (64 rows against 10^4 codes: 4x faster than 2,048 rows), and the float64 sums keep the small difference that
    MMD^2 is (summed in float32, 10^8 kernel values of 10^4 codes missed it by 30 %)."""
    fn, total = KERNELS[kernel], a.new_zeros((), dtype=torch.float64)
    b2 = b.pow(2).sum(1)
    for i in range(0, len(a), chunk):
        ai = a[i:i + chunk]
        d2 = (ai.pow(2).sum(1)[:, None] + b2[None] - 2 * ai @ b.T).clamp_min(0)  # (chunk, m)
        total = total + sum(fn(d2, c).sum(dtype=torch.float64) for c in cs)
    return total


def mmd(x: torch.Tensor, y: torch.Tensor, kernel: str = "imq", scales=WAE_SCALES, sigma2: float = 1.0,
        unbiased: bool = True, chunk: int = 64) -> torch.Tensor:
    """MMD^2 between samples x (n, d) and y (m, d); see the module docstring for the estimator."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; known: {', '.join(KERNELS)}")
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected samples (n, d) and (m, d), got {tuple(x.shape)} and {tuple(y.shape)}")
    n, m, d = len(x), len(y), x.shape[1]
    cs = [2.0 * d * sigma2 * s for s in scales]
    kxx, kyy, kxy = (_kernel_sum(a, b, kernel, cs, chunk) for a, b in ((x, x), (y, y), (x, y)))
    if unbiased:
        k0 = len(cs)  # k_s(a, a) = 1 for both kernels
        value = (kxx - n * k0) / (n * (n - 1)) + (kyy - m * k0) / (m * (m - 1)) - 2 * kxy / (n * m)
    else:
        value = kxx / n**2 + kyy / m**2 - 2 * kxy / (n * m)
    return value.to(torch.promote_types(x.dtype, y.dtype))
