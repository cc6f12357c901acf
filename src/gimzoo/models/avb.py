"""Adversarial variational Bayes (AVB).

Mescheder, Nowozin & Geiger, "Adversarial Variational Bayes: Unifying Variational Autoencoders and
Generative Adversarial Networks", ICML 2017 (arXiv:1701.04722). Official code: github.com/LMescheder/AdversarialVariationalBayes.

Eq. (1) of DESIGN.md with an implicit encoder z = E(x, eps): q(z|x) has no density, so the KL term is
estimated by a critic T(x, z) trained with the logistic loss to tell q(x)q(z|x) from q(x)p(z); its
optimum is T*(x, z) = log q(z|x) - log p(z), hence E_q[T] estimates E_q(x) KL(q(z|x) || p(z)):

    critic:  min_T  E_q(x)q(z|x) softplus(-T(x, z)) + E_q(x)p(z) softplus(T(x, z))     (critic_logistic)
    model:   min    E_q[-log p(x|z)] + E_q(x)q(z|x) T(x, z)                              (nll, kl_est)

The adaptive-contrast variant of the paper is not implemented.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets import EncoderBody, StandardNormalPrior, XZCritic
from ..objectives import critic_loss
from ..registry import register_model
from .base import TwoPlayerModel, autoencoder, reconstruction_term


@register_model("avb")
class AVB(TwoPlayerModel):
    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 8,
        arch: str = "mlp",
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        critic_hidden: Sequence[int] = (400,),
        init_output_bias: bool = True,
        lr: float = 1e-3,
        lr_critic: float = 1e-3,
        betas: Sequence[float] = (0.5, 0.999),
        betas_critic: Sequence[float] = (0.5, 0.999),
        critic_steps: int = 1,
    ):
        """
        Args:
            critic_hidden: widths of T's x-body, z-branch and joint head.
            Other arguments as :class:`~gimzoo.models.vae.VAE` and :class:`TwoPlayerModel`.
        """
        super().__init__(data_shape, lr, lr_critic, betas, betas_critic, critic_steps)
        self.save_hyperparameters()
        self.init_output_bias = init_output_bias
        self.encoder, self.decoder = autoencoder(self.data_shape, latent_dim, arch, hidden, activation, "noise",
                                                 "bernoulli")
        self.prior = StandardNormalPrior(latent_dim)
        self.critic = XZCritic(EncoderBody(self.data_shape, arch, critic_hidden, "leaky_relu"), latent_dim,
                               critic_hidden, critic_hidden)

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z_q = self.encoder(x).detach()
        return {"logistic": critic_loss(self.critic(x, z_q), self.critic(x, self.prior.sample(len(x))))}

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encoder(x)
        return {**reconstruction_term(self.decoder, x, z, 1.0), "kl_est": self.critic(x, z).mean()}
