"""Network bodies: feature extractors x -> h and generators h -> x, for any data shape.

Four architectures, chosen by name (``arch``):

* ``"mlp"``: flatten, then fully connected layers of widths ``hidden`` (any data shape: 1x28x28
  images, 3x32x32 images, 2-D toy vectors).
* ``"conv"``: a small DCGAN-style net for C x H x W images. ``hidden`` are the channel widths of the
  stride-2 convolutions (4x4 kernels), so H and W must be divisible by ``2 ** len(hidden)``
  (1x28x28 with (64, 128): 28 -> 14 -> 7; 3x32x32 with (64, 128, 256): 32 -> 16 -> 8 -> 4).
* ``"dcgan"``: the same layers with their depth taken from the image size: stride-2 stages halve the image
  down to 4x4 (or until a side is odd: 28 -> 14 -> 7), with ``hidden[0]`` channels in the first and twice as
  many in each next, at most 8 times ``hidden[0]`` (3x64x64 with (64,): 64, 128, 256, 512 channels at 32, 16, 8, 4).
* ``"resnet"``: residual blocks of the SNGAN/BigGAN kind (the MPCC and BigBiGAN code use them), with the depth and
  widths of ``"dcgan"``: the encoder's blocks are act-conv3x3-act-conv3x3-avgpool with a pooled 1x1-conv shortcut,
  the decoder's batch norm-act-upsample-conv3x3-batch norm-act-conv3x3 with an upsampled 1x1-conv shortcut, and a
  final batch norm-act-conv3x3 to the image channels.

Bodies hold no losses and no output heads: encoders, decoders and critics add those. ``batchnorm``
(default: on for the convolutional archs, off for MLP) normalises every hidden layer but the encoder's first.
``fc`` adds fully connected layers to a convolutional body: after the convolutions of an encoder, before the first
(projection) layer of a decoder, as InfoGAN's MNIST nets do with one layer of 1024 units.
:func:`init_weights` re-initialises any module by a named scheme (``"dcgan"``: the DCGAN paper's N(0, 0.02)).
"""
from __future__ import annotations

import math
import re
from typing import Sequence

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "elu": nn.ELU, "tanh": nn.Tanh}
ARCHS = ("mlp", "conv", "dcgan", "resnet")
#: the archs whose depth comes from the image size
SCALED = ("dcgan", "resnet")
MAXOUT = re.compile(r"maxout(\d+)")
WEIGHT_INITS = ("default", "dcgan")


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}, maxout<pieces> (MLPs)")
    return ACTIVATIONS[name]()


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013): h_j = max_k (W x + b)_{j,k} over ``pieces`` linear pieces."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        if pieces < 2:
            raise ValueError(f"a maxout layer needs at least 2 pieces, got {pieces}")
        self.pieces, self.linear = pieces, nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).unflatten(-1, (-1, self.pieces)).amax(-1)


