"""Evaluation metrics (the evaluation issue adds sample quality, representation and clustering)."""
from .modes import ModeCoverage, mode_coverage

__all__ = ["ModeCoverage", "mode_coverage"]
