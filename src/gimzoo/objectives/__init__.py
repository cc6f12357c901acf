"""The terms of eqs. (1)-(4) (see DESIGN.md) and their estimators, each once, each with its equation."""
from .adversarial import GAN_LOSSES, critic_loss, generator_loss, hinge_critic_loss, hinge_generator_loss
from .divergences import gaussian_entropy, gaussian_kl
from .likelihood import (NLL, bernoulli_nll, categorical_nll, gaussian_nll, latent_nll, reconstruction_nll,
                         squared_error)
from .mmd import KERNELS, WAE_SCALES, imq_kernel, mmd, rbf_kernel

__all__ = [
    "GAN_LOSSES", "critic_loss", "generator_loss", "hinge_critic_loss", "hinge_generator_loss", "gaussian_entropy",
    "gaussian_kl", "NLL", "bernoulli_nll", "categorical_nll", "gaussian_nll", "latent_nll", "reconstruction_nll",
    "squared_error", "KERNELS", "WAE_SCALES", "imq_kernel", "mmd", "rbf_kernel",
]
