"""LightningDataModules: MNIST, Fashion-MNIST, CIFAR-10, CelebA 64x64, image folders, 2-D mixtures, random images."""
from ..registry import unknown
from .base import DatasetNotFoundError, InMemoryDataModule, data_root
from .batches import EpochShuffle, TensorBatches, pixel_mean, pixels
from .folder import CelebA64, ImageFolder
from .images import CIFAR10, MNIST, FashionMNIST, RandomImages, read_idx
from .toy import GaussianMixture2D, Grid25, Ring8

DATASETS: dict[str, type[InMemoryDataModule]] = {
    cls.name: cls for cls in (MNIST, FashionMNIST, CIFAR10, CelebA64, Ring8, Grid25, RandomImages, ImageFolder)
}


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def get_datamodule(name: str, **kwargs) -> InMemoryDataModule:
    """Build the datamodule registered as ``name`` (``mnist``, ``fashion-mnist``, ...)."""
    if name not in DATASETS:
        raise unknown("dataset", name, list(DATASETS))
    return DATASETS[name](**kwargs)


__all__ = [
    "DATASETS", "list_datasets", "get_datamodule", "DatasetNotFoundError", "InMemoryDataModule", "data_root",
    "EpochShuffle", "TensorBatches", "pixels", "pixel_mean", "CIFAR10", "CelebA64", "ImageFolder", "MNIST", "FashionMNIST", "RandomImages", "read_idx",
    "GaussianMixture2D", "Grid25", "Ring8",
]
