"""Adversarial auto-encoder (AAE) and WAE-GAN: a latent critic D(z) matches q(z) to p(z).

Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial Autoencoders", ICLR 2016 workshop
(arXiv:1511.05644); Tolstikhin et al., "Wasserstein Auto-Encoders", ICLR 2018 (arXiv:1711.01558),
official code github.com/tolstikhin/wae.

Eq. (2) of DESIGN.md with KL(q(z) || p(z)) replaced by a GAN in latent space:

    critic:  min_D  E_p(z) softplus(-D(z)) + E_q(z) softplus(D(z))                      (critic_gan)
    model:   min    reconstruction + lambda * E_q(x) softplus(-D(E(x)))                  (fool)

AAE (``aae``): reconstruction = E_q[-log p(x|z)] with a Bernoulli decoder, lambda = 1, a deterministic
encoder (the paper's main choice). WAE-GAN (``wae-gan``): critic learning rate 5e-4 against 1e-3 for
the auto-encoder, beta1 = 0.5 (the WAE paper's MNIST settings) and lambda = 3. One class, two
registrations. The WAE paper's cost is 0.05 ||x - G(E(x))||^2 with lambda = 1
(``--model.decoder sigmoid --model.lam 1``); the zoo uses the cross-entropy cost as for ``wae``, since
on MNIST with a 784-400-8 MLP the squared cost reconstructed worse than the VAE (test MSE 0.0211
against 0.0176 after 20 epochs). lambda = 3 is measured: 2 -> MSE 0.0175, MMD(q(z), p(z)) 0.028;
3 -> 0.0177, 0.015; 10 -> 0.0187, 0.007.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets import StandardNormalPrior, ZCritic
from ..objectives import critic_loss, generator_loss
from ..registry import register_model
from .base import TwoPlayerModel, autoencoder, reconstruction_term


@register_model("wae-gan", paper="Tolstikhin et al., ICLR 2018 (arXiv:1711.01558)", lam=3.0, lr_critic=5e-4)
@register_model("aae", paper="Makhzani et al., ICLR 2016 workshop (arXiv:1511.05644)")
class AAE(TwoPlayerModel):
    family = "(2)"
    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 8,
        arch: str = "mlp",
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        encoder: str = "deterministic",
        decoder: str = "bernoulli",
        lam: float = 1.0,
        cost_scale: float = 0.05,
        critic_hidden: Sequence[int] = (512, 512, 512, 512),
        init_output_bias: bool = True,
        batchnorm: bool | None = None,
        lr: float = 1e-3,
        lr_critic: float = 1e-3,
        betas: Sequence[float] = (0.5, 0.999),
        betas_critic: Sequence[float] = (0.5, 0.999),
        critic_steps: int = 1,
        lr_decay: str = "constant",
        compile: bool = False,
    ):
        """
        Args:
            encoder: ``"deterministic"`` or ``"gaussian"`` (a reparameterised q(z|x)).
            decoder: ``"bernoulli"`` (reconstruction = NLL) or ``"sigmoid"`` (reconstruction = WAE cost).
            lam: weight of the adversarial latent term.
            cost_scale: c(x, y) = cost_scale * ||x - y||^2 for a deterministic decoder.
            critic_hidden: widths of the latent critic D(z) (the WAE paper: 4 x 512).
            batchnorm: batch norm in the encoder and decoder bodies; None: the arch's default (conv: on, MLP: off).
            lr_critic, betas_critic, critic_steps: the critic's optimiser; lr_decay: both players' schedule; see
                :class:`TwoPlayerModel`.
        """
        super().__init__(data_shape, lr, lr_critic, betas, betas_critic, critic_steps, lr_decay, compile=compile)
        self.save_hyperparameters()
        self.lam, self.cost_scale, self.init_output_bias = lam, cost_scale, init_output_bias
        self.encoder, self.decoder = autoencoder(self.data_shape, latent_dim, arch, hidden, activation, encoder, decoder,
                                                 batchnorm)
        self.prior = StandardNormalPrior(latent_dim)
        self.critic = ZCritic(latent_dim, critic_hidden)

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():  # the critic's step needs no graph through the encoder
            z_q = self.encoder.rsample(x)
        return {"gan": critic_loss(self.critic(self.prior.sample(len(x))), self.critic(z_q))}

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encoder.rsample(x)
        return {**reconstruction_term(self.decoder, x, z, self.cost_scale), "fool": generator_loss(self.critic(z))}

    def model_weights(self) -> dict[str, float]:
        return {"fool": self.lam}
