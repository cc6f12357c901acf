"""BiGAN and ALI: a joint critic D(x, z) tells q(x, z) = q(x) q(z|x) from p(x, z) = p(z) p(x|z).

Donahue, Kraehenbuehl & Darrell, "Adversarial Feature Learning", ICLR 2017 (arXiv:1605.09782),
code github.com/jeffdonahue/bigan; Dumoulin et al., "Adversarially Learned Inference", ICLR 2017
(arXiv:1606.00704), code github.com/IshmaelBelghazi/ALI.

The joint-matching row of DESIGN.md: at the critic's optimum the game minimises the Jensen-Shannon
divergence between the two joints, so the encoder inverts the generator where they match.

    critic:             min_D  E_q(x,z) softplus(-D(x, E(x))) + E_p(x,z) softplus(D(G(z), z))   (critic_gan)
    encoder, generator: the same loss with the labels swapped (non-saturating, one shared term)  (swap)

BiGAN (``bigan``): deterministic encoder z = E(x), uniform prior on [-1, 1]^d (the paper's MNIST
setting). ALI (``ali``): a reparameterised Gaussian encoder q(z|x) and a standard normal prior: a
registration of the same class. Images are generated through tanh (pixels in [-1, 1] inside);
2-D toy data through a linear output (``generator="linear"``).

BigBiGAN (``bigbigan``): Donahue & Simonyan, "Large Scale Adversarial Representation Learning",
NeurIPS 2019 (arXiv:1907.02544), models at tfhub.dev/deepmind/bigbigan-resnet50. Its critic adds unary
scores to the joint one, (s_x, s_z, s_xz) = (w_x . F(x), w_z . H(z), J(F(x), H(z))), each trained with the
hinge loss h(t) = max(0, 1 - t); encoder and generator share sum_s (E_q s - E_p s):

    critic:             sum_{s in x, z, xz} E_q h(s) + E_p h(-s)                      (critic_hinge_x, _z, _xz)
    encoder, generator: sum_{s in x, z, xz} E_q s - E_p s                             (score_x, score_z, score_xz)

The unary s_x is a plain GAN critic on x, s_z one on z: they keep each marginal matched on its own.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets import EncoderBody, GaussianEncoder, UnaryJointCritic, XZCritic, make_prior
from ..objectives import critic_loss, hinge_critic_loss, hinge_generator_loss
from ..registry import register_model
from .base import TwoPlayerModel, autoencoder


@register_model("ali", paper="Dumoulin et al., ICLR 2017 (arXiv:1606.00704)", encoder="gaussian", prior="normal")
@register_model("bigan", paper="Donahue, Krähenbühl & Darrell, ICLR 2017 (arXiv:1605.09782)")
class BiGAN(TwoPlayerModel):
    family = "joint"
    critic_class = XZCritic

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 50,
        arch: str = "mlp",
        hidden: Sequence[int] = (1024, 1024),
        activation: str = "leaky_relu",
        encoder: str = "deterministic",
        encoder_hidden: Sequence[int] | None = None,
        encoder_start_std: float | None = None,
        generator: str = "tanh",
        prior: str = "uniform",
        critic_hidden: Sequence[int] = (1024, 1024),
        critic_branches: bool = True,
        critic_activation: str = "leaky_relu",
        batchnorm: bool | None = None,
        critic_dropout: float = 0.0,
        critic_spectral_norm: bool = False,
        critic_pack: int = 1,
        lr: float = 2e-4,
        lr_critic: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        betas_critic: Sequence[float] = (0.5, 0.999),
        critic_steps: int = 1,
        lr_decay: str = "constant",
        compile: bool = False,
    ):
        """
        Args:
            encoder: ``"deterministic"`` (BiGAN) or ``"gaussian"`` (ALI).
            encoder_hidden: widths of the encoder's body (None: ``hidden``, the generator's mirrored; the ALI and
                PacGAN toy encoders have 2 layers of 400 against the generator's 4).
            encoder_start_std: the Gaussian encoder's standard deviation at the start (None: the log-variance
                head's random start, about 1, the prior's spread, so that z says little about x at first).
            generator: ``"tanh"`` for images, ``"linear"`` for unbounded vectors (2-D toy data).
            prior: ``"uniform"`` on [-1, 1]^d (BiGAN) or ``"normal"`` (ALI).
            critic_hidden: widths of the critic's x-body, z-branch and joint head.
            critic_branches: False: no x-body and z-branch, the joint head reads the raw pair cat(x, z) (the ALI
                and PacGAN toy critics, for 2-D data).
            critic_activation: the critic's activation: ``"leaky_relu"``, or ``"maxout<k>"`` for maxout layers of
                k pieces (the PacGAN toy critic: 3 x 200 maxout units of 5 pieces, raw input).
            batchnorm: batch norm in the encoder and generator bodies (None: on for conv, off for MLP; the ALI
                code's toy networks use it).
            critic_dropout: dropout on the critic's joint head (the ALI code's toy critic: 0.2 to 0.5).
            critic_spectral_norm: spectral normalisation of every critic layer (BigBiGAN's, after BigGAN).
            critic_pack: pairs per joint score (PacGAN's packing, Lin et al. 2018: the joint head reads m pairs of
                one joint side by side; 1: no packing). The batch size must be a multiple of it.
            Other arguments as :class:`~gimzoo.models.vae.VAE` and :class:`TwoPlayerModel`.
        """
        super().__init__(data_shape, lr, lr_critic, betas, betas_critic, critic_steps, lr_decay, compile=compile)
        self.save_hyperparameters()
        self.encoder, self.decoder = autoencoder(self.data_shape, latent_dim, arch, hidden, activation, encoder,
                                                 generator, batchnorm, encoder_hidden)
        if encoder_start_std is not None:
            if not isinstance(self.encoder, GaussianEncoder):
                raise ValueError(f"encoder_start_std is for the gaussian encoder (ALI), not {encoder!r}")
            self.encoder.start_std(encoder_start_std)
        self.prior = make_prior(prior, latent_dim)
        branch = critic_hidden if critic_branches else ()
        self.critic = self.critic_class(EncoderBody(self.data_shape, arch, branch, critic_activation), latent_dim,
                                        branch, critic_hidden, critic_activation, dropout=critic_dropout,
                                        spectral_norm=critic_spectral_norm, pack=critic_pack)

    def _scores(self, x: torch.Tensor, detach: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """D on a batch of q(x, z) pairs (x, E(x)) and as many p(x, z) pairs (G(z), z)."""
        z_p = self.prior.sample(len(x))
        with torch.set_grad_enabled(torch.is_grad_enabled() and not detach):  # no graph for the critic's step
            z_q, x_p = self.encoder.rsample(x), self.decoder.mean(z_p)
        return self.critic.score_joints((x, z_q), (x_p, z_p))

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s_q, s_p = self._scores(x, detach=True)
        return {"gan": critic_loss(s_q, s_p)}

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s_q, s_p = self._scores(x, detach=False)
        return {"swap": critic_loss(s_p, s_q)}


@register_model("bigbigan", paper="Donahue & Simonyan, NeurIPS 2019 (arXiv:1907.02544)", encoder="gaussian",
                prior="normal")
class BigBiGAN(BiGAN):
    critic_class = UnaryJointCritic
    SCORES = ("x", "z", "xz")

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s_q, s_p = self._scores(x, detach=True)
        return {f"hinge_{k}": hinge_critic_loss(q, p) for k, q, p in zip(self.SCORES, s_q, s_p)}

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s_q, s_p = self._scores(x, detach=False)
        return {f"score_{k}": hinge_generator_loss(p, real=q) for k, q, p in zip(self.SCORES, s_q, s_p)}
