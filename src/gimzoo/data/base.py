"""The datamodule base: a whole dataset in memory as one tensor, split once from a seed."""
from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import lightning as L
import torch

from .batches import TensorBatches, pixel_mean, pixels  # noqa: F401  (re-exported)


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a dataset's files are not on disk and cannot be downloaded."""


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data root: ``data_dir``, else ``$GIMZOO_DATA``, else ``$XDG_CACHE_HOME/gimzoo/data`` (~/.cache)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("GIMZOO_DATA"):
        return Path(os.environ["GIMZOO_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "gimzoo" / "data"


class InMemoryDataModule(L.LightningDataModule):
    """Base of every gimzoo datamodule.

    Subclasses set ``name`` and ``data_shape`` and implement ``load(train) -> (x, y)``: x a uint8 tensor
    (N, *data_shape) of images (0-255), or a float32 one (2-D points; images in [0, 1]), y an int64 label tensor
    (N,). Images stay uint8 in memory (a quarter of float32's size) and become floats in [0, 1] batch by batch
    (:func:`pixels`): ``split()`` returns them as stored. The training set is split into train/validation by a
    permutation seeded by ``seed``; the test set is the official one.
    """

    name: ClassVar[str]
    data_shape: tuple[int, ...]
    is_image: ClassVar[bool] = True

    def __init__(self, batch_size: int = 128, eval_batch_size: int = 1000, val_size: int = 5000, seed: int = 0,
                 data_dir: str | None = None, download: bool = True):
        super().__init__()
        self.batch_size, self.eval_batch_size, self.val_size, self.seed = batch_size, eval_batch_size, val_size, seed
        self.data_dir, self.download = data_dir, download
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def root(self) -> Path:
        return data_root(self.data_dir)

    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def prepare_data(self) -> None:
        """Runs on one process: fetch files if needed (subclasses that download override this)."""

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        x, y = self.load(train=True)
        if not 0 <= self.val_size < len(x):
            raise ValueError(f"val_size must be in [0, {len(x)}), got {self.val_size}")
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        val, train = perm[: self.val_size], perm[self.val_size:]
        self.splits = {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": self.load(train=False)}

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The (x, y) tensors of ``train``, ``val`` or ``test``, as stored (uint8 images: :func:`pixels` per chunk)."""
        self.setup()
        if name not in self.splits:
            raise ValueError(f"unknown split {name!r}; known: {', '.join(self.splits)}")
        return self.splits[name]

    def release(self) -> None:
        """Let go of memory-mapped pages read so far (an image folder's cache); a no-op for data held in memory. Long
        passes over a split (the mean image, the training codes of an evaluation) call it between chunks."""

    def _batches(self, split: str, batch_size: int, train: bool) -> TensorBatches:
        x, y = self.split(split)
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        return TensorBatches(x, y, batch_size, shuffle=train, drop_last=train, seed=self.seed,
                             rank=rank, world_size=world)

    def train_dataloader(self) -> TensorBatches:
        return self._batches("train", self.batch_size, train=True)

    def val_dataloader(self) -> TensorBatches:
        return self._batches("val", self.eval_batch_size, train=False)

    def test_dataloader(self) -> TensorBatches:
        return self._batches("test", self.eval_batch_size, train=False)
