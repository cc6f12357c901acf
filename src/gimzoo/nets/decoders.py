"""Generative networks p(x|z): Bernoulli and Gaussian decoders and a tanh generator.

``forward(z)`` returns the distribution's parameters as a tuple (the NLL terms in
:mod:`gimzoo.objectives` take them); ``mean(z)`` returns E[x|z] in the decoder's ``output_range``,
which is the model's internal pixel range (``None`` for unbounded data such as 2-D toy points).
"""
from __future__ import annotations

import torch
from torch import nn

from .bodies import DecoderBody


class BernoulliDecoder(nn.Module):
    """p(x|z) = prod_d Bernoulli(x_d; sigmoid(l_d(z))). forward -> (logits,), logits (B, *data_shape)."""

    likelihood = "bernoulli"
    output_range = (0.0, 1.0)

    def __init__(self, body: DecoderBody):
        super().__init__()
        self.body = body

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.body(z),)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(z))


class GaussianDecoder(nn.Module):
    """p(x|z) = N(x; m(z), sigma^2 I) with one scalar log sigma, learnt or fixed.

    ``squash="sigmoid"`` keeps the mean in [0, 1] (images); ``None`` leaves it unbounded (toy data).
    forward -> (mean, log_sigma).
    """

    likelihood = "gaussian"

    def __init__(self, body: DecoderBody, log_sigma: float = 0.0, learn_sigma: bool = True,
                 squash: str | None = "sigmoid"):
        super().__init__()
        if squash not in (None, "sigmoid"):
            raise ValueError(f"squash must be 'sigmoid' or None, got {squash!r}")
        self.body, self.squash = body, squash
        self.output_range = (0.0, 1.0) if squash else None
        self.log_sigma = nn.Parameter(torch.tensor(float(log_sigma)), requires_grad=learn_sigma)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(z), self.log_sigma

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        m = self.body(z)
        return torch.sigmoid(m) if self.squash else m


class TanhGenerator(nn.Module):
    """x = G(z) = tanh(body(z)), a deterministic generator with pixels in [-1, 1]. forward -> (x,)."""

    likelihood = None
    output_range = (-1.0, 1.0)

    def __init__(self, body: DecoderBody):
        super().__init__()
        self.body = body

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.mean(z),)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(z))


DECODERS = {"bernoulli": BernoulliDecoder, "gaussian": GaussianDecoder, "tanh": TanhGenerator}


def make_decoder(kind: str, body: DecoderBody) -> nn.Module:
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; known: {', '.join(DECODERS)}")
    return DECODERS[kind](body)