@torch.no_grad()
def init_weights(module: nn.Module, scheme: str = "default") -> nn.Module:
    """Re-initialise ``module`` in place and return it. ``"default"``: PyTorch's own initialisation, left as
    it is; ``"dcgan"`` (Radford et al. 2016, and the official InfoGAN code): every linear and (transposed)
    convolution weight ~ N(0, 0.02^2) with zero bias, every batch-norm scale ~ N(1, 0.02^2) with zero shift."""
    if scheme not in WEIGHT_INITS:
        raise ValueError(f"unknown weight init {scheme!r}; known: {', '.join(WEIGHT_INITS)}")
    if scheme == "dcgan":
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d)):
                mean = 1.0 if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) else 0.0
                nn.init.normal_(m.weight, mean, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    return module


def mlp(sizes: Sequence[int], act: str = "relu", final_act: bool = False, batchnorm: bool = False,
        dropout: float = 0.0) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]`` with ``act`` between them, optionally
    batch-normalised before each activation and with dropout after it. ``act="maxout<k>"`` makes every hidden
    layer a :class:`Maxout` of k pieces (the ALI and PacGAN toy critics)."""
    maxout = MAXOUT.fullmatch(act)
    if maxout and batchnorm:
        raise ValueError("maxout layers take no batch norm here (the ALI and PacGAN critics have none)")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = final_act or i < len(sizes) - 2
        if hidden and maxout:
            layers.append(Maxout(a, b, int(maxout.group(1))))
        else:
            layers.append(nn.Linear(a, b, bias=not (hidden and batchnorm)))
            if hidden:
                layers += [nn.BatchNorm1d(b)] if batchnorm else []
                layers.append(activation(act))
        if hidden and dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def conv_widths(arch: str, data_shape: Sequence[int], hidden: Sequence[int]) -> list[int]:
    """The channel widths of a convolutional body's stride-2 stages: ``hidden`` for ``"conv"``; for ``"dcgan"`` and
    ``"resnet"``, ``hidden[0]`` doubled each stage (at most 8 times), as many stages as halve the image to 4x4."""
    if arch not in SCALED:
        return list(hidden)
    side, stages = min(data_shape[1:]), 0
    while side > 4 and side % 2 == 0:
        side, stages = side // 2, stages + 1
    return [hidden[0] * min(2 ** i, 8) for i in range(stages)]


def _check(arch: str, data_shape: Sequence[int], hidden: Sequence[int], fc: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in data_shape)
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(ARCHS)}")
    if not hidden and arch != "mlp":
        raise ValueError(f"arch {arch!r} needs at least one layer width in hidden")
    if fc and arch == "mlp":
        raise ValueError(f"fc adds fully connected layers to a convolutional body; for arch {arch!r} put them in hidden")
    if arch != "mlp" and len(shape) != 3:
        raise ValueError(f"arch {arch!r} expects images, data_shape (C, H, W); got {shape}")
    if arch == "conv":
        k = 2 ** len(hidden)
        if shape[1] % k or shape[2] % k:
            raise ValueError(
                f"arch 'conv' with {len(hidden)} stride-2 layers expects data_shape (C, H, W) with H and W "
                f"divisible by {k}; got {shape} (arch 'dcgan' or 'resnet' take their depth from the image size)"
            )
    if arch in SCALED and not conv_widths(arch, shape, hidden):
        raise ValueError(f"arch {arch!r} halves images down to 4x4; {shape} has an odd side or one of 4 or less")
    return shape


class DownBlock(nn.Module):
    """A residual encoder (discriminator) block: [act] conv3x3 [bn] act conv3x3, average-pooled, plus a pooled
    1x1-conv shortcut; H, W halve. The first block of a body starts at the image, without an activation."""

    def __init__(self, a: int, b: int, act: str, batchnorm: bool, first: bool):
        super().__init__()
        norm = [nn.BatchNorm2d(b)] if batchnorm else []
        self.main = nn.Sequential(*([] if first else [activation(act)]), nn.Conv2d(a, b, 3, 1, 1), *norm,
                                  activation(act), nn.Conv2d(b, b, 3, 1, 1), nn.AvgPool2d(2))
        self.skip = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(a, b, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


class UpBlock(nn.Module):
    """A residual decoder (generator) block: [bn] act upsample conv3x3 [bn] act conv3x3, plus an upsampled 1x1-conv
    shortcut; H, W double."""

    def __init__(self, a: int, b: int, act: str, batchnorm: bool):
        super().__init__()
        norm = (lambda c: [nn.BatchNorm2d(c)]) if batchnorm else (lambda c: [])
        self.main = nn.Sequential(*norm(a), activation(act), nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 3, 1, 1),
                                  *norm(b), activation(act), nn.Conv2d(b, b, 3, 1, 1))
        self.skip = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


def _default_batchnorm(arch: str, batchnorm: bool | None) -> bool:
    """None: the architecture's default, batch norm in convolutional bodies (DCGAN), none in MLPs."""
    return arch != "mlp" if batchnorm is None else batchnorm


