"""PCA as a generative-inference model: the linear baseline every zoo model should beat.

Probabilistic PCA (Tipping & Bishop 1999) in the limit of zero observation noise: with the training mean m,
the top-k principal directions W (D x k) and their variances lambda_1..k,

    q(z|x) = delta(z - diag(lambda)^(-1/2) W^T (x - m)),     p(z) = N(0, I_k),
    p(x|z) = delta(x - (m + W diag(lambda)^(1/2) z)),

so encode(x) is the whitened projection, sample() draws the Gaussian that PCA fits to the data, and the
reconstruction is the best rank-k linear one. It is fitted in closed form (``PCA.fit``), never trained by
Lightning, so it is not in the training registry; ``gimzoo baseline --components 16`` evaluates it with the
same ``gimzoo eval`` protocol as the trained models.
"""
from __future__ import annotations

import torch
from torch import nn

from ..nets.priors import StandardNormalPrior
from .base import GenerativeInferenceModel


class _Projection(nn.Module):
    """code(x) = diag(lambda)^(-1/2) W^T (x - m), x flattened."""

    def __init__(self, mean: torch.Tensor, components: torch.Tensor, scales: torch.Tensor):
        super().__init__()
        self.register_buffer("mean_x", mean)
        self.register_buffer("components", components)  # (D, k), orthonormal columns
        self.register_buffer("scales", scales)  # (k,), sqrt(lambda)
        self.latent_dim = components.shape[1]

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean_x) @ self.components / self.scales


class _Reconstruction(nn.Module):
    """mean(z) = m + W diag(lambda)^(1/2) z, clipped to the pixel range [0, 1]."""

    likelihood = None
    output_range = (0.0, 1.0)

    def __init__(self, projection: _Projection, data_shape: tuple[int, ...]):
        super().__init__()
        self.projection, self.data_shape = projection, data_shape

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        p = self.projection
        x = p.mean_x + (z * p.scales) @ p.components.T
        return x.clamp(0.0, 1.0).reshape(len(z), *self.data_shape)


class PCA(GenerativeInferenceModel):
    """Zero-noise probabilistic PCA with ``n_components`` latent dimensions (see the module docstring)."""
    family = "linear"

    def __init__(self, data_shape, mean: torch.Tensor, components: torch.Tensor, scales: torch.Tensor):
        super().__init__(data_shape)
        self.encoder = _Projection(mean, components, scales)
        self.decoder = _Reconstruction(self.encoder, self.data_shape)
        self.prior = StandardNormalPrior(components.shape[1])

    @classmethod
    def fit(cls, x: torch.Tensor, n_components: int) -> "PCA":
        """The top ``n_components`` principal directions of x (N, *data_shape) in [0, 1], by an exact SVD."""
        flat = x.flatten(1).double()
        if not 1 <= n_components <= min(flat.shape):
            raise ValueError(f"n_components must be in [1, {min(flat.shape)}] for data of shape {tuple(x.shape)}, "
                             f"got {n_components}")
        mean = flat.mean(0)
        _, s, vh = torch.linalg.svd(flat - mean, full_matrices=False)
        scales = s[:n_components] / (len(flat) - 1) ** 0.5  # sqrt of the component variances
        return cls(x.shape[1:], mean.float(), vh[:n_components].T.float().contiguous(), scales.float())
