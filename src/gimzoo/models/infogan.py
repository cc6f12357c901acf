"""InfoGAN: a GAN whose generator must keep a code c recoverable from G(z, c), by a Q head on the critic.

Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, "InfoGAN: Interpretable Representation Learning by
Information Maximizing Generative Adversarial Nets", NeurIPS 2016 (arXiv:1606.03657); official code
github.com/openai/InfoGAN. Eq. (4) of DESIGN.md on the code part c of z: the variational lower bound
L_I = E_p[log Q(c | G(z, c))] + H(c) <= I(c; G(z, c)), and E_p[-log Q(c|x)] is eq. (4)'s latent term for c.

    critic, Q:  min  E_q(x) softplus(-D(x)) + E_p softplus(D(G(z))) + lambda * E_p[-log Q(c | G(z))]   (critic_gan, critic_info_*)
    generator:  min  E_p softplus(-D(G(z))) + lambda * E_p[-log Q(c | G(z))]                         (fool, info_*)

with c = (a categorical code of K = 10 classes, 2 continuous codes u ~ U(-1, 1)) next to 62 noise dimensions
(the paper's MNIST setting); -log Q(c|x) is a cross-entropy for the class (``info_cat``) and a unit-variance
Gaussian NLL for u (``info_cont``, the official code's fixed standard deviation). D and Q share the body,
as in the paper; D's head is the critic, and the body with Q's head is the zoo's encoder, so
``encode(x)`` = (0 for the noise, one-hot argmax c, the mean of u) and ``cluster(x)`` = argmax_c Q(c|x).
With ``noise_weight`` > 0 (not in the paper) Q also estimates the noise: the critic player adds
noise_weight * E_p[-log Q(noise | G(z))] (``info_noise``, unit-variance Gaussian), the generator's loss stays
the paper's, and ``encode(x)`` carries the noise estimate instead of 0.
With ``q_rotation`` or ``q_shift`` > 0 (not in the paper) Q reads the class from T(G(z, c)), T a random rotation
by up to q_rotation degrees and shift by up to q_shift pixels (:func:`gimzoo.nets.random_rotate_shift`):
E_p[log Q(c | T(G(z, c)))] + H(c) <= I(c; T(G(z, c))) <= I(c; G(z, c)) (data processing), still a lower bound on
the paper's information, but one that only a code readable after a small rotation can raise, so slant cannot
carry the class (on MNIST the paper's term let two categories split 4s and 9s by slant). The continuous codes
are still read from G(z, c) itself. With ``q_contrast`` > 0 (not in the paper) T also scales the copy's contrast
against its background by a ~ U(1 - q_contrast, 1) (:func:`gimzoo.nets.random_contrast`), so that how light or
dark an object is (a garment's colour, on Fashion-MNIST) cannot carry the class either.
Paper settings: Adam lr 1e-3 for G and 2e-4 for D and Q, beta1 = 0.5, lambda = 1. The official code's
MNIST nets are ``fc=[1024]`` (an FC-1024 layer in G and in the D/Q body), ``q_batchnorm=True`` (Q's hidden
layer batch-normalised), ``weight_init="dcgan"`` (N(0, 0.02)) and ``generator="sigmoid"`` (its MeanBernoulli
output on pixels in [0, 1]); it trains 5,000 updates of each player at batch 128.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..nets import CodeEncoder, EncoderBody, InfoGANPrior, RandomView, init_weights, make_decoder
from ..nets.bodies import DecoderBody
from ..objectives import categorical_nll, critic_loss, generator_loss, latent_nll
from ..registry import register_model
from .base import TwoPlayerModel


@register_model("infogan", paper="Chen et al., NeurIPS 2016 (arXiv:1606.03657)")
class InfoGAN(TwoPlayerModel):
    family = "(4)"
    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        noise_dim: int = 62,
        n_categories: int = 10,
        n_continuous: int = 2,
        arch: str = "conv",
        hidden: Sequence[int] = (64, 128),
        critic_hidden: Sequence[int] = (64, 128),
        fc: Sequence[int] = (),
        activation: str = "relu",
        generator: str = "tanh",
        lam: float = 1.0,
        lam_continuous: float = 1.0,
        noise_weight: float = 0.0,
        noise_scale: float = 1.0,
        lr: float = 1e-3,
        lr_critic: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        betas_critic: Sequence[float] = (0.5, 0.999),
        critic_steps: int = 1,
        lr_decay: str = "constant",
        q_batchnorm: bool = False,
        weight_init: str = "default",
        lam_start: float | None = None,
        lam_ramp: float = 0.5,
        q_rotation: float = 0.0,
        q_shift: float = 0.0,
        q_contrast: float = 0.0,
        compile: bool = False,
    ):
        """
        Args:
            noise_dim, n_categories, n_continuous: the latent layout (62 + 10 + 2 for MNIST).
            hidden: the generator's body (conv channels or MLP widths); critic_hidden: the shared D/Q body's.
            fc: fully connected layers between the convolutions and the code in both bodies (the paper's
                MNIST nets: one of 1024 units).
            lam: lambda, the weight of the mutual-information terms; lam_continuous scales the continuous part.
            noise_weight: the weight of Q's noise estimate in the critic player's loss; 0: no estimate (the paper).
            noise_scale: s in noise ~ U(-s, s) (the paper: 1). A small s (ClusterGAN's device) is meant to leave
                less of the data's variation to the noise and more to the categorical code; on MNIST, s = 0.1
                clustered worse (0.573 against 0.741) and lost recall (docs/results.md).
            lr: the generator's learning rate; lr_critic: D's and Q's.
            q_batchnorm: batch norm in Q's hidden layer (the official code's Q head).
            weight_init: "default" (PyTorch's) or "dcgan" (N(0, 0.02), the official code's), for every net.
            lam_start: lambda at the start of the run (not in the paper; None: lam throughout). It moves linearly
                to lam over the first lam_ramp of the run (a fraction of max_steps or max_epochs), then stays:
                a large lambda while the generator settles which variation the categorical code carries.
            q_rotation, q_shift: Q reads the categorical code from a copy of each generated image rotated by up to
                q_rotation degrees and shifted by up to q_shift pixels (not in the paper; 0: the image itself).
                The code must then survive a small rotation, so it cannot be carried by slant alone.
            q_contrast: and with the copy's contrast against its background scaled by U(1 - q_contrast, 1) (not in
                the paper; 0: unchanged), so that the class cannot be carried by how light or dark an object is.
        """
        super().__init__(data_shape, lr, lr_critic, betas, betas_critic, critic_steps, lr_decay, compile=compile)
        self.save_hyperparameters()
        if not 0 < lam_ramp <= 1:
            raise ValueError(f"lam_ramp is a fraction of the run in (0, 1], got {lam_ramp}")
        self.lam, self.lam_continuous, self.noise_weight = lam, lam_continuous, noise_weight
        self.lam_start, self.lam_ramp = lam_start, lam_ramp
        self.q_view = RandomView(q_rotation, q_shift, self.data_shape, q_contrast)
        self.prior = InfoGANPrior(noise_dim, n_categories, n_continuous, noise_scale)
        latent_dim = self.prior.latent_dim
        self.decoder = make_decoder(generator, DecoderBody(latent_dim, self.data_shape, arch, hidden, activation, fc=fc))
        self.encoder = CodeEncoder(EncoderBody(self.data_shape, arch, critic_hidden, "leaky_relu", fc=fc), noise_dim,
                                   n_categories, n_continuous, estimate_noise=noise_weight > 0, batchnorm=q_batchnorm)
        self.critic = nn.Linear(self.encoder.body.out_features, 1)  # D's head on the shared body
        for net in (self.decoder, self.encoder, self.critic):
            init_weights(net, weight_init)

    def critic_parameters(self) -> list[nn.Parameter]:
        """D's head, and the shared body with Q's head: the critic player trains both D and Q."""
        return [*self.critic.parameters(), *self.encoder.parameters()]

    def _info(self, fake: torch.Tensor, h_fake: torch.Tensor, z: torch.Tensor, c: torch.Tensor,
              noise: bool = False) -> dict[str, torch.Tensor]:
        """-log Q(c|x) on generated samples, from their body features h_fake (and -log Q(noise|x) if asked); with
        q_rotation, q_shift or q_contrast, the class's from a randomly transformed copy of them (``q_view``)."""
        logits, u_mean, noise_mean = self.encoder.heads(h_fake)
        if self.q_view.active:
            logits = self.encoder(self.q_view(fake))[0]
        z_noise, _, u = self.prior.split(z)
        terms = {"info_cat": categorical_nll(logits, c).mean(),
                 "info_cont": latent_nll(u, u_mean, torch.zeros_like(u_mean)).mean()}
        if noise and noise_mean is not None:
            terms["info_noise"] = latent_nll(z_noise, noise_mean, torch.zeros_like(noise_mean)).mean()
        return terms

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z, c = self.prior.sample_codes(len(x))
        with torch.no_grad():  # the critic's step needs no graph through the generator
            fake = self.decoder.mean(z)
        h_real, h_fake = self.encoder.body(x), self.encoder.body(fake)
        gan = critic_loss(self.critic(h_real).squeeze(1), self.critic(h_fake).squeeze(1))
        return {"gan": gan, **self._info(fake, h_fake, z, c, noise=True)}

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z, c = self.prior.sample_codes(len(x))
        fake = self.decoder.mean(z)
        h_fake = self.encoder.body(fake)
        return {"fool": generator_loss(self.critic(h_fake).squeeze(1)), **self._info(fake, h_fake, z, c)}

    def on_train_start(self) -> None:
        super().on_train_start()
        if self.lam_start is not None and self.run_progress() is None:
            raise ValueError("lam_start needs a run of known length: set trainer.max_epochs or trainer.max_steps")

    def current_lam(self) -> float:
        """lambda at this point of the run: lam_start -> lam linearly over the first lam_ramp of it, then lam."""
        if self.lam_start is None or self._trainer is None:
            return self.lam
        done = min(1.0, self.run_progress() / self.lam_ramp)
        return self.lam_start + (self.lam - self.lam_start) * done

    def model_weights(self) -> dict[str, float]:
        lam = self.current_lam()
        return {"info_cat": lam, "info_cont": lam * self.lam_continuous}

    def critic_weights(self) -> dict[str, float]:
        return self.model_weights() | {"info_noise": self.noise_weight}

    @property
    def n_clusters(self) -> int:
        return self.prior.n_categories

    def cluster_scores(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *data_shape), internal range -> Q's logits of the categorical code (B, n_categories)."""
        return self.encoder(x)[0]
