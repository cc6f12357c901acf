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


class RandomRotateShift(nn.Module):
    """The view an encoder reads a generated image through: each image rotated by up to ``degrees`` and shifted by
    up to ``shift`` pixels (:func:`random_rotate_shift`), or the image itself when both are 0 (``active`` False).
    Holds no parameters; the ranges are checked against the data's shape when it is built."""

    def __init__(self, degrees: float, shift: float, data_shape: Sequence[int]):
        super().__init__()
        if degrees < 0 or shift < 0:
            raise ValueError(f"q_rotation and q_shift are ranges (degrees, pixels) >= 0, got {degrees}, {shift}")
        if (degrees or shift) and len(data_shape) != 3:
            raise ValueError("q_rotation and q_shift transform images (C, H, W), not data of shape "
                             f"{tuple(data_shape)}")
        self.degrees, self.shift = degrees, shift

    @property
    def active(self) -> bool:
        return bool(self.degrees or self.shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return random_rotate_shift(x, self.degrees, self.shift) if self.active else x

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, shift={self.shift}"
