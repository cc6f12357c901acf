"""Critics (discriminators) D(x), D(z) and D(x, z). Each returns one raw score (logit) per sample, (B,), or per
pack of m samples for a packed joint critic, (B / m,); BigBiGAN's critic returns three (s_x, s_z, s_xz).

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
    """D(x, z) = joint(cat(body(x), mlp(z))): the joint critic of BiGAN and ALI. A body without hidden layers and
    an empty ``z_hidden`` give the raw pair cat(x, z) to the joint head (the ALI and PacGAN toy critics).
    ``dropout`` drops the joint head's inputs and hidden units (the ALI code's toy critic uses dropout to keep
    the critic from winning); ``act`` is the z-branch's and joint head's activation.

    ``pack`` = m > 1 makes it a packed critic (PacGAN, Lin et al., NeurIPS 2018, arXiv:1712.04086): the joint
    head reads the features of m consecutive pairs side by side and gives one score per pack, (B / m,), so the
    critic sees m draws of a joint at once and can tell a joint that lacks modes by its packs' lack of
    variety."""

    def __init__(self, body: EncoderBody, latent_dim: int, z_hidden: Sequence[int] = (512,),
                 joint_hidden: Sequence[int] = (1024,), act: str = "leaky_relu", spectral_norm: bool = False,
                 dropout: float = 0.0, pack: int = 1):
        super().__init__()
        if pack < 1:
            raise ValueError(f"pack must be a positive number of pairs per score, got {pack}")
        self.body, self.pack = body, pack
        self.z_net = mlp([latent_dim, *z_hidden], act, final_act=True)
        self.z_features = z_hidden[-1] if z_hidden else latent_dim  # the z-branch's output width
        self.joint = nn.Sequential(nn.Dropout(dropout) if dropout else nn.Identity(),
                                   mlp([pack * (body.out_features + self.z_features), *joint_hidden, 1], act,
                                       dropout=dropout))
        if spectral_norm:
            _spectral(self)
        self.batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.modules())

    def score_joints(self, q: tuple[torch.Tensor, torch.Tensor], p: tuple[torch.Tensor, torch.Tensor]):
        """(D(x_q, z_q), D(x_p, z_p)): the scores of a batch of pairs of each joint. A critic without batch norm scores
        both batches in one pass (the same scores: fewer, larger matrix products); one with batch norm scores each
        on its own, so that no batch mixes the two joints' statistics (the DCGAN practice), as do batches of
        different sizes or of a size that is not a multiple of ``pack`` (which then raises)."""
        (x_q, z_q), (x_p, z_p) = q, p
        if self.batchnorm or len(x_q) != len(x_p) or len(x_q) % self.pack:
            return self(x_q, z_q), self(x_p, z_p)
        scores = self(torch.cat([x_q, x_p]), torch.cat([z_q, z_p]))
        if isinstance(scores, tuple):  # several scores per pair (UnaryJointCritic): one tuple per joint
            return tuple(zip(*(s.chunk(2) for s in scores)))
        return scores.chunk(2)

    def joint_score(self, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The joint head on the pairs' features body(x) and z_net(z), m pairs to a score."""
        if len(f) % self.pack:
            raise ValueError(f"a packed critic scores packs of {self.pack} pairs; a batch of {len(f)} pairs is not "
                             f"a multiple of {self.pack} (make the batch size one)")
        return self.joint(torch.cat([f, h], dim=1).reshape(len(f) // self.pack, -1)).squeeze(1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint_score(self.body(x), self.z_net(z))


class UnaryJointCritic(XZCritic):
    """BigBiGAN's critic (Donahue & Simonyan 2019): the joint critic's trunk F(x) and z-branch H(z) also get
    linear heads of their own, so (x, z) -> (s_x, s_z, s_xz) = (w_x . F(x), w_z . H(z), J(F(x), H(z)))."""

    def __init__(self, body: EncoderBody, latent_dim: int, z_hidden: Sequence[int] = (512,),
                 joint_hidden: Sequence[int] = (1024,), act: str = "leaky_relu", spectral_norm: bool = False,
                 dropout: float = 0.0, pack: int = 1):
        super().__init__(body, latent_dim, z_hidden, joint_hidden, act, dropout=dropout, pack=pack)
        self.x_head, self.z_head = nn.Linear(body.out_features, 1), nn.Linear(self.z_features, 1)
        if spectral_norm:
            _spectral(self)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f, h = self.body(x), self.z_net(z)
        s_xz = self.joint_score(f, h)
        return self.x_head(f).squeeze(1), self.z_head(h).squeeze(1), s_xz
