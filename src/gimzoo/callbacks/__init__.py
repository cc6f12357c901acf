"""Training callbacks: sample grids (periodic evaluation and publishing come with their issues)."""
from .grids import SampleGrids, run_dir, scatter_image

__all__ = ["SampleGrids", "run_dir", "scatter_image"]
