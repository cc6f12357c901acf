"""Adversarial terms: a critic D that tells samples of one distribution ("real") from another ("fake").

With the logistic loss the optimal critic is D*(u) = log p_real(u) - log p_fake(u) (Goodfellow et al.
2014; AVB's T(x, z) -> log q(z|x) - log p(z)), so the critic's scores estimate a density ratio and the
other player's term estimates the divergence the model cannot compute in closed form.
The hinge pair (Lim & Ye 2017; BigGAN, BigBiGAN) trains the critic on margins instead of log-odds.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Logistic critic loss: -E log sigmoid(D(real)) - E log(1 - sigmoid(D(fake)))
    = E softplus(-D(real)) + E softplus(D(fake)); D returns logits."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating loss of the player that wants ``fake`` called real: -E log sigmoid(D(fake))."""
    return F.softplus(-fake).mean()


def hinge_critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge critic loss: E max(0, 1 - D(real)) + E max(0, 1 + D(fake))."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_generator_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """The other player's hinge-GAN loss: -E D(fake), plus E D(real) when the real scores depend on the
    player too (BigBiGAN's encoder pairs (x, E(x)))."""
    return -fake.mean() if real is None else real.mean() - fake.mean()


#: name -> (critic loss(real, fake), the other player's loss(fake)), for models that offer both
GAN_LOSSES = {"logistic": (critic_loss, generator_loss), "hinge": (hinge_critic_loss, hinge_generator_loss)}
