"""Adversarial variational Bayes (AVB).

Mescheder, Nowozin & Geiger, "Adversarial Variational Bayes: Unifying Variational Autoencoders and
Generative Adversarial Networks", ICML 2017 (arXiv:1701.04722). Official code: github.com/LMescheder/AdversarialVariationalBayes.

Eq. (1) of DESIGN.md with an implicit encoder z = E(x, eps): q(z|x) has no density, so the KL term is
estimated by a critic T(x, z) trained with the logistic loss to tell q(x)q(z|x) from q(x)p(z); its
optimum is T*(x, z) = log q(z|x) - log p(z), hence E_q[T] estimates E_q(x) KL(q(z|x) || p(z)):

    critic:  min_T  E_q(x)q(z|x) softplus(-T(x, z)) + E_q(x)p(z) softplus(T(x, z))     (critic_logistic)
    model:   min    E_q[-log p(x|z)] + E_q(x)q(z|x) T(x, z)                              (nll, kl_est)

Adaptive contrast (``adaptive_contrast=True``, Sec. 3.2 of the paper; on in the zoo's configs): T contrasts
q(z|x) with a Gaussian r(z|x) = N(mu(x), diag sigma(x)^2) whose moments are estimated from ``n_moment_samples``
draws of the encoder, rather than with p(z). On the normalised z~ = (z - mu) / sigma, T learns
log q(z~|x) - log N(z~; 0, I) against eps ~ N(0, I), and the KL term splits in two:

    E_q KL(q(z|x) || p(z)) = E_q T(x, z~) + E_q [log r(z|x) - log p(z)]              (kl_est, log_r_over_p)

The first part is small when q is near-Gaussian, which keeps the critic's job easy in high dimension. The
moments stay differentiable, as in the official code (whose encoder returns them with the sample), so the
encoder also learns through the normalisation of z~. Measured on the MNIST test set after 20 epochs (avb-mnist.yaml
recipe): with the moments held constant (an earlier version of this file) q(z) drifted away from p(z),
MMD(q(z), p(z)) 1.14; with them differentiable 0.021, against 0.063 without adaptive contrast, and the KL
estimate is 15.0 nats instead of 8.7 (T no longer wins its game).
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets import EncoderBody, StandardNormalPrior, XZCritic
from ..objectives import critic_loss, gaussian_nll
from ..registry import register_model
from .base import TwoPlayerModel, autoencoder, reconstruction_term


@register_model("avb", paper="Mescheder, Nowozin & Geiger, ICML 2017 (arXiv:1701.04722)")
class AVB(TwoPlayerModel):
    family = "(1)"
    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 8,
        arch: str = "mlp",
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        critic_hidden: Sequence[int] = (400,),
        adaptive_contrast: bool = False,
        n_moment_samples: int = 16,
        init_output_bias: bool = True,
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
            critic_hidden: widths of T's x-body, z-branch and joint head.
            adaptive_contrast: contrast q(z|x) with its moment-matched Gaussian instead of p(z).
            n_moment_samples: draws of q(z|x) per x that estimate those moments.
            Other arguments as :class:`~gimzoo.models.vae.VAE` and :class:`TwoPlayerModel`.
        """
        super().__init__(data_shape, lr, lr_critic, betas, betas_critic, critic_steps, lr_decay, compile=compile)
        self.save_hyperparameters()
        self.init_output_bias, self.adaptive_contrast, self.n_moment_samples = (init_output_bias, adaptive_contrast,
                                                                                n_moment_samples)
        self.encoder, self.decoder = autoencoder(self.data_shape, latent_dim, arch, hidden, activation, "noise",
                                                 "bernoulli")
        self.prior = StandardNormalPrior(latent_dim)
        self.critic = XZCritic(EncoderBody(self.data_shape, arch, critic_hidden, "leaky_relu"), latent_dim,
                               critic_hidden, critic_hidden)

    def contrast(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A draw z ~ q(z|x) and the moments (mu, sigma) of r(z|x), estimated from n_moment_samples draws of the
        encoder, z among them; (B, latent_dim) each. Differentiable: the encoder learns through r as well."""
        zs = self.encoder.rsample_n(x, self.n_moment_samples)
        return zs[0], zs.mean(0), (zs.var(0) + 1e-4).sqrt()

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():  # the critic's step needs no graph through the encoder
            if self.adaptive_contrast:
                z, mu, sigma = self.contrast(x)
                z_q, z_p = (z - mu) / sigma, torch.randn_like(z)
            else:
                z_q = self.encoder(x)
                z_p = self.prior.sample(len(x))
        return {"logistic": critic_loss(*self.critic.score_joints((x, z_q), (x, z_p)))}

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.adaptive_contrast:
            z = self.encoder(x)
            return {**reconstruction_term(self.decoder, x, z, 1.0), "kl_est": self.critic(x, z).mean()}
        z, mu, sigma = self.contrast(x)
        log_r = -gaussian_nll(z, mu, sigma.log())
        return {**reconstruction_term(self.decoder, x, z, 1.0), "kl_est": self.critic(x, (z - mu) / sigma).mean(),
                "log_r_over_p": (log_r - self.prior.log_prob(z)).mean()}
