"""Generative networks p(x|z): Bernoulli and Gaussian decoders, and tanh, sigmoid and linear generators.

Each is a :class:`~gimzoo.nets.bodies.DecoderBody` followed by an output link: ``mean(z)`` =
link(body(z)) is E[x|z] in the decoder's ``output_range``, the model's internal pixel range (``None``
for unbounded data such as 2-D toy points). ``forward(z)`` returns the distribution's parameters as a
tuple, which the NLL terms in :mod:`gimzoo.objectives` take.
"""
from __future__ import annotations

import torch
from torch import nn

from .bodies import DecoderBody

EPS = 1e-3


class Decoder(nn.Module):
    likelihood: str | None
    output_range: tuple[float, float] | None

    def __init__(self, body: DecoderBody):
        super().__init__()
        self.body = body

    def link(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def inverse_link(self, m: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.link(self.body(z))

    @torch.no_grad()
    def init_output_bias(self, mean_x: torch.Tensor) -> None:
        """Set the output layer's bias to link^-1(mean_x), so that training starts from the data mean
        (mean_x: one x, in the internal range) rather than from link(0)."""
        self.body.set_output_bias(self.inverse_link(mean_x))


class BernoulliDecoder(Decoder):
    """p(x|z) = prod_d Bernoulli(x_d; sigmoid(l_d(z))). forward -> (logits,), logits (B, *data_shape)."""

    likelihood = "bernoulli"
    output_range = (0.0, 1.0)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.body(z),)

    def link(self, h):
        return torch.sigmoid(h)

    def inverse_link(self, m):
        return torch.logit(m.clamp(EPS, 1 - EPS))


class GaussianDecoder(Decoder):
    """p(x|z) = N(x; m(z), sigma^2 I) with one scalar log sigma, learnt or fixed.

    ``squash="sigmoid"`` keeps the mean in [0, 1] (images); ``None`` leaves it unbounded (vectors such
    as 2-D toy points); ``"auto"`` picks sigmoid for (C, H, W) data and None otherwise.
    forward -> (mean, log_sigma).
    """

    likelihood = "gaussian"

    def __init__(self, body: DecoderBody, log_sigma: float = 0.0, learn_sigma: bool = True,
                 squash: str | None = "auto"):
        super().__init__(body)
        if squash == "auto":
            squash = "sigmoid" if len(body.data_shape) == 3 else None
        if squash not in (None, "sigmoid"):
            raise ValueError(f"squash must be 'sigmoid', None or 'auto', got {squash!r}")
        self.squash = squash
        self.output_range = (0.0, 1.0) if squash else None
        self.log_sigma = nn.Parameter(torch.tensor(float(log_sigma)), requires_grad=learn_sigma)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(z), self.log_sigma

    def link(self, h):
        return torch.sigmoid(h) if self.squash else h

    def inverse_link(self, m):
        return torch.logit(m.clamp(EPS, 1 - EPS)) if self.squash else m


class TanhGenerator(Decoder):
    """x = G(z) = tanh(body(z)), a deterministic generator with pixels in [-1, 1]. forward -> (x,)."""

    likelihood = None
    output_range = (-1.0, 1.0)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.mean(z),)

    def link(self, h):
        return torch.tanh(h)

    def inverse_link(self, m):
        return torch.atanh(m.clamp(-1 + EPS, 1 - EPS))


class SigmoidGenerator(BernoulliDecoder):
    """x = G(z) = sigmoid(body(z)), a deterministic generator with pixels in [0, 1] (WAE). forward -> (x,)."""

    likelihood = None

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.mean(z),)


class LinearGenerator(Decoder):
    """x = G(z) = body(z), a deterministic generator for unbounded vectors (2-D toy data). forward -> (x,)."""

    likelihood = None
    output_range = None

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.mean(z),)

    def link(self, h):
        return h

    def inverse_link(self, m):
        return m


DECODERS = {"bernoulli": BernoulliDecoder, "gaussian": GaussianDecoder, "tanh": TanhGenerator,
            "sigmoid": SigmoidGenerator, "linear": LinearGenerator}


def make_decoder(kind: str, body: DecoderBody) -> Decoder:
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; known: {', '.join(DECODERS)}")
    return DECODERS[kind](body)
