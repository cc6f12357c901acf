"""The terms of eqs. (1)-(4) (see DESIGN.md) and their estimators, each once, each with its equation."""
from .divergences import gaussian_kl
from .likelihood import NLL, bernoulli_nll, gaussian_nll, reconstruction_nll

__all__ = ["gaussian_kl", "NLL", "bernoulli_nll", "gaussian_nll", "reconstruction_nll"]