class EncoderBody(nn.Module):
    """x (B, *data_shape) -> features (B, out_features); an MLP body with no hidden layers is the flattened x."""

    def __init__(self, data_shape: Sequence[int], arch: str = "mlp", hidden: Sequence[int] = (400,),
                 act: str = "relu", batchnorm: bool | None = None, fc: Sequence[int] = ()):
        super().__init__()
        shape = _check(arch, data_shape, hidden, fc)
        batchnorm = _default_batchnorm(arch, batchnorm)
        if arch == "mlp":
            self.net = nn.Sequential(nn.Flatten(), mlp([math.prod(shape), *hidden], act, final_act=True,
                                                       batchnorm=batchnorm))
            self.out_features = hidden[-1] if hidden else math.prod(shape)
        else:
            widths = conv_widths(arch, shape, hidden)
            layers: list[nn.Module] = []
            channels = [shape[0], *widths]
            for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
                if arch == "resnet":
                    layers.append(DownBlock(a, b, act, batchnorm and i > 0, first=i == 0))
                    continue
                layers.append(nn.Conv2d(a, b, 4, 2, 1, bias=not (batchnorm and i > 0)))
                if batchnorm and i > 0:  # DCGAN: no normalisation on the first layer
                    layers.append(nn.BatchNorm2d(b))
                layers.append(activation(act))
            if arch == "resnet":
                layers.append(activation(act))
            layers.append(nn.Flatten())
            k = 2 ** len(widths)
            flat = widths[-1] * (shape[1] // k) * (shape[2] // k)
            layers += [mlp([flat, *fc], act, final_act=True, batchnorm=batchnorm)] if fc else []
            self.net = nn.Sequential(*layers)
            self.out_features = fc[-1] if fc else flat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DecoderBody(nn.Module):
    """h (B, in_features) -> unconstrained x-space output (B, *data_shape) (logits, means, pre-tanh)."""

    def __init__(self, in_features: int, data_shape: Sequence[int], arch: str = "mlp",
                 hidden: Sequence[int] = (400,), act: str = "relu", batchnorm: bool | None = None,
                 fc: Sequence[int] = ()):
        super().__init__()
        shape = _check(arch, data_shape, hidden, fc)
        batchnorm = _default_batchnorm(arch, batchnorm)
        self.data_shape = shape
        if arch == "mlp":
            self.net = nn.Sequential(mlp([in_features, *reversed(hidden), math.prod(shape)], act, batchnorm=batchnorm),
                                     nn.Unflatten(1, shape))
        else:
            widths = conv_widths(arch, shape, hidden)
            k = 2 ** len(widths)
            h, w = shape[1] // k, shape[2] // k
            norm1d = [nn.BatchNorm1d(widths[-1] * h * w)] if batchnorm and arch != "resnet" else []
            fc = list(reversed(fc))  # mirrors the encoder
            layers: list[nn.Module] = [mlp([in_features, *fc], act, final_act=True, batchnorm=batchnorm)] if fc else []
            layers += [nn.Linear(fc[-1] if fc else in_features, widths[-1] * h * w, bias=not norm1d), *norm1d]
            layers += [activation(act)] if arch != "resnet" else []  # a residual block starts with its own
            layers.append(nn.Unflatten(1, (widths[-1], h, w)))
            channels = [*reversed(widths), shape[0]]
            if arch == "resnet":
                layers += [UpBlock(a, b, act, batchnorm) for a, b in zip(channels[:-2], channels[1:-1])]
                layers += [UpBlock(channels[-2], channels[-2], act, batchnorm)]  # the last stage keeps its width
                layers += [*([nn.BatchNorm2d(channels[-2])] if batchnorm else []), activation(act),
                           nn.Conv2d(channels[-2], shape[0], 3, 1, 1)]
            else:
                for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
                    last = i == len(channels) - 2
                    layers.append(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=last or not batchnorm))
                    if not last:
                        layers += [nn.BatchNorm2d(b)] if batchnorm else []
                        layers.append(activation(act))
            self.net = nn.Sequential(*layers)

    @property
    def output_layer(self) -> nn.Module:
        """The last linear or (transposed) convolution layer (a view into ``net``, not a second registration,
        so every parameter has one name in the state dict)."""
        return [m for m in self.net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))][-1]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)

    @torch.no_grad()
    def set_output_bias(self, value: torch.Tensor) -> None:
        """Set the last layer's bias from one pre-activation output x (data_shape): per unit for an MLP,
        per channel (the spatial mean) for a conv body."""
        if tuple(value.shape) != self.data_shape:
            raise ValueError(f"expected a bias value of shape {self.data_shape}, got {tuple(value.shape)}")
        bias = self.output_layer.bias
        bias.copy_(value.flatten() if isinstance(self.output_layer, nn.Linear) else value.mean(dim=(1, 2)))
