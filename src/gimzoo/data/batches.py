"""Batches from tensors held in memory: slicing a shuffled index, no per-sample Python, no workers."""
from __future__ import annotations

import math

import torch


def pixels(x: torch.Tensor) -> torch.Tensor:
    """Stored data as the models take it: uint8 images (0-255, how image datamodules keep them) as float32 in
    [0, 1]; float tensors (2-D points, generated images) as they are. Call it per batch or chunk: a split of a large
    image folder is a memory map whose float32 copy would not fit in memory."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


def pixel_mean(x: torch.Tensor, chunk: int = 4096, after_chunk=None) -> torch.Tensor:
    """The mean image of stored data (N, ...), in [0, 1] for images, computed chunk by chunk (``after_chunk()`` after
    each: a memory-mapped folder lets go of the pages it read)."""
    total = torch.zeros(x.shape[1:], dtype=torch.float64)
    for c in x.split(chunk):
        total += pixels(c).double().sum(0)
        if after_chunk is not None:
            after_chunk()
    return (total / len(x)).float()


class EpochShuffle:
    """The index order of one epoch on one rank: a permutation seeded by (seed, epoch), sharded.

    Rank r of w takes positions r, r + w, r + 2w, ... of the permutation, cut to the same length on
    every rank, so shards never overlap. Lightning calls ``set_epoch`` at the start of every epoch
    (it looks for a ``sampler`` attribute), which makes the order reproducible on resume.
    """

    def __init__(self, n: int, shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.n, self.shuffle, self.seed, self.rank, self.world_size = n, shuffle, seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n // self.world_size if self.world_size > 1 else self.n

    def indices(self) -> torch.Tensor:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        return order[self.rank::self.world_size][: len(self)]


class TensorBatches:
    """An iterable of (x, y) batches over in-memory (or memory-mapped) tensors; what the datamodules return as
    loaders. uint8 images become float32 in [0, 1] one batch at a time (:func:`pixels`).

    It exposes ``sampler`` (and ``batch_sampler = None``) the way a DataLoader does, so Lightning sets
    the epoch on it; Lightning does not re-wrap it for distributed runs: the sharding is its own.
    It is stateful (``state_dict``/``load_state_dict``: the epoch and the batches already served), so a
    checkpoint taken in the middle of an epoch resumes with the next batch of the same order.
    """

    batch_sampler = None

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool, drop_last: bool,
                 seed: int = 0, rank: int = 0, world_size: int = 1):
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.x, self.y, self.batch_size, self.drop_last = x, y, batch_size, drop_last
        self.sampler = EpochShuffle(len(x), shuffle, seed, rank, world_size)
        self._served, self._resume_at = 0, 0
        #: called every ``release_every`` batches (an image folder lets go of the memory-mapped pages it read)
        self.release, self.release_every = None, 0
        if len(self) == 0:
            raise ValueError(f"{len(self.sampler)} samples per rank make no batch of {batch_size} (drop_last)")

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches_served": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        # a checkpoint taken at the end of an epoch (Lightning's default) has served every batch: the run resumes
        # with the next epoch's first batch, not with an empty rest of the finished one
        done = state["batches_served"] >= len(self)
        self.sampler.set_epoch(state["epoch"] + done)
        self._resume_at = 0 if done else state["batches_served"]

    def __iter__(self):
        idx = self.sampler.indices()
        contiguous = not self.sampler.shuffle and self.sampler.world_size == 1
        start, self._resume_at = self._resume_at, 0
        for b in range(start, len(self)):
            self._served = b + 1
            if self.release is not None and b % self.release_every == 0:
                self.release()
            if contiguous:  # a view, no copy
                sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
                yield pixels(self.x[sl]), self.y[sl]
            else:
                i = idx[b * self.batch_size:(b + 1) * self.batch_size]
                yield pixels(self.x[i]), self.y[i]
