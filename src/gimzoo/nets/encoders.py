"""Inference networks q(z|x): Gaussian, deterministic and noise-injected (implicit) encoders.

Each takes x in the model's internal pixel range and an :class:`~gimzoo.nets.bodies.EncoderBody`.
``code(x)`` is the deterministic code the public ``encode`` returns (the mean where there is one).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .bodies import EncoderBody, mlp


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I): a differentiable sample of N(mu, diag exp(logvar))."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


class GaussianEncoder(nn.Module):
    """q(z|x) = N(mu(x), diag exp(logvar(x))). forward -> (mu, logvar), each (B, latent_dim)."""

    def __init__(self, body: EncoderBody, latent_dim: int):
        super().__init__()
        self.body, self.latent_dim = body, latent_dim
        self.head = nn.Linear(body.out_features, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.body(x)).chunk(2, dim=1)
        return mu, logvar

    def start_std(self, std: float) -> None:
        """Start q(z|x) at standard deviations near ``std`` (the log-variance head's bias at 2 log std; its
        weights keep their random start)."""
        if not std > 0:
            raise ValueError(f"a starting standard deviation must be positive, got {std}")
        with torch.no_grad():
            self.head.bias[self.latent_dim:].fill_(2 * math.log(std))

    def rsample(self, x: torch.Tensor) -> torch.Tensor:
        return reparameterize(*self(x))

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)[0]


class DeterministicEncoder(nn.Module):
    """z = E(x), a point mass q(z|x) = delta(z - E(x)). forward -> z (B, latent_dim)."""

    def __init__(self, body: EncoderBody, latent_dim: int):
        super().__init__()
        self.body, self.latent_dim = body, latent_dim
        self.head = nn.Linear(body.out_features, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    rsample = forward
    code = forward


class NoiseEncoder(nn.Module):
    """Implicit q(z|x): z = E(x, eps), eps ~ N(0, I_noise_dim), noise injected after the body (AVB).

    ``code(x)`` averages ``n_code_samples`` draws, a Monte-Carlo estimate of E_q[z|x].
    """

    def __init__(self, body: EncoderBody, latent_dim: int, noise_dim: int = 16, hidden: int = 256,
                 n_code_samples: int = 16):
        super().__init__()
        self.body, self.latent_dim, self.noise_dim, self.n_code_samples = body, latent_dim, noise_dim, n_code_samples
        self.head = mlp([body.out_features + noise_dim, hidden, latent_dim], act="leaky_relu")

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x)
        if eps is None:
            eps = torch.randn(h.shape[0], self.noise_dim, device=h.device, dtype=h.dtype)
        return self.head(torch.cat([h, eps], dim=1))

    rsample = forward

    def rsample_n(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """n draws of z ~ q(z|x) per x, (n, B, latent_dim); the body runs once, the noise head n times."""
        h = self.body(x)  # (B, F)
        eps = torch.randn(n, h.shape[0], self.noise_dim, device=h.device, dtype=h.dtype)
        return self.head(torch.cat([h.expand(n, *h.shape), eps], dim=2))

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self.rsample_n(x, self.n_code_samples).mean(0)


class CodeEncoder(nn.Module):
    """InfoGAN's Q network: x -> (logits of the categorical code (B, K), mean of the continuous codes (B, C),
    mean of the noise (B, noise_dim) or None), from a body that InfoGAN's critic shares, through one hidden layer
    of ``hidden`` units (batch-normalised with ``batchnorm``, as in the official code). With
    ``estimate_noise`` Q also regresses the noise; without it (the paper), the noise is not estimated.
    ``code(x)`` is a full latent (B, noise + K + C) for the zoo API: the noise at its estimate (else its prior
    mean 0), c one-hot at argmax, u at its mean."""

    def __init__(self, body: EncoderBody, noise_dim: int, n_categories: int, n_continuous: int, hidden: int = 128,
                 estimate_noise: bool = False, batchnorm: bool = False):
        super().__init__()
        self.body, self.noise_dim, self.n_categories = body, noise_dim, n_categories
        self.latent_dim = noise_dim + n_categories + n_continuous
        self.sizes = [n_categories, n_continuous] + ([noise_dim] if estimate_noise else [])
        self.head = mlp([body.out_features, hidden, sum(self.sizes)], act="leaky_relu", batchnorm=batchnorm)

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Body features (B, F) -> (logits, continuous means, noise means or None)."""
        logits, u, *noise = self.head(h).split(self.sizes, dim=1)
        return logits, u, (noise[0] if noise else None)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return self.heads(self.body(x))

    def code(self, x: torch.Tensor) -> torch.Tensor:
        logits, u, noise = self(x)
        c = torch.nn.functional.one_hot(logits.argmax(1), self.n_categories).to(u.dtype)
        return torch.cat([u.new_zeros(len(u), self.noise_dim) if noise is None else noise, c, u], dim=1)

    rsample = code


ENCODERS = {"gaussian": GaussianEncoder, "deterministic": DeterministicEncoder, "noise": NoiseEncoder}


def make_encoder(kind: str, body: EncoderBody, latent_dim: int) -> nn.Module:
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder {kind!r}; known: {', '.join(ENCODERS)}")
    return ENCODERS[kind](body, latent_dim)
