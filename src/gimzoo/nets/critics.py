"""Critics (discriminators) D(x), D(z) and D(x, z). Each returns one raw score (logit) per sample, (B,).

The losses that train them live in :mod:`gimzoo.objectives`; ``spectral_norm=True`` wraps every
linear and convolutional layer in spectral normalisation (Miyato et al. 2018).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .bodies import EncoderBody, mlp


def _spectral(module: nn.Module) -> nn.Module:
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            _spectral(child)
    return module


class XCritic(nn.Module):
    """D(x): data space -> score."""

    def __init__(self, body: EncoderBody, spectral_norm: bool = False):
        super().__init__()
        self.body, self.head = body, nn.Linear(body.out_features, 1)
        if spectral_norm:
            _spectral(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class ZCritic(nn.Module):
    """D(z): latent space -> score, an MLP."""

    def __init__(self, latent_dim: int, hidden: Sequence[int] = (512, 512), act: str = "leaky_relu",
                 spectral_norm: bool = False):
        super().__init__()
        self.net = mlp([latent_dim, *hidden, 1], act)
        if spectral_norm:
            _spectral(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


class XZCritic(nn.Module):
    """D(x, z) = joint(cat(body(x), mlp(z))): the joint critic of BiGAN and ALI."""

    def __init__(self, body: EncoderBody, latent_dim: int, z_hidden: Sequence[int] = (512,),
                 joint_hidden: Sequence[int] = (1024,), act: str = "leaky_relu", spectral_norm: bool = False):
        super().__init__()
        self.body = body
        self.z_net = mlp([latent_dim, *z_hidden], act, final_act=True)
        self.joint = mlp([body.out_features + z_hidden[-1], *joint_hidden, 1], act)
        if spectral_norm:
            _spectral(self)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.body(x), self.z_net(z)], dim=1)).squeeze(1)
