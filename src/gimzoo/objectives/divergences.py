"""Divergence and entropy terms of distributions on z."""
from __future__ import annotations

import math

import torch


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor,
                mu_p: torch.Tensor | None = None, logvar_p: torch.Tensor | None = None) -> torch.Tensor:
    """Analytic KL(q || p) between diagonal Gaussians, summed over dimensions; (B,).

    KL = 1/2 sum_d [ logvar_p - logvar_q + (exp(logvar_q) + (mu_q - mu_p)^2) / exp(logvar_p) - 1 ].
    With p omitted, p = N(0, I): KL = 1/2 sum_d [ mu_q^2 + exp(logvar_q) - logvar_q - 1 ], the
    E_q(x) KL(q(z|x) || p(z)) term of eq. (1).
    """
    if mu_p is None and logvar_p is None:
        return 0.5 * (mu_q.pow(2) + logvar_q.exp() - logvar_q - 1).sum(1)
    mu_p = torch.zeros_like(mu_q) if mu_p is None else mu_p
    logvar_p = torch.zeros_like(logvar_q) if logvar_p is None else logvar_p
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1).sum(1)


def gaussian_entropy(logvar: torch.Tensor) -> torch.Tensor:
    """Differential entropy of N(mu, diag exp(logvar)): 1/2 sum_d [logvar_d + log(2 pi) + 1], over the last
    dimension (MPCC's component-entropy term keeps the mixture's components from shrinking)."""
    return 0.5 * (logvar + math.log(2 * math.pi) + 1).sum(-1)
