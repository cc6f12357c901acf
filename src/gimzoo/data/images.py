"""Image datamodules: MNIST, Fashion-MNIST, CIFAR-10, and random images for tests."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .base import DatasetNotFoundError, InMemoryDataModule

IDX_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> torch.Tensor:
    """Parse an IDX file (optionally .gz): magic 0x0000TTNN (type TT, NN dims), NN big-endian sizes, data."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, found {data.size} values (truncated file?)")
    return torch.from_numpy(data.reshape(dims).copy())


class IDXDataModule(InMemoryDataModule):
    """MNIST-format datasets: the four IDX files, plain or gzipped, in one of ``search_dirs()``."""

    data_shape = (1, 28, 28)
    torchvision_name: str

    def search_dirs(self) -> list[Path]:
        return [self.root / self.torchvision_name / "raw"]

    def _find(self, stem: str) -> Path | None:
        for d in self.search_dirs():
            for p in (d / stem, d / f"{stem}.gz"):
                if p.is_file():
                    return p
        return None

    def _missing(self) -> list[str]:
        return [s for files in IDX_FILES.values() for s in files if self._find(s) is None]

    def prepare_data(self) -> None:
        missing = self._missing()
        if not missing:
            return
        where = " or ".join(str(d) for d in self.search_dirs())
        how = (f"Put the IDX files (optionally .gz) in {self.root / self.torchvision_name / 'raw'}, point "
               f"GIMZOO_DATA or --data.data_dir at their root, or pass --data.download true with internet access.")
        if not self.download:
            raise DatasetNotFoundError(f"{self.name}: {', '.join(missing)} not found in {where}. {how}")
        import torchvision

        try:
            for train in (True, False):
                getattr(torchvision.datasets, self.torchvision_name)(str(self.root), train=train, download=True)
        except Exception as e:  # network errors come in many types; keep the cause attached
            raise DatasetNotFoundError(
                f"{self.name}: {', '.join(missing)} not found in {where} and the download failed ({e}). {how}"
            ) from e

    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        self.prepare_data()
        images, labels = (read_idx(self._find(s)) for s in IDX_FILES[train])
        return images.reshape(-1, *self.data_shape), labels.long()  # uint8: floats batch by batch


class MNIST(IDXDataModule):
    """MNIST handwritten digits, 1x28x28 (uint8 in memory, [0, 1] in batches): 55,000 train / 5,000 val / 10,000
    test."""

    name = "mnist"
    torchvision_name = "MNIST"


class FashionMNIST(IDXDataModule):
    """Fashion-MNIST, 1x28x28 in [0, 1]; uses Debian's dataset-fashion-mnist files when installed."""

    name = "fashion-mnist"
    torchvision_name = "FashionMNIST"
    DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

    def search_dirs(self) -> list[Path]:
        return [*super().search_dirs(), self.DEBIAN_DIR]


class CIFAR10(InMemoryDataModule):
    """CIFAR-10, 3x32x32 in [0, 1] (torchvision's download, md5-checked)."""

    name = "cifar10"
    data_shape = (3, 32, 32)

    def _dataset(self, train: bool):
        import torchvision

        try:
            return torchvision.datasets.CIFAR10(str(self.root), train=train, download=self.download)
        except Exception as e:
            raise DatasetNotFoundError(
                f"cifar10: not found in {self.root / 'cifar-10-batches-py'}"
                f"{' and the download failed' if self.download else ''} ({e}). Point GIMZOO_DATA or "
                f"--data.data_dir at a folder holding cifar-10-batches-py, or download with internet access."
            ) from e

    def prepare_data(self) -> None:
        self._dataset(True)

    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        ds = self._dataset(train)
        x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # uint8: floats batch by batch
        return x, torch.tensor(ds.targets, dtype=torch.long)


class RandomImages(InMemoryDataModule):
    """Uniform random images of any shape with random labels: for tests, never downloads."""

    name = "random"

    def __init__(self, data_shape: Sequence[int] = (1, 28, 28), n_train: int = 256, n_test: int = 64,
                 n_classes: int = 10, batch_size: int = 32, eval_batch_size: int = 64, val_size: int = 32,
                 seed: int = 0):
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, val_size=val_size, seed=seed)
        self.data_shape = tuple(data_shape)
        self.n_train, self.n_test, self.n_classes = n_train, n_test, n_classes

    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed + (0 if train else 1))
        n = self.n_train if train else self.n_test
        return torch.rand(n, *self.data_shape, generator=g), torch.randint(self.n_classes, (n,), generator=g)
