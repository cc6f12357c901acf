"""Training callbacks: sample and reconstruction grids, epoch timing, periodic evaluation."""
from .evaluation import PeriodicEvaluation
from .grids import SampleGrids, run_dir, scatter_image
from .timing import EpochTimer

__all__ = ["PeriodicEvaluation", "EpochTimer", "SampleGrids", "run_dir", "scatter_image"]
