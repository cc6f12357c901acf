"""Reconstruction terms of eqs. (1)-(2): E_q[-log p(x|z)], one function per likelihood, and the WAE cost;
and the latent terms of eqs. (3)-(4): E_p[-log q(z|x)] for a Gaussian or a categorical q.

Each returns one value per sample, shape (B,), summed over the data dimensions (nats); models take
the batch mean. ``reconstruction_nll`` dispatches on a decoder's ``likelihood`` name.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) = -sum_d [x_d log sigmoid(l_d) + (1 - x_d) log(1 - sigmoid(l_d))], l = decoder logits.

    x may be grey-level in [0, 1], the usual MNIST convention (then this is a cross-entropy rather
    than a normalised density, as in PyTorch's reference VAE).
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """-log N(x; m, diag sigma^2) = sum_d [(x_d - m_d)^2 / (2 sigma_d^2) + log sigma_d + log(2 pi) / 2];
    ``log_sigma`` is one scalar or broadcasts against x (one per dimension)."""
    log_sigma = torch.as_tensor(log_sigma, dtype=x.dtype, device=x.device)
    return (0.5 * (x - mean).pow(2) * torch.exp(-2 * log_sigma) + log_sigma + 0.5 * LOG_2PI).flatten(1).sum(1)


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The WAE cost c(x, y) = ||x - y||^2, summed over the data dimensions; (B,)."""
    return (x - x_hat).pow(2).flatten(1).sum(1)


NLL = {"bernoulli": bernoulli_nll, "gaussian": gaussian_nll}


def reconstruction_nll(likelihood: str, x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """-log p(x|z) for a decoder whose ``forward(z)`` returned ``params``; (B,)."""
    if likelihood not in NLL:
        raise ValueError(f"no reconstruction NLL for likelihood {likelihood!r}; known: {', '.join(NLL)}")
    return NLL[likelihood](x, *params)


def latent_nll(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """E_p[-log q(z|x)] of eqs. (3)-(4) for a Gaussian q(z|x) = N(mu(x), diag exp(logvar(x))) at the z that
    generated x: the Gaussian NLL with log sigma = logvar / 2; (B,)."""
    return gaussian_nll(z, mu, 0.5 * logvar)


def categorical_nll(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-log q(y|x) = -log softmax(logits)_y for a categorical code y (InfoGAN's c, MPCC's p(y|z)); (B,)."""
    return F.cross_entropy(logits, y, reduction="none")
