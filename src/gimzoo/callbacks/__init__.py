"""Training callbacks: sample and reconstruction grids, epoch timing, periodic evaluation; atomic checkpoints."""
from .checkpoint_io import AtomicCheckpointIO
from .evaluation import PeriodicEvaluation
from .grids import SampleGrids, run_dir, scatter_image
from .timing import EpochTimer

__all__ = ["AtomicCheckpointIO", "PeriodicEvaluation", "EpochTimer", "SampleGrids", "run_dir", "scatter_image"]
