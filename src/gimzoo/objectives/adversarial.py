"""Adversarial terms: a critic D that tells samples of one distribution ("real") from another ("fake").

With the logistic loss the optimal critic is D*(u) = log p_real(u) - log p_fake(u) (Goodfellow et al.
2014; AVB's T(x, z) -> log q(z|x) - log p(z)), so the critic's scores estimate a density ratio and the
other player's term estimates the divergence the model cannot compute in closed form.
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
