"""VAE and beta-VAE.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114);
Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
Framework", ICLR 2017. Reference code: github.com/pytorch/examples/tree/main/vae (784-400-20 MLP).

Eq. (1) of DESIGN.md with the data entropy h_q(x) dropped (a constant):

    loss = E_q(x) E_q(z|x)[-log p(x|z)] + beta * E_q(x) KL(q(z|x) || p(z))
           \\_____________ nll ______________/          \\__________ kl __________/

beta = 1 is the negative ELBO, an upper bound on -log p(x); beta-VAE is the same class registered
with beta = 4.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets import StandardNormalPrior, reparameterize
from ..objectives import gaussian_kl, reconstruction_nll
from ..registry import register_model
from .base import SingleOptimizerModel, autoencoder


@register_model("beta-vae", paper="Higgins et al., ICLR 2017", beta=4.0)
@register_model("vae", paper="Kingma & Welling, ICLR 2014 (arXiv:1312.6114)")
class VAE(SingleOptimizerModel):
    family = "(1)"
    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 20,
        arch: str = "mlp",
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        init_output_bias: bool = True,
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        compile: bool = False,
    ):
        """
        Args:
            data_shape: shape of one x; linked from the datamodule by the CLI.
            latent_dim: dimension of z.
            arch: ``"mlp"`` or ``"conv"`` (see :mod:`gimzoo.nets.bodies`).
            hidden: layer widths (mlp) or channel widths of the stride-2 convolutions (conv).
            activation: hidden activation.
            likelihood: p(x|z), ``"bernoulli"`` or ``"gaussian"``.
            beta: weight of the KL term (1: VAE, >1: beta-VAE).
            init_output_bias: start p(x|z) at the mean training image (see ``on_fit_start``).
            lr, betas: Adam settings.
            compile: train with ``torch.compile`` of the terms (``GenerativeInferenceModel.training_terms``).
        """
        super().__init__(data_shape, lr, betas, compile=compile)
        self.save_hyperparameters()
        self.beta, self.init_output_bias = beta, init_output_bias
        self.encoder, self.decoder = autoencoder(self.data_shape, latent_dim, arch, hidden, activation, "gaussian", likelihood)
        self.prior = StandardNormalPrior(latent_dim)

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.encoder(x)  # (B, latent_dim) each
        z = reparameterize(mu, logvar)
        nll = reconstruction_nll(self.decoder.likelihood, x, self.decoder(z))
        return {"nll": nll.mean(), **self.latent_terms(z, mu, logvar)}

    def latent_terms(self, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms that pull q(z|x) towards p(z); here E_q(x) KL(q(z|x) || p(z))."""
        return {"kl": gaussian_kl(mu, logvar).mean()}

    def weights(self) -> dict[str, float]:
        return {"kl": self.beta}

    def monitors(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"neg_elbo": terms["nll"] + terms["kl"]}
