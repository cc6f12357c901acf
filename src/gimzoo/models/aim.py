"""AIM: a GAN on x plus the encoder's likelihood of the code that generated each sample.

"Adversarial Inference by Matching priors and conditionals", ICLR 2019 submission (OpenReview); no
official code was released. Eq. (4) of DESIGN.md:

    KL(p(x,z) || q(x,z)) = E_p[-log q(z|x)] - h_p(z) + I_p(x;z) + KL(p(x) || q(x))

h_p(z) is a constant of the prior; KL(p(x) || q(x)) is matched by a GAN, a critic D(x) on data against
G(z); and E_p[-log q(z|x)] is the Gaussian negative log-likelihood of z under the encoder at x = G(z):

    critic:             min_D  E_q(x) softplus(-D(x)) + E_p(z) softplus(D(G(z)))             (critic_gan)
    generator, encoder: min    E_p(z) softplus(-D(G(z))) + E_p(z)[-log q(z | G(z))]          (fool, latent_nll)

Whether the latent NLL also trains G (``latent_into_generator``): eq. (4) is a function of G as well as of E,
and its gradient asks G to keep z recoverable from G(z), so the default is on. But -log q(z|x) has no lower
bound as q(z|x) sharpens, and G can satisfy it with any code the encoder reads back: with the zoo's MLPs on
MNIST, G wrote z into high-frequency texture (samples of pure noise after 10 epochs), so the configs switch
it off and the encoder alone learns to invert G (as in MPCC).
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets import EncoderBody, RandomView, XCritic, make_prior
from ..objectives import GAN_LOSSES, latent_nll
from ..registry import register_model
from .base import TwoPlayerModel, autoencoder


@register_model("aim", paper="Adversarial Inference by Matching priors and conditionals, ICLR 2019 submission")
class AIM(TwoPlayerModel):
    family = "(4)"
    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 50,
        arch: str = "mlp",
        hidden: Sequence[int] = (1024, 1024),
        activation: str = "leaky_relu",
        generator: str = "tanh",
        prior: str = "normal",
        critic_hidden: Sequence[int] = (1024, 1024),
        batchnorm: bool | None = None,
        loss: str = "logistic",
        latent_weight: float = 1.0,
        latent_into_generator: bool = True,
        critic_spectral_norm: bool = False,
        lr: float = 2e-4,
        lr_critic: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        betas_critic: Sequence[float] = (0.5, 0.999),
        critic_steps: int = 1,
        lr_decay: str = "constant",
        q_rotation: float = 0.0,
        q_shift: float = 0.0,
        q_contrast: float = 0.0,
        compile: bool = False,
    ):
        """
        Args:
            generator: ``"tanh"`` for images, ``"linear"`` for unbounded vectors.
            prior: ``"normal"`` or ``"uniform"``.
            critic_hidden: widths of the critic D(x).
            loss: ``"logistic"`` (critic log-loss, non-saturating generator) or ``"hinge"``.
            latent_weight: weight of E_p[-log q(z|G(z))].
            latent_into_generator: let the latent NLL train G too (see the module docstring).
            critic_spectral_norm: spectral normalisation of every critic layer (MPCC's BigGAN critic has it).
            q_rotation, q_shift: the encoder reads z back from a copy of G(z) rotated by up to q_rotation degrees
                and shifted by up to q_shift pixels (not in the paper; 0: from G(z) itself), as InfoGAN's Q can.
            q_contrast: and with its contrast against the background scaled by U(1 - q_contrast, 1) (not in the
                paper; 0: unchanged).
            Other arguments as :class:`~gimzoo.models.bigan.BiGAN`.
        """
        super().__init__(data_shape, lr, lr_critic, betas, betas_critic, critic_steps, lr_decay, compile=compile)
        if type(self).__init__ is AIM.__init__:  # a subclass with a signature of its own (MPCC) saves its own
            self.save_hyperparameters()
        if loss not in GAN_LOSSES:
            raise ValueError(f"unknown loss {loss!r}; known: {', '.join(GAN_LOSSES)}")
        self.critic_fn, self.fool_fn = GAN_LOSSES[loss]
        self.latent_weight, self.latent_into_generator = latent_weight, latent_into_generator
        self.encoder, self.decoder = autoencoder(self.data_shape, latent_dim, arch, hidden, activation, "gaussian",
                                                 generator, batchnorm)
        self.prior = make_prior(prior, latent_dim)
        self.critic = XCritic(EncoderBody(self.data_shape, arch, critic_hidden, "leaky_relu"),
                              spectral_norm=critic_spectral_norm)
        self.q_view = RandomView(q_rotation, q_shift, self.data_shape, q_contrast)

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():  # the critic's step needs no graph through the generator
            fake = self.decoder.mean(self.prior.sample(len(x)))
        return {"gan": self.critic_fn(self.critic(x), self.critic(fake))}

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.prior.sample(len(x))  # (B, latent_dim), reparameterised for a learnable prior
        fake = self.decoder.mean(z)
        seen = fake if self.latent_into_generator else fake.detach()
        return {"fool": self.fool_fn(self.critic(fake)), "latent_nll": self.latent_term(z, seen)}

    def latent_term(self, z: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """E_p[-log q(z | x)] at x = G(z), read through ``q_view`` (G(z) itself unless q_rotation, q_shift or
        q_contrast)."""
        return latent_nll(z, *self.encoder(self.q_view(fake))).mean()

    def model_weights(self) -> dict[str, float]:
        return {"latent_nll": self.latent_weight}
