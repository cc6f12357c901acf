"""The terms of eqs. (1)-(4) (see DESIGN.md) and their estimators, each once, each with its equation."""
from .adversarial import critic_loss, generator_loss
from .divergences import gaussian_kl
from .likelihood import NLL, bernoulli_nll, gaussian_nll, reconstruction_nll, squared_error
from .mmd import KERNELS, WAE_SCALES, imq_kernel, mmd, rbf_kernel

__all__ = [
    "critic_loss", "generator_loss", "gaussian_kl", "NLL", "bernoulli_nll", "gaussian_nll", "reconstruction_nll",
    "squared_error", "KERNELS", "WAE_SCALES", "imq_kernel", "mmd", "rbf_kernel",
]
