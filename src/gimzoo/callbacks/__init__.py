"""Training callbacks: sample and reconstruction grids, epoch timing."""
from .grids import SampleGrids, run_dir, scatter_image
from .timing import EpochTimer

__all__ = ["EpochTimer", "SampleGrids", "run_dir", "scatter_image"]
