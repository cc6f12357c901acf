"""Differentiable random image transforms, applied inside a training step (gradients flow to the images)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def random_rotate_shift(x: torch.Tensor, degrees: float = 0.0, shift: float = 0.0,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of x (B, C, H, W) rotated about its centre by an angle ~ U(-degrees, degrees) and shifted by
    ~ U(-shift, shift) pixels along each axis, by bilinear resampling; pixels from outside take the nearest
    border pixel's value (the background, on digit images), whatever the pixel range."""
    if x.dim() != 4:
        raise ValueError(f"random_rotate_shift takes images (B, C, H, W), got shape {tuple(x.shape)}")
    if degrees < 0 or shift < 0:
        raise ValueError(f"degrees and shift must be >= 0, got {degrees} and {shift}")
    b, _, h, w = x.shape
    if degrees and h != w:
        raise ValueError(f"rotations are for square images, got {h} x {w}")
    u = 2 * torch.rand(b, 3, generator=generator, device=x.device) - 1  # U(-1, 1): angle, shift x, shift y
    angle = u[:, 0] * math.radians(degrees)
    cos, sin = angle.cos(), angle.sin()
    # affine_grid maps output to input coordinates in [-1, 1]: a pixel is 2 / W wide (2 / H high)
    tx, ty = u[:, 1] * shift * 2 / w, u[:, 2] * shift * 2 / h
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def random_contrast(x: torch.Tensor, strength: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of x (B, C, H, W) with its contrast against its background scaled by a ~ U(1 - strength, 1):
    x' = b + a (x - b), b the mean of the image's border pixels per channel (the background, on digit and
    garment images), whatever the pixel range. Dims the object, as a lighter or darker garment would look."""
    if x.dim() != 4:
        raise ValueError(f"random_contrast takes images (B, C, H, W), got shape {tuple(x.shape)}")
    if not 0 <= strength < 1:
        raise ValueError(f"strength is a fraction in [0, 1), got {strength}")
    border = torch.cat([x[:, :, 0], x[:, :, -1], x[:, :, 1:-1, 0], x[:, :, 1:-1, -1]], 2)  # (B, C, 2H + 2W - 4)
    b = border.mean(2)[:, :, None, None]
    a = 1 - strength * torch.rand(len(x), 1, 1, 1, generator=generator, device=x.device, dtype=x.dtype)
    return b + a * (x - b)


class RandomView(nn.Module):
    """The view an encoder reads a generated image through: each image rotated by up to ``degrees`` and shifted by
    up to ``shift`` pixels (:func:`random_rotate_shift`), then its contrast scaled down by up to ``contrast``
    (:func:`random_contrast`); the image itself when all three are 0 (``active`` False). Holds no parameters;
    the ranges are checked against the data's shape when it is built."""

    def __init__(self, degrees: float, shift: float, data_shape: Sequence[int], contrast: float = 0.0):
        super().__init__()
        if degrees < 0 or shift < 0:
            raise ValueError(f"q_rotation and q_shift are ranges (degrees, pixels) >= 0, got {degrees}, {shift}")
        if not 0 <= contrast < 1:
            raise ValueError(f"q_contrast is a fraction in [0, 1), got {contrast}")
        if (degrees or shift or contrast) and len(data_shape) != 3:
            raise ValueError("q_rotation, q_shift and q_contrast transform images (C, H, W), not data of shape "
                             f"{tuple(data_shape)}")
        self.degrees, self.shift, self.contrast = degrees, shift, contrast

    @property
    def active(self) -> bool:
        return bool(self.degrees or self.shift or self.contrast)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.degrees or self.shift:
            x = random_rotate_shift(x, self.degrees, self.shift)
        return random_contrast(x, self.contrast) if self.contrast else x

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, shift={self.shift}, contrast={self.contrast}"
